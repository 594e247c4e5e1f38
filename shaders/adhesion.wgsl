// adhesion.wgsl -- adhesion forces on platelet particles: Morse between unbonded adhesive sites and
// towards adhesive wall patches, Hooke springs of bonds to sites and to wall anchors. Twin of
// AdhesionState::add_forces in kernels/src/adhesion.rs. Needs common.wgsl and walls.wgsl (for the
// distance field; the engine's `params` uniform supplies its dimensions).
//
// Which terms act changes only between plasma steps (bonds form and break, platelets activate):
// the host packs them per particle (AdhesionState::gpu_lists) and one thread per particle gathers
// its own, adding them to the non-bonded force already in `aforce` (Lennard-Jones). Each pair term
// is in both partners' lists, so there are no atomics.

struct AdhParams {
    n: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
    len: vec4<f32>,     // box edges (x, y, z), walls present (w != 0)
    morse: vec4<f32>,   // d0, alpha, r0, cutoff
    spring: vec4<f32>,  // spring constant, rest length, unused, unused
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> sdf: array<f32>;
@group(0) @binding(2) var<uniform> ap: AdhParams;
@group(0) @binding(3) var<storage, read> apos: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> aoffsets: array<u32>;
@group(0) @binding(5) var<storage, read> aentries: array<vec2<u32>>;
@group(0) @binding(6) var<storage, read> anchors: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> aforce: array<vec4<f32>>;

fn adh_round_away(x: f32) -> f32 {
    return f32(i32(select(x - 0.5, x + 0.5, x >= 0.0)));
}

fn adh_min_image(d: vec3<f32>, l: vec3<f32>) -> vec3<f32> {
    let q = d / l;
    return d - l * vec3<f32>(adh_round_away(q.x), adh_round_away(q.y), adh_round_away(q.z));
}

// -dU/dr of the Morse well (positive: repulsive), as adhesion::morse_magnitude.
fn morse_magnitude(r: f32) -> f32 {
    let e = exp(-ap.morse.y * (r - ap.morse.z));
    return 2.0 * ap.morse.x * ap.morse.y * (e * e - e);
}

fn hooke(d: vec3<f32>) -> vec3<f32> {
    let r = length(d);
    if (r == 0.0) {
        return vec3<f32>(0.0);
    }
    return d * (-ap.spring.x * (r - ap.spring.y) / r);
}

@compute @workgroup_size(64)
fn forces(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = thread_index(gid, nwg, 64u);
    if (i >= ap.n) {
        return;
    }
    let l = ap.len.xyz;
    let xi = apos[i].xyz;
    var f = vec3<f32>(0.0);
    let k1 = aoffsets[i + 1u];
    for (var k = aoffsets[i]; k < k1; k++) {
        let e = aentries[k];
        if (e.x == 0u) {
            let d = adh_min_image(xi - apos[e.y].xyz, l);
            let r = length(d);
            if (r < ap.morse.w && r > 0.0) {
                f = f + d * (morse_magnitude(r) / r);
            }
        } else if (e.x == 1u) {
            f = f + hooke(adh_min_image(xi - apos[e.y].xyz, l));
        } else if (e.x == 2u) {
            if (ap.len.w != 0.0) {
                let s = sdf_eval(xi);
                let g = s.xyz;
                let dist = -s.w;
                if (dist < ap.morse.w && dot(g, g) > 0.0) {
                    f = f - normalize(g) * morse_magnitude(max(dist, 0.0));
                }
            }
        } else {
            f = f + hooke(xi - anchors[e.y].xyz);
        }
    }
    aforce[i] = aforce[i] + vec4<f32>(f, 0.0);
}
