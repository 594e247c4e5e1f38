// walls_batch.wgsl -- evaluates the wall functions of walls.wgsl on a batch of inputs, so tests can
// compare them with kernels/src/walls.rs and geometry.rs. Needs common.wgsl and walls.wgsl.

struct WallInput {
    x0: vec4<f32>,
    x1: vec4<f32>,
    v: vec4<f32>,
};

struct WallOutput {
    eval: vec4<f32>,     // gradient (xyz) and value (w) of the field at x1
    x: vec4<f32>,        // bounced position (xyz), outcome (w: 0 none, 1 reflected, 2 leaked)
    v: vec4<f32>,        // bounced velocity
    force: vec4<f32>,    // near-wall force at x1
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> sdf: array<f32>;
@group(0) @binding(2) var<storage, read> inputs: array<WallInput>;
@group(0) @binding(3) var<storage, read_write> outputs: array<WallOutput>;

@compute @workgroup_size(64)
fn walls_batch(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = thread_index(gid, nwg, 64u);
    if (i >= arrayLength(&inputs)) {
        return;
    }
    let inp = inputs[i];
    let b = bounce(inp.x0.xyz, inp.x1.xyz, inp.v.xyz);
    outputs[i] = WallOutput(sdf_eval(inp.x1.xyz), vec4<f32>(b.x, f32(b.outcome)), vec4<f32>(b.v, 0.0),
                            vec4<f32>(near_wall_force(inp.x1.xyz), 0.0));
}
