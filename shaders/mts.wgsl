// mts.wgsl -- the platelet levels of multiple time stepping on the GPU (kernels/src/mts.rs gives the
// composition, kernels/src/gpu/mts.rs records it). Every dispatch here runs over platelet particles,
// membrane particles or the plasma particles they touch, never over the whole plasma. Needs
// common.wgsl (Params, thread_index, cell_index), walls.wgsl (bounce) and rng.wgsl (pair_noise).
//
// The membrane-plasma interface needs no pair list: the plasma stands still during the platelet
// levels, at its mid-step positions, and the plasma cell list is built at those positions; each
// membrane particle gathers the plasma of the 27 cells around it (cell edge >= interface cut-off)
// at every evaluation. The reaction on the plasma is accumulated in fixed point (i32 atomics,
// 1/FIXED force units): integer addition is associative, so the sums do not depend on the order in
// which threads arrive. The membrane side sums the same rounded pair forces, so action and reaction
// cancel exactly. The first thread to touch a plasma particle appends it to a touched list, and the
// plasma kicks run over that list (indirect dispatch sized by `touched_args`).

struct PairCoeffs {
    a: f32,
    gamma: f32,
    sigma_isdt: f32,   // sqrt(2 gamma kT / h1)
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

struct MtsParams {
    counts: vec4<u32>,   // platelet particles, membrane particles, workgroups per dimension, unused
    key: vec4<u32>,      // Philox key (lo, hi), unused, unused
    c: vec4<f32>,        // h1/(2m), h2/(2m), h3/(2m) (platelet half-kicks), h3 (drift)
    misc: vec4<f32>,     // h1/2 (plasma half-kick, times 1/m of the type), FIXED, 1/FIXED, unused
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<uniform> mp: MtsParams;
@group(0) @binding(2) var<storage, read> sdf: array<f32>;
@group(0) @binding(3) var<storage, read> types: array<vec4<f32>>;        // x: 1/m (0 frozen)
@group(0) @binding(4) var<storage, read> coeffs: array<PairCoeffs>;
@group(0) @binding(5) var<storage, read> pos: array<vec4<f32>>;          // plasma, w: type (bits)
@group(0) @binding(6) var<storage, read_write> vel: array<vec4<f32>>;    // plasma, w: tag (bits)
@group(0) @binding(7) var<storage, read> start: array<u32>;              // plasma cell list
@group(0) @binding(8) var<storage, read> entries: array<u32>;
@group(0) @binding(9) var<storage, read_write> ppos: array<vec4<f32>>;   // platelets, unwrapped
@group(0) @binding(10) var<storage, read_write> pvel: array<vec4<f32>>;  // w: tag (bits)
@group(0) @binding(11) var<storage, read_write> f1: array<vec4<f32>>;    // interface
@group(0) @binding(12) var<storage, read> f2: array<vec4<f32>>;          // non-bonded
@group(0) @binding(13) var<storage, read> f3: array<vec4<f32>>;          // bonded
@group(0) @binding(14) var<storage, read> membrane: array<u32>;
@group(0) @binding(15) var<storage, read_write> acc: array<atomic<i32>>; // 4 per plasma particle
@group(0) @binding(16) var<storage, read_write> flags: array<atomic<u32>>;
@group(0) @binding(17) var<storage, read_write> touched: array<u32>;
// noise counter lo, hi; touched count (being filled); touched count of the last evaluation
@group(0) @binding(18) var<storage, read_write> mstate: array<atomic<u32>>;
// The indirect dispatch of the plasma kicks: its own group, bound by `touched_args` only (a buffer
// cannot be storage and indirect in one dispatch).
@group(1) @binding(0) var<storage, read_write> args: array<u32>;

fn round_away(x: f32) -> f32 {
    return f32(i32(select(x - 0.5, x + 0.5, x >= 0.0)));
}

// Minimum image of a difference of unwrapped positions, as `min_image_any` on the CPU.
fn min_image_any(d: vec3<f32>, l: vec3<f32>) -> vec3<f32> {
    let q = d / l;
    return d - l * vec3<f32>(round_away(q.x), round_away(q.y), round_away(q.z));
}

fn wrap_box(x: vec3<f32>) -> vec3<f32> {
    let l = params.box_len.xyz;
    let y = x - l * floor(x * params.inv_len.xyz);
    return select(y, y - l, y >= l);
}

// Velocity half-kicks of the platelet particles, one per level.
@compute @workgroup_size(64)
fn kick1(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = thread_index(gid, nwg, 64u);
    if (i < mp.counts.x) {
        pvel[i] = vec4<f32>(pvel[i].xyz + mp.c.x * f1[i].xyz, pvel[i].w);
    }
}

@compute @workgroup_size(64)
fn kick2(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = thread_index(gid, nwg, 64u);
    if (i < mp.counts.x) {
        pvel[i] = vec4<f32>(pvel[i].xyz + mp.c.y * f2[i].xyz, pvel[i].w);
    }
}

@compute @workgroup_size(64)
fn kick3(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = thread_index(gid, nwg, 64u);
    if (i < mp.counts.x) {
        pvel[i] = vec4<f32>(pvel[i].xyz + mp.c.z * f3[i].xyz, pvel[i].w);
    }
}

// Dq(h3): drift with bounce-back at the walls; positions stay unwrapped.
@compute @workgroup_size(64)
fn drift(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = thread_index(gid, nwg, 64u);
    if (i >= mp.counts.x) {
        return;
    }
    let p = ppos[i];
    let v = pvel[i];
    var x1 = p.xyz + mp.c.w * v.xyz;
    var vv = v.xyz;
    if (params.sdf_dims.w != 0u) {
        let b = bounce(p.xyz, x1, vv);
        x1 = b.x;
        vv = b.v;
    }
    ppos[i] = vec4<f32>(x1, p.w);
    pvel[i] = vec4<f32>(vv, v.w);
}

// Force on membrane particle `pm` (position x, velocity v) from plasma particle `j`, or zero beyond
// the cut-off: `pair_force` of kernels/src/dpd.rs with the pair noise, as interface.wgsl.
fn pair_on_membrane(x: vec4<f32>, v: vec4<f32>, j: u32) -> vec3<f32> {
    let c = coeffs[0];
    let y = pos[j];
    let w = vel[j];
    let d = min_image_any(x.xyz - y.xyz, params.box_len.xyz);
    let r2 = dot(d, d);
    if (!(r2 < c.rc2 && r2 > 0.0)) {
        return vec3<f32>(0.0);
    }
    let counter = vec2<u32>(atomicLoad(&mstate[0]), atomicLoad(&mstate[1]));
    let theta = pair_noise(mp.key.xy, counter, bitcast<u32>(v.w), bitcast<u32>(w.w));
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

// One evaluation of the interface: one thread per membrane particle gathers the plasma of the 27
// cells around it; the reaction goes to the plasma particle's fixed-point accumulator.
@compute @workgroup_size(64)
fn interface_forces(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let m = thread_index(gid, nwg, 64u);
    if (m >= mp.counts.y) {
        return;
    }
    let pm = membrane[m];
    let x = ppos[pm];
    let v = pvel[pm];
    let dims = vec3<i32>(params.dims.xyz);
    let home = min(vec3<i32>(wrap_box(x.xyz) * params.inv_edge.xyz), dims - vec3<i32>(1));
    let scale = mp.misc.y;
    var sum = vec3<i32>(0);
    for (var dz = -1; dz <= 1; dz++) {
        for (var dy = -1; dy <= 1; dy++) {
            for (var dx = -1; dx <= 1; dx++) {
                let cc = (home + vec3<i32>(dx, dy, dz) + dims) % dims;
                let cell = u32(cc.x + dims.x * (cc.y + dims.y * cc.z));
                let k1 = start[cell + 1u];
                for (var k = start[cell]; k < k1; k++) {
                    let j = entries[k];
                    let f = pair_on_membrane(x, v, j);
                    if (all(f == vec3<f32>(0.0))) {
                        continue;
                    }
                    let q = vec3<i32>(round(f * scale));
                    sum = sum + q;
                    atomicSub(&acc[4u * j], q.x);
                    atomicSub(&acc[4u * j + 1u], q.y);
                    atomicSub(&acc[4u * j + 2u], q.z);
                    if (atomicExchange(&flags[j], 1u) == 0u) {
                        touched[atomicAdd(&mstate[2], 1u)] = j;
                    }
                }
            }
        }
    }
    f1[pm] = vec4<f32>(vec3<f32>(sum) * mp.misc.z, 0.0);
}

// One thread after each evaluation: freezes the touched count for the kicks, resets it for the next
// evaluation, sizes the indirect dispatch and advances the noise counter.
@compute @workgroup_size(1)
fn touched_args() {
    let n = atomicLoad(&mstate[2]);
    atomicStore(&mstate[3], n);
    atomicStore(&mstate[2], 0u);
    let groups = (n + 63u) / 64u;
    let x = min(groups, mp.counts.z);
    args[0] = x;
    args[1] = select(0u, (groups + x - 1u) / max(x, 1u), x > 0u);
    args[2] = 1u;
    let lo = atomicLoad(&mstate[0]) + 1u;
    atomicStore(&mstate[0], lo);
    if (lo == 0u) {
        atomicAdd(&mstate[1], 1u);
    }
}

fn kick_touched(t: u32) -> u32 {
    let j = touched[t];
    let c = mp.misc.x * types[bitcast<u32>(pos[j].w)].x * mp.misc.z;
    let f = vec3<f32>(vec3<i32>(atomicLoad(&acc[4u * j]), atomicLoad(&acc[4u * j + 1u]), atomicLoad(&acc[4u * j + 2u])));
    vel[j] = vec4<f32>(vel[j].xyz + c * f, vel[j].w);
    return j;
}

// K1's half-kick of the plasma particles the last evaluation touched.
@compute @workgroup_size(64)
fn kick_plasma(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = thread_index(gid, nwg, 64u);
    if (t < atomicLoad(&mstate[3])) {
        kick_touched(t);
    }
}

// The same, for the last kick with an evaluation's forces: clears the accumulators and flags.
@compute @workgroup_size(64)
fn kick_plasma_clear(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = thread_index(gid, nwg, 64u);
    if (t < atomicLoad(&mstate[3])) {
        let j = kick_touched(t);
        atomicStore(&acc[4u * j], 0);
        atomicStore(&acc[4u * j + 1u], 0);
        atomicStore(&acc[4u * j + 2u], 0);
        atomicStore(&flags[j], 0u);
    }
}
