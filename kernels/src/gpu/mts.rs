//! Platelets in the GPU engine: the levels `B(h)` of [`crate::mts`] recorded as dispatches over
//! platelet particles only (`shaders/mts.wgsl`), with the bonded and non-bonded kernels of
//! [`super::bonded`] and [`super::nonbonded`]. The plasma never leaves the device.
//!
//! What runs where:
//! - The interface force (K1) needs no pair list: the plasma stands still during `B`, at its
//!   mid-step positions, and the engine builds the plasma cell list there (after the first `Dp`),
//!   so each membrane particle gathers the plasma of its 27 neighbour cells at every evaluation.
//!   The reaction on the plasma is accumulated in fixed point (i32 atomics, [`FIXED`] units per
//!   force unit) and applied by a kick over the plasma particles the evaluation touched (a list
//!   filled by the first thread to touch each particle, dispatched indirectly). Integer sums do not
//!   depend on thread order, so the result is deterministic, and the membrane side sums the same
//!   rounded pair forces, so action and reaction cancel exactly. The noise is the CPU's: the
//!   counter of evaluation `k` of plasma step `s` is `s * n1 + k`.
//! - Bonded forces (K3) and the drift with bounce-back (Dq) run on the device; the Lennard-Jones
//!   forces (K2) too, over a Verlet list built on the CPU.
//! - After every plasma step the platelet arrays (positions, velocities, interface forces; a few
//!   thousand particles) are read back: the health check and the stress average run on them as on
//!   the CPU, and they decide whether the Verlet list must be rebuilt before the next step. This
//!   first version therefore submits and waits once per plasma step. The CPU checks the list after
//!   every non-bonded sub-step; here it is checked once per plasma step with a margin (twice the
//!   largest platelet speed times `dt`), and a particle found more than half the skin from the
//!   list's reference after a step stops the run (the list may have missed pairs).
//! - Adhesion ([`crate::adhesion`]): its forces run on the device at the non-bonded level
//!   (`shaders/adhesion.wgsl`, added to the Lennard-Jones force), over terms packed on the host
//!   from the read-back positions before every step; bonds form and break on the host after each
//!   step's read-back, as on the CPU (which then re-evaluates the non-bonded force, here too).
//!   The CPU refreshes the candidate lists inside every non-bonded evaluation, the GPU once per
//!   plasma step; a particle cannot cross the skin within one step (checked below).
//!
//! A platelet in plasma on the device: the plasma stays there, the platelet arrays come back after
//! every plasma step.
//!
//! ```no_run
//! use glam::Quat;
//! use hemoscale_kernels::gpu::{AdapterChoice, GpuContext};
//! use hemoscale_kernels::platelet::{PlateletSpec, PlateletTemplate, Stiffness};
//! use hemoscale_kernels::platelet_set::{MtsLevels, Placement, PlateletParams, PlateletSet};
//! use hemoscale_kernels::{init, DpdSystem, Engine, GpuEngine, SimBox};
//!
//! let mut system = DpdSystem::standard(SimBox::cubic(9.0), 4);
//! system.kt = 0.1;
//! let spec = PlateletSpec {
//!     diameter: 6.0,
//!     aspect_ratio: 0.25,
//!     resolution: 400,
//!     mass: 85.0,
//!     stiffness: Stiffness::DEFAULT,
//! };
//! let params = PlateletParams { mts: MtsLevels { interface: 2, nonbonded: 1, bonded: 4 }, ..PlateletParams::DEFAULT };
//! let at = Placement { center: [4.5; 3], rotation: Quat::IDENTITY, velocity: [0.0; 3] };
//! let set = PlateletSet::place(PlateletTemplate::build(&spec)?, params, &[at], 1_000_000)?;
//! let (plasma, _) = set.carve(&init::random_fluid(&system, 2187), &system, 0.3);
//! let ctx = GpuContext::new(AdapterChoice::Any)?;
//! let mut engine = GpuEngine::with_platelets(ctx, &system, &plasma, 0, &set)?;
//! engine.compute_forces()?;
//! engine.run(2, 0)?;
//! let levels = engine.platelet_levels().expect("platelets");
//! assert!(levels.rebuilds >= 1 && levels.activated() == [false]);
//! let state = engine.platelet_state()?.expect("platelets");
//! assert_eq!((state.pos.len(), state.stress_steps), (set.len(), 2));
//! # Ok::<(), hemoscale_kernels::KernelError>(())
//! ```

use bytemuck::{Pod, Zeroable};
use glam::Vec3;

