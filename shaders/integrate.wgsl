// integrate.wgsl -- first half of a modified velocity-Verlet step, fused with the first pass of the
// cell list (cell index and count), with bounce-back at walls. Twin of kernels/src/integrate.rs.
// Needs common.wgsl and walls.wgsl.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> types: array<vec4<f32>>;          // x: 1/m, y: m (0 frozen), z: frozen
@group(0) @binding(2) var<storage, read_write> pos: array<vec4<f32>>;      // w: type (bits)
@group(0) @binding(3) var<storage, read_write> vel: array<vec4<f32>>;      // w: tag (bits)
@group(0) @binding(4) var<storage, read_write> vpred: array<vec4<f32>>;    // w: tag (bits)
@group(0) @binding(5) var<storage, read> force: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> cell_of: array<u32>;
@group(0) @binding(7) var<storage, read_write> rank: array<u32>;
@group(0) @binding(8) var<storage, read_write> counts: array<atomic<u32>>;
@group(0) @binding(9) var<storage, read_write> sim: array<u32>;             // step lo, step hi, sample slot
@group(0) @binding(10) var<storage, read> sdf: array<f32>;
// bounced, leaked, x-impulse on the wall below / above the motion plane (fixed point, 1/256)
@group(0) @binding(11) var<storage, read_write> wall_counts: array<atomic<i32>>;

// False for the drift-only variant (`Integrate::drift`): the second plasma half drift of a step
// with platelets, `integrate_first(half, kick = false)` on the CPU (crate::mts).
override KICK: bool = true;

fn wrap(x: vec3<f32>) -> vec3<f32> {
    let l = params.box_len.xyz;
    let y = x - l * floor(x * params.inv_len.xyz);
    return select(y, y - l, y >= l);
}

@compute @workgroup_size(64)
fn integrate_first(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = thread_index(gid, nwg, 64u);
    if (i >= params.n) {
        return;
    }
    let dt = params.box_len.w;
    let half_dt = params.inv_len.w;
    let lambda_shift = params.inv_edge.w;
    let p = pos[i];
    let v = vel[i];
    let ty = types[bitcast<u32>(p.w)];
    var x = p.xyz;
    if (ty.z != 0.0) {
        // Frozen (wall) particle: moves rigidly with the wall velocity at its position, taken
        // from the parameters each step so a changed wall speed (a variant) moves the walls too
        // (still walls stay put bit for bit); its velocity and predicted velocity are the wall's.
        var w = v;
        if (params.sdf_dims.w != 0u) {
            w = vec4<f32>(wall_velocity(p.xyz), v.w);
        }
        x = wrap(p.xyz + dt * w.xyz);
        pos[i] = vec4<f32>(x, p.w);
        vel[i] = w;
        vpred[i] = w;
    } else {
        let a = select(vec3<f32>(0.0), force[i].xyz * ty.x, KICK);
        var vh = v.xyz + half_dt * a;
        var x1 = p.xyz + dt * vh;
        if (params.sdf_dims.w != 0u) {
            let b = bounce(p.xyz, x1, vh);
            let v_before = vh.x;
            x1 = b.x;
            vh = b.v;
            if (b.outcome != 0u) {
                atomicAdd(&wall_counts[b.outcome - 1u], 1);
            }
            if (b.outcome == 1u) {
                // Same truncation as walls::impulse_fixed.
                let imp = i32(ty.y * (v_before - b.v.x) * 256.0);
                atomicAdd(&wall_counts[select(2u, 3u, p.z >= params.wall.y)], imp);
            }
        }
        x = wrap(x1);
        pos[i] = vec4<f32>(x, p.w);
        vel[i] = vec4<f32>(vh, v.w);
        vpred[i] = vec4<f32>(vh + lambda_shift * a, v.w);
    }
    let c = cell_index(x, params.inv_edge.xyz, params.dims.xyz);
    cell_of[i] = c;
    rank[i] = atomicAdd(&counts[c], 1u);
}

// One thread: the step counter (64 bits in two words) that keys the pair noise.
@compute @workgroup_size(1)
fn advance_step() {
    let lo = sim[0] + 1u;
    sim[0] = lo;
    if (lo == 0u) {
        sim[1] = sim[1] + 1u;
    }
}
