//! Pipelines of `shaders/dpd.wgsl`: DPD forces gathered per particle, with or without the second
//! half-kick. Physics and the CPU version in [`crate::dpd`].
//!
//! [`crate::Engine::compute_forces`] of [`crate::GpuEngine`] runs the cell list and then `forces_only`; the
//! forces agree with the CPU's up to the order of the sums:
//!
//! ```no_run
//! use hemoscale_kernels::gpu::{AdapterChoice, GpuContext};
//! use hemoscale_kernels::{init, CpuEngine, DpdSystem, Engine, GpuEngine, SimBox};
//!
//! let system = DpdSystem::standard(SimBox::cubic(4.0), 6);
//! let state = init::random_fluid(&system, 192);
//! let mut cpu = CpuEngine::new(&system, &state, 0)?;
//! let mut gpu = GpuEngine::with_context(GpuContext::new(AdapterChoice::Any)?, &system, &state, 0)?;
//! cpu.compute_forces()?;
//! gpu.compute_forces()?;
//! let (a, b) = (cpu.state()?.sorted_by_tag(), gpu.state()?.sorted_by_tag());
//! for (f, g) in a.force.iter().zip(&b.force) {
//!     assert!((0..3).all(|k| (f[k] - g[k]).abs() < 1e-3 * (1.0 + f[k].abs())), "{f:?} vs {g:?}");
//! }
//! # Ok::<(), hemoscale_kernels::KernelError>(())
//! ```

use super::buffers::Buffers;
use super::kernel::{bind, layout, module, pipeline, Bind, COMMON_WGSL, RNG_WGSL, WALLS_WGSL};

const SLOTS: [(u32, Bind); 13] = [
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
    (11, Bind::ReadWrite),
    (12, Bind::Read),
];

/// Compiled force kernels.
pub struct Dpd {
    layout: wgpu::BindGroupLayout,
    /// Forces, virial and second half-kick (the step).
    pub forces_kick: wgpu::ComputePipeline,
    /// Forces and virial only (initial forces, benchmarks).
    pub forces_only: wgpu::ComputePipeline,
}

impl Dpd {
    /// Compiles the kernels (one module, the `KICK` override chooses the variant).
    pub fn new(device: &wgpu::Device) -> Self {
        let m =
            module(device, "dpd.wgsl", &[COMMON_WGSL, RNG_WGSL, WALLS_WGSL, include_str!("../../../shaders/dpd.wgsl")]);
        let layout = layout(device, "dpd", &SLOTS);
        Self {
            forces_kick: pipeline(device, &m, "forces", &layout, &[("KICK", 1.0)]),
            forces_only: pipeline(device, &m, "forces", &layout, &[("KICK", 0.0)]),
            layout,
        }
    }
    /// Binds the buffers.
    pub fn bind(&self, device: &wgpu::Device, b: &Buffers) -> wgpu::BindGroup {
        bind(
            device,
            "dpd",
            &self.layout,
            &SLOTS,
            &[
                &b.params, &b.pairs, &b.types, &b.pos, &b.vpred, &b.cell_of, &b.start, &b.entries, &b.sim, &b.force,
                &b.vel, &b.virial, &b.sdf,
            ],
        )
    }
}
