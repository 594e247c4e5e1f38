//! Pipeline of `shaders/adhesion.wgsl`: adhesion forces on platelet particles (Morse between
//! unbonded adhesive sites and towards adhesive wall patches, Hooke springs of bonds), added to the
//! non-bonded force. Physics, the bond events and the CPU version in [`crate::adhesion`].
//!
//! The terms that act are packed on the host ([`AdhesionState::gpu_lists`]) whenever bonds, the
//! activation or the candidate lists change, which happens between plasma steps; between those the
//! kernel only sees new positions ([`AdhesionBuffers::write_positions`]).
//!
//! ```no_run
//! use hemoscale_kernels::adhesion::{Adhesion, AdhesionParams, AdhesionState};
//! use hemoscale_kernels::cell_list::CellGrid;
//! use hemoscale_kernels::gpu::{adhesion, buffers::Params};
//! use hemoscale_kernels::gpu::{AdapterChoice, GpuContext};
//! use hemoscale_kernels::{DpdSystem, SimBox};
//!
//! let ctx = GpuContext::new(AdapterChoice::Any)?;
//! // Two single-particle platelets 0.5 apart, the first activated: they bond.
//! let params = AdhesionParams::DEFAULT;
//! let mut state = AdhesionState::new(Adhesion { params, patches: Vec::new() }, vec![0, 1], 1, 2, 0.3)?;
//! let (pos, activated, len) = ([[5.0, 5.0, 5.0, 0.0], [5.5, 5.0, 5.0, 0.0]], [true, false], [10.0; 3]);
//! assert!(state.update(&pos, &activated, len, None, 0.01));
//! let lists = state.gpu_lists(&pos, &activated, len, None);
//! let system = DpdSystem::standard(SimBox::cubic(10.0), 1); // no walls: the distance field is unused
//! let engine_params = Params::new(&system, &CellGrid::new(&system), 0);
//! let kernel = adhesion::Adhesion::new(&ctx.device);
//! let zero = [[0.0f32; 4]; 2];
//! let buffers = kernel.upload(&ctx, &lists, &pos, &zero, &params, len, &engine_params, &[0.0]);
//! kernel.run(&ctx, &buffers);
//! let gpu = buffers.read_forces(&ctx)?;
//! ctx.take_errors()?;
//! let mut cpu = zero;
//! state.add_forces(&pos, &activated, len, None, &mut cpu);
//! assert!((0..2).all(|p| (0..3).all(|k| (gpu[p][k] - cpu[p][k]).abs() < 1e-5)));
//! # Ok::<(), hemoscale_kernels::KernelError>(())
//! ```
//!
//! [`AdhesionState::gpu_lists`]: crate::adhesion::AdhesionState::gpu_lists

use bytemuck::{Pod, Zeroable};

use super::buffers::Params;
use super::context::GpuContext;
use super::kernel::{
    bind, dispatch, layout, module, pipeline, read_vec4, storage_with, uniform, Bind, COMMON_WGSL, WALLS_WGSL,
};
use crate::adhesion::{AdhesionLists, AdhesionParams};
use crate::error::Result;

const SLOTS: [(u32, Bind); 8] = [
    (0, Bind::Uniform),
    (1, Bind::Read),
    (2, Bind::Uniform),
    (3, Bind::Read),
    (4, Bind::Read),
    (5, Bind::Read),
    (6, Bind::Read),
    (7, Bind::ReadWrite),
];

/// Threads per workgroup (`@workgroup_size` of `forces`).
const WG: u32 = 64;

/// Twin of `AdhParams` in the shader.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct AdhParams {
    n: u32,
    pad: [u32; 3],
    len: [f32; 4],
    morse: [f32; 4],
    spring: [f32; 4],
}

/// The compiled adhesion kernel (built once per device).
pub struct Adhesion {
    layout: wgpu::BindGroupLayout,
    /// Per-particle gather of the packed terms.
    pub forces: wgpu::ComputePipeline,
}

/// The device buffers of one packing of the adhesion terms and its bind group.
pub struct AdhesionBuffers {
    n: u32,
    /// Positions (unwrapped, `vec4`): rewritten between evaluations.
    pub pos: wgpu::Buffer,
    /// The force the adhesion terms are added to (`vec4`): the non-bonded force of the engine, or
    /// a buffer of its own.
    pub force: wgpu::Buffer,
    group: wgpu::BindGroup,
    _inputs: Vec<wgpu::Buffer>,
}

impl Adhesion {
    /// Compiles `shaders/adhesion.wgsl`.
    pub fn new(device: &wgpu::Device) -> Self {
        let m =
            module(device, "adhesion.wgsl", &[COMMON_WGSL, WALLS_WGSL, include_str!("../../../shaders/adhesion.wgsl")]);
        let layout = layout(device, "adhesion", &SLOTS);
        Self { forces: pipeline(device, &m, "forces", &layout, &[]), layout }
    }

