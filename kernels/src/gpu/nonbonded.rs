//! Pipeline of `shaders/nonbonded.wgsl`: Lennard-Jones (WCA) forces among platelet particles,
//! gathered per particle over a Verlet list. Physics and the CPU version in [`crate::nonbonded`].
//!
//! The list is built on the CPU ([`NeighborList::build`], rebuilt when stale) and uploaded in its
//! CSR form ([`Nonbonded::upload`]); between rebuilds only positions change
//! ([`NonbondedBuffers::write_positions`]). Each pair is in both particles' lists, so the gather
//! needs no atomics and sums in the CPU's order.
//!
//! ```no_run
//! use hemoscale_kernels::gpu::nonbonded::Nonbonded;
//! use hemoscale_kernels::gpu::{AdapterChoice, GpuContext};
//! use hemoscale_kernels::nonbonded::{lj_forces, Exclusions, LennardJones, NeighborList};
//!
//! let ctx = GpuContext::new(AdapterChoice::Any)?;
//! // Three particles in a row, 0.5 apart; 0 and 1 are joined by a spring (excluded).
//! let lj = LennardJones::wca(1.0, 0.5);
//! let pos = [[1.0, 1.0, 1.0, 0.0], [1.5, 1.0, 1.0, 0.0], [2.0, 1.0, 1.0, 0.0]];
//! let list = NeighborList::build(&pos, [5.0; 3], lj.rcut + 0.3, &Exclusions::new(3, [(0, 1)].into_iter()));
//! let kernel = Nonbonded::new(&ctx.device);
//! let buffers = kernel.upload(&ctx, &list, &pos, &lj, [5.0; 3]);
//! kernel.run(&ctx, &buffers);
//! let gpu = buffers.read_forces(&ctx)?;
//! ctx.take_errors()?; // validation errors surface here, not at the dispatch
//! let mut cpu = [[0.0f32; 4]; 3];
//! lj_forces(&list, &pos, &lj, [5.0; 3], &mut cpu);
//! assert!((0..3).all(|p| (0..3).all(|k| (gpu[p][k] - cpu[p][k]).abs() < 1e-3)));
//! assert!((gpu[2][0] - 48.0).abs() < 1e-3); // 24 eps / sigma at r = sigma
//! # Ok::<(), hemoscale_kernels::KernelError>(())
//! ```

use bytemuck::{Pod, Zeroable};

use super::context::GpuContext;
use super::kernel::{
    bind, dispatch, layout, module, pipeline, read_vec4, storage, storage_with, uniform, Bind, COMMON_WGSL,
};
use crate::error::Result;
use crate::nonbonded::{LennardJones, NeighborList};

const SLOTS: [(u32, Bind); 5] =
    [(0, Bind::Uniform), (1, Bind::Read), (2, Bind::Read), (3, Bind::Read), (4, Bind::ReadWrite)];

/// Threads per workgroup (`@workgroup_size` of `forces`).
const WG: u32 = 64;

/// Twin of `LjParams` in the shader.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct LjParams {
    n: u32,
    pad: [u32; 3],
    len: [f32; 4],
    lj: [f32; 4],
}

/// The compiled Lennard-Jones kernel (built once per device).
pub struct Nonbonded {
    layout: wgpu::BindGroupLayout,
    /// Per-particle gather over the Verlet list.
    pub forces: wgpu::ComputePipeline,
}

/// The device buffers of one neighbour list and its bind group: built by [`Nonbonded::upload`],
/// and built again when the list is rebuilt (its length changes).
pub struct NonbondedBuffers {
    n: u32,
    /// Positions (unwrapped, `vec4`, w unused): rewritten between evaluations.
    pub pos: wgpu::Buffer,
    /// Lennard-Jones force on each particle (`vec4`, w = 0): the output.
    pub force: wgpu::Buffer,
    group: wgpu::BindGroup,
    /// Inputs the bind group refers to, kept with it.
    _inputs: Vec<wgpu::Buffer>,
}

impl Nonbonded {
    /// Compiles `shaders/nonbonded.wgsl`.
    pub fn new(device: &wgpu::Device) -> Self {
        let m = module(device, "nonbonded.wgsl", &[COMMON_WGSL, include_str!("../../../shaders/nonbonded.wgsl")]);
        let layout = layout(device, "nonbonded", &SLOTS);
        Self { forces: pipeline(device, &m, "forces", &layout, &[]), layout }
    }

    /// Uploads the CSR arrays of `nl`, the positions `pos` (one per particle of `nl`), the
    /// potential `lj` and the box edges `len`.
    pub fn upload(
        &self,
        ctx: &GpuContext,
        nl: &NeighborList,
        pos: &[[f32; 4]],
        lj: &LennardJones,
        len: [f32; 3],
    ) -> NonbondedBuffers {
        let (d, q) = (&ctx.device, &ctx.queue);
        let n = nl.offsets.len().saturating_sub(1);
        debug_assert_eq!(pos.len(), n, "one position per particle of the list");
        let params = LjParams {
            n: n as u32,
            pad: [0; 3],
            len: [len[0], len[1], len[2], 0.0],
            lj: [lj.epsilon, lj.sigma, lj.rcut * lj.rcut, 0.0],
        };
        // An empty list (no particles) still needs one offset to bind.
        let offsets: &[u32] = if nl.offsets.is_empty() { &[0] } else { &nl.offsets };
        let inputs = vec![
            uniform(d, q, "lj params", bytemuck::bytes_of(&params)),
            storage_with(d, q, "lj offsets", bytemuck::cast_slice(offsets)),
            storage_with(d, q, "lj list", bytemuck::cast_slice(&nl.list)),
        ];
        let pos_b = storage_with(d, q, "lj pos", bytemuck::cast_slice(pos));
        let force = storage(d, "lj force", 16 * n as u64);
        let group = bind(d, "nonbonded", &self.layout, &SLOTS, &[&inputs[0], &pos_b, &inputs[1], &inputs[2], &force]);
        NonbondedBuffers { n: n as u32, pos: pos_b, force, group, _inputs: inputs }
    }

    /// Records the force pass into `pass`; `max_dim` is the device's workgroups-per-dimension limit.
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>, b: &NonbondedBuffers, max_dim: u32) {
        if b.n > 0 {
            dispatch(pass, &self.forces, &b.group, b.n, WG, max_dim);
        }
    }

    /// Records and submits one evaluation (does not wait: [`GpuContext::sync`] or a read-back does).
    pub fn run(&self, ctx: &GpuContext, b: &NonbondedBuffers) {
        let mut enc = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("nonbonded") });
        {
            let mut pass = enc
                .begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("nonbonded"), timestamp_writes: None });
            self.record(&mut pass, b, ctx.limits.max_compute_workgroups_per_dimension);
        }
        let _index = ctx.queue.submit([enc.finish()]);
    }
}

impl NonbondedBuffers {
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
}
