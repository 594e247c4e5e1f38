// rng_batch.wgsl -- evaluates Philox4x32-10 for a batch of (counter, key) inputs, so tests can
// check the GPU generator against the CPU one bit for bit. Needs rng.wgsl.

struct RngInput {
    counter: vec4<u32>,
    key: vec4<u32>,   // key in x, y; z, w unused
};

@group(0) @binding(0) var<storage, read> inputs: array<RngInput>;
@group(0) @binding(1) var<storage, read_write> outputs: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> noise: array<f32>;

@compute @workgroup_size(64)
fn philox_batch(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 64u;
    if (i >= arrayLength(&inputs)) {
        return;
    }
    let inp = inputs[i];
    outputs[i] = philox4x32_10(inp.counter, inp.key.xy);
    // The same input read as a DPD pair key: tags in counter.x/y, step in counter.z/w.
    noise[i] = pair_noise(inp.key.xy, inp.counter.zw, inp.counter.x, inp.counter.y);
}
