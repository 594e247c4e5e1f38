// bonded.wgsl -- bonded forces inside platelets: springs, cosine-harmonic angles, Kantor-Nelson
// dihedrals and the volume term. Twin of kernels/src/bonded.rs. Needs common.wgsl (thread_index).
//
// Two entry points over one bind group:
// - `volumes`: one workgroup per platelet sums its enclosed volume (strided over its triangles,
//   then a tree reduction in workgroup memory) and writes the internal pressure
//   -k_v (V - V0) / V0.
// - `forces`: one thread per particle walks its CSR list of terms (`offsets`, `terms`, packed
//   `kind << 30 | index`, the CPU Topology's layout) and gathers the force each term puts on it,
//   in list order. No atomics: every term is evaluated once per member.
// Positions are unwrapped: no minimum image.

struct BondedParams {
    n: u32,            // particles
    n_platelets: u32,
    pad0: u32,
    pad1: u32,
};

struct BondTerm {
    i: u32,
    j: u32,
    r0: f32,
    k: f32,
};

struct AngleTerm {
    i: u32,
    j: u32,
    k: u32,
    cos0: f32,
    kb: f32,
    pad0: f32,
    pad1: f32,
    pad2: f32,
};

struct DihedralTerm {
    i: u32,
    j: u32,
    k: u32,
    l: u32,
    sin0: f32,         // sin(phi0), computed in f32 on the host as the CPU does
    cos0: f32,
    kb: f32,
    pad0: f32,
};

struct VolumeTerm {
    tri_lo: u32,
    tri_hi: u32,
    v0: f32,
    kv: f32,
};

const KIND_BOND: u32 = 0u;
const KIND_ANGLE: u32 = 1u;
const KIND_DIHEDRAL: u32 = 2u;
const KIND_SHIFT: u32 = 30u;
const INDEX_MASK: u32 = 0x3FFFFFFFu;
const VOLUME_WG: u32 = 64u;

@group(0) @binding(0) var<uniform> bp: BondedParams;
@group(0) @binding(1) var<storage, read> bpos: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bonds: array<BondTerm>;
@group(0) @binding(3) var<storage, read> angles: array<AngleTerm>;
@group(0) @binding(4) var<storage, read> dihedrals: array<DihedralTerm>;
@group(0) @binding(5) var<storage, read> triangles: array<vec4<u32>>;   // a, b, c, platelet
@group(0) @binding(6) var<storage, read> vterms: array<VolumeTerm>;
@group(0) @binding(7) var<storage, read> offsets: array<u32>;
@group(0) @binding(8) var<storage, read> terms: array<u32>;
@group(0) @binding(9) var<storage, read_write> pressure: array<f32>;
@group(0) @binding(10) var<storage, read_write> bforce: array<vec4<f32>>;

var<workgroup> vol_partial: array<f32, VOLUME_WG>;

fn x_of(q: u32) -> vec3<f32> {
    return bpos[q].xyz;
}

@compute @workgroup_size(64)
fn volumes(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    // Uniform across the workgroup, so the barriers below are in uniform control flow.
    let p = wid.x + wid.y * nwg.x;
    var lo = 0u;
    var hi = 0u;
    if (p < bp.n_platelets) {
        lo = vterms[p].tri_lo;
        hi = vterms[p].tri_hi;
    }
    var s = 0.0;
    if (hi > lo) {
        // Relative to the first triangle's first vertex, as on the CPU (unwrapped positions far
        // from the origin would lose digits).
        let o = x_of(triangles[lo].x);
        for (var t = lo + lid; t < hi; t += VOLUME_WG) {
            let tr = triangles[t];
            let a = x_of(tr.x) - o;
            let b = x_of(tr.y) - o;
            let c = x_of(tr.z) - o;
            s = s + dot(a, cross(b, c));
        }
    }
    vol_partial[lid] = s;
    workgroupBarrier();
    for (var w = VOLUME_WG / 2u; w > 0u; w = w / 2u) {
        if (lid < w) {
            vol_partial[lid] = vol_partial[lid] + vol_partial[lid + w];
        }
        workgroupBarrier();
    }
    if (lid == 0u && p < bp.n_platelets) {
        var vol = 0.0;
        if (hi > lo) {
            vol = vol_partial[0] / 6.0;
        }
        let v = vterms[p];
        pressure[p] = -v.kv * (vol - v.v0) / v.v0;
    }
}

fn bond_force(xi: vec3<f32>, xj: vec3<f32>, b: BondTerm) -> vec3<f32> {
    let d = xi - xj;
    let r = sqrt(dot(d, d));
    if (r == 0.0) {
        return vec3<f32>(0.0);
    }
    return d * (-b.k * (r - b.r0) / r);
}

