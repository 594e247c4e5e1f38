// batched_inference.wgsl -- evaluates one surrogate network (the dense layers and leading GRU of
// surrogates/src/network.rs, with the model file's input and output standardisation) on many rows
// in one dispatch. One thread per row: each invocation runs the whole network for its row, its
// activations in private arrays; all threads read the same weight at the same time (a broadcast),
// and there are no barriers. The weights, standardisation and layer table are data in buffers: one
// compiled pipeline serves any model within MAX_WIDTH units per layer and MAX_LAYERS layers (the
// host checks both, and on software adapters the total loop count: coupling/src/batched_inference.rs).
//
// Layer table: two vec4<u32> per layer.
//   word 0: (kind, inputs, units, activation)   kind 0 = dense, 1 = GRU; for a GRU `inputs` is the
//           features per step and `activation` the number of steps;
//   word 1: (offset of the layer's parameters in `weights`, 0, 0, 0).
// Dense parameters: W (units x inputs, row-major) then b (units). GRU parameters (PyTorch's gate
// order reset, update, new): W_i (3H x F), W_h (3H x H), b_i (3H), b_h (3H).
// Activations: 0 identity, 1 tanh, 2 relu, 3 sigmoid, 4 softplus (activation.rs's order).

const WG: u32 = 64u;  // threads (rows) per workgroup
const MAX_WIDTH: u32 = 256u;
const MAX_LAYERS: u32 = 16u;

struct Info {
    rows: u32,
    inputs: u32,
    outputs: u32,
    layers: u32,
    // Offsets in `weights` of the input mean and std and the output mean and std.
    in_mean: u32,
    in_std: u32,
    out_mean: u32,
    out_std: u32,
};

struct LayerTable {
    words: array<vec4<u32>, 32>, // 2 * MAX_LAYERS
};

@group(0) @binding(0) var<uniform> info: Info;
@group(0) @binding(1) var<uniform> table: LayerTable;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;          // rows x inputs, physical units
@group(0) @binding(4) var<storage, read_write> y: array<f32>;    // rows x outputs, physical units

// One row's activations: two halves of MAX_WIDTH, a layer reads one half and writes the other.
var<private> act: array<f32, 512>;
// The GRU's hidden state.
var<private> hid: array<f32, 256>;

fn sigmoid(v: f32) -> f32 {
    return 1.0 / (1.0 + exp(-v));
}

fn activate(kind: u32, v: f32) -> f32 {
    switch kind {
        // tanh of a clamped argument: some drivers evaluate tanh as a ratio of exponentials that
        // overflows to NaN for |v| > ~44; tanh(15) is 1 in f32.
        case 1u: { return tanh(clamp(v, -15.0, 15.0)); }
        case 2u: { return max(v, 0.0); }
        case 3u: { return sigmoid(v); }
        // ln(1 + e^v) without overflow.
        case 4u: { return max(v, 0.0) + log(1.0 + exp(-abs(v))); }
        default: { return v; }
    }
}

fn standardised_input(row: u32, i: u32) -> f32 {
    return (x[row * info.inputs + i] - weights[info.in_mean + i]) / weights[info.in_std + i];
}

@compute @workgroup_size(64)
fn infer(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = gid.x + gid.y * nwg.x * WG;
    if (row >= info.rows) {
        return;
    }
    var src = 0u;
    if (table.words[0].x == 0u) {
        for (var i = 0u; i < info.inputs; i++) {
            act[i] = standardised_input(row, i);
        }
    }
    for (var l = 0u; l < info.layers; l++) {
        let d = table.words[2u * l];
        let off = table.words[2u * l + 1u].x;
        let dst = MAX_WIDTH - src;
        if (d.x == 0u) {
            let inputs = d.y;
            let units = d.z;
            for (var u = 0u; u < units; u++) {
                var s = weights[off + units * inputs + u];
                let w0 = off + u * inputs;
                for (var i = 0u; i < inputs; i++) {
                    s += weights[w0 + i] * act[src + i];
                }
                act[dst + u] = activate(d.w, s);
            }
        } else {
            // A GRU over `steps` steps of `f` features, read from the input row (a GRU is only
            // ever the first layer), each step's features staged in the free half of `act`.
            let f = d.y;
            let h = d.z;
            let steps = d.w;
            let wh = off + 3u * h * f;
            let bi = wh + 3u * h * h;
            let bh = bi + 3u * h;
            for (var u = 0u; u < h; u++) {
                hid[u] = 0.0;
            }
            for (var t = 0u; t < steps; t++) {
                for (var i = 0u; i < f; i++) {
                    act[src + i] = standardised_input(row, t * f + i);
                }
                for (var u = 0u; u < h; u++) {
                    var xr = weights[bi + u];
                    var xz = weights[bi + h + u];
                    var xn = weights[bi + 2u * h + u];
                    for (var i = 0u; i < f; i++) {
                        let v = act[src + i];
                        xr += weights[off + u * f + i] * v;
                        xz += weights[off + (h + u) * f + i] * v;
                        xn += weights[off + (2u * h + u) * f + i] * v;
                    }
                    var hr = weights[bh + u];
                    var hz = weights[bh + h + u];
                    var hn = weights[bh + 2u * h + u];
                    for (var k = 0u; k < h; k++) {
                        let v = hid[k];
                        hr += weights[wh + u * h + k] * v;
                        hz += weights[wh + (h + u) * h + k] * v;
                        hn += weights[wh + (2u * h + u) * h + k] * v;
                    }
                    let r = sigmoid(xr + hr);
                    let z = sigmoid(xz + hz);
                    let n = tanh(clamp(xn + r * hn, -15.0, 15.0));
                    act[dst + u] = (1.0 - z) * n + z * hid[u];
                }
                for (var u = 0u; u < h; u++) {
                    hid[u] = act[dst + u];
                }
            }
        }
        src = dst;
    }
    for (var k = 0u; k < info.outputs; k++) {
        y[row * info.outputs + k] = act[src + k] * weights[info.out_std + k] + weights[info.out_mean + k];
    }
}
