//! Every device buffer of a DPD system, allocated once for a particle count, and the `Params`
//! uniform (twin of `struct Params` in `shaders/common.wgsl`).

use bytemuck::{Pod, Zeroable};

use super::context::GpuContext;
use super::kernel::{storage, uniform};
use crate::cell_list::CellGrid;
use crate::dpd::pair_coeffs;
use crate::error::{KernelError, Result};
use crate::observables::SUM_WORDS;
use crate::state::ParticleState;
use crate::system::DpdSystem;

/// Uniform parameters of all kernels; see `shaders/common.wgsl` for the meaning of each slot.
///
/// Built on the host, without a device:
///
/// ```
/// use hemoscale_kernels::cell_list::CellGrid;
/// use hemoscale_kernels::gpu::buffers::Params;
/// use hemoscale_kernels::{DpdSystem, SimBox};
///
/// let system = DpdSystem::standard(SimBox { len: [4.0, 5.0, 6.0] }, 0x1_0000_0002);
/// let p = Params::new(&system, &CellGrid::new(&system), 360);
/// // The layout of `struct Params` in common.wgsl: four words, then eight vec4.
/// assert_eq!(std::mem::size_of::<Params>(), 144);
/// assert_eq!((p.n, p.n_cells, &p.dims[..3]), (360, 120, &[4, 5, 6][..]));
/// assert_eq!((p.seed_lo, p.dims[3]), (2, 1)); // the 64-bit seed, split into two words
/// assert_eq!((p.box_len[3], p.inv_len[3]), (system.dt, 0.5 * system.dt));
/// assert_eq!(p.sdf_dims[3], 0); // no walls
/// ```
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct Params {
    /// Particles.
    pub n: u32,
    /// Types.
    pub n_types: u32,
    /// Cells.
    pub n_cells: u32,
    /// Seed, low word.
    pub seed_lo: u32,
    /// Cells per axis; seed high word in `w`.
    pub dims: [u32; 4],
    /// Box edges; dt in `w`.
    pub box_len: [f32; 4],
    /// Reciprocal box edges; dt/2 in `w`.
    pub inv_len: [f32; 4],
    /// Cells per unit length; (lambda - 1/2) dt in `w`.
    pub inv_edge: [f32; 4],
    /// Body force.
    pub body_force: [f32; 4],
    /// Wall distance field points per axis; 1 in `w` when there are walls.
    pub sdf_dims: [u32; 4],
    /// Reciprocal spacing of the distance field; near-wall force amplitude in `w`.
    pub sdf_inv_h: [f32; 4],
    /// Wall speed, z of the plane between moving walls, near-wall force range, 1 when the body
    /// force is reversed in the upper half of the box.
    pub wall: [f32; 4],
}

impl Params {
    /// The uniform for `n` particles of `system` on the cell grid `grid`.
    pub fn new(system: &DpdSystem, grid: &CellGrid, n: u32) -> Self {
        let l = system.sim_box.len;
        let walls = system.walls.as_ref();
        Self {
            n,
            n_types: system.types.len() as u32,
            n_cells: grid.n_cells() as u32,
            seed_lo: system.seed as u32,
            dims: [grid.dims[0], grid.dims[1], grid.dims[2], (system.seed >> 32) as u32],
            box_len: [l[0], l[1], l[2], system.dt],
            inv_len: [1.0 / l[0], 1.0 / l[1], 1.0 / l[2], 0.5 * system.dt],
            inv_edge: [grid.inv_edge[0], grid.inv_edge[1], grid.inv_edge[2], (system.lambda - 0.5) * system.dt],
            body_force: [system.body_force[0], system.body_force[1], system.body_force[2], 0.0],
            sdf_dims: walls.map_or([1, 1, 1, 0], |w| [w.sdf.dims[0], w.sdf.dims[1], w.sdf.dims[2], 1]),
            sdf_inv_h: walls
                .map_or([1.0, 1.0, 1.0, 0.0], |w| [w.sdf.inv_h[0], w.sdf.inv_h[1], w.sdf.inv_h[2], w.force.amplitude]),
            wall: [
                walls.map_or(0.0, |w| w.motion.speed),
                walls.map_or(0.0, |w| w.motion.center),
                walls.map_or(0.0, |w| w.force.range),
                if system.body_force_reversed { 1.0 } else { 0.0 },
            ],
        }
    }
}

/// Workgroups of the observable reduction (each a 16-word record per sample).
pub const REDUCE_GROUPS: u32 = 64;
/// Samples the device holds before the host must read them.
pub const MAX_SAMPLES: u32 = 64;