use super::adhesion::{Adhesion as AdhesionKernel, AdhesionBuffers};
use super::bonded::{Bonded, BondedBuffers};
use super::buffers::{Buffers, Params};
use super::context::GpuContext;
use super::kernel::{
    bind, dispatch, layout, module, pipeline, read_back, storage, storage_with, uniform, Bind, COMMON_WGSL, RNG_WGSL,
    WALLS_WGSL,
};
use super::nonbonded::{Nonbonded, NonbondedBuffers};
use crate::adhesion::{AdhesionCounts, AdhesionLists, AdhesionState};
use crate::bonded::Topology;
use crate::cell_list::CellGrid;
use crate::dpd::PairCoeffs;
use crate::error::{KernelError, Result};
use crate::mts::{check_health, PlateletSnapshot, StressAverage};
use crate::nonbonded::{Exclusions, LennardJones, NeighborList};
use crate::platelet_set::{MtsLevels, PlateletSet, PlateletState};
use crate::system::DpdSystem;
use crate::walls::Walls;

/// Fixed-point units per force unit of the interface reaction accumulators (2^13: resolution
/// 1.2e-4, range 2.6e5 per component, far above any interface force).
pub const FIXED: f32 = 8192.0;

const WG: u32 = 64;

const SLOTS: [(u32, Bind); 19] = [
    (0, Bind::Uniform),
    (1, Bind::Uniform),
    (2, Bind::Read),
    (3, Bind::Read),
    (4, Bind::Read),
    (5, Bind::Read),
    (6, Bind::ReadWrite),
    (7, Bind::Read),
    (8, Bind::Read),
    (9, Bind::ReadWrite),
    (10, Bind::ReadWrite),
    (11, Bind::ReadWrite),
    (12, Bind::Read),
    (13, Bind::Read),
    (14, Bind::Read),
    (15, Bind::ReadWrite),
    (16, Bind::ReadWrite),
    (17, Bind::ReadWrite),
    (18, Bind::ReadWrite),
];

/// Group 1 of `touched_args`: the indirect dispatch arguments.
const ARGS_SLOTS: [(u32, Bind); 1] = [(0, Bind::ReadWrite)];

/// Twin of `MtsParams` in `shaders/mts.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct MtsParams {
    counts: [u32; 4],
    key: [u32; 4],
    c: [f32; 4],
    misc: [f32; 4],
}

/// Compiled kernels of `shaders/mts.wgsl`.
pub struct MtsKernels {
    layout: wgpu::BindGroupLayout,
    args_layout: wgpu::BindGroupLayout,
    kick1: wgpu::ComputePipeline,
    kick2: wgpu::ComputePipeline,
    kick3: wgpu::ComputePipeline,
    drift: wgpu::ComputePipeline,
    interface: wgpu::ComputePipeline,
    touched_args: wgpu::ComputePipeline,
    kick_plasma: wgpu::ComputePipeline,
    kick_plasma_clear: wgpu::ComputePipeline,
}

impl MtsKernels {
    /// Compiles the kernels.
    pub fn new(device: &wgpu::Device) -> Self {
        let m =
            module(device, "mts.wgsl", &[COMMON_WGSL, WALLS_WGSL, RNG_WGSL, include_str!("../../../shaders/mts.wgsl")]);
        let layout = layout(device, "mts", &SLOTS);
        let args_layout = super::kernel::layout(device, "mts args", &ARGS_SLOTS);
        let p = |e: &str| pipeline(device, &m, e, &layout, &[]);
        let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("touched_args"),
            bind_group_layouts: &[Some(&layout), Some(&args_layout)],
            immediate_size: 0,
        });
        let touched_args = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("touched_args"),
            layout: Some(&pl),
            module: &m,
            entry_point: Some("touched_args"),
            compilation_options: wgpu::PipelineCompilationOptions::default(),
            cache: None,
        });
        Self {
            kick1: p("kick1"),
            kick2: p("kick2"),
            kick3: p("kick3"),
            drift: p("drift"),
            interface: p("interface_forces"),
            touched_args,
            kick_plasma: p("kick_plasma"),
            kick_plasma_clear: p("kick_plasma_clear"),
            layout,
            args_layout,
        }
    }
}

