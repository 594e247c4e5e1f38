// common.wgsl -- shared by every hemoscale kernel (prepended by the Rust side, see gpu/mod.rs).
// The Rust twin of `Params` is `gpu::Params`; field order and padding must match.

struct Params {
    n: u32,            // particles
    n_types: u32,
    n_cells: u32,
    seed_lo: u32,
    dims: vec4<u32>,   // cells per axis (x, y, z), seed_hi
    box_len: vec4<f32>,   // L (x, y, z), dt
    inv_len: vec4<f32>,   // 1/L (x, y, z), dt / 2
    inv_edge: vec4<f32>,  // cells per unit length (x, y, z), (lambda - 1/2) dt
    body_force: vec4<f32>,
    sdf_dims: vec4<u32>,   // wall distance field points (x, y, z), walls present (w != 0)
    sdf_inv_h: vec4<f32>,  // 1 / spacing (x, y, z), near-wall force amplitude
    wall: vec4<f32>,       // wall speed, z of the plane between the moving walls, near-wall force range,
                           // 1 when the body force is reversed for z >= L_z / 2 (reverse Poiseuille)
};

// Global thread index for a dispatch of `wg`-wide workgroups laid out in 2-D
// (x up to the 65535 limit, then rows in y).
fn thread_index(gid: vec3<u32>, nwg: vec3<u32>, wg: u32) -> u32 {
    return gid.x + gid.y * nwg.x * wg;
}

// Cell of a wrapped position; the same f32 operations as CellGrid::cell_of on the CPU.
fn cell_index(p: vec3<f32>, inv_edge: vec3<f32>, dims: vec3<u32>) -> u32 {
    let c = min(vec3<u32>(p * inv_edge), dims - vec3<u32>(1u));
    return c.x + dims.x * (c.y + dims.y * c.z);
}
