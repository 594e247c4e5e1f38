//! Pipelines of `shaders/observables.wgsl`: on-device reduction of momentum, kinetic and virial
//! tensors into sample slots. Formulas in [`crate::observables`].
//!
//! The device's partial sums give the CPU's observables up to rounding:
//!
//! ```no_run
//! use hemoscale_kernels::gpu::AdapterChoice;
//! use hemoscale_kernels::{init, CpuEngine, DpdSystem, Engine, GpuEngine, SimBox};
//!
//! let system = DpdSystem::standard(SimBox::cubic(4.0), 8);
//! let state = init::random_fluid(&system, 192);
//! let mut cpu = CpuEngine::new(&system, &state, 0)?;
//! let mut gpu = GpuEngine::new(&system, &state, 0, AdapterChoice::Any)?;
//! cpu.compute_forces()?;
//! gpu.compute_forces()?;
//! let (a, b) = (cpu.observables()?, gpu.observables()?);
//! assert_eq!((a.step, a.n), (b.step, b.n));
//! assert!((a.temperature() - b.temperature()).abs() < 1e-5);
//! assert!((a.pressure() - b.pressure()).abs() < 1e-3 * a.pressure().abs());
//! # Ok::<(), hemoscale_kernels::KernelError>(())
//! ```

use super::buffers::Buffers;
use super::kernel::{bind, layout, module, pipeline, Bind, COMMON_WGSL};

const SLOTS: [(u32, Bind); 7] = [
    (0, Bind::Uniform),
    (1, Bind::Read),
    (2, Bind::Read),
    (3, Bind::Read),
    (4, Bind::Read),
    (5, Bind::ReadWrite),
    (6, Bind::ReadWrite),
];

/// Compiled reduction kernels.
pub struct Reduce {
    layout: wgpu::BindGroupLayout,
    /// Writes one record per workgroup into the current sample slot.
    pub reduce: wgpu::ComputePipeline,
    /// Moves to the next sample slot (one thread).
    pub advance_sample: wgpu::ComputePipeline,
}

impl Reduce {
    /// Compiles the kernels.
    pub fn new(device: &wgpu::Device) -> Self {
        let m = module(device, "observables.wgsl", &[COMMON_WGSL, include_str!("../../../shaders/observables.wgsl")]);
        let layout = layout(device, "observables", &SLOTS);
        Self {
            reduce: pipeline(device, &m, "reduce", &layout, &[]),
            advance_sample: pipeline(device, &m, "advance_sample", &layout, &[]),
            layout,
        }
    }
    /// Binds the buffers.
    pub fn bind(&self, device: &wgpu::Device, b: &Buffers) -> wgpu::BindGroup {
        bind(
            device,
            "observables",
            &self.layout,
            &SLOTS,
            &[&b.params, &b.types, &b.pos, &b.vel, &b.virial, &b.sim, &b.partials],
        )
    }
}
