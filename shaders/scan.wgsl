// scan.wgsl -- exclusive prefix sum of u32, one level of a multi-level scan (gpu/scan.rs): each
// workgroup scans a block of 1024 values (256 threads x 4) and writes the block total; the totals
// are scanned by the next level and added back by `add_offsets`.

struct ScanParams {
    len: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
};

@group(0) @binding(0) var<uniform> sp: ScanParams;
@group(0) @binding(1) var<storage, read> scan_in: array<u32>;
@group(0) @binding(2) var<storage, read_write> scan_out: array<u32>;
@group(0) @binding(3) var<storage, read_write> block_sums: array<u32>;
@group(0) @binding(4) var<storage, read> block_offsets: array<u32>;

var<workgroup> partial: array<u32, 256>;

@compute @workgroup_size(256)
fn scan_blocks(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let block = wid.x + wid.y * nwg.x;
    let base = block * 1024u + lid.x * 4u;
    var local_excl: array<u32, 4>;
    var sum = 0u;
    for (var k = 0u; k < 4u; k++) {
        let idx = base + k;
        local_excl[k] = sum;
        if (idx < sp.len) {
            sum = sum + scan_in[idx];
        }
    }
    partial[lid.x] = sum;
    workgroupBarrier();
    for (var off = 1u; off < 256u; off = off << 1u) {
        var t = 0u;
        if (lid.x >= off) {
            t = partial[lid.x - off];
        }
        workgroupBarrier();
        partial[lid.x] = partial[lid.x] + t;
        workgroupBarrier();
    }
    let excl = partial[lid.x] - sum;
    for (var k = 0u; k < 4u; k++) {
        let idx = base + k;
        if (idx < sp.len) {
            scan_out[idx] = excl + local_excl[k];
        }
    }
    if (lid.x == 255u) {
        block_sums[block] = partial[255];
    }
}

@compute @workgroup_size(256)
fn add_offsets(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = thread_index(gid, nwg, 256u);
    if (idx < sp.len) {
        scan_out[idx] = scan_out[idx] + block_offsets[idx / 1024u];
    }
}
