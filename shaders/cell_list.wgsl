// cell_list.wgsl -- cell lists by counting sort on the GPU, twin of kernels/src/cell_list.rs.
// Count (here `assign_cells`, or fused into integrate_first), exclusive scan (scan.wgsl), scatter,
// then a per-cell sort so that entries are ascending within a cell exactly as the CPU's stable sort
// leaves them: the atomic counter hands out slots in arbitrary order, the sort removes that.
// `reorder_gather` puts the particle arrays in cell order (locality) every few steps.
// Needs common.wgsl.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> pos: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> vel: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> vpred: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> cell_of: array<u32>;
@group(0) @binding(5) var<storage, read_write> rank: array<u32>;
@group(0) @binding(6) var<storage, read_write> counts: array<atomic<u32>>;
@group(0) @binding(7) var<storage, read> start: array<u32>;
@group(0) @binding(8) var<storage, read_write> entries: array<u32>;
@group(0) @binding(9) var<storage, read_write> pos2: array<vec4<f32>>;
@group(0) @binding(10) var<storage, read_write> vel2: array<vec4<f32>>;
@group(0) @binding(11) var<storage, read_write> vpred2: array<vec4<f32>>;
@group(0) @binding(12) var<storage, read_write> cell2: array<u32>;

@compute @workgroup_size(64)
fn assign_cells(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = thread_index(gid, nwg, 64u);
    if (i >= params.n) {
        return;
    }
    let c = cell_index(pos[i].xyz, params.inv_edge.xyz, params.dims.xyz);
    cell_of[i] = c;
    rank[i] = atomicAdd(&counts[c], 1u);
}

@compute @workgroup_size(64)
fn scatter(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = thread_index(gid, nwg, 64u);
    if (i >= params.n) {
        return;
    }
    entries[start[cell_of[i]] + rank[i]] = i;
}

// One thread per cell: insertion sort of its few entries (about rho * rc^3 of them).
@compute @workgroup_size(64)
fn sort_cells(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = thread_index(gid, nwg, 64u);
    if (c >= params.n_cells) {
        return;
    }
    let s0 = start[c];
    let s1 = start[c + 1u];
    for (var k = s0 + 1u; k < s1; k++) {
        let x = entries[k];
        var m = k;
        loop {
            if (m <= s0) {
                break;
            }
            let y = entries[m - 1u];
            if (y <= x) {
                break;
            }
            entries[m] = y;
            m = m - 1u;
        }
        entries[m] = x;
    }
}

// Gathers particles into cell order in the scratch arrays (copied back by the host encoder) and
// makes `entries` the identity, which it is in the new order.
@compute @workgroup_size(64)
fn reorder_gather(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let k = thread_index(gid, nwg, 64u);
    if (k >= params.n) {
        return;
    }
    let i = entries[k];
    pos2[k] = pos[i];
    vel2[k] = vel[i];
    vpred2[k] = vpred[i];
    cell2[k] = cell_of[i];
    entries[k] = k;
}
