//! Pipelines of `shaders/cell_list.wgsl`: cell assignment, scatter, per-cell sort and reordering.
//! The geometry and the CPU version are in [`crate::cell_list`].
//!
//! The device computes each particle's cell with the CPU's f32 operations, so both agree on
//! every particle:
//!
//! ```no_run
//! use hemoscale_kernels::cell_list::CellGrid;
//! use hemoscale_kernels::gpu::{buffers::Buffers, cell_list::CellListKernels, kernel};
//! use hemoscale_kernels::gpu::{AdapterChoice, GpuContext};
//! use hemoscale_kernels::{init, DpdSystem, SimBox};
//!
//! let ctx = GpuContext::new(AdapterChoice::Any)?;
//! let system = DpdSystem::standard(SimBox::cubic(4.0), 1);
//! let state = init::random_fluid(&system, 192);
//! let b = Buffers::new(&ctx, &system, &state, 0)?;
//! let cells = CellListKernels::new(&ctx.device);
//! let group = cells.bind(&ctx.device, &b);
//! let mut enc = ctx.device.create_command_encoder(&Default::default());
//! enc.clear_buffer(&b.counts, 0, None);
//! let max_dim = ctx.limits.max_compute_workgroups_per_dimension;
//! kernel::dispatch(&mut enc.begin_compute_pass(&Default::default()), &cells.assign, &group, b.n, 64, max_dim);
//! let _index = ctx.queue.submit([enc.finish()]);
//! let bytes = kernel::read_back(&ctx.device, &ctx.queue, &b.cell_of, 4 * 192)?;
//! ctx.take_errors()?;
//! let cell_of: Vec<u32> = bytemuck::pod_collect_to_vec(&bytes);
//! let grid = CellGrid::new(&system);
//! assert!(state.pos.iter().zip(&cell_of).all(|(p, &c)| grid.cell_of(p) == c));
//! # Ok::<(), hemoscale_kernels::KernelError>(())
//! ```

use super::buffers::Buffers;
use super::kernel::{bind, layout, module, pipeline, Bind, COMMON_WGSL};

const SLOTS: [(u32, Bind); 13] = [
    (0, Bind::Uniform),
    (1, Bind::ReadWrite),
    (2, Bind::ReadWrite),
    (3, Bind::ReadWrite),
    (4, Bind::ReadWrite),
    (5, Bind::ReadWrite),
    (6, Bind::ReadWrite),
    (7, Bind::Read),
    (8, Bind::ReadWrite),
    (9, Bind::ReadWrite),
    (10, Bind::ReadWrite),
    (11, Bind::ReadWrite),
    (12, Bind::ReadWrite),
];

/// Compiled cell-list kernels.
pub struct CellListKernels {
    layout: wgpu::BindGroupLayout,
    /// Cell index and count from positions (when no integration precedes).
    pub assign: wgpu::ComputePipeline,
    /// Writes particle indices into their cells' slots.
    pub scatter: wgpu::ComputePipeline,
    /// Sorts each cell's entries ascending (determinism).
    pub sort: wgpu::ComputePipeline,
    /// Gathers particles into cell order in the scratch buffers.
    pub reorder: wgpu::ComputePipeline,
}

impl CellListKernels {
    /// Compiles the kernels.
    pub fn new(device: &wgpu::Device) -> Self {
        let m = module(device, "cell_list.wgsl", &[COMMON_WGSL, include_str!("../../../shaders/cell_list.wgsl")]);
        let layout = layout(device, "cell list", &SLOTS);
        Self {
            assign: pipeline(device, &m, "assign_cells", &layout, &[]),
            scatter: pipeline(device, &m, "scatter", &layout, &[]),
            sort: pipeline(device, &m, "sort_cells", &layout, &[]),
            reorder: pipeline(device, &m, "reorder_gather", &layout, &[]),
            layout,
        }
    }
    /// Binds the buffers.
    pub fn bind(&self, device: &wgpu::Device, b: &Buffers) -> wgpu::BindGroup {
        bind(
            device,
            "cell list",
            &self.layout,
            &SLOTS,
            &[
                &b.params, &b.pos, &b.vel, &b.vpred, &b.cell_of, &b.rank, &b.counts, &b.start, &b.entries, &b.pos2,
                &b.vel2, &b.vpred2, &b.cell2,
            ],
        )
    }
}