// Force of angle `a` on its member number `which` (0: i, 1: j, 2: k).
fn angle_force(a: AngleTerm, which: u32) -> vec3<f32> {
    let xj = x_of(a.j);
    let u = x_of(a.i) - xj;
    let w = x_of(a.k) - xj;
    let lu = sqrt(dot(u, u));
    let lw = sqrt(dot(w, w));
    if (lu == 0.0 || lw == 0.0) {
        return vec3<f32>(0.0);
    }
    let c = dot(u, w) / (lu * lw);
    let du = 2.0 * a.kb * (c - a.cos0);
    let dci = w / (lu * lw) - u * (c / (lu * lu));
    let dck = u / (lu * lw) - w * (c / (lw * lw));
    let fi = dci * -du;
    let fk = dck * -du;
    if (which == 0u) {
        return fi;
    }
    if (which == 1u) {
        return -(fi + fk);
    }
    return fk;
}

// Force of dihedral `d` on its member number `which` (0..3: i, j, k, l); GROMACS's formulation.
fn dihedral_force(d: DihedralTerm, which: u32) -> vec3<f32> {
    let xi = x_of(d.i);
    let xj = x_of(d.j);
    let xk = x_of(d.k);
    let xl = x_of(d.l);
    let rij = xi - xj;
    let rkj = xk - xj;
    let rkl = xk - xl;
    let m = cross(rij, rkj);
    let n = cross(rkj, rkl);
    let m2 = dot(m, m);
    let n2 = dot(n, n);
    let rkj2 = dot(rkj, rkj);
    if (m2 == 0.0 || n2 == 0.0 || rkj2 == 0.0) {
        return vec3<f32>(0.0);
    }
    let inv = 1.0 / sqrt(m2 * n2);
    let cs = dot(m, n) * inv;
    let sn = sqrt(rkj2) * dot(rij, n) * inv;
    let ddphi = d.kb * (sn * d.cos0 - cs * d.sin0);
    let nrkj = sqrt(rkj2);
    let fi = m * (-ddphi * nrkj / m2);
    let fl = n * (ddphi * nrkj / n2);
    if (which == 0u) {
        return fi;
    }
    if (which == 3u) {
        return fl;
    }
    let p = dot(rij, rkj) / rkj2;
    let q = dot(rkl, rkj) / rkj2;
    let s = fi * p - fl * q;
    if (which == 1u) {
        return -(fi - s);
    }
    return -(fl + s);
}

@compute @workgroup_size(64)
fn forces(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let p = thread_index(gid, nwg, 64u);
    if (p >= bp.n) {
        return;
    }
    var f = vec3<f32>(0.0);
    let k1 = offsets[p + 1u];
    for (var k = offsets[p]; k < k1; k++) {
        let t = terms[k];
        let idx = t & INDEX_MASK;
        let kind = t >> KIND_SHIFT;
        if (kind == KIND_BOND) {
            let b = bonds[idx];
            let other = select(b.i, b.j, b.i == p);
            f = f + bond_force(x_of(p), x_of(other), b);
        } else if (kind == KIND_ANGLE) {
            let a = angles[idx];
            // The first member equal to p (as the CPU's `position`).
            var which = 0u;
            if (a.i == p) {
                which = 0u;
            } else if (a.j == p) {
                which = 1u;
            } else if (a.k == p) {
                which = 2u;
            }
            f = f + angle_force(a, which);
        } else if (kind == KIND_DIHEDRAL) {
            let d = dihedrals[idx];
            var which = 0u;
            if (d.i == p) {
                which = 0u;
            } else if (d.j == p) {
                which = 1u;
            } else if (d.k == p) {
                which = 2u;
            } else if (d.l == p) {
                which = 3u;
            }
            f = f + dihedral_force(d, which);
        } else {
            // dV/dx_a of a triangle (a, b, c) is (b x c) / 6, cyclically, relative to p itself.
            let tr = triangles[idx];
            var b = tr.y;
            var c = tr.z;
            if (tr.y == p && tr.x != p) {
                b = tr.z;
                c = tr.x;
            } else if (tr.z == p && tr.x != p && tr.y != p) {
                b = tr.x;
                c = tr.y;
            }
            let xp = x_of(p);
            f = f + cross(x_of(b) - xp, x_of(c) - xp) * (pressure[tr.w] / 6.0);
        }
    }
    bforce[p] = vec4<f32>(f, 0.0);
}