/// Platelet particles and their levels on the device, with a host copy of their state as of the
/// end of the last plasma step.
pub struct PlateletGpu {
    set: PlateletSet,
    topology: Topology,
    exclusions: Exclusions,
    lj: LennardJones,
    mts: MtsLevels,
    dt: f32,
    len: [f32; 3],
    n: u32,
    n_membrane: u32,
    max_dim: u32,
    pos: Vec<[f32; 4]>,
    vel: Vec<[f32; 4]>,
    f1: Vec<[f32; 4]>,
    nl: NeighborList,
    nl_reference: Vec<[f32; 4]>,
    activated: Vec<bool>,
    stress: StressAverage,
    k: MtsKernels,
    bonded_k: Bonded,
    bonded: BondedBuffers,
    nonbonded_k: Nonbonded,
    lj_b: NonbondedBuffers,
    pvel: wgpu::Buffer,
    f1_b: wgpu::Buffer,
    f2_b: wgpu::Buffer,
    mstate: wgpu::Buffer,
    args: wgpu::Buffer,
    /// Positions, velocities and interface forces copied side by side for one read-back.
    gather: wgpu::Buffer,
    group: wgpu::BindGroup,
    args_group: wgpu::BindGroup,
    /// `Params` with the half-step coefficients (`dt/2` drift and kick, no lambda shift), bound
    /// by `half_integrate`.
    params_half: wgpu::Buffer,
    /// The integrate kernels' bind group with the half-step `Params`.
    pub half_integrate: wgpu::BindGroup,
    inputs: Vec<wgpu::Buffer>,
    /// Verlet-list rebuilds (diagnostics).
    pub rebuilds: u64,
    /// Adhesion: the bonds (host), the kernel and its packed terms (None without adhesion).
    adhesion: Option<GpuAdhesion>,
    /// Timestamps around `B(h)` (None where the device has no timestamp queries).
    timing: Option<Timing>,
    /// Seconds `B(h)` ran on the device, from the timestamps (NaN without them).
    pub device_seconds: f64,
    /// Seconds of the host's per-step platelet work: list checks, read-back processing,
    /// health, stress.
    pub host_seconds: f64,
}

/// Two timestamps per plasma step, at the start of `B(h)`'s first pass and the end of its last,
/// resolved and read back with the platelet state (no extra wait).
struct Timing {
    queries: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    /// Nanoseconds per timestamp tick.
    period_ns: f64,
}

impl PlateletGpu {
    /// Seconds spent in the platelet levels: on the device and on the host (NaN without
    /// timestamp queries).
    pub fn seconds(&self) -> f64 {
        self.device_seconds + self.host_seconds
    }
}

impl Timing {
    fn new(ctx: &GpuContext) -> Option<Self> {
        let d = &ctx.device;
        if !d.features().contains(wgpu::Features::TIMESTAMP_QUERY) {
            return None;
        }
        Some(Self {
            queries: d.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("platelet levels"),
                ty: wgpu::QueryType::Timestamp,
                count: 2,
            }),
            resolve: d.create_buffer(&wgpu::BufferDescriptor {
                label: Some("platelet timestamps"),
                size: 16,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            }),
            period_ns: f64::from(ctx.queue.get_timestamp_period()),
        })
    }

    /// The timestamp writes of the first (`start`) or last pass of `B(h)`.
    fn writes(&self, start: bool) -> wgpu::ComputePassTimestampWrites<'_> {
        wgpu::ComputePassTimestampWrites {
            query_set: &self.queries,
            beginning_of_pass_write_index: start.then_some(0),
            end_of_pass_write_index: (!start).then_some(1),
        }
    }
}

/// Adhesion in the GPU engine: bond events on the host, forces on the device.
struct GpuAdhesion {
    state: AdhesionState,
    kernel: AdhesionKernel,
    buffers: AdhesionBuffers,
    /// The terms `buffers` hold.
    lists: AdhesionLists,
    /// The engine's `Params` (the distance field's dimensions) and distance-field words.
    params: Params,
    sdf: Vec<f32>,
    walls: Option<Walls>,
}

/// Index of the interface coefficients among `PlateletGpu::inputs`.
const INTERFACE_COEFFS: usize = 1;

/// The engine's `Params` with the half-step coefficients: `dt/2` drift and kick, no lambda shift.
fn half_step_params(system: &DpdSystem, grid: &CellGrid, n_plasma: u32) -> Params {
    let mut half = Params::new(system, grid, n_plasma);
    half.box_len[3] = 0.5 * system.dt;
    half.inv_len[3] = 0.5 * system.dt;
    half.inv_edge[3] = 0.0;
    half
}

fn four(v: &[[f32; 3]]) -> Vec<[f32; 4]> {
    v.iter().map(|a| [a[0], a[1], a[2], 0.0]).collect()
}

