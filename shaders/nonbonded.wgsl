// nonbonded.wgsl -- Lennard-Jones (WCA by default) forces among platelet particles over a Verlet
// list. Twin of the force loop of kernels/src/nonbonded.rs (`lj_forces`); the list itself is built
// on the CPU (`NeighborList::build`) and uploaded in its CSR form. Needs common.wgsl.
//
// One thread per particle gathers the force of its own list (each pair is in both lists), in list
// order: no atomics, and the same order of sums as the CPU.

struct LjParams {
    n: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
    len: vec4<f32>,    // box edges (x, y, z), unused
    lj: vec4<f32>,     // epsilon, sigma, rcut^2, unused
};

@group(0) @binding(0) var<uniform> lp: LjParams;
@group(0) @binding(1) var<storage, read> lpos: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> offsets: array<u32>;
@group(0) @binding(3) var<storage, read> nbr: array<u32>;
@group(0) @binding(4) var<storage, read_write> lforce: array<vec4<f32>>;

// Rounds half away from zero by a truncating cast, as `min_image_any` on the CPU.
fn round_away(x: f32) -> f32 {
    return f32(i32(select(x - 0.5, x + 0.5, x >= 0.0)));
}

// Minimum image of a difference of unwrapped positions (any number of boxes apart).
fn min_image_any(d: vec3<f32>, l: vec3<f32>) -> vec3<f32> {
    let q = d / l;
    return d - l * vec3<f32>(round_away(q.x), round_away(q.y), round_away(q.z));
}

@compute @workgroup_size(64)
fn forces(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = thread_index(gid, nwg, 64u);
    if (i >= lp.n) {
        return;
    }
    let l = lp.len.xyz;
    let eps = lp.lj.x;
    let sig2 = lp.lj.y * lp.lj.y;
    let rc2 = lp.lj.z;
    let xi = lpos[i].xyz;
    var f = vec3<f32>(0.0);
    let k1 = offsets[i + 1u];
    for (var k = offsets[i]; k < k1; k++) {
        let d = min_image_any(xi - lpos[nbr[k]].xyz, l);
        let r2 = dot(d, d);
        if (r2 < rc2 && r2 > 0.0) {
            let s2 = sig2 / r2;
            let s6 = s2 * s2 * s2;
            f = f + d * (24.0 * eps * s6 * (2.0 * s6 - 1.0) / r2);
        }
    }
    lforce[i] = vec4<f32>(f, 0.0);
}
