//! Pipelines of `shaders/bonded.wgsl`: bonded forces inside platelets (springs, angles, dihedrals
//! and the volume term), gathered per particle over the CSR lists of [`Topology`]. Physics and the
//! CPU version in [`crate::bonded`].
//!
//! Two passes, recorded back to back in one compute pass: `volumes` (one workgroup per platelet
//! reduces its enclosed volume in workgroup memory and writes the pressure
//! `-k_v (V - V0) / V0`, the GPU twin of [`crate::bonded::volume_pressures`]), then `forces` (one
//! thread per particle, its terms in list order, as [`crate::bonded::force_on`]). The topology is
//! uploaded once ([`Bonded::upload`]); only positions change between evaluations
//! ([`BondedBuffers::write_positions`]).
//!
//! A platelet squeezed by 5 % along its axis: springs, bending and the volume term push back, the
//! same on both backends up to rounding.
//!
//! ```no_run
//! use glam::Quat;
//! use hemoscale_kernels::bonded::bonded_forces;
//! use hemoscale_kernels::gpu::bonded::Bonded;
//! use hemoscale_kernels::gpu::{AdapterChoice, GpuContext};
//! use hemoscale_kernels::platelet::{PlateletSpec, PlateletTemplate, Stiffness};
//! use hemoscale_kernels::platelet_set::{Placement, PlateletParams, PlateletSet};
//!
//! let ctx = GpuContext::new(AdapterChoice::Any)?;
//! let spec = PlateletSpec {
//!     diameter: 6.0,
//!     aspect_ratio: 0.25,
//!     resolution: 400,
//!     mass: 85.0,
//!     stiffness: Stiffness::DEFAULT,
//! };
//! let at = Placement { center: [5.0; 3], rotation: Quat::IDENTITY, velocity: [0.0; 3] };
//! let set = PlateletSet::place(PlateletTemplate::build(&spec)?, PlateletParams::DEFAULT, &[at], 0)?;
//! let topology = set.topology();
//! let pos: Vec<[f32; 4]> = set.pos.iter().map(|p| [p[0], p[1], 5.0 + 0.95 * (p[2] - 5.0), 0.0]).collect();
//! let kernels = Bonded::new(&ctx.device);
//! let buffers = kernels.upload(&ctx, &topology, &pos);
//! kernels.run(&ctx, &buffers);
//! let gpu = buffers.read_forces(&ctx)?;
//! ctx.take_errors()?;
//! let mut cpu = vec![[0.0f32; 4]; pos.len()];
//! bonded_forces(&topology, &pos, &mut cpu);
//! let scale = cpu.iter().flatten().fold(0.0f32, |m, f| m.max(f.abs()));
//! assert!(scale > 1.0, "the squeeze loads the platelet");
//! assert!(cpu.iter().flatten().zip(gpu.iter().flatten()).all(|(c, g)| (c - g).abs() < 1e-3 * scale));
//! # Ok::<(), hemoscale_kernels::KernelError>(())
//! ```

use bytemuck::{Pod, Zeroable};

/// `v`, or one zeroed entry when it is empty: a storage binding must hold at least one element of
/// the shader's struct (an empty list would bind a 16-byte placeholder that a 32-byte struct does
/// not fit, and the dispatch would be rejected). The padding is never read: the term lists index
/// only real terms.
fn at_least_one<T: Pod>(mut v: Vec<T>) -> Vec<T> {
    if v.is_empty() {
        v.push(T::zeroed());
    }
    v
}

use super::context::GpuContext;
use super::kernel::{
    bind, dispatch, dispatch_dims, layout, module, pipeline, read_back, read_vec4, storage, storage_with, uniform,
    Bind, COMMON_WGSL,
};
use crate::bonded::Topology;
use crate::error::Result;

const SLOTS: [(u32, Bind); 11] = [
    (0, Bind::Uniform),
    (1, Bind::Read),
    (2, Bind::Read),
    (3, Bind::Read),
    (4, Bind::Read),
    (5, Bind::Read),
    (6, Bind::Read),
    (7, Bind::Read),
    (8, Bind::Read),
    (9, Bind::ReadWrite),
    (10, Bind::ReadWrite),
];

