// interface.wgsl -- the membrane-plasma force: DPD (repulsion, dissipation, noise) plus Morse,
// between outer-membrane particles and plasma particles. Twin of kernels/src/interface.rs. Needs
// common.wgsl (thread_index) and rng.wgsl (pair_noise).
//
// The pair list is built on the CPU (`InterfaceList::build`) and uploaded as is, with its reverse
// index. Both sides are gathers, and no float atomics are needed:
// - `membrane_forces`: one thread per membrane particle sums its pairs in list order;
// - `plasma_forces`: one thread per touched plasma particle sums, in the reverse index's order,
//   minus the force of each of its pairs.
// A pair is evaluated twice, by the same function with the same inputs (the membrane particle is
// always first, so d = x_membrane - x_plasma on both sides), which is what the CPU's pair array
// gives by storing it once: action and reaction agree. The noise is the plasma pairs' Philox stream
// keyed by the unordered pair of global tags and the interface sub-step counter, bit for bit the
// CPU's numbers.

struct PairCoeffs {
    a: f32,
    gamma: f32,
    sigma_isdt: f32,   // sqrt(2 gamma kT / dt)
    rc2: f32,
    inv_rc: f32,
    half_s: f32,       // w_R = w^(s/2)
    s_is_two: f32,
    morse_k: f32,      // 2 alpha D0 (0: no Morse term)
    morse_alpha: f32,
    morse_r0: f32,
    pad0: f32,
    pad1: f32,
};

struct InterfaceParams {
    counts: vec4<u32>,   // membrane particles, touched plasma particles, unused, unused
    rng: vec4<u32>,      // Philox key (lo, hi), counter (lo, hi)
    len: vec4<f32>,      // box edges (x, y, z), unused
};

@group(0) @binding(0) var<uniform> ip: InterfaceParams;
@group(0) @binding(1) var<storage, read> coeffs: array<PairCoeffs>;
@group(0) @binding(2) var<storage, read> plat_pos: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> plat_vel: array<vec4<f32>>;     // w: tag (bits)
@group(0) @binding(4) var<storage, read> plasma_pos: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> plasma_vel: array<vec4<f32>>;   // w: tag (bits)
@group(0) @binding(6) var<storage, read> membrane: array<u32>;
@group(0) @binding(7) var<storage, read> pair_offsets: array<u32>;
@group(0) @binding(8) var<storage, read> pair_plasma: array<u32>;
@group(0) @binding(9) var<storage, read> touched: array<u32>;
@group(0) @binding(10) var<storage, read> touched_offsets: array<u32>;
@group(0) @binding(11) var<storage, read> touched_entries: array<u32>;
@group(0) @binding(12) var<storage, read> entry_membrane: array<u32>;     // membrane slot of each entry
@group(0) @binding(13) var<storage, read_write> membrane_force: array<vec4<f32>>;
@group(0) @binding(14) var<storage, read_write> plasma_force: array<vec4<f32>>;

fn round_away(x: f32) -> f32 {
    return f32(i32(select(x - 0.5, x + 0.5, x >= 0.0)));
}

// Minimum image of a difference of unwrapped positions, as `min_image_any` on the CPU.
fn min_image_any(d: vec3<f32>, l: vec3<f32>) -> vec3<f32> {
    let q = d / l;
    return d - l * vec3<f32>(round_away(q.x), round_away(q.y), round_away(q.z));
}

// Force on membrane particle `pm` from plasma particle `j` (zero beyond the cut-off): `pair_force`
// of kernels/src/dpd.rs with the pair noise.
fn pair_on_membrane(pm: u32, j: u32) -> vec3<f32> {
    let c = coeffs[0];
    let x = plat_pos[pm];
    let v = plat_vel[pm];
    let y = plasma_pos[j];
    let w = plasma_vel[j];
    let d = min_image_any(x.xyz - y.xyz, ip.len.xyz);
    let r2 = dot(d, d);
    if (!(r2 < c.rc2 && r2 > 0.0)) {
        return vec3<f32>(0.0);
    }
    let theta = pair_noise(ip.rng.xy, ip.rng.zw, bitcast<u32>(v.w), bitcast<u32>(w.w));
    let dv = v.xyz - w.xyz;
    let r = sqrt(r2);
    let inv_r = 1.0 / r;
    let wc = 1.0 - r * c.inv_rc;
    var wr = wc;
    if (c.s_is_two == 0.0) {
        wr = pow(wc, c.half_s);
    }
    let e = d * inv_r;
    let ev = dot(e, dv);
    var fm = c.a * wc - c.gamma * (wr * wr) * ev + c.sigma_isdt * wr * theta;
    if (c.morse_k != 0.0) {
        let xm = exp(c.morse_alpha * (c.morse_r0 - r));
        fm = fm + c.morse_k * (xm * xm - xm);
    }
    return e * fm;
}

@compute @workgroup_size(64)
fn membrane_forces(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let m = thread_index(gid, nwg, 64u);
    if (m >= ip.counts.x) {
        return;
    }
    let pm = membrane[m];
    var f = vec3<f32>(0.0);
    let e1 = pair_offsets[m + 1u];
    for (var e = pair_offsets[m]; e < e1; e++) {
        f = f + pair_on_membrane(pm, pair_plasma[e]);
    }
    membrane_force[m] = vec4<f32>(f, 0.0);
}

@compute @workgroup_size(64)
fn plasma_forces(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = thread_index(gid, nwg, 64u);
    if (t >= ip.counts.y) {
        return;
    }
    let j = touched[t];
    var f = vec3<f32>(0.0);
    let k1 = touched_offsets[t + 1u];
    for (var k = touched_offsets[t]; k < k1; k++) {
        let e = touched_entries[k];
        f = f + pair_on_membrane(membrane[entry_membrane[e]], j);
    }
    plasma_force[t] = vec4<f32>(-f, 0.0);
}