impl PlateletGpu {
    /// Uploads `set` next to the plasma buffers `b` of `system`; `integrate` is the engine's
    /// integrate kernels (for the half-step bind group).
    pub fn new(
        ctx: &GpuContext,
        system: &DpdSystem,
        set: &PlateletSet,
        b: &Buffers,
        integrate: &super::integrate::Integrate,
    ) -> Result<Self> {
        super::kernel::check_storage_slots(&ctx.limits, "mts", &SLOTS)?;
        super::kernel::check_storage_slots(&ctx.limits, "mts args", &ARGS_SLOTS)?;
        let grid = CellGrid::new(system);
        let p = set.params.interface;
        if !grid.has_distinct_neighbours() {
            return Err(KernelError::invalid(
                "box",
                format!("{:?}", system.sim_box.len),
                "platelets on the gpu backend need at least 3 plasma cells per axis",
            ));
        }
        if let Some(k) = (0..3).find(|&k| 1.0 / grid.inv_edge[k] < p.rc) {
            return Err(KernelError::invalid(
                "platelets.interface.rc",
                p.rc,
                format!(
                    "must not exceed the plasma cell edge ({} along axis {k}) on the gpu backend",
                    1.0 / grid.inv_edge[k]
                ),
            ));
        }
        let (d, q) = (&ctx.device, &ctx.queue);
        let dt = system.dt;
        let mts = set.params.mts;
        let h1 = dt / mts.interface as f32;
        let h2 = h1 / mts.nonbonded as f32;
        let h3 = h2 / mts.bonded as f32;
        let im = 1.0 / set.template.particle_mass;
        let membrane = set.outer_membrane();
        let n = set.len();
        let n_plasma = u64::from(b.n);
        let max_dim = ctx.limits.max_compute_workgroups_per_dimension;
        let key = crate::rng::seed_key(system.seed);
        let mp = MtsParams {
            counts: [n as u32, membrane.len() as u32, max_dim, 0],
            key: [key[0], key[1], 0, 0],
            c: [0.5 * h1 * im, 0.5 * h2 * im, 0.5 * h3 * im, h3],
            misc: [0.5 * h1, FIXED, 1.0 / FIXED, 0.0],
        };
        let coeffs = PairCoeffs::new(&p, system.kt, h1);
        let half = half_step_params(system, &grid, b.n);
        let params_half = uniform(d, q, "params half", bytemuck::bytes_of(&half));
        let half_integrate = integrate.bind_with_params(d, b, &params_half);
        let pos = four(&set.pos);
        let vel = four(&set.vel);
        let topology = set.topology();
        let bonded_k = Bonded::new(d);
        let bonded = bonded_k.upload(ctx, &topology, &pos);
        let exclusions = set.exclusions();
        let lj = set.lj();
        let len = system.sim_box.len;
        let nl = NeighborList::build(&pos, len, lj.rcut + set.params.skin, &exclusions);
        let nonbonded_k = Nonbonded::new(d);
        let lj_b = nonbonded_k.upload(ctx, &nl, &pos, &lj, len);
        let tagged: Vec<[u32; 4]> =
            vel.iter().zip(&set.tag).map(|(v, &t)| [v[0].to_bits(), v[1].to_bits(), v[2].to_bits(), t]).collect();
        let pvel = storage_with(d, q, "platelet vel", bytemuck::cast_slice(&tagged));
        let f1_b = storage(d, "platelet f1", 16 * n as u64);
        let f2_b = storage(d, "platelet f2", 16 * n as u64);
        let mstate = storage(d, "mts state", 16);
        let args = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("touched dispatch"),
            size: 16,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::INDIRECT | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        q.write_buffer(&args, 0, bytemuck::cast_slice(&[0u32, 1, 1, 0]));
        let inputs = vec![
            uniform(d, q, "mts params", bytemuck::bytes_of(&mp)),
            storage_with(d, q, "interface coeffs", bytemuck::bytes_of(&coeffs)), // INTERFACE_COEFFS
            storage_with(d, q, "membrane", bytemuck::cast_slice(&membrane)),
            storage(d, "interface reaction", 16 * n_plasma),
            storage(d, "touched flags", 4 * n_plasma),
            storage(d, "touched", 4 * n_plasma),
        ];
        let i = &inputs;
        let k = MtsKernels::new(d);
        let group = bind(
            d,
            "mts",
            &k.layout,
            &SLOTS,
            &[
                &b.params,
                &i[0],
                &b.sdf,
                &b.types,
                &i[1],
                &b.pos,
                &b.vel,
                &b.start,
                &b.entries,
                &bonded.pos,
                &pvel,
                &f1_b,
                &f2_b,
                &bonded.force,
                &i[2],
                &i[3],
                &i[4],
                &i[5],
                &mstate,
            ],
        );
        let args_group = bind(d, "mts args", &k.args_layout, &ARGS_SLOTS, &[&args]);
        let adhesion = match &set.adhesion {
            Some(a) => {
                let state = AdhesionState::new(a.clone(), membrane.clone(), set.per_platelet(), n, set.params.skin)?;
                let kernel = AdhesionKernel::new(d);
                let params = Params::new(system, &grid, b.n);
                let sdf = system.walls.as_ref().map_or(vec![0.0], |w| w.sdf.gpu_words());
                let mut st = state;
                let lists = st.gpu_lists(&pos, &set.activated, len, system.walls.as_ref());
                let zero = vec![[0.0f32; 4]; n];
                let buffers = kernel.upload(ctx, &lists, &pos, &zero, &a.params, len, &params, &sdf);
                Some(GpuAdhesion { state: st, kernel, buffers, lists, params, sdf, walls: system.walls.clone() })
            }
            None => None,
        };
        let timing = Timing::new(ctx);
        Ok(Self {
            topology,
            exclusions,
            lj,
            mts,
            dt,
            len,
            n: n as u32,
            n_membrane: membrane.len() as u32,
            max_dim,
            f1: vec![[0.0; 4]; n],
            nl_reference: pos.clone(),
            pos,
            vel,
            nl,
            activated: set.activated.clone(),
            stress: StressAverage::new(set),
            k,
            bonded_k,
            bonded,
            nonbonded_k,
            lj_b,
            pvel,
            f1_b,
            f2_b,
            mstate,
            args,
            // The state, then the two timestamps.
            gather: storage(d, "platelet read-back", 48 * n as u64 + 16),
            group,
            args_group,
            params_half,
            half_integrate,
            inputs,
            rebuilds: 1,
            adhesion,
            device_seconds: if timing.is_some() { 0.0 } else { f64::NAN },
            host_seconds: 0.0,
            timing,
            set: set.clone(),
        })
    }