/// Threads per particle workgroup (`@workgroup_size` of `forces`).
const WG: u32 = 64;

/// Twin of `BondedParams` in the shader.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct BondedParams {
    n: u32,
    n_platelets: u32,
    pad: [u32; 2],
}

/// Twin of `BondTerm` (the CPU's [`crate::platelet::Bond`] without its kind, which is not Pod).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct BondTerm {
    i: u32,
    j: u32,
    r0: f32,
    k: f32,
}

/// Twin of `AngleTerm`, padded to 32 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct AngleTerm {
    i: u32,
    j: u32,
    k: u32,
    cos0: f32,
    kb: f32,
    pad: [f32; 3],
}

/// Twin of `DihedralTerm`: `sin(phi0)` and `cos(phi0)` precomputed with the CPU's f32
/// `sin_cos`, so both backends use the same rounded values.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct DihedralTerm {
    i: u32,
    j: u32,
    k: u32,
    l: u32,
    sin0: f32,
    cos0: f32,
    kb: f32,
    pad: f32,
}

/// Twin of `VolumeTerm`: one platelet's triangle range, rest volume and stiffness.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct VolumeTerm {
    tri_lo: u32,
    tri_hi: u32,
    v0: f32,
    kv: f32,
}

/// Compiled bonded-force kernels (built once per device).
pub struct Bonded {
    layout: wgpu::BindGroupLayout,
    /// Per-platelet volume and pressure (one workgroup per platelet).
    pub volumes: wgpu::ComputePipeline,
    /// Per-particle gather of the bonded forces (reads the pressures).
    pub forces: wgpu::ComputePipeline,
}

/// The device buffers of one [`Topology`] and its bind group: built by [`Bonded::upload`].
pub struct BondedBuffers {
    n: u32,
    n_platelets: u32,
    /// Positions (unwrapped, `vec4`, w unused): rewritten between evaluations.
    pub pos: wgpu::Buffer,
    /// Bonded force on each particle (`vec4`, w = 0): the output.
    pub force: wgpu::Buffer,
    /// Internal pressure of each platelet, written by the first pass.
    pub pressure: wgpu::Buffer,
    group: wgpu::BindGroup,
    /// Inputs the bind group refers to, kept with it.
    _inputs: Vec<wgpu::Buffer>,
}

impl Bonded {
    /// Compiles `shaders/bonded.wgsl` (both entry points share one layout).
    pub fn new(device: &wgpu::Device) -> Self {
        let m = module(device, "bonded.wgsl", &[COMMON_WGSL, include_str!("../../../shaders/bonded.wgsl")]);
        let layout = layout(device, "bonded", &SLOTS);
        Self {
            volumes: pipeline(device, &m, "volumes", &layout, &[]),
            forces: pipeline(device, &m, "forces", &layout, &[]),
            layout,
        }
    }