    /// Uploads the packed terms `lists`, the positions `pos`, the starting forces `force` (the
    /// kernel adds to them), the constants `p`, the box edges `len`, and the engine's `params` with
    /// the distance-field words `sdf` (`SdfGrid::gpu_words`; `[0.0]` without walls).
    #[allow(clippy::too_many_arguments)]
    pub fn upload(
        &self,
        ctx: &GpuContext,
        lists: &AdhesionLists,
        pos: &[[f32; 4]],
        force: &[[f32; 4]],
        p: &AdhesionParams,
        len: [f32; 3],
        params: &Params,
        sdf: &[f32],
    ) -> AdhesionBuffers {
        let (d, q) = (&ctx.device, &ctx.queue);
        let n = lists.offsets.len().saturating_sub(1);
        debug_assert_eq!(pos.len(), n, "one position per particle");
        debug_assert_eq!(force.len(), n, "one force per particle");
        let walls = if params.sdf_dims[3] != 0 { 1.0 } else { 0.0 };
        let ap = AdhParams {
            n: n as u32,
            pad: [0; 3],
            len: [len[0], len[1], len[2], walls],
            morse: [p.morse.d0, p.morse.alpha, p.morse.r0, p.cutoff],
            spring: [p.spring, p.rest, 0.0, 0.0],
        };
        // Bindings may not be empty: pad the variable-length arrays with one unused element.
        let offsets: &[u32] = if lists.offsets.is_empty() { &[0] } else { &lists.offsets };
        let entries: Vec<[u32; 2]> = if lists.entries.is_empty() { vec![[0, 0]] } else { lists.entries.clone() };
        let anchors: Vec<[f32; 4]> = if lists.anchors.is_empty() { vec![[0.0; 4]] } else { lists.anchors.clone() };
        let sdf: &[f32] = if sdf.is_empty() { &[0.0] } else { sdf };
        let one = [[0.0f32; 4]];
        let inputs = vec![
            uniform(d, q, "adhesion engine params", bytemuck::bytes_of(params)),
            storage_with(d, q, "adhesion sdf", bytemuck::cast_slice(sdf)),
            uniform(d, q, "adhesion params", bytemuck::bytes_of(&ap)),
            storage_with(d, q, "adhesion offsets", bytemuck::cast_slice(offsets)),
            storage_with(d, q, "adhesion entries", bytemuck::cast_slice(&entries)),
            storage_with(d, q, "adhesion anchors", bytemuck::cast_slice(&anchors)),
        ];
        let pos_b = storage_with(d, q, "adhesion pos", bytemuck::cast_slice(if pos.is_empty() { &one } else { pos }));
        let force_b =
            storage_with(d, q, "adhesion force", bytemuck::cast_slice(if force.is_empty() { &one } else { force }));
        let group = bind(
            d,
            "adhesion",
            &self.layout,
            &SLOTS,
            &[&inputs[0], &inputs[1], &inputs[2], &pos_b, &inputs[3], &inputs[4], &inputs[5], &force_b],
        );
        AdhesionBuffers { n: n as u32, pos: pos_b, force: force_b, group, _inputs: inputs }
    }

    /// Records the force pass into `pass`; `max_dim` is the device's workgroups-per-dimension limit.
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>, b: &AdhesionBuffers, max_dim: u32) {
        if b.n > 0 {
            dispatch(pass, &self.forces, &b.group, b.n, WG, max_dim);
        }
    }

    /// Records and submits one evaluation (does not wait: [`GpuContext::sync`] or a read-back does).
    pub fn run(&self, ctx: &GpuContext, b: &AdhesionBuffers) {
        let mut enc = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("adhesion") });
        {
            let mut pass = enc
                .begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("adhesion"), timestamp_writes: None });
            self.record(&mut pass, b, ctx.limits.max_compute_workgroups_per_dimension);
        }
        let _index = ctx.queue.submit([enc.finish()]);
    }
}

impl AdhesionBuffers {
    /// Replaces the positions (same particle count as the upload).
    pub fn write_positions(&self, queue: &wgpu::Queue, pos: &[[f32; 4]]) {
        debug_assert_eq!(pos.len(), self.n as usize);
        if !pos.is_empty() {
            queue.write_buffer(&self.pos, 0, bytemuck::cast_slice(pos));
        }
    }

    /// The forces after the last evaluation (waits for the queue).
    pub fn read_forces(&self, ctx: &GpuContext) -> Result<Vec<[f32; 4]>> {
        read_vec4(&ctx.device, &ctx.queue, &self.force, self.n as usize)
    }
}
