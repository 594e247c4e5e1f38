//! Pipelines of `shaders/interface.wgsl`: the membrane–plasma DPD + Morse force, both sides
//! gathered. Physics and the CPU version in [`crate::interface`].
//!
//! The pair list and its reverse index are built on the CPU ([`InterfaceList::build`]) and
//! uploaded as they are, with one array the CPU does not need: the membrane slot of each pair
//! entry, so the plasma-side gather can find the membrane particle of each of its pairs. The
//! membrane side (`membrane_forces`, one thread per membrane particle) and the plasma side
//! (`plasma_forces`, one thread per touched plasma particle) each evaluate every pair with the same
//! function and inputs, so action and reaction agree without float atomics; the noise is the CPU's
//! Philox stream (key, interface sub-step counter, unordered pair of global tags), bit for bit.
//!
//! ```no_run
//! use hemoscale_kernels::dpd::PairCoeffs;
//! use hemoscale_kernels::gpu::interface::Interface;
//! use hemoscale_kernels::gpu::{AdapterChoice, GpuContext};
//! use hemoscale_kernels::interface::{interface_forces, InterfaceInput, InterfaceList};
//! use hemoscale_kernels::{rng::seed_key, DpdPair};
//!
//! let ctx = GpuContext::new(AdapterChoice::Any)?;
//! // Two membrane particles and three plasma particles in a box of 6.
//! let len = [6.0; 3];
//! let membrane_pos = [[2.0, 2.0, 2.0, 0.0], [2.0, 2.6, 2.0, 0.0]];
//! let plasma_pos = [[2.5, 2.0, 2.0, 0.0], [2.3, 2.9, 2.2, 0.0], [4.0, 2.0, 2.0, 0.0]];
//! let (membrane_vel, plasma_vel) = ([[0.1, 0.0, 0.0, 0.0]; 2], [[0.0, -0.2, 0.0, 0.0]; 3]);
//! let list = InterfaceList::build(&[0, 1], &membrane_pos, &plasma_pos, len, 1.3);
//! let coeffs = PairCoeffs::new(&DpdPair::STANDARD, 1.0, 0.01);
//! let input = InterfaceInput {
//!     plat_pos: &membrane_pos,
//!     plat_vel: &membrane_vel,
//!     plat_tag: &[1_000_000, 1_000_001],
//!     plasma_pos: &plasma_pos,
//!     plasma_vel: &plasma_vel,
//!     plasma_tag: &[0, 1, 2],
//!     coeffs: &coeffs,
//!     len,
//!     key: seed_key(1),
//!     counter: 3,
//! };
//! let kernels = Interface::new(&ctx.device);
//! let buffers = kernels.upload(&ctx, &list, &input);
//! kernels.run(&ctx, &buffers);
//! let gpu = buffers.read_membrane_forces(&ctx)?;
//! ctx.take_errors()?;
//! let (mut pair_f, mut cpu, mut plasma_f) = (Vec::new(), Vec::new(), Vec::new());
//! interface_forces(&list, &input, &mut pair_f, &mut cpu, &mut plasma_f);
//! // The same pairs, the same noise: the same forces up to rounding.
//! assert!(cpu.iter().zip(&gpu).all(|(c, g)| (0..3).all(|k| (c[k] - g[k]).abs() < 1e-3)));
//! # Ok::<(), hemoscale_kernels::KernelError>(())
//! ```

use bytemuck::{Pod, Zeroable};

use super::context::GpuContext;
use super::kernel::{
    bind, dispatch, layout, module, pipeline, read_vec4, storage, storage_with, uniform, Bind, COMMON_WGSL, RNG_WGSL,
};
use crate::error::Result;
use crate::interface::{InterfaceInput, InterfaceList};

const SLOTS: [(u32, Bind); 15] = [
    (0, Bind::Uniform),
    (1, Bind::Read),
    (2, Bind::Read),
    (3, Bind::Read),
    (4, Bind::Read),
    (5, Bind::Read),
    (6, Bind::Read),
    (7, Bind::Read),
    (8, Bind::Read),
    (9, Bind::Read),
    (10, Bind::Read),
    (11, Bind::Read),
    (12, Bind::Read),
    (13, Bind::ReadWrite),
    (14, Bind::ReadWrite),
];

/// Threads per workgroup (`@workgroup_size` of both entry points).
const WG: u32 = 64;

/// Twin of `InterfaceParams` in the shader.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct InterfaceParams {
    counts: [u32; 4],
    rng: [u32; 4],
    len: [f32; 4],
}