    /// Follows a change of the driving (variants) in `system`, the plasma's system with the new
    /// values: the half-step `Params` (the wall speed the half kicks and bounce-back use) and the
    /// interface coefficients (their noise amplitude follows kT) are written again; the engine
    /// rewrites its own `Params`, which the platelet kernels share. The CPU twin is
    /// [`crate::mts::PlateletCpu::set_driving`].
    pub fn set_driving(&mut self, ctx: &GpuContext, system: &DpdSystem, n_plasma: u32) {
        let grid = CellGrid::new(system);
        let half = half_step_params(system, &grid, n_plasma);
        let h1 = self.dt / self.mts.interface as f32;
        let coeffs = PairCoeffs::new(&self.set.params.interface, system.kt, h1);
        ctx.queue.write_buffer(&self.params_half, 0, bytemuck::bytes_of(&half));
        ctx.queue.write_buffer(&self.inputs[INTERFACE_COEFFS], 0, bytemuck::bytes_of(&coeffs));
        if let (Some(a), Some(w)) = (self.adhesion.as_mut(), system.walls.as_ref()) {
            if let Some(mine) = a.walls.as_mut() {
                mine.motion = w.motion;
            }
        }
    }

    /// Packs the adhesion terms acting now and uploads them when they changed (a no-op without
    /// adhesion).
    fn upload_adhesion(&mut self, ctx: &GpuContext) {
        if let Some(a) = self.adhesion.as_mut() {
            let lists = a.state.gpu_lists(&self.pos, &self.activated, self.len, a.walls.as_ref());
            if lists == a.lists {
                return;
            }
            a.lists = lists;
            let lists = &a.lists;
            let zero = vec![[0.0f32; 4]; self.pos.len()];
            let p = *a.state.params();
            a.buffers = a.kernel.upload(ctx, lists, &self.pos, &zero, &p, self.len, &a.params, &a.sdf);
        }
    }

    /// Adhesion events and bonds (None without adhesion).
    pub fn adhesion_counts(&self) -> Option<AdhesionCounts> {
        self.adhesion.as_ref().map(|a| a.state.counts())
    }

    fn rebuild_list(&mut self, ctx: &GpuContext) {
        self.nl = NeighborList::build(&self.pos, self.len, self.lj.rcut + self.set.params.skin, &self.exclusions);
        self.nl_reference.clone_from(&self.pos);
        self.lj_b = self.nonbonded_k.upload(ctx, &self.nl, &self.pos, &self.lj, self.len);
        self.rebuilds += 1;
    }

