// dpd.wgsl -- DPD forces (Groot & Warren 1997, generalised weight exponent) gathered per particle,
// fused with the second half-kick. Twin of kernels/src/dpd.rs. Needs common.wgsl, rng.wgsl and
// walls.wgsl (near-wall force).
//
// One thread per particle sums the forces of all neighbours in the (up to) 27 surrounding cells
// (as 9 contiguous rows):
// every pair is evaluated from both sides, with no float atomics, and the noise depends only on the
// unordered pair of tags, so F_ij = -F_ji exactly. Writes the force, the per-particle half of the
// pair virial (for the pressure tensor) and, when KICK, v += dt/2 F/m.

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

override KICK: bool = true;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> pairs: array<PairCoeffs>;
@group(0) @binding(2) var<storage, read> types: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> pos: array<vec4<f32>>;       // w: type (bits)
@group(0) @binding(4) var<storage, read> vpred: array<vec4<f32>>;     // w: tag (bits)
@group(0) @binding(5) var<storage, read> cell_of: array<u32>;
@group(0) @binding(6) var<storage, read> start: array<u32>;
@group(0) @binding(7) var<storage, read> entries: array<u32>;
@group(0) @binding(8) var<storage, read> sim: array<u32>;
@group(0) @binding(9) var<storage, read_write> force: array<vec4<f32>>;
@group(0) @binding(10) var<storage, read_write> vel: array<vec4<f32>>;
@group(0) @binding(11) var<storage, read_write> virial: array<vec4<f32>>; // 2 per particle: xx yy zz xy | xz yz
@group(0) @binding(12) var<storage, read> sdf: array<f32>;

// With fewer than 3 cells along an axis the offsets -1 and +1 alias: visit each distinct cell once.
fn skip_offset(d: i32, n: u32) -> bool {
    return (n == 1u && d != 0) || (n == 2u && d == 1);
}

@compute @workgroup_size(64)
fn forces(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    // sim[3]: the first particle of the dispatch (0 but for GPU ranks' boundary pass, which
    // follows the interior's: gpu/rank_forces.rs).
    let i = thread_index(gid, nwg, 64u) + sim[3];
    if (i >= params.n) {
        return;
    }
    let key = vec2<u32>(params.seed_lo, params.dims.w);
    let step = vec2<u32>(sim[0], sim[1]);
    let l = params.box_len.xyz;
    let half_l = 0.5 * l;
    let dims = params.dims.xyz;
    let pi = pos[i];
    let vi = vpred[i];
    let ti = bitcast<u32>(pi.w);
    let tag_i = bitcast<u32>(vi.w);
    let row_t = ti * params.n_types;
    let c = cell_of[i];
    let cx = i32(c % dims.x);
    let cy = i32((c / dims.x) % dims.y);
    let cz = i32(c / (dims.x * dims.y));
    var f = vec3<f32>(0.0);
    var wd = vec3<f32>(0.0);   // xx yy zz
    var wo = vec3<f32>(0.0);   // xy xz yz
    // The three cells adjacent along x are consecutive in the cell-ordered `entries`, so each
    // (dy, dz) row is one contiguous range (two where the row wraps around the box): 9 ranges
    // instead of 27 cells (uDeviceX's "cell rows"), visited in the same order as cell by cell.
    var xs = array<vec2<u32>, 2>(vec2<u32>(0u, 0u), vec2<u32>(0u, 0u));   // [first, last] x of each part
    var nparts = 1u;
    if (dims.x == 1u) {
        xs[0] = vec2<u32>(0u, 0u);
    } else if (dims.x == 2u) {
        xs[0] = vec2<u32>(0u, 1u);
    } else if (cx == 0) {
        xs[0] = vec2<u32>(dims.x - 1u, dims.x - 1u);
        xs[1] = vec2<u32>(0u, 1u);
        nparts = 2u;
    } else if (u32(cx) == dims.x - 1u) {
        xs[0] = vec2<u32>(dims.x - 2u, dims.x - 1u);
        xs[1] = vec2<u32>(0u, 0u);
        nparts = 2u;
    } else {
        xs[0] = vec2<u32>(u32(cx) - 1u, u32(cx) + 1u);
    }
    for (var dz = -1; dz <= 1; dz++) {
        if (skip_offset(dz, dims.z)) {
            continue;
        }
        let z = u32((cz + dz + i32(dims.z)) % i32(dims.z));
        for (var dy = -1; dy <= 1; dy++) {
            if (skip_offset(dy, dims.y)) {
                continue;
            }
            let y = u32((cy + dy + i32(dims.y)) % i32(dims.y));
            let row = dims.x * (y + dims.y * z);
            for (var part = 0u; part < nparts; part++) {
                let k1 = start[row + xs[part].y + 1u];
                for (var k = start[row + xs[part].x]; k < k1; k++) {
                    let j = entries[k];
                    if (j == i) {
                        continue;
                    }
                    let pj = pos[j];
                    // Minimum image: the raw difference lies in (-L, L); one conditional shift.
                    var d = pi.xyz - pj.xyz;
                    d = d - select(vec3<f32>(0.0), l, d > half_l) + select(vec3<f32>(0.0), l, d < -half_l);
                    let r2 = dot(d, d);
                    let cf = pairs[row_t + bitcast<u32>(pj.w)];
                    if (r2 < cf.rc2 && r2 > 0.0) {
                        let vj = vpred[j];
                        let r = sqrt(r2);
                        let inv_r = 1.0 / r;
                        let w = 1.0 - r * cf.inv_rc;
                        var wr = w;
                        if (cf.s_is_two == 0.0) {
                            wr = pow(w, cf.half_s);
                        }
                        let e = d * inv_r;
                        let ev = dot(e, vi.xyz - vj.xyz);
                        let theta = pair_noise(key, step, tag_i, bitcast<u32>(vj.w));
                        var fm = cf.a * w - cf.gamma * (wr * wr) * ev + cf.sigma_isdt * wr * theta;
                        if (cf.morse_k != 0.0) {
                            let x = exp(cf.morse_alpha * (cf.morse_r0 - r));
                            fm = fm + cf.morse_k * (x * x - x);
                        }
                        let fv = e * fm;
                        f = f + fv;
                        wd = wd + d * fv;
                        wo = wo + vec3<f32>(d.x * fv.y, d.x * fv.z, d.y * fv.z);
                    }
                }
            }
        }
    }
    // Body force and near-wall force act on mobile particles only (types[t].z: frozen).
    let ty = types[ti];
    var ft = f;
    if (ty.z == 0.0) {
        var fw = vec3<f32>(0.0);
        if (params.sdf_dims.w != 0u) {
            fw = near_wall_force(pi.xyz);
        }
        let sign = select(1.0, -1.0, params.wall.w != 0.0 && pi.z >= 0.5 * params.box_len.z);
        ft = f + (sign * params.body_force.xyz + fw);
    }
    force[i] = vec4<f32>(ft, 0.0);
    virial[2u * i] = vec4<f32>(0.5 * wd, 0.5 * wo.x);
    virial[2u * i + 1u] = vec4<f32>(0.5 * wo.y, 0.5 * wo.z, 0.0, 0.0);
    if (KICK) {
        let v = vel[i];
        let inv_m = ty.x;
        vel[i] = vec4<f32>(v.xyz + params.inv_len.w * (ft * inv_m), v.w);
    }
}
