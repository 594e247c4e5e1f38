//! Pipelines of `shaders/integrate.wgsl`: first half-step fused with the cell count, and the step
//! counter. Physics in [`crate::integrate`].
//!
//! Fresh initial conditions carry no forces, so the first half-step is a pure drift,
//! `x <- wrap(x + dt v)`, as [`crate::integrate::first_half`] computes it:
//!
//! ```no_run
//! use hemoscale_kernels::gpu::{buffers::Buffers, integrate::Integrate, kernel};
//! use hemoscale_kernels::gpu::{AdapterChoice, GpuContext};
//! use hemoscale_kernels::integrate::wrap;
//! use hemoscale_kernels::{init, DpdSystem, SimBox};
//!
//! let ctx = GpuContext::new(AdapterChoice::Any)?;
//! let system = DpdSystem::standard(SimBox::cubic(4.0), 1);
//! let state = init::random_fluid(&system, 192);
//! let b = Buffers::new(&ctx, &system, &state, 0)?;
//! let integrate = Integrate::new(&ctx.device);
//! let group = integrate.bind(&ctx.device, &b);
//! let mut enc = ctx.device.create_command_encoder(&Default::default());
//! let max_dim = ctx.limits.max_compute_workgroups_per_dimension;
//! kernel::dispatch(&mut enc.begin_compute_pass(&Default::default()), &integrate.first, &group, b.n, 64, max_dim);
//! let _index = ctx.queue.submit([enc.finish()]);
//! let moved = kernel::read_vec4(&ctx.device, &ctx.queue, &b.pos, 192)?;
//! ctx.take_errors()?;
//! for ((x, v), y) in state.pos.iter().zip(&state.vel).zip(&moved) {
//!     for k in 0..3 {
//!         let d = (y[k] - wrap(x[k] + system.dt * v[k], 4.0, 0.25)).abs();
//!         assert!(d.min(4.0 - d) < 1e-6, "{y:?} vs {x:?} + dt {v:?}"); // periodic distance
//!     }
//! }
//! # Ok::<(), hemoscale_kernels::KernelError>(())
//! ```

use super::buffers::Buffers;
use super::kernel::{bind, layout, module, pipeline, Bind, COMMON_WGSL, WALLS_WGSL};

const SLOTS: [(u32, Bind); 12] = [
    (0, Bind::Uniform),
    (1, Bind::Read),
    (2, Bind::ReadWrite),
    (3, Bind::ReadWrite),
    (4, Bind::ReadWrite),
    (5, Bind::Read),
    (6, Bind::ReadWrite),
    (7, Bind::ReadWrite),
    (8, Bind::ReadWrite),
    (9, Bind::ReadWrite),
    (10, Bind::Read),
    (11, Bind::ReadWrite),
];

/// Compiled integrate kernels.
pub struct Integrate {
    layout: wgpu::BindGroupLayout,
    /// Half-kick, drift, wrap, predicted velocity, cell index and count.
    pub first: wgpu::ComputePipeline,
    /// As `first` without the half-kick (drift, wrap, predicted velocity = velocity, cell count):
    /// the second plasma half drift of a step with platelets ([`crate::mts`]).
    pub drift: wgpu::ComputePipeline,
    /// Increments the step counter (one thread).
    pub advance: wgpu::ComputePipeline,
}

impl Integrate {
    /// Compiles the kernels.
    pub fn new(device: &wgpu::Device) -> Self {
        let m = module(
            device,
            "integrate.wgsl",
            &[COMMON_WGSL, WALLS_WGSL, include_str!("../../../shaders/integrate.wgsl")],
        );
        let layout = layout(device, "integrate", &SLOTS);
        Self {
            first: pipeline(device, &m, "integrate_first", &layout, &[]),
            drift: pipeline(device, &m, "integrate_first", &layout, &[("KICK", 0.0)]),
            advance: pipeline(device, &m, "advance_step", &layout, &[]),
            layout,
        }
    }
    /// Binds the buffers.
    pub fn bind(&self, device: &wgpu::Device, b: &Buffers) -> wgpu::BindGroup {
        self.bind_with_params(device, b, &b.params)
    }
    /// Binds the buffers with another `Params` uniform in place of `b.params` (the half-step
    /// coefficients of a step with platelets).
    pub fn bind_with_params(&self, device: &wgpu::Device, b: &Buffers, params: &wgpu::Buffer) -> wgpu::BindGroup {
        bind(
            device,
            "integrate",
            &self.layout,
            &SLOTS,
            &[
                params,
                &b.types,
                &b.pos,
                &b.vel,
                &b.vpred,
                &b.force,
                &b.cell_of,
                &b.rank,
                &b.counts,
                &b.sim,
                &b.sdf,
                &b.wall_counts,
            ],
        )
    }
}
