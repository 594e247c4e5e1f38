//! Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11, "Parallel random numbers: as
//! easy as 1, 2, 3"), the generator HOOMD-blue uses for DPD.
//!
//! A counter-based generator has no state: the random word is a pure function of a 128-bit counter
//! and a 64-bit key. That is what lets the CPU backend and the WGSL twin (`shaders/rng.wgsl`)
//! produce the same numbers bit for bit, whatever the thread order, and what makes the pair noise of
//! DPD symmetric: the counter holds the *unordered* pair of particle ids, so `F^R_ij = -F^R_ji`
//! exactly, and a particle's noise does not depend on where it sits in memory.
//!
//! Streams used by hemoscale (the counter's words, the key is always the run's 64-bit seed):
//!
//! | use | counter |
//! |---|---|
//! | DPD pair noise | `[min(id_i, id_j), max(id_i, id_j), step_lo, step_hi]` |
//! | initial conditions | `[id, stream, draw, STREAM_INIT]` (see [`init_counter`]) |
//!
//! ```
//! use hemoscale_kernels::rng::{pair_noise, philox4x32_10, seed_key, SQRT3};
//!
//! // Random123's known answer for a zero counter and key.
//! assert_eq!(philox4x32_10([0; 4], [0; 2]), [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]);
//! // No state: the same counter and key give the same words wherever they are drawn.
//! let key = seed_key(42);
//! assert_eq!(philox4x32_10([1, 2, 3, 4], key), philox4x32_10([1, 2, 3, 4], key));
//! assert_ne!(philox4x32_10([1, 2, 3, 4], key), philox4x32_10([1, 2, 3, 5], key));
//! // The pair noise is the same for (i, j) and (j, i), and bounded by sqrt(3).
//! let theta = pair_noise(key, 100, 5, 9);
//! assert_eq!(theta.to_bits(), pair_noise(key, 100, 9, 5).to_bits());
//! assert!(theta.abs() <= SQRT3);
//! // A new step draws new noise.
//! assert_ne!(theta.to_bits(), pair_noise(key, 101, 5, 9).to_bits());
//! ```

/// Multiplier of the first Philox lane.
const M0: u32 = 0xD251_1F53;
/// Multiplier of the second Philox lane.
const M1: u32 = 0xCD9E_8D57;
/// Weyl increment of key word 0 (golden ratio).
const W0: u32 = 0x9E37_79B9;
/// Weyl increment of key word 1 (sqrt(3) - 1).
const W1: u32 = 0xBB67_AE85;

/// Marks the counters of initial-condition draws so they can never collide with pair-noise counters
/// (pair-noise counters use this word for the high half of the step, which stays far below it).
pub const STREAM_INIT: u32 = 0xFFFF_FFF0;

/// Philox4x32 with 10 rounds: maps `counter` under `key` to four independent uniform 32-bit words.
#[inline(always)]
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    let mut k = key;
    for round in 0..10 {
        if round > 0 {
            k[0] = k[0].wrapping_add(W0);
            k[1] = k[1].wrapping_add(W1);
        }
        let p0 = u64::from(M0) * u64::from(c[0]);
        let p1 = u64::from(M1) * u64::from(c[2]);
        let (hi0, lo0) = ((p0 >> 32) as u32, p0 as u32);
        let (hi1, lo1) = ((p1 >> 32) as u32, p1 as u32);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
    }
    c
}

/// Splits a 64-bit seed into the Philox key.
#[inline(always)]
pub fn seed_key(seed: u64) -> [u32; 2] {
    [seed as u32, (seed >> 32) as u32]
}

/// Maps a random word to a float uniform on [-1, 1).
///
/// Only the top 24 bits are used, so the conversion `u >> 8` -> f32, the multiplication by 2^-23 and
/// the subtraction are all exact in IEEE f32: the WGSL twin gives the same bits on every GPU.
#[inline(always)]
pub fn uniform_pm1(word: u32) -> f32 {
    (word >> 8) as f32 * (1.0 / 8_388_608.0) - 1.0
}

/// The DPD pair noise theta_ij: uniform with zero mean and unit variance (sqrt(3) * U[-1, 1)), as in
/// HOOMD-blue (Phillips et al. 2011). Symmetric in (`id_i`, `id_j`) by construction.
#[inline(always)]
pub fn pair_noise(key: [u32; 2], step: u64, id_i: u32, id_j: u32) -> f32 {
    let (lo, hi) = if id_i < id_j { (id_i, id_j) } else { (id_j, id_i) };
    let w = philox4x32_10([lo, hi, step as u32, (step >> 32) as u32], key);
    uniform_pm1(w[0]) * SQRT3
}

/// sqrt(3) rounded to f32; the WGSL twin uses the same literal.
pub const SQRT3: f32 = 1.732_050_8;

/// Counter for the `draw`-th block of initial-condition words of particle `id` in `stream`
/// (streams: 0 positions, 1 velocities).
#[inline(always)]
pub fn init_counter(id: u32, stream: u32, draw: u32) -> [u32; 4] {
    [id, stream, draw, STREAM_INIT]
}

/// Maps a random word to a float uniform on (0, 1], safe for `ln` (Box–Muller).
#[inline(always)]
pub fn uniform_open0(word: u32) -> f64 {
    (f64::from(word >> 8) + 1.0) / 16_777_216.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known answers from Random123's `tests/kat_vectors` (D. E. Shaw Research, v1.14), the three
    /// `philox4x32 10` lines: counter (4 words), key (2 words), expected output (4 words).
    #[test]
    fn philox_known_answers() {
        let kat: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
            ([0; 4], [0; 2], [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]),
            ([u32::MAX; 4], [u32::MAX; 2], [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]),
            (
                [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
                [0xa409_3822, 0x299f_31d0],
                [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1],
            ),
        ];
        for (ctr, key, want) in kat {
            assert_eq!(philox4x32_10(ctr, key), want, "counter {ctr:08x?} key {key:08x?}");
        }
    }

    #[test]
    fn pair_noise_is_symmetric_and_step_dependent() {
        let key = seed_key(0x1234_5678_9abc_def0);
        assert_eq!(pair_noise(key, 7, 3, 9).to_bits(), pair_noise(key, 7, 9, 3).to_bits());
        assert_ne!(pair_noise(key, 7, 3, 9).to_bits(), pair_noise(key, 8, 3, 9).to_bits());
    }

    /// theta must have zero mean and unit variance (the fluctuation–dissipation relation assumes it).
    /// With 10^6 samples the standard error of the mean is 1e-3 and of the variance about 1.1e-3;
    /// the tolerances are 5 standard errors.
    #[test]
    fn pair_noise_has_unit_variance() {
        let key = seed_key(42);
        let n = 1_000_000u32;
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for k in 0..n {
            let t = f64::from(pair_noise(key, u64::from(k / 1000), k % 1000, 1000 + k % 997));
            s1 += t;
            s2 += t * t;
        }
        let mean = s1 / f64::from(n);
        let var = s2 / f64::from(n) - mean * mean;
        assert!(mean.abs() < 5e-3, "mean {mean}");
        assert!((var - 1.0).abs() < 5.5e-3, "variance {var}");
    }
}
