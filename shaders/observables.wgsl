// observables.wgsl -- reduces momentum, the kinetic tensor and the virial tensor on the GPU, one
// record of 16 f32 per workgroup into the sample slot named by sim[2]; the host sums the records
// in f64 when it reads the samples back (kernels/src/observables.rs has the layout and formulas).
// Needs common.wgsl.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> types: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> pos: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> vel: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> virial: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> sim: array<u32>;
@group(0) @binding(6) var<storage, read_write> partials: array<f32>;

const RWG: u32 = 128u;
var<workgroup> acc: array<array<f32, 16>, 128>;

@compute @workgroup_size(128)
fn reduce(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    var s: array<f32, 16>;
    for (var k = 0u; k < 16u; k++) {
        s[k] = 0.0;
    }
    let stride = nwg.x * RWG;
    for (var i = wid.x * RWG + lid.x; i < params.n; i += stride) {
        let m = types[bitcast<u32>(pos[i].w)].y;
        let v = vel[i].xyz;
        let w0 = virial[2u * i];
        let w1 = virial[2u * i + 1u];
        s[0] += m * v.x;
        s[1] += m * v.y;
        s[2] += m * v.z;
        s[3] += m * v.x * v.x;
        s[4] += m * v.y * v.y;
        s[5] += m * v.z * v.z;
        s[6] += m * v.x * v.y;
        s[7] += m * v.x * v.z;
        s[8] += m * v.y * v.z;
        s[9] += w0.x;
        s[10] += w0.y;
        s[11] += w0.z;
        s[12] += w0.w;
        s[13] += w1.x;
        s[14] += w1.y;
    }
    acc[lid.x] = s;
    workgroupBarrier();
    for (var half = RWG / 2u; half > 0u; half = half >> 1u) {
        if (lid.x < half) {
            for (var k = 0u; k < 16u; k++) {
                acc[lid.x][k] += acc[lid.x + half][k];
            }
        }
        workgroupBarrier();
    }
    if (lid.x == 0u) {
        let base = (sim[2] * nwg.x + wid.x) * 16u;
        for (var k = 0u; k < 16u; k++) {
            partials[base + k] = acc[0][k];
        }
    }
}

@compute @workgroup_size(1)
fn advance_sample() {
    sim[2] = sim[2] + 1u;
}