    /// Non-bonded and bonded forces from scratch (the list rebuilt), as
    /// [`crate::mts::PlateletCpu::compute_internal_forces`]; submits without waiting.
    pub fn compute_internal_forces(&mut self, ctx: &GpuContext) {
        self.rebuild_list(ctx);
        self.upload_adhesion(ctx);
        let mut enc = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("platelets") });
        self.record_nonbonded(&mut enc);
        {
            let mut pass = begin(&mut enc, "bonded");
            self.bonded_k.record(&mut pass, &self.bonded, self.max_dim);
        }
        let _index = ctx.queue.submit([enc.finish()]);
    }

    fn record_nonbonded(&self, enc: &mut wgpu::CommandEncoder) {
        let bytes = 16 * u64::from(self.n);
        if bytes == 0 {
            return;
        }
        enc.copy_buffer_to_buffer(&self.bonded.pos, 0, &self.lj_b.pos, 0, bytes);
        {
            let mut pass = begin(enc, "lennard-jones");
            self.nonbonded_k.record(&mut pass, &self.lj_b, self.max_dim);
        }
        match &self.adhesion {
            Some(a) => {
                // Adhesion adds to the Lennard-Jones force.
                enc.copy_buffer_to_buffer(&self.bonded.pos, 0, &a.buffers.pos, 0, bytes);
                enc.copy_buffer_to_buffer(&self.lj_b.force, 0, &a.buffers.force, 0, bytes);
                {
                    let mut pass = begin(enc, "adhesion");
                    a.kernel.record(&mut pass, &a.buffers, self.max_dim);
                }
                enc.copy_buffer_to_buffer(&a.buffers.force, 0, &self.f2_b, 0, bytes);
            }
            None => enc.copy_buffer_to_buffer(&self.lj_b.force, 0, &self.f2_b, 0, bytes),
        }
    }

    /// Before plasma step `step` is recorded: rebuilds the Verlet list if a particle could come
    /// within half the skin of leaving it during the step, and sets the interface noise counter
    /// to `step * n1`.
    pub fn prepare_step(&mut self, ctx: &GpuContext, step: u64) {
        let t0 = std::time::Instant::now();
        let skin = self.set.params.skin;
        let moved = max_displacement(&self.pos, &self.nl_reference);
        let vmax = self.vel.iter().map(|v| Vec3::new(v[0], v[1], v[2]).length()).fold(0.0, f32::max);
        if moved + 2.0 * vmax * self.dt > 0.5 * skin {
            self.rebuild_list(ctx);
        }
        // The terms acting during this step: the activation may have changed since the last one.
        self.upload_adhesion(ctx);
        let counter = step * u64::from(self.mts.interface);
        ctx.queue.write_buffer(&self.mstate, 0, bytemuck::cast_slice(&[counter as u32, (counter >> 32) as u32, 0, 0]));
        self.host_seconds += t0.elapsed().as_secs_f64();
    }

    fn dispatch(&self, pass: &mut wgpu::ComputePass<'_>, p: &wgpu::ComputePipeline, threads: u32) {
        if threads > 0 {
            dispatch(pass, p, &self.group, threads, WG, self.max_dim);
        }
    }

    fn record_interface(&self, pass: &mut wgpu::ComputePass<'_>) {
        self.dispatch(pass, &self.k.interface, self.n_membrane);
        pass.set_pipeline(&self.k.touched_args);
        pass.set_bind_group(0, &self.group, &[]);
        pass.set_bind_group(1, &self.args_group, &[]);
        pass.dispatch_workgroups(1, 1, 1);
    }

    fn record_kick_plasma(&self, pass: &mut wgpu::ComputePass<'_>, clear: bool) {
        pass.set_pipeline(if clear { &self.k.kick_plasma_clear } else { &self.k.kick_plasma });
        pass.set_bind_group(0, &self.group, &[]);
        pass.dispatch_workgroups_indirect(&self.args, 0);
    }

    /// Records `B(h)` of [`crate::mts`]: the plasma cell list must hold the mid-step positions.
    pub fn record_advance(&self, enc: &mut wgpu::CommandEncoder) {
        let m = self.mts;
        let n = self.n;
        let timing = self.timing.as_ref();
        {
            let mut pass = timed(enc, "interface", timing.map(|t| t.writes(true)));
            self.record_interface(&mut pass);
        }
        for k1 in 0..m.interface {
            {
                let mut pass = begin(enc, "k1");
                self.dispatch(&mut pass, &self.k.kick1, n);
                // The second and last kick with this evaluation's forces.
                self.record_kick_plasma(&mut pass, true);
            }
            for _ in 0..m.nonbonded {
                {
                    let mut pass = begin(enc, "k2 k3 dq");
                    self.dispatch(&mut pass, &self.k.kick2, n);
                    for _ in 0..m.bonded {
                        self.dispatch(&mut pass, &self.k.kick3, n);
                        self.dispatch(&mut pass, &self.k.drift, n);
                        self.bonded_k.record(&mut pass, &self.bonded, self.max_dim);
                        self.dispatch(&mut pass, &self.k.kick3, n);
                    }
                }
                self.record_nonbonded(enc);
                let mut pass = begin(enc, "k2");
                self.dispatch(&mut pass, &self.k.kick2, n);
            }
            let last = k1 + 1 == m.interface;
            let mut pass = timed(enc, "interface k1", timing.filter(|_| last).map(|t| t.writes(false)));
            self.record_interface(&mut pass);
            self.dispatch(&mut pass, &self.k.kick1, n);
            // The next sub-step kicks the plasma again with these forces and clears them; the
            // last one clears here.
            self.record_kick_plasma(&mut pass, last);
        }
    }

    /// After plasma step `step` was submitted: reads the platelet state back (waits), checks its
    /// health and adds the stresses to the average.
    pub fn finish_step(&mut self, ctx: &GpuContext, step: u64) -> Result<()> {
        // The host's share starts after the read-back, which waits for the whole step.
        let mut host = std::time::Instant::now();
        let n = self.n as usize;
        if n > 0 {
            let bytes = 16 * n as u64;
            let (d, q) = (&ctx.device, &ctx.queue);
            let staging = &self.gather;
            let mut enc = d.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("platelet copy") });
            enc.copy_buffer_to_buffer(&self.bonded.pos, 0, staging, 0, bytes);
            enc.copy_buffer_to_buffer(&self.pvel, 0, staging, bytes, bytes);
            enc.copy_buffer_to_buffer(&self.f1_b, 0, staging, 2 * bytes, bytes);
            if let Some(t) = &self.timing {
                enc.resolve_query_set(&t.queries, 0..2, &t.resolve, 0);
                enc.copy_buffer_to_buffer(&t.resolve, 0, staging, 3 * bytes, 16);
            }
            let _index = q.submit([enc.finish()]);
            let raw = read_back(d, q, staging, 3 * bytes + 16)?;
            host = std::time::Instant::now();
            let (state, stamps) = raw.split_at(3 * bytes as usize);
            if let Some(t) = &self.timing {
                let stamp = |k: usize| u64::from_le_bytes(stamps[8 * k..8 * k + 8].try_into().unwrap_or([0; 8]));
                self.device_seconds += stamp(1).saturating_sub(stamp(0)) as f64 * t.period_ns * 1e-9;
            }
            let all: Vec<[f32; 4]> = bytemuck::pod_collect_to_vec(state);
            self.pos = all[..n].iter().map(|p| [p[0], p[1], p[2], 0.0]).collect();
            self.vel = all[n..2 * n].iter().map(|v| [v[0], v[1], v[2], 0.0]).collect();
            self.f1 = all[2 * n..].iter().map(|f| [f[0], f[1], f[2], 0.0]).collect();
        }
        ctx.take_errors()?;
        check_health(&self.set, &self.topology, &self.pos, &self.vel, step, None)?;
        let moved = max_displacement(&self.pos, &self.nl_reference);
        if moved > 0.5 * self.set.params.skin {
            return Err(KernelError::InconsistentState(format!(
                "a platelet particle moved {moved:.3} rc during plasma step {step}, more than half the Verlet skin ({}) the GPU engine allows between its once-per-step list checks; lower dt",
                self.set.params.skin
            )));
        }
        if let Some(a) = self.adhesion.as_mut() {
            // Bonds form and break between steps; as on the CPU, the non-bonded force the next
            // step starts with is re-evaluated when they did.
            if a.state.update(&self.pos, &self.activated, self.len, a.walls.as_ref(), self.dt) {
                self.upload_adhesion(ctx);
                let mut enc =
                    ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("adhesion") });
                self.record_nonbonded(&mut enc);
                let _index = ctx.queue.submit([enc.finish()]);
            }
        }
        self.stress.accumulate(&self.pos, &self.vel, &self.f1, None);
        self.host_seconds += host.elapsed().as_secs_f64();
        Ok(())
    }

    /// Positions, velocities, interface forces (end of the last step) and the stress averaged
    /// since the previous call (which resets it).
    pub fn state(&mut self) -> PlateletState {
        let three = |v: &[[f32; 4]]| v.iter().map(|a| [a[0], a[1], a[2]]).collect();
        let (mean_membrane_stress, mean_traction_stress, stress_steps) = self.stress.take();
        PlateletState {
            pos: three(&self.pos),
            vel: three(&self.vel),
            interface_force: three(&self.f1),
            mean_membrane_stress,
            mean_traction_stress,
            stress_steps,
        }
    }

    /// Marks platelets activated (`true` entries; activation is not undone): the adhesion terms
    /// of the next step follow it.
    pub fn activate(&mut self, activated: &[bool]) -> Result<()> {
        if activated.len() != self.activated.len() {
            return Err(KernelError::invalid(
                "activated",
                activated.len(),
                format!("needs one flag per platelet ({})", self.activated.len()),
            ));
        }
        for (a, &b) in self.activated.iter_mut().zip(activated) {
            *a |= b;
        }
        Ok(())
    }

    /// Whether each platelet is activated.
    pub fn activated(&self) -> &[bool] {
        &self.activated
    }

    /// The dynamic state a checkpoint keeps, as the CPU levels give it
    /// ([`crate::mts::PlateletCpu::snapshot`]): the host copies of positions, velocities and
    /// interface forces (read back after every step), the non-bonded and bonded forces from the
    /// device, and the host's list reference, stress sums, activation and adhesion. Either
    /// backend restores it.
    pub fn snapshot(&self, ctx: &GpuContext) -> Result<PlateletSnapshot> {
        let bytes = 16 * u64::from(self.n);
        let (d, q) = (&ctx.device, &ctx.queue);
        let read = |b: &wgpu::Buffer| -> Result<Vec<[f32; 4]>> {
            if bytes == 0 {
                return Ok(Vec::new());
            }
            let mut v: Vec<[f32; 4]> = bytemuck::pod_collect_to_vec(&read_back(d, q, b, bytes)?);
            v.iter_mut().for_each(|x| x[3] = 0.0);
            Ok(v)
        };
        let (f2, f3) = (read(&self.f2_b)?, read(&self.bonded.force)?);
        ctx.take_errors()?;
        Ok(PlateletSnapshot {
            pos: self.pos.clone(),
            vel: self.vel.clone(),
            f1: self.f1.clone(),
            f2,
            f3,
            nl_reference: self.nl_reference.clone(),
            stress_sum: self.stress.stress_sum.clone(),
            traction_sum: self.stress.traction_sum.clone(),
            stress_steps: self.stress.steps,
            activated: self.activated.clone(),
            rebuilds: self.rebuilds,
            bounced: 0,
            adhesion: self.adhesion.as_ref().map(|a| a.state.snapshot()),
        })
    }

    /// Restores a snapshot (of either backend) into levels built from the same platelet set:
    /// the host copies, then the device's positions, velocities (with the ids) and the forces
    /// of every level; the pair list is rebuilt from the positions it was last built at.
    pub fn restore(&mut self, ctx: &GpuContext, s: &PlateletSnapshot) -> Result<()> {
        let n = self.n as usize;
        s.check_fits(n, self.activated.len(), self.adhesion.is_some())?;
        (self.pos, self.vel, self.f1) = (s.pos.clone(), s.vel.clone(), s.f1.clone());
        (self.stress.stress_sum, self.stress.traction_sum) = (s.stress_sum.clone(), s.traction_sum.clone());
        self.stress.steps = s.stress_steps;
        self.activated = s.activated.clone();
        let q = &ctx.queue;
        if n > 0 {
            let tagged: Vec<[u32; 4]> = self
                .vel
                .iter()
                .zip(&self.set.tag)
                .map(|(v, &t)| [v[0].to_bits(), v[1].to_bits(), v[2].to_bits(), t])
                .collect();
            q.write_buffer(&self.bonded.pos, 0, bytemuck::cast_slice(&self.pos));
            q.write_buffer(&self.pvel, 0, bytemuck::cast_slice(&tagged));
            q.write_buffer(&self.f1_b, 0, bytemuck::cast_slice(&s.f1));
            q.write_buffer(&self.f2_b, 0, bytemuck::cast_slice(&s.f2));
            q.write_buffer(&self.bonded.force, 0, bytemuck::cast_slice(&s.f3));
        }
        let reference = if s.nl_reference.is_empty() { self.pos.clone() } else { s.nl_reference.clone() };
        self.nl = NeighborList::build(&reference, self.len, self.lj.rcut + self.set.params.skin, &self.exclusions);
        self.nl_reference = reference;
        self.lj_b = self.nonbonded_k.upload(ctx, &self.nl, &self.pos, &self.lj, self.len);
        self.rebuilds = s.rebuilds;
        if let (Some(a), Some(snap)) = (self.adhesion.as_mut(), s.adhesion.as_ref()) {
            a.state.restore(snap, &self.pos, self.len, a.walls.as_ref())?;
            // Force the terms of the restored bonds onto the device.
            a.lists = AdhesionLists::default();
        }
        self.upload_adhesion(ctx);
        ctx.sync()
    }
}

fn begin<'e>(enc: &'e mut wgpu::CommandEncoder, label: &str) -> wgpu::ComputePass<'e> {
    timed(enc, label, None)
}

/// A compute pass that writes the timestamps `writes`, if any.
fn timed<'e>(
    enc: &'e mut wgpu::CommandEncoder,
    label: &str,
    writes: Option<wgpu::ComputePassTimestampWrites<'_>>,
) -> wgpu::ComputePass<'e> {
    enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some(label), timestamp_writes: writes })
}

fn max_displacement(pos: &[[f32; 4]], reference: &[[f32; 4]]) -> f32 {
    if pos.len() != reference.len() {
        return f32::INFINITY;
    }
    pos.iter()
        .zip(reference)
        .map(|(a, b)| Vec3::new(a[0] - b[0], a[1] - b[1], a[2] - b[2]).length())
        .fold(0.0, f32::max)
}
