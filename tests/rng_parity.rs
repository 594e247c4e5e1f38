//! The WGSL Philox4x32-10 must give the same bits as the Rust one (Random123 known answers are
//! checked on the CPU side in `kernels/src/rng.rs`), and so must the DPD pair noise built on it.

mod common;

use hemoscale_kernels::gpu::rng_batch::philox_batch;
use hemoscale_kernels::rng::{pair_noise, philox4x32_10};

#[test]
fn gpu_philox_is_bit_identical_to_cpu_over_131072_keys() {
    let Some(ctx) = common::gpu_context() else {
        return;
    };
    // Random123 known-answer inputs, then 2^17 counters/keys from a simple LCG covering all bits,
    // including the carry-heavy extremes of the 16-bit-limb multiply.
    let mut inputs: Vec<([u32; 4], [u32; 2])> = vec![
        ([0; 4], [0; 2]),
        ([u32::MAX; 4], [u32::MAX; 2]),
        ([0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344], [0xa409_3822, 0x299f_31d0]),
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (x >> 32) as u32
    };
    while inputs.len() < 131_072 {
        inputs.push(([next(), next(), next(), next()], [next(), next()]));
    }
    let (gpu_words, gpu_noise) = philox_batch(&ctx, &inputs).expect("GPU batch");
    assert_eq!(gpu_words[0], [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8], "Random123 KAT on GPU");
    for (k, (c, key)) in inputs.iter().enumerate() {
        assert_eq!(gpu_words[k], philox4x32_10(*c, *key), "Philox words differ at input {k}");
        let step = u64::from(c[2]) | (u64::from(c[3]) << 32);
        let cpu = pair_noise(*key, step, c[0], c[1]);
        assert_eq!(gpu_noise[k].to_bits(), cpu.to_bits(), "pair noise differs at input {k}");
    }
}
