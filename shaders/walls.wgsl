// walls.wgsl -- the wall distance field and bounce-back, twin of kernels/src/geometry.rs
// (SdfGrid::eval) and kernels/src/walls.rs; the same f32 operations in the same order. Needs
// common.wgsl; the including shader declares `sdf: array<f32>` (the sampled distance field followed
// by its block maxima, SdfGrid::gpu_words; one element when there are no walls). Walls exist when
// params.sdf_dims.w != 0.

struct SdfAxis {
    i0: u32,
    i1: u32,
    f: f32,
};

fn sdf_axis(x: f32, inv_h: f32, n: u32) -> SdfAxis {
    let nf = f32(n);
    var g = x * inv_h;
    g = g - nf * floor(g / nf);
    let i0 = min(u32(g), n - 1u);
    let f = g - f32(i0);
    let i1 = select(i0 + 1u, 0u, i0 + 1u == n);
    return SdfAxis(i0, i1, f);
}

fn sdf_at(i: u32, j: u32, k: u32) -> f32 {
    return sdf[i + params.sdf_dims.x * (j + params.sdf_dims.y * k)];
}

// Trilinear value (w) and gradient (xyz) of the distance field at p.
fn sdf_eval(p: vec3<f32>) -> vec4<f32> {
    let ax = sdf_axis(p.x, params.sdf_inv_h.x, params.sdf_dims.x);
    let ay = sdf_axis(p.y, params.sdf_inv_h.y, params.sdf_dims.y);
    let az = sdf_axis(p.z, params.sdf_inv_h.z, params.sdf_dims.z);
    let c000 = sdf_at(ax.i0, ay.i0, az.i0);
    let c100 = sdf_at(ax.i1, ay.i0, az.i0);
    let c010 = sdf_at(ax.i0, ay.i1, az.i0);
    let c110 = sdf_at(ax.i1, ay.i1, az.i0);
    let c001 = sdf_at(ax.i0, ay.i0, az.i1);
    let c101 = sdf_at(ax.i1, ay.i0, az.i1);
    let c011 = sdf_at(ax.i0, ay.i1, az.i1);
    let c111 = sdf_at(ax.i1, ay.i1, az.i1);
    let fx = ax.f;
    let fy = ay.f;
    let fz = az.f;
    let c00 = c000 + fx * (c100 - c000);
    let c10 = c010 + fx * (c110 - c010);
    let c01 = c001 + fx * (c101 - c001);
    let c11 = c011 + fx * (c111 - c011);
    let c0 = c00 + fy * (c10 - c00);
    let c1 = c01 + fy * (c11 - c01);
    let value = c0 + fz * (c1 - c0);
    let dx0 = (c100 - c000) + fy * ((c110 - c010) - (c100 - c000));
    let dx1 = (c101 - c001) + fy * ((c111 - c011) - (c101 - c001));
    let gx = (dx0 + fz * (dx1 - dx0)) * params.sdf_inv_h.x;
    let gy = ((c10 - c00) + fz * ((c11 - c01) - (c10 - c00))) * params.sdf_inv_h.y;
    let gz = (c1 - c0) * params.sdf_inv_h.z;
    return vec4<f32>(gx, gy, gz, value);
}

const SDF_BLOCK: u32 = 4u;

// Twin of SdfGrid::deeper_than: true when the interpolated distance at p is certainly below
// -margin, from the block maxima stored after the values.
fn sdf_deeper_than(p: vec3<f32>, margin: f32) -> bool {
    let ax = sdf_axis(p.x, params.sdf_inv_h.x, params.sdf_dims.x);
    let ay = sdf_axis(p.y, params.sdf_inv_h.y, params.sdf_dims.y);
    let az = sdf_axis(p.z, params.sdf_inv_h.z, params.sdf_dims.z);
    let dims = params.sdf_dims.xyz;
    let nb = (dims + vec3<u32>(SDF_BLOCK - 1u)) / SDF_BLOCK;
    let at = ax.i0 / SDF_BLOCK + nb.x * (ay.i0 / SDF_BLOCK + nb.y * (az.i0 / SDF_BLOCK));
    return sdf[dims.x * dims.y * dims.z + at] < -margin;
}

fn sdf_value(p: vec3<f32>) -> f32 {
    return sdf_eval(p).w;
}

// (±speed/2, 0, 0) on either side of the plane z = params.wall.y.
fn wall_velocity(p: vec3<f32>) -> vec3<f32> {
    let h = 0.5 * params.wall.x;
    return vec3<f32>(select(-h, h, p.z >= params.wall.y), 0.0, 0.0);
}

struct BounceResult {
    x: vec3<f32>,
    v: vec3<f32>,
    outcome: u32,   // 0 none, 1 reflected, 2 leaked
};

const BISECTIONS: u32 = 8u;

fn bounce(x0: vec3<f32>, x1: vec3<f32>, v_in: vec3<f32>) -> BounceResult {
    if (sdf_deeper_than(x1, 0.0) || sdf_value(x1) < 0.0) {
        return BounceResult(x1, v_in, 0u);
    }
    let d = x1 - x0;
    var lo = 0.0;
    var hi = 1.0;
    for (var it = 0u; it < BISECTIONS; it++) {
        let mid = 0.5 * (lo + hi);
        if (sdf_value(x0 + mid * d) < 0.0) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let t = lo;
    let xc = x0 + t * d;
    let v = 2.0 * wall_velocity(xc) - v_in;
    let xr = xc - (1.0 - t) * d;
    if (sdf_value(xr) < 0.0) {
        return BounceResult(xr, v, 1u);
    }
    if (sdf_value(x0) < 0.0) {
        return BounceResult(x0, v, 1u);
    }
    return BounceResult(x0, v, 2u);
}

// Near-wall force on a fluid particle (zero when the amplitude params.sdf_inv_h.w is 0).
fn near_wall_force(p: vec3<f32>) -> vec3<f32> {
    let amplitude = params.sdf_inv_h.w;
    let range = params.wall.z;
    if (amplitude == 0.0 || sdf_deeper_than(p, range)) {
        return vec3<f32>(0.0);
    }
    let e = sdf_eval(p);
    let d = -e.w;
    let g2 = dot(e.xyz, e.xyz);
    if (d >= range || g2 == 0.0) {
        return vec3<f32>(0.0);
    }
    let w = 1.0 - max(d, 0.0) / range;
    let m = -amplitude * w * w / sqrt(g2);
    return m * e.xyz;
}