/// Compiled interface kernels (built once per device).
pub struct Interface {
    layout: wgpu::BindGroupLayout,
    /// Membrane side: one thread per membrane particle of the list.
    pub membrane_forces: wgpu::ComputePipeline,
    /// Plasma side: one thread per touched plasma particle (minus the pair forces).
    pub plasma_forces: wgpu::ComputePipeline,
}

/// The device buffers of one [`InterfaceList`] with its inputs, and the bind group: built by
/// [`Interface::upload`], and built again when the list is rebuilt.
pub struct InterfaceBuffers {
    params: InterfaceParams,
    /// Uniform parameters (counts, Philox key and counter, box edges).
    pub uniform: wgpu::Buffer,
    /// Platelet positions (`vec4`, w unused).
    pub plat_pos: wgpu::Buffer,
    /// Platelet velocities (`vec4`, w: global tag as bits).
    pub plat_vel: wgpu::Buffer,
    /// Plasma positions (`vec4`, w unused).
    pub plasma_pos: wgpu::Buffer,
    /// Plasma velocities (`vec4`, w: global tag as bits).
    pub plasma_vel: wgpu::Buffer,
    /// Force on each membrane particle of the list (`vec4`, order of `list.membrane`).
    pub membrane_force: wgpu::Buffer,
    /// Force on each touched plasma particle (`vec4`, order of `list.touched`).
    pub plasma_force: wgpu::Buffer,
    group: wgpu::BindGroup,
    /// Inputs the bind group refers to, kept with it.
    _inputs: Vec<wgpu::Buffer>,
}

/// Positions as `vec4` with w = 0.
fn positions(p: &[[f32; 4]]) -> Vec<[f32; 4]> {
    p.iter().map(|a| [a[0], a[1], a[2], 0.0]).collect()
}

/// Velocities as `vec4` words with the tag's bits in w (bitwise: a tag must not pass through a
/// float conversion).
fn velocities_with_tags(v: &[[f32; 4]], tag: &[u32]) -> Vec<[u32; 4]> {
    v.iter().zip(tag).map(|(a, &t)| [a[0].to_bits(), a[1].to_bits(), a[2].to_bits(), t]).collect()
}

impl Interface {
    /// Compiles `shaders/interface.wgsl` (both entry points share one layout).
    pub fn new(device: &wgpu::Device) -> Self {
        let m =
            module(device, "interface.wgsl", &[COMMON_WGSL, RNG_WGSL, include_str!("../../../shaders/interface.wgsl")]);
        let layout = layout(device, "interface", &SLOTS);
        Self {
            membrane_forces: pipeline(device, &m, "membrane_forces", &layout, &[]),
            plasma_forces: pipeline(device, &m, "plasma_forces", &layout, &[]),
            layout,
        }
    }