    /// Uploads `topo` (its CSR lists and terms, flattened into the shader's structs) and the
    /// positions `pos` (one per particle of `topo`).
    pub fn upload(&self, ctx: &GpuContext, topo: &Topology, pos: &[[f32; 4]]) -> BondedBuffers {
        let (d, q) = (&ctx.device, &ctx.queue);
        let n = topo.len();
        debug_assert_eq!(pos.len(), n, "one position per particle of the topology");
        let n_platelets = topo.v0.len();
        let bonds: Vec<BondTerm> = topo.bonds.iter().map(|b| BondTerm { i: b.i, j: b.j, r0: b.r0, k: b.k }).collect();
        let angles: Vec<AngleTerm> = topo
            .angles
            .iter()
            .map(|a| AngleTerm { i: a.i, j: a.j, k: a.k, cos0: a.cos0, kb: a.kb, pad: [0.0; 3] })
            .collect();
        let dihedrals: Vec<DihedralTerm> = topo
            .dihedrals
            .iter()
            .map(|t| {
                let (sin0, cos0) = t.phi0.sin_cos();
                DihedralTerm { i: t.i, j: t.j, k: t.k, l: t.l, sin0, cos0, kb: t.kb, pad: 0.0 }
            })
            .collect();
        let triangles: Vec<[u32; 4]> =
            topo.triangles.iter().zip(&topo.tri_platelet).map(|(t, &p)| [t[0], t[1], t[2], p]).collect();
        let vterms: Vec<VolumeTerm> = (0..n_platelets)
            .map(|p| VolumeTerm {
                tri_lo: topo.tri_offsets[p],
                tri_hi: topo.tri_offsets[p + 1],
                v0: topo.v0[p],
                kv: topo.kv[p],
            })
            .collect();
        let params = BondedParams { n: n as u32, n_platelets: n_platelets as u32, pad: [0; 2] };
        let inputs = vec![
            uniform(d, q, "bonded params", bytemuck::bytes_of(&params)),
            storage_with(d, q, "bonds", bytemuck::cast_slice(&at_least_one(bonds))),
            storage_with(d, q, "angles", bytemuck::cast_slice(&at_least_one(angles))),
            storage_with(d, q, "dihedrals", bytemuck::cast_slice(&at_least_one(dihedrals))),
            storage_with(d, q, "triangles", bytemuck::cast_slice(&at_least_one(triangles))),
            storage_with(d, q, "volume terms", bytemuck::cast_slice(&at_least_one(vterms))),
            storage_with(d, q, "term offsets", bytemuck::cast_slice(&topo.offsets)),
            storage_with(d, q, "terms", bytemuck::cast_slice(&topo.terms)),
        ];
        let pos_b = storage_with(d, q, "bonded pos", bytemuck::cast_slice(pos));
        let pressure = storage(d, "pressure", 4 * n_platelets as u64);
        let force = storage(d, "bonded force", 16 * n as u64);
        let i = &inputs;
        let group = bind(
            d,
            "bonded",
            &self.layout,
            &SLOTS,
            &[&i[0], &pos_b, &i[1], &i[2], &i[3], &i[4], &i[5], &i[6], &i[7], &pressure, &force],
        );
        BondedBuffers {
            n: n as u32,
            n_platelets: n_platelets as u32,
            pos: pos_b,
            force,
            pressure,
            group,
            _inputs: inputs,
        }
    }

    /// Records both passes (pressures, then forces) into `pass`; `max_dim` is the device's
    /// workgroups-per-dimension limit.
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>, b: &BondedBuffers, max_dim: u32) {
        if b.n_platelets > 0 {
            // One workgroup per platelet: a "thread count" of n_platelets with groups of one.
            let (x, y) = dispatch_dims(b.n_platelets, 1, max_dim);
            pass.set_pipeline(&self.volumes);
            pass.set_bind_group(0, &b.group, &[]);
            pass.dispatch_workgroups(x, y, 1);
        }
        if b.n > 0 {
            dispatch(pass, &self.forces, &b.group, b.n, WG, max_dim);
        }
    }

    /// Records and submits one evaluation (does not wait: [`GpuContext::sync`] or a read-back does).
    pub fn run(&self, ctx: &GpuContext, b: &BondedBuffers) {
        let mut enc = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("bonded") });
        {
            let mut pass =
                enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("bonded"), timestamp_writes: None });
            self.record(&mut pass, b, ctx.limits.max_compute_workgroups_per_dimension);
        }
        let _index = ctx.queue.submit([enc.finish()]);
    }
}

impl BondedBuffers {
    /// Replaces the positions (same particle count as the upload).
    pub fn write_positions(&self, queue: &wgpu::Queue, pos: &[[f32; 4]]) {
        debug_assert_eq!(pos.len(), self.n as usize);
        if !pos.is_empty() {
            queue.write_buffer(&self.pos, 0, bytemuck::cast_slice(pos));
        }
    }

    /// The forces of the last evaluation (waits for the queue).
    pub fn read_forces(&self, ctx: &GpuContext) -> Result<Vec<[f32; 4]>> {
        read_vec4(&ctx.device, &ctx.queue, &self.force, self.n as usize)
    }

    /// The platelet pressures of the last evaluation (waits for the queue).
    pub fn read_pressures(&self, ctx: &GpuContext) -> Result<Vec<f32>> {
        if self.n_platelets == 0 {
            return Ok(Vec::new());
        }
        let bytes = read_back(&ctx.device, &ctx.queue, &self.pressure, 4 * u64::from(self.n_platelets))?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }
}
