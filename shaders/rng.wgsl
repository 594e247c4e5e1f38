// rng.wgsl -- Philox4x32-10, the WGSL twin of kernels/src/rng.rs (bit-identical; tested over 10^5+
// keys). Core WGSL has no 64-bit integers: the 32x32 -> 64 multiply is assembled from 16-bit limbs.

const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;
const PHILOX_W1: u32 = 0xBB67AE85u;
const SQRT3: f32 = 1.7320508;

// (high, low) words of the 64-bit product a * b.
fn mul_hi_lo(a: u32, b: u32) -> vec2<u32> {
    let a0 = a & 0xFFFFu;
    let a1 = a >> 16u;
    let b0 = b & 0xFFFFu;
    let b1 = b >> 16u;
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 16u) + (p01 & 0xFFFFu) + (p10 & 0xFFFFu);
    let hi = p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
    return vec2<u32>(hi, a * b);
}

fn philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var round = 0u; round < 10u; round++) {
        if (round > 0u) {
            k = k + vec2<u32>(PHILOX_W0, PHILOX_W1);
        }
        let p0 = mul_hi_lo(PHILOX_M0, c.x);
        let p1 = mul_hi_lo(PHILOX_M1, c.z);
        c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    }
    return c;
}

// Uniform on [-1, 1) from the top 24 bits: every operation is exact in f32.
fn uniform_pm1(word: u32) -> f32 {
    return f32(word >> 8u) * (1.0 / 8388608.0) - 1.0;
}

// DPD pair noise: zero mean, unit variance, symmetric in the two tags.
fn pair_noise(key: vec2<u32>, step: vec2<u32>, tag_i: u32, tag_j: u32) -> f32 {
    let w = philox4x32_10(vec4<u32>(min(tag_i, tag_j), max(tag_i, tag_j), step.x, step.y), key);
    return uniform_pm1(w.x) * SQRT3;
}
