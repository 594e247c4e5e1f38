//! `shaders/walls_batch.wgsl`: evaluates the WGSL wall functions (distance field, bounce-back,
//! near-wall force) on a batch of inputs so tests can compare them with [`crate::walls`].
//!
//! ```no_run
//! use hemoscale_kernels::gpu::walls_batch::walls_batch;
//! use hemoscale_kernels::gpu::{AdapterChoice, GpuContext};
//! use hemoscale_kernels::walls::Bounce;
//! use hemoscale_kernels::{DpdSystem, NearWallForce, SdfGrid, Shape, SimBox, WallMotion, Walls};
//!
//! let ctx = GpuContext::new(AdapterChoice::Any)?;
//! let mut system = DpdSystem::standard(SimBox { len: [4.0, 4.0, 10.0] }, 1);
//! let channel = Shape::Channel { center: 5.0, half_height: 3.0 };
//! let walls = Walls {
//!     sdf: SdfGrid::sample(&channel, system.sim_box.len, 1 << 20)?,
//!     motion: WallMotion { speed: 1.0, center: 5.0 },
//!     force: NearWallForce { amplitude: 2.0, range: 1.0 },
//! };
//! system.walls = Some(walls.clone());
//! // (x0, x1, v): a drift through the top wall, and one that stays in the fluid.
//! let inputs = [
//!     [[1.0, 1.0, 7.9], [1.0, 1.0, 8.1], [0.0, 0.0, 2.0]],
//!     [[1.0, 1.0, 5.0], [1.0, 1.0, 5.02], [0.0, 0.0, 2.0]],
//! ];
//! let probes = walls_batch(&ctx, &system, &inputs)?;
//! assert_eq!((probes[0].outcome, probes[1].outcome), (Bounce::Reflected, Bounce::None));
//! let mut v = inputs[0][2];
//! let (x, _) = walls.bounce(inputs[0][0], inputs[0][1], &mut v);
//! assert!((0..3).all(|k| (probes[0].x[k] - x[k]).abs() < 1e-5 && (probes[0].v[k] - v[k]).abs() < 1e-5));
//! assert!((probes[1].value - walls.sdf.value(inputs[1][1])).abs() < 1e-5);
//! # Ok::<(), hemoscale_kernels::KernelError>(())
//! ```

use super::buffers::Params;
use super::context::GpuContext;
use super::kernel::{
    bind, dispatch, layout, module, pipeline, read_back, storage, uniform, Bind, COMMON_WGSL, WALLS_WGSL,
};
use crate::cell_list::CellGrid;
use crate::error::{KernelError, Result};
use crate::system::DpdSystem;
use crate::walls::Bounce;

const SLOTS: [(u32, Bind); 4] = [(0, Bind::Uniform), (1, Bind::Read), (2, Bind::Read), (3, Bind::ReadWrite)];

/// What the GPU computed for one `(x0, x1, v)` input.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WallProbe {
    /// Field value at x1.
    pub value: f32,
    /// Field gradient at x1.
    pub gradient: [f32; 3],
    /// Bounced (unwrapped) position.
    pub x: [f32; 3],
    /// Bounced velocity.
    pub v: [f32; 3],
    /// Outcome of the bounce.
    pub outcome: Bounce,
    /// Near-wall force at x1.
    pub force: [f32; 3],
}

/// Runs the wall functions of `system` (which must have walls) on the GPU for each input
/// `(x0, x1, v)`: the drift from x0 to x1 at velocity v.
pub fn walls_batch(ctx: &GpuContext, system: &DpdSystem, inputs: &[[[f32; 3]; 3]]) -> Result<Vec<WallProbe>> {
    let walls = system.walls.as_ref().ok_or_else(|| KernelError::InconsistentState("no walls".into()))?;
    let d = &ctx.device;
    let m =
        module(d, "walls_batch.wgsl", &[COMMON_WGSL, WALLS_WGSL, include_str!("../../../shaders/walls_batch.wgsl")]);
    let lay = layout(d, "walls batch", &SLOTS);
    let pl = pipeline(d, &m, "walls_batch", &lay, &[]);
    let n = inputs.len() as u64;
    let params = Params::new(system, &CellGrid::new(system), n as u32);
    let params = uniform(d, &ctx.queue, "walls batch params", bytemuck::bytes_of(&params));
    let words = walls.sdf.gpu_words();
    let sdf = storage(d, "walls batch sdf", 4 * words.len() as u64);
    ctx.queue.write_buffer(&sdf, 0, bytemuck::cast_slice(&words));
    let flat: Vec<f32> = inputs.iter().flat_map(|i| i.iter().flat_map(|p| [p[0], p[1], p[2], 0.0])).collect();
    let inp = storage(d, "walls batch inputs", 48 * n);
    ctx.queue.write_buffer(&inp, 0, bytemuck::cast_slice(&flat));
    let out = storage(d, "walls batch outputs", 64 * n);
    let group = bind(d, "walls batch", &lay, &SLOTS, &[&params, &sdf, &inp, &out]);
    let mut enc = d.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("walls batch") });
    {
        let mut pass =
            enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("walls batch"), timestamp_writes: None });
        dispatch(&mut pass, &pl, &group, n as u32, 64, ctx.limits.max_compute_workgroups_per_dimension);
    }
    let _index = ctx.queue.submit([enc.finish()]);
    let raw: Vec<f32> = bytemuck::pod_collect_to_vec(&read_back(d, &ctx.queue, &out, 64 * n)?);
    ctx.take_errors()?;
    Ok(raw
        .chunks_exact(16)
        .map(|c| WallProbe {
            value: c[3],
            gradient: [c[0], c[1], c[2]],
            x: [c[4], c[5], c[6]],
            outcome: match c[7] as u32 {
                0 => Bounce::None,
                1 => Bounce::Reflected,
                _ => Bounce::Leaked,
            },
            v: [c[8], c[9], c[10]],
            force: [c[12], c[13], c[14]],
        })
        .collect())
}
