//! Pipelines of `shaders/observables.wgsl`: on-device reduction of momentum, kinetic and virial
//! tensors into sample slots. Formulas in [`crate::observables`].

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