    /// Uploads `list` with its reverse index, and the inputs `inp` (positions, velocities, tags,
    /// coefficients, box, Philox key and counter).
    pub fn upload(&self, ctx: &GpuContext, list: &InterfaceList, inp: &InterfaceInput<'_>) -> InterfaceBuffers {
        let (d, q) = (&ctx.device, &ctx.queue);
        let n_membrane = list.membrane.len();
        let n_touched = list.touched.len();
        let mut entry_membrane = vec![0u32; list.plasma.len()];
        for m in 0..n_membrane {
            for e in list.offsets[m]..list.offsets[m + 1] {
                entry_membrane[e as usize] = m as u32;
            }
        }
        let params = InterfaceParams {
            counts: [n_membrane as u32, n_touched as u32, 0, 0],
            rng: [inp.key[0], inp.key[1], inp.counter as u32, (inp.counter >> 32) as u32],
            len: [inp.len[0], inp.len[1], inp.len[2], 0.0],
        };
        // Offsets of an empty (default) list are empty: bind a single 0 instead.
        let csr = |o: &[u32]| if o.is_empty() { vec![0] } else { o.to_vec() };
        let uniform_b = uniform(d, q, "interface params", bytemuck::bytes_of(&params));
        let plat_pos = storage_with(d, q, "interface plat pos", bytemuck::cast_slice(&positions(inp.plat_pos)));
        let plat_vel = storage_with(
            d,
            q,
            "interface plat vel",
            bytemuck::cast_slice(&velocities_with_tags(inp.plat_vel, inp.plat_tag)),
        );
        let plasma_pos = storage_with(d, q, "interface plasma pos", bytemuck::cast_slice(&positions(inp.plasma_pos)));
        let plasma_vel = storage_with(
            d,
            q,
            "interface plasma vel",
            bytemuck::cast_slice(&velocities_with_tags(inp.plasma_vel, inp.plasma_tag)),
        );
        let inputs = vec![
            storage_with(d, q, "interface coeffs", bytemuck::bytes_of(inp.coeffs)),
            storage_with(d, q, "membrane", bytemuck::cast_slice(&list.membrane)),
            storage_with(d, q, "pair offsets", bytemuck::cast_slice(&csr(&list.offsets))),
            storage_with(d, q, "pair plasma", bytemuck::cast_slice(&list.plasma)),
            storage_with(d, q, "touched", bytemuck::cast_slice(&list.touched)),
            storage_with(d, q, "touched offsets", bytemuck::cast_slice(&csr(&list.touched_offsets))),
            storage_with(d, q, "touched entries", bytemuck::cast_slice(&list.touched_entries)),
            storage_with(d, q, "entry membrane", bytemuck::cast_slice(&entry_membrane)),
        ];
        let membrane_force = storage(d, "membrane force", 16 * n_membrane as u64);
        let plasma_force = storage(d, "plasma force", 16 * n_touched as u64);
        let i = &inputs;
        let group = bind(
            d,
            "interface",
            &self.layout,
            &SLOTS,
            &[
                &uniform_b,
                &i[0],
                &plat_pos,
                &plat_vel,
                &plasma_pos,
                &plasma_vel,
                &i[1],
                &i[2],
                &i[3],
                &i[4],
                &i[5],
                &i[6],
                &i[7],
                &membrane_force,
                &plasma_force,
            ],
        );
        InterfaceBuffers {
            params,
            uniform: uniform_b,
            plat_pos,
            plat_vel,
            plasma_pos,
            plasma_vel,
            membrane_force,
            plasma_force,
            group,
            _inputs: inputs,
        }
    }

    /// Records both sides into `pass` (they only read the inputs, so their order does not matter);
    /// `max_dim` is the device's workgroups-per-dimension limit.
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>, b: &InterfaceBuffers, max_dim: u32) {
        let [n_membrane, n_touched, _, _] = b.params.counts;
        if n_membrane > 0 {
            dispatch(pass, &self.membrane_forces, &b.group, n_membrane, WG, max_dim);
        }
        if n_touched > 0 {
            dispatch(pass, &self.plasma_forces, &b.group, n_touched, WG, max_dim);
        }
    }

    /// Records and submits one evaluation (does not wait: [`GpuContext::sync`] or a read-back does).
    pub fn run(&self, ctx: &GpuContext, b: &InterfaceBuffers) {
        let mut enc = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("interface") });
        {
            let mut pass = enc
                .begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("interface"), timestamp_writes: None });
            self.record(&mut pass, b, ctx.limits.max_compute_workgroups_per_dimension);
        }
        let _index = ctx.queue.submit([enc.finish()]);
    }
}

impl InterfaceBuffers {
    /// Sets the interface sub-step counter (the noise's step word) for the next evaluation.
    pub fn set_counter(&mut self, queue: &wgpu::Queue, counter: u64) {
        self.params.rng[2] = counter as u32;
        self.params.rng[3] = (counter >> 32) as u32;
        queue.write_buffer(&self.uniform, 0, bytemuck::bytes_of(&self.params));
    }

    /// Replaces the platelet positions and velocities (tags as at the upload).
    pub fn write_platelets(&self, queue: &wgpu::Queue, pos: &[[f32; 4]], vel: &[[f32; 4]], tag: &[u32]) {
        if !pos.is_empty() {
            queue.write_buffer(&self.plat_pos, 0, bytemuck::cast_slice(&positions(pos)));
            queue.write_buffer(&self.plat_vel, 0, bytemuck::cast_slice(&velocities_with_tags(vel, tag)));
        }
    }

    /// Membrane forces of the last evaluation, in the order of `list.membrane` (waits).
    pub fn read_membrane_forces(&self, ctx: &GpuContext) -> Result<Vec<[f32; 4]>> {
        read_vec4(&ctx.device, &ctx.queue, &self.membrane_force, self.params.counts[0] as usize)
    }

    /// Plasma forces of the last evaluation, in the order of `list.touched` (waits).
    pub fn read_plasma_forces(&self, ctx: &GpuContext) -> Result<Vec<[f32; 4]>> {
        read_vec4(&ctx.device, &ctx.queue, &self.plasma_force, self.params.counts[1] as usize)
    }
}
