//! `shaders/rng_batch.wgsl`: evaluates the WGSL Philox4x32-10 on a batch of inputs so that tests can
//! compare it with [`crate::rng`] bit for bit.
//!
//! ```no_run
//! use hemoscale_kernels::gpu::rng_batch::philox_batch;
//! use hemoscale_kernels::gpu::{AdapterChoice, GpuContext};
//! use hemoscale_kernels::rng::{pair_noise, philox4x32_10, seed_key};
//!
//! let ctx = GpuContext::new(AdapterChoice::Any)?;
//! let key = seed_key(0x1234_5678_9abc_def0);
//! // Counters read as (tag_i, tag_j, step_lo, step_hi): the DPD pair noise stream.
//! let inputs: Vec<([u32; 4], [u32; 2])> = (0..256).map(|i| ([i, i + 1000, 7, 0], key)).collect();
//! let (words, noise) = philox_batch(&ctx, &inputs)?;
//! for (k, (counter, key)) in inputs.iter().enumerate() {
//!     assert_eq!(words[k], philox4x32_10(*counter, *key));
//!     assert_eq!(noise[k].to_bits(), pair_noise(*key, 7, counter[0], counter[1]).to_bits());
//! }
//! # Ok::<(), hemoscale_kernels::KernelError>(())
//! ```

use super::context::GpuContext;
use super::kernel::{bind, dispatch, layout, module, pipeline, read_back, storage, Bind, RNG_WGSL};
use crate::error::Result;

const SLOTS: [(u32, Bind); 3] = [(0, Bind::Read), (1, Bind::ReadWrite), (2, Bind::ReadWrite)];

/// For each `(counter, key)` returns the four Philox words and the pair noise obtained by reading
/// the counter as `(tag_i, tag_j, step_lo, step_hi)`.
pub fn philox_batch(ctx: &GpuContext, inputs: &[([u32; 4], [u32; 2])]) -> Result<(Vec<[u32; 4]>, Vec<f32>)> {
    let d = &ctx.device;
    let m = module(d, "rng_batch.wgsl", &[RNG_WGSL, include_str!("../../../shaders/rng_batch.wgsl")]);
    let lay = layout(d, "rng batch", &SLOTS);
    let pl = pipeline(d, &m, "philox_batch", &lay, &[]);
    let n = inputs.len() as u64;
    let flat: Vec<u32> = inputs.iter().flat_map(|(c, k)| [c[0], c[1], c[2], c[3], k[0], k[1], 0, 0]).collect();
    let inp = storage(d, "rng inputs", 32 * n);
    ctx.queue.write_buffer(&inp, 0, bytemuck::cast_slice(&flat));
    let out = storage(d, "rng outputs", 16 * n);
    let noise = storage(d, "rng noise", 4 * n);
    let group = bind(d, "rng batch", &lay, &SLOTS, &[&inp, &out, &noise]);
    let mut enc = d.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("rng batch") });
    {
        let mut pass =
            enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("rng batch"), timestamp_writes: None });
        dispatch(&mut pass, &pl, &group, n as u32, 64, ctx.limits.max_compute_workgroups_per_dimension);
    }
    let _index = ctx.queue.submit([enc.finish()]);
    let words: Vec<u32> = bytemuck::pod_collect_to_vec(&read_back(d, &ctx.queue, &out, 16 * n)?);
    let noise: Vec<f32> = bytemuck::pod_collect_to_vec(&read_back(d, &ctx.queue, &noise, 4 * n)?);
    ctx.take_errors()?;
    Ok((words.chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]]).collect(), noise))
}