/// The device buffers.
pub struct Buffers {
    /// Particles.
    pub n: u32,
    /// Mobile (not frozen) particles: the count temperature and momentum refer to.
    pub n_mobile: usize,
    /// Cells.
    pub n_cells: u32,
    /// `Params` uniform.
    pub params: wgpu::Buffer,
    /// Per type `(1/m, m, frozen, 0)`, with `1/m = m = 0` for frozen types.
    pub types: wgpu::Buffer,
    /// Pair coefficient table.
    pub pairs: wgpu::Buffer,
    /// Positions, type bits in `w`.
    pub pos: wgpu::Buffer,
    /// Velocities, tag bits in `w`.
    pub vel: wgpu::Buffer,
    /// Predicted velocities, tag bits in `w`.
    pub vpred: wgpu::Buffer,
    /// Forces.
    pub force: wgpu::Buffer,
    /// Per-particle half pair virial, two `vec4` each.
    pub virial: wgpu::Buffer,
    /// Cell of each particle.
    pub cell_of: wgpu::Buffer,
    /// Slot of each particle within its cell (from the atomic count).
    pub rank: wgpu::Buffer,
    /// Particles per cell (`n_cells + 1` words, the last always 0 so the scan yields the total).
    pub counts: wgpu::Buffer,
    /// Exclusive scan of `counts`.
    pub start: wgpu::Buffer,
    /// Particle indices grouped by cell.
    pub entries: wgpu::Buffer,
    /// Reorder scratch for `pos`.
    pub pos2: wgpu::Buffer,
    /// Reorder scratch for `vel`.
    pub vel2: wgpu::Buffer,
    /// Reorder scratch for `vpred`.
    pub vpred2: wgpu::Buffer,
    /// Reorder scratch for `cell_of`.
    pub cell2: wgpu::Buffer,
    /// `[step_lo, step_hi, sample_slot, first]`: `first` offsets the force kernel's particles
    /// (GPU ranks' boundary pass, [`super::rank_forces`]; 0 otherwise).
    pub sim: wgpu::Buffer,
    /// Reduction records, `MAX_SAMPLES x REDUCE_GROUPS x 16` f32.
    pub partials: wgpu::Buffer,
    /// Wall distance field (one element when there are no walls).
    pub sdf: wgpu::Buffer,
    /// Bounce-back counters `[bounced, leaked, impulse below, impulse above]` since the last read.
    pub wall_counts: wgpu::Buffer,
}

impl Buffers {
    /// Allocates and fills the buffers for `state` at `step`, checking the adapter's limits.
    pub fn new(ctx: &GpuContext, system: &DpdSystem, state: &ParticleState, step: u64) -> Result<Self> {
        Self::for_grid(ctx, system, &CellGrid::new(system), state, step)
    }

    /// As [`Buffers::new`] with the cells of `grid` (a rank's region, [`super::rank_forces`]).
    pub fn for_grid(
        ctx: &GpuContext,
        system: &DpdSystem,
        grid: &CellGrid,
        state: &ParticleState,
        step: u64,
    ) -> Result<Self> {
        let d = &ctx.device;
        let n = state.len() as u64;
        let n_cells = grid.n_cells() as u64;
        let max_binding = ctx.limits.max_storage_buffer_binding_size.min(ctx.limits.max_buffer_size);
        let sdf_values: Vec<f32> = system.walls.as_ref().map_or(vec![0.0], |w| w.sdf.gpu_words());
        let largest = (32 * n).max(4 * (n_cells + 1)).max(4 * sdf_values.len() as u64);
        if largest > max_binding {
            return Err(KernelError::DeviceLimit(format!(
                "{n} particles need a {largest}-byte storage binding; {} allows {max_binding} bytes",
                ctx.info.name
            )));
        }
        if n > u64::from(u32::MAX / 2) {
            return Err(KernelError::DeviceLimit(format!("{n} particles exceed 32-bit indexing")));
        }
        let params = Params::new(system, grid, n as u32);
        let q = &ctx.queue;
        let filled = |label: &str, data: &[u8]| {
            let b = storage(d, label, data.len() as u64);
            q.write_buffer(&b, 0, data);
            b
        };
        let types: Vec<[f32; 4]> = system
            .types
            .iter()
            .map(|t| if t.frozen { [0.0, 0.0, 1.0, 0.0] } else { [1.0 / t.mass, t.mass, 0.0, 0.0] })
            .collect();
        let pos: Vec<[f32; 4]> =
            state.pos.iter().zip(&state.type_id).map(|(p, &t)| [p[0], p[1], p[2], f32::from_bits(t)]).collect();
        let vel: Vec<[f32; 4]> =
            state.vel.iter().zip(&state.tag).map(|(v, &t)| [v[0], v[1], v[2], f32::from_bits(t)]).collect();
        let force: Vec<[f32; 4]> = state.force.iter().map(|f| [f[0], f[1], f[2], 0.0]).collect();
        let sim = [step as u32, (step >> 32) as u32, 0, 0];
        let words = |k: u64| 4 * k;
        Ok(Self {
            n: n as u32,
            n_mobile: crate::walls::mobile_count(system, state),
            n_cells: n_cells as u32,
            params: uniform(d, q, "params", bytemuck::bytes_of(&params)),
            types: filled("types", bytemuck::cast_slice(&types)),
            pairs: filled("pairs", bytemuck::cast_slice(&pair_coeffs(system))),
            pos: filled("pos", bytemuck::cast_slice(&pos)),
            vel: filled("vel", bytemuck::cast_slice(&vel)),
            vpred: filled("vpred", bytemuck::cast_slice(&vel)),
            force: filled("force", bytemuck::cast_slice(&force)),
            virial: storage(d, "virial", 32 * n),
            cell_of: storage(d, "cell_of", words(n)),
            rank: storage(d, "rank", words(n)),
            counts: storage(d, "counts", words(n_cells + 1)),
            start: storage(d, "start", words(n_cells + 1)),
            entries: storage(d, "entries", words(n)),
            pos2: storage(d, "pos2", 16 * n),
            vel2: storage(d, "vel2", 16 * n),
            vpred2: storage(d, "vpred2", 16 * n),
            cell2: storage(d, "cell2", words(n)),
            sim: filled("sim", bytemuck::cast_slice(&sim)),
            partials: storage(d, "partials", words(u64::from(MAX_SAMPLES * REDUCE_GROUPS) * SUM_WORDS as u64)),
            sdf: filled("sdf", bytemuck::cast_slice(&sdf_values)),
            wall_counts: filled("wall_counts", bytemuck::cast_slice(&[0i32; 4])),
        })
    }
}
