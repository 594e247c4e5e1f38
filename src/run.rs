//! Running a scenario: pick the backend, build the initial state, step in chunks while printing a
//! thermo table, and collect the samples the summary is made of.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use hemoscale_kernels::adhesion::AdhesionCounts;
use hemoscale_kernels::gpu::{AdapterChoice, GpuContext};
use hemoscale_kernels::platelet_set::PlateletSet;
use hemoscale_kernels::walls::{split_frozen, WallCounts};
use hemoscale_kernels::{
    init, CpuEngine, DpdSystem, Driving, Engine, GpuEngine, KernelError, Observables, ParticleState,
};
use thiserror::Error;

use crate::adaptive::Adaptive;
use crate::checkpoint::{Checkpoint, CheckpointError, Counters, PlateletCheckpoint, Words};
use crate::coupled::Coupled;
use crate::dsl::{Backend, Scenario};
use crate::faults::{blown, first_bad_particle, inject, Limits};
use crate::flow::FlowProbe;
use crate::output::{
    plot_profile, FieldGrid, Frame, Masses, OutputError, ProfileGeometry, Series, ThermoCsv, Trigger, VtiSeries,
    VtpSeries, XyzWriter,
};
use crate::platelets::PlateletProbe;

/// Why a run stopped early.
#[derive(Debug, Error)]
pub enum RunError {
    /// The kernel layer refused or failed.
    #[error(transparent)]
    Kernel(#[from] KernelError),
    /// The scenario is not valid.
    #[error("{0}")]
    Invalid(#[from] crate::params::ValidationErrors),
    /// The simulation blew up.
    #[error("simulation blew up at step {step}: {what}{}", last_good(.checkpoint.as_deref()))]
    Blowup {
        /// Step of the first bad sample.
        step: u64,
        /// What was wrong (with the first bad particle when one is to blame).
        what: String,
        /// The last good checkpoint, left intact (None: none was written).
        checkpoint: Option<PathBuf>,
    },
    /// A signal (SIGINT, SIGTERM) stopped the run; a checkpoint was written when the run had a
    /// checkpoint folder.
    #[error("stopped by signal {signal} at step {step}{}", last_good(.checkpoint.as_deref()))]
    Interrupted {
        /// The signal's number.
        signal: usize,
        /// The step the run stopped at.
        step: u64,
        /// The checkpoint written at that step.
        checkpoint: Option<PathBuf>,
    },
    /// The scenario's wall-clock limit was reached; a checkpoint was written when the run had a
    /// checkpoint folder.
    #[error("stopped by the wall-clock limit of {limit} s at step {step}{}", last_good(.checkpoint.as_deref()))]
    WallLimit {
        /// The limit (seconds).
        limit: f64,
        /// The step the run stopped at.
        step: u64,
        /// The checkpoint written at that step.
        checkpoint: Option<PathBuf>,
    },
    /// A checkpoint could not be written, or the one to resume from does not fit.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Writing output failed.
    #[error("output: {0}")]
    Io(#[from] std::io::Error),
    /// An output writer refused or failed.
    #[error("output: {0}")]
    Output(#[from] OutputError),
}

fn last_good(checkpoint: Option<&Path>) -> String {
    checkpoint.map_or_else(String::new, |p| format!("; last good checkpoint: {} (resume with --resume)", p.display()))
}

impl RunError {
    /// A blow-up at `step` (no checkpoint named yet; the run adds its last good one).
    pub fn blowup(step: u64, what: impl Into<String>) -> Self {
        Self::Blowup { step, what: what.into(), checkpoint: None }
    }
}

/// Opens an engine for `system` and `state` on the chosen backend. With [`Backend::Auto`] a
/// hardware GPU is used when present, otherwise the CPU with a one-line notice on stderr.
///
/// Inside [`crate::ranks::within`] (several ranks) the engine is this rank's part of a
/// domain-decomposed run; on a GPU its pair forces run on the device
/// ([`hemoscale_kernels::gpu::rank_forces`]).
pub fn open_engine(
    backend: Backend,
    system: &DpdSystem,
    state: &ParticleState,
    step: u64,
) -> Result<Box<dyn Engine>, KernelError> {
    open_on(gpu_context(backend)?, system, state, step, None)
}

/// The one place an engine is built: on `gpu` (None: the native CPU), with `platelets` (None:
/// plasma only), decomposed over the run's ranks when it has several (GPU ranks keep the host
/// engine and compute its pair forces on the device), else the whole box on one engine.
fn open_on(
    gpu: Option<GpuContext>,
    system: &DpdSystem,
    state: &ParticleState,
    step: u64,
    platelets: Option<&PlateletSet>,
) -> Result<Box<dyn Engine>, KernelError> {
    if let Some(ranks) = crate::ranks::current() {
        let e = match platelets {
            Some(set) => ranks.engine_with_platelets(system, state, step, set)?,
            None => ranks.engine(system, state, step)?,
        };
        return Ok(Box::new(match gpu {
            Some(ctx) => e.with_gpu_forces(ctx)?,
            None => e,
        }));
    }
    Ok(match (gpu, platelets) {
        (Some(ctx), Some(set)) => Box::new(GpuEngine::with_platelets(ctx, system, state, step, set)?),
        (Some(ctx), None) => Box::new(GpuEngine::with_context(ctx, system, state, step)?),
        (None, Some(set)) => Box::new(CpuEngine::with_platelets(system, state, step, set)?),
        (None, None) => Box::new(CpuEngine::new(system, state, step)?),
    })
}

/// The GPU `backend` asks for: none for `cpu`; any adapter for `gpu` (lavapipe included; an error
/// when there is none); a hardware adapter for `auto`, or none, with a notice, when there is
/// none (the native CPU serves). The one place that choice is made, for engines and inference.
///
/// Over ranks each takes the GPU of its rank on the node ([`crate::ranks::local_rank`]).
pub fn gpu_context(backend: Backend) -> Result<Option<GpuContext>, KernelError> {
    let nth = crate::ranks::local_rank();
    match backend {
        Backend::Cpu => Ok(None),
        Backend::Gpu => GpuContext::nth(AdapterChoice::Any, nth).map(Some),
        Backend::Auto => Ok(GpuContext::nth(AdapterChoice::HardwareOnly, nth)
            .inspect_err(|e| {
                if crate::ranks::is_root() {
                    eprintln!("notice: using the native CPU backend ({e})");
                }
            })
            .ok()),
    }
}

/// The initial conditions of a scenario: the system (with walls when the scenario has a vessel)
/// and the particles, fluid first, then frozen wall particles.
#[derive(Clone, Debug)]
pub struct Initial {
    /// The system to run.
    pub system: DpdSystem,
    /// The particles (forces not yet computed).
    pub state: ParticleState,
    /// Fluid particles.
    pub fluid: usize,
    /// Frozen wall particles.
    pub wall: usize,
    /// Platelets, placed, with the plasma they displace removed from `state`.
    pub platelets: Option<PlateletSet>,
}

/// Builds the initial conditions of `scenario` on `backend`. With a vessel, the whole box is first
/// filled with fluid and equilibrated at rest (no body force) for the vessel's
/// `equilibration_steps`, then split by the distance field into fluid (inside), frozen wall
/// particles (the wall layer) and nothing (beyond it), as Mirheo's `makeFrozenWallParticles` does:
/// the wall then has the liquid's density and structure.
pub fn initial_conditions(scenario: &Scenario, backend: Backend) -> Result<Initial, RunError> {
    let periodic = scenario.system();
    let mut state = init::random_fluid(&periodic, scenario.particles());
    mix_species(scenario, &periodic, &mut state);
    let Some(vessel) = &scenario.vessel else {
        let n = state.len();
        return with_platelets(scenario, Initial { system: periodic, state, fluid: n, wall: 0, platelets: None });
    };
    let system = scenario
        .walled_system()
        .ok_or_else(|| KernelError::InconsistentState("the vessel's distance field could not be sampled".into()))?;
    let mut at_rest = periodic;
    at_rest.body_force = [0.0; 3];
    // Not decomposed: which particles end up in the wall layer depends on every rounding of the
    // equilibration, so over several ranks each rank equilibrates the whole box alone (the same
    // bits on each), and the run starts from the particles a single rank would have. At very
    // large sizes a tiled, pre-equilibrated wall template would serve better.
    let settled = crate::ranks::alone(|| -> Result<ParticleState, KernelError> {
        let mut engine = open_engine(backend, &at_rest, &state, 0)?;
        engine.compute_forces()?;
        let _ = engine.run(vessel.equilibration_steps, 0)?;
        engine.state()
    })?;
    let walls = system.walls.as_ref().expect("walled system has walls");
    let (mut state, fluid, wall) = split_frozen(&settled, walls, vessel.wall_thickness, 1);
    if let (true, hemoscale_kernels::geometry::Shape::Channel { center, half_height }) =
        (scenario.start_sheared, &vessel.shape)
    {
        let rate = vessel.motion.speed / (2.0 * *half_height as f32);
        for i in 0..fluid {
            state.vel[i][0] += rate * (state.pos[i][2] - *center as f32);
        }
    }
    with_platelets(scenario, Initial { system, state, fluid, wall, platelets: None })
}

/// Turns fractions of the plasma particles of a fresh fluid into the scenario's species: the
/// last `round(fraction N)` ids for the last species, those before them for the one before, and
/// so on (positions are independent of ids, so the species are mixed at random), with velocities
/// rescaled to each species' thermal speed (`sqrt(m_plasma / m)`) and the total momentum set back
/// to zero.
fn mix_species(scenario: &Scenario, system: &DpdSystem, state: &mut ParticleState) {
    if scenario.species.is_empty() {
        return;
    }
    let n = state.len();
    let first_species = system.types.len() - scenario.species.len();
    let mut end = n;
    for (k, sp) in scenario.species.iter().enumerate().rev() {
        let count = ((sp.fraction * n as f64).round() as usize).min(end);
        let scale = (system.types[0].mass / sp.mass).sqrt();
        for i in end - count..end {
            state.type_id[i] = (first_species + k) as u32;
            state.vel[i] = state.vel[i].map(|v| v * scale);
        }
        end -= count;
    }
    let mass = |i: usize| f64::from(system.types[state.type_id[i] as usize].mass);
    let total: f64 = (0..n).map(mass).sum();
    let drift: [f64; 3] =
        std::array::from_fn(|k| (0..n).map(|i| mass(i) * f64::from(state.vel[i][k])).sum::<f64>() / total);
    for v in &mut state.vel {
        for k in 0..3 {
            v[k] -= drift[k] as f32;
        }
    }
}

/// Places the scenario's platelets (ids above every plasma id) and removes the plasma they
/// displace.
fn with_platelets(scenario: &Scenario, mut initial: Initial) -> Result<Initial, RunError> {
    let Some(cfg) = &scenario.platelets else { return Ok(initial) };
    let first = initial.state.tag.iter().copied().max().map_or(0, |t| t + 1);
    let set = cfg.build_set(first)?;
    let (state, removed) = set.carve(&initial.state, &initial.system, cfg.carve_margin);
    initial.state = state;
    initial.fluid -= removed;
    initial.platelets = Some(set);
    Ok(initial)
}

/// Opens the engine for `state` at `step` with `platelets` (None: plasma only), choosing as
/// [`open_engine`] does: `--backend gpu` runs platelets on any adapter, `auto` uses a hardware
/// GPU when there is one and the CPU otherwise.
pub fn open_with_platelets(
    backend: Backend,
    system: &DpdSystem,
    state: &ParticleState,
    step: u64,
    platelets: Option<&PlateletSet>,
) -> Result<Box<dyn Engine>, RunError> {
    Ok(open_on(gpu_context(backend)?, system, state, step, platelets)?)
}

/// An engine like `like` (the same backend and, on the GPU, the same device) for `state` at
/// `step` with `platelets`: what a run uses when it rebuilds its engine mid-run, so that the
/// rebuild neither chooses a backend again nor opens a second device. The new engine carries
/// `like`'s bounce-back counters on. Refused while `like` holds adhesion bonds: a platelet set
/// carries no bonds, so the rebuilt engine would silently drop them.
pub fn reopen(
    like: &mut dyn Engine,
    system: &DpdSystem,
    state: &ParticleState,
    step: u64,
    platelets: Option<&PlateletSet>,
) -> Result<Box<dyn Engine>, RunError> {
    if let Some(a) = like.adhesion_counts().filter(|a| a.platelet_bonds + a.wall_bonds > 0) {
        return Err(KernelError::InconsistentState(format!(
            "step {step}: the engine would be rebuilt (a platelet changing model or time step) while it holds {} adhesion bonds, which a rebuild cannot carry yet; coupling and adaptive stepping support platelets that do not adhere",
            a.platelet_bonds + a.wall_bonds
        ))
        .into());
    }
    let mut e = open_on(like.gpu_context(), system, state, step, platelets)?;
    e.add_wall_counts(like.wall_counts()?);
    Ok(e)
}

/// How often to print and sample, and what to write where.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Steps between thermo rows (also the read-back interval of the GPU).
    pub thermo_every: u64,
    /// Steps between samples of the observables.
    pub sample_every: u64,
    /// Folder for the run's files (thermo CSV, profiles, plots, trajectories); None: no files.
    pub out_dir: Option<PathBuf>,
    /// Trajectory frames (extended XYZ for OVITO, VTK PolyData + `.pvd` for ParaView).
    pub trajectory: Option<Trigger>,
    /// Binned fields (VTK image data + `.pvd`): density, velocity and kinetic stress accumulated
    /// at every thermo row and probe sample, written and reset when this fires.
    pub fields: Option<Trigger>,
    /// A reduced-model file for a coupled run (`--coupling-model`): used instead of learning
    /// one online.
    pub coupling_model: Option<PathBuf>,
    /// Where and how often to write checkpoints (None: never).
    pub checkpoint: Option<CheckpointPlan>,
    /// Continue from this checkpoint instead of fresh initial conditions.
    pub resume: Option<Checkpoint>,
    /// Set (to the signal's number) by a signal handler: the run writes a checkpoint at the next
    /// chunk boundary, at most [`MAX_CHUNK`] steps later, and stops.
    pub stop: Option<Arc<AtomicUsize>>,
    /// Bounds beyond which the run stops as blown up.
    pub limits: Limits,
    /// A fault to force into the run (tests of the fault checks).
    pub inject: Option<crate::faults::Injection>,
    /// Draw a progress bar (steps/s, particle-steps/s, ETA) on standard error: for a terminal;
    /// otherwise the thermo rows are the plain periodic progress lines.
    pub progress: bool,
}

/// Most steps between two looks at the stop flag, fault checks included.
pub const MAX_CHUNK: u64 = 500;

/// Where and how often a run writes checkpoints ([`crate::checkpoint`]).
#[derive(Clone, Debug)]
pub struct CheckpointPlan {
    /// Folder of the checkpoint files.
    pub dir: PathBuf,
    /// Steps between checkpoints (0: only at the end and when a signal stops the run).
    pub every: u64,
    /// What the caller needs to build the scenario again (stored in each file; the binary
    /// stores its `run` arguments).
    pub recipe: serde_json::Value,
}

impl RunOptions {
    /// About 20 thermo rows, samples every 10 steps, no files.
    pub fn for_steps(steps: u64) -> Self {
        Self {
            thermo_every: (steps / 20).max(1),
            sample_every: 10.min(steps.max(1)),
            out_dir: None,
            trajectory: None,
            fields: None,
            coupling_model: None,
            checkpoint: None,
            resume: None,
            stop: None,
            limits: Limits::default(),
            inject: None,
            progress: false,
        }
    }

    /// The options the scenario's [`Observers`](crate::observers::Observers) ask for: its
    /// output folder, thermo and sample intervals, trajectory and field triggers, checkpoints
    /// and bounds; [`RunOptions::for_steps`]'s defaults where it names none. A checkpoint plan
    /// made here records the scenario's name as its recipe (the binary records its arguments).
    pub fn for_scenario(scenario: &Scenario) -> Self {
        let o = &scenario.observers;
        let mut opts = Self::for_steps(scenario.steps);
        opts.thermo_every = o.thermo_every.unwrap_or(opts.thermo_every);
        opts.sample_every = o.sample_every.unwrap_or(opts.sample_every);
        opts.out_dir.clone_from(&o.dir);
        opts.trajectory.clone_from(&o.trajectory);
        opts.fields.clone_from(&o.fields);
        opts.limits = o.limits;
        opts.checkpoint = o.checkpoint.as_ref().map(|(dir, every)| CheckpointPlan {
            dir: dir.clone(),
            every: *every,
            recipe: serde_json::Value::String(scenario.name.clone()),
        });
        opts
    }
}

/// What a finished run produced.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// Backend name ("cpu", "gpu").
    pub backend: &'static str,
    /// Device name.
    pub adapter: String,
    /// Particles (fluid and frozen wall particles).
    pub particles: usize,
    /// Fluid particles.
    pub fluid_particles: usize,
    /// Frozen wall particles.
    pub wall_particles: usize,
    /// Steps of the run (from step 0, a resumed part included).
    pub steps: u64,
    /// The step the run resumed at (0: it started fresh); `wall_seconds` covers the steps after it.
    pub resumed_at: u64,
    /// Wall-clock seconds spent stepping (set-up excluded).
    pub wall_seconds: f64,
    /// Checkpoints this process wrote.
    pub checkpoints_written: usize,
    /// Wall-clock seconds spent writing them (part of `wall_seconds`).
    pub checkpoint_seconds: f64,
    /// Samples in order.
    pub samples: Vec<Observables>,
    /// Observables of the final state.
    pub last: Observables,
    /// Bounce-back counters (all zero without walls).
    pub wall_counts: WallCounts,
    /// The flow probe with its averages, when the scenario has one.
    pub probe: Option<FlowProbe>,
    /// The system that ran (walls included).
    pub system: DpdSystem,
    /// Adhesion events and bonds at the end (None without adhesion).
    pub adhesion: Option<AdhesionCounts>,
    /// Wall-clock seconds spent in the platelets' inner levels (part of `wall_seconds`), and in
    /// a coupled run also the coupling's own work.
    pub platelet_seconds: f64,
    /// The coupling at the end; None without coupling.
    pub coupling: Option<CouplingOutcome>,
    /// What adaptive stepping did; None without it.
    pub adaptive: Option<AdaptiveOutcome>,
    /// The decomposition and the traffic of all ranks (None on one rank).
    pub domain: Option<hemoscale_kernels::domain::DomainReport>,
}

/// What adaptive time stepping did in a run.
#[derive(Clone, Debug)]
pub struct AdaptiveOutcome {
    /// The scenario's interface factor.
    pub fine: u32,
    /// The coarse one.
    pub coarse: u32,
    /// Sub-steps, segments, switches and trials.
    pub counters: crate::adaptive::AdaptiveCounters,
    /// Rows harvested (0 unless harvesting).
    pub harvested: usize,
    /// Fraction of harvested segments where the coarse factor met the tolerance.
    pub coarse_label_fraction: Option<f64>,
}

/// What the coupling did in a run.
#[derive(Clone, Debug)]
pub struct CouplingOutcome {
    /// Models, counters and events.
    pub controller: hemoscale_coupling::Controller,
    /// Where the coupling's own time went.
    pub cost: crate::coupled::CouplingCost,
    /// Seconds the engines spent on fine platelets (their inner levels).
    pub fine_seconds: f64,
    /// Mean local shear rate the platelets saw (DPD units).
    pub mean_shear_rate: f64,
    /// Where the first model came from (see [`crate::coupled::Coupled::model_source`]).
    pub model_source: String,
}

impl RunOutcome {
    /// Particle-steps per second.
    pub fn particle_steps_per_second(&self) -> f64 {
        self.particles as f64 * self.timed_steps() as f64 / self.wall_seconds.max(1e-12)
    }
    /// Steps this process ran (the run's steps less those before the checkpoint it resumed from).
    pub fn timed_steps(&self) -> u64 {
        self.steps - self.resumed_at
    }
    /// Mean of `f` over the samples of the second half of the run (NaN without samples there).
    pub fn second_half_mean(&self, f: impl Fn(&Observables) -> f64) -> f64 {
        let first = self.samples.first().map_or(0, |s| s.step);
        let half = first.saturating_sub(1) + self.steps / 2;
        let tail: Vec<f64> = self.samples.iter().filter(|s| s.step > half).map(f).collect();
        tail.iter().sum::<f64>() / tail.len() as f64
    }
}

/// The run's files.
struct Writers {
    dir: PathBuf,
    thermo: ThermoCsv,
    xyz: Option<XyzWriter>,
    vtp: Option<VtpSeries>,
    vti: Option<VtiSeries>,
    grid: Option<FieldGrid>,
}

impl Writers {
    /// Opens the files fresh, or, for a run resumed at `resume`, keeps what was written up to
    /// that step and appends.
    fn open(dir: &Path, opts: &RunOptions, scenario: &Scenario, resume: Option<u64>) -> Result<Self, RunError> {
        std::fs::create_dir_all(dir)?;
        let traj = opts.trajectory.is_some();
        let fields = opts.fields.is_some();
        let l = scenario.sim_box.len.map(f64::from);
        // Bins of about 1 rc, at most 64 per axis.
        let bins = l.map(|x| (x.round() as usize).clamp(1, 64));
        let grid = if fields { Some(FieldGrid::new(l, bins)?) } else { None };
        if let Some(step) = resume {
            return Ok(Self {
                dir: dir.to_path_buf(),
                thermo: ThermoCsv::resume(dir.join("thermo.csv"), &THERMO_COLUMNS, step)?,
                xyz: if traj { Some(XyzWriter::resume(dir.join("trajectory.xyz"), step)?) } else { None },
                vtp: if traj { Some(VtpSeries::resume(dir.join("particles"), "particles", step)?) } else { None },
                vti: if fields { Some(VtiSeries::resume(dir.join("fields"), "fields", step)?) } else { None },
                grid,
            });
        }
        let thermo = ThermoCsv::create(dir.join("thermo.csv"), &THERMO_COLUMNS)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            thermo,
            xyz: if traj { Some(XyzWriter::create(dir.join("trajectory.xyz"))?) } else { None },
            vtp: if traj { Some(VtpSeries::create(dir.join("particles"), "particles")?) } else { None },
            vti: if fields { Some(VtiSeries::create(dir.join("fields"), "fields")?) } else { None },
            grid,
        })
    }
}

/// Columns of `thermo.csv`.
pub const THERMO_COLUMNS: [&str; 11] =
    ["step", "time", "temperature", "pressure", "pxx", "pyy", "pzz", "pxy", "pxz", "pyz", "kinetic_energy"];

fn thermo_row(o: &Observables, dt: f64) -> [f64; 11] {
    let p = o.pressure_tensor();
    [
        o.step as f64,
        o.step as f64 * dt,
        o.temperature(),
        o.pressure(),
        p[0],
        p[1],
        p[2],
        p[3],
        p[4],
        p[5],
        o.kinetic_energy(),
    ]
}

/// Runs `scenario` from fresh initial conditions, or from `opts.resume`, writing the thermo
/// table to `out`, sampling `probe` (flow scenarios) and writing the files and checkpoints `opts`
/// asks for. Stops with [`RunError::Blowup`] at the first fault ([`crate::faults`]), with
/// [`RunError::Interrupted`] when `opts.stop` is set, with [`RunError::WallLimit`] when the
/// scenario's wall-clock limit is spent.
///
/// ```
/// use hemoscale::dsl::{Backend, Scenario};
/// use hemoscale::run::{run, RunOptions};
///
/// let s = Scenario::builder("tiny").cubic_box(5.0).steps(20).backend(Backend::Cpu).build().unwrap();
/// let outcome = run(&s, &RunOptions::for_steps(20), None, &mut std::io::sink()).unwrap();
/// assert_eq!((outcome.particles, outcome.steps, outcome.samples.len()), (375, 20, 2));
/// assert!(outcome.last.is_finite());
/// ```
pub fn run(
    scenario: &Scenario,
    opts: &RunOptions,
    mut probe: Option<FlowProbe>,
    out: &mut dyn Write,
) -> Result<RunOutcome, RunError> {
    let began = Instant::now();
    let resumed = opts.resume.as_ref();
    let initial = match resumed {
        Some(c) => resumed_conditions(scenario, c)?,
        None => initial_conditions(scenario, scenario.backend)?,
    };
    let system = initial.system.clone();
    if let Some(u) = scenario.units {
        writeln!(
            out,
            "# units: 1 rc = {:.4} um, 1 time unit = {:.4e} s, 1 stress unit = {:.4} dyn/cm^2; dt = {:.4e} s, {} steps = {:.4e} s",
            u.length_um(),
            u.time,
            u.stress_to_dyn_cm2(1.0),
            u.time_to_s(f64::from(system.dt)),
            scenario.steps,
            u.time_to_s(f64::from(system.dt) * scenario.steps as f64)
        )?;
    }
    let start_step = resumed.map_or(0, |c| c.step);
    // Over several ranks every rank holds the same gathered state at output steps, and rank 0
    // alone writes files.
    let out_dir = opts.out_dir.as_ref().filter(|_| crate::ranks::is_root());
    // A resumed coupled run's engine holds the platelets that ran fine when it was saved.
    let saved_coupling = resumed.filter(|c| !c.coupling.is_empty());
    // A resumed adaptive-stepping run's engine runs the interface factor that was in force.
    let adaptive_run = scenario.platelets.as_ref().is_some_and(|c| c.adaptive.is_some());
    let engine_set = match (saved_coupling, &initial.platelets) {
        (Some(c), Some(base)) => {
            let mismatch = |why: String| CheckpointError::Mismatch { path: checkpoint_name(c), why };
            if adaptive_run {
                let mut set = base.clone();
                set.params.mts.interface = Adaptive::saved_interface(&c.coupling).map_err(mismatch)?;
                Some(set)
            } else {
                let fine = Coupled::saved_fine(&c.coupling).map_err(mismatch)?;
                crate::coupled::resumed_engine_set(base, &fine)?
            }
        }
        _ => initial.platelets.clone(),
    };
    let mut engine =
        open_with_platelets(scenario.backend, &initial.system, &initial.state, start_step, engine_set.as_ref())?;
    match resumed {
        // A checkpoint brings the forces of its last step along (the next half-kick needs them),
        // and the platelet levels' whole state.
        Some(c) => {
            if let Some(levels) = c.platelets.as_ref().and_then(|p| p.levels.as_ref()) {
                engine.restore_platelets(levels)?;
            }
        }
        None => engine.compute_forces()?,
    }
    let mut coupled: Option<Coupled> = None;
    let mut adaptive: Option<Adaptive> = None;
    if let (Some(cfg), Some(set)) = (&scenario.platelets, &initial.platelets) {
        let mut pp = PlateletProbe::new(cfg, &set.template, set.count, f64::from(system.dt));
        // Refuse a bad adaptive-stepping set-up, or a reduced model that is damaged or made for
        // another platelet, before the rest-stress calibration runs (half a minute of CPU).
        let decider = match cfg.adaptive {
            Some(a) => Some(adaptive_decider(a, set, opts, out)?),
            None => None,
        };
        let file_model = match (&cfg.coupling, &opts.coupling_model) {
            (Some(_), Some(path)) => {
                let refuse = |why: String| {
                    let mut e = crate::params::ValidationErrors::default();
                    e.push("--coupling-model", path.display(), why);
                    RunError::Invalid(e)
                };
                let m = hemoscale_coupling::ReducedModel::load(path).map_err(|e| refuse(e.to_string()))?;
                m.check_key(&model_key(scenario, cfg)).map_err(refuse)?;
                Some((m, path))
            }
            _ => None,
        };
        if let Some(saved) = resumed.and_then(|c| c.platelets.as_ref()) {
            // The rest stress comes back with the measurements: no calibration run.
            pp.restore(&saved.probe).map_err(|why| CheckpointError::Mismatch {
                path: resumed.map(checkpoint_name).unwrap_or_default(),
                why,
            })?;
        } else if cfg.calibration_steps > 0 {
            pp.rest = crate::platelets::calibrate_rest_stress(scenario, cfg)?;
            let u = cfg.units;
            writeln!(
                out,
                "# platelet rest stress (subtracted): membrane in-plane {:.4} normal {:.4}, traction in-plane {:.4} normal {:.4} (DPD units); noise floor over {} steps {:.0} dyn/cm^2",
                pp.rest.membrane[0],
                pp.rest.membrane[1],
                pp.rest.traction[0],
                pp.rest.traction[1],
                cfg.stress_window,
                u.stress_to_dyn_cm2(pp.rest.noise)
            )?;
        }
        if let Some(dir) = out_dir {
            pp.write_to(dir, opts.thermo_every, resumed.map(|c| c.step))?;
        }
        if let Some(c) = cfg.coupling {
            let mut cp = Coupled::new(c, set, &pp, cfg.carve_margin, &system, engine.step());
            if let Some((m, path)) = &file_model {
                cp.controller.load_model(m);
                cp.model_source = format!("file {}", path.display());
                writeln!(out, "# coupling: reduced model from {} ({})", path.display(), m.description)?;
            } else if c.use_shipped {
                let shipped = crate::shipped_models::shipped(&scenario.name, &model_key(scenario, cfg))
                    .map_err(|e| RunError::Io(std::io::Error::other(e)))?;
                match shipped {
                    Some((m, file)) => {
                        cp.controller.load_model(&m);
                        cp.model_source = format!("shipped {file}");
                        writeln!(out, "# coupling: shipped reduced model {file} ({})", m.description)?;
                    }
                    None => {
                        writeln!(out, "# coupling: no shipped model for this scenario and platelet; learning online")?
                    }
                }
            }
            if let Some(c) = saved_coupling {
                // Models, harvest, modes and counters as they were (they replace whatever model
                // was loaded above).
                cp.restore(&c.coupling).map_err(|why| CheckpointError::Mismatch { path: checkpoint_name(c), why })?;
                writeln!(
                    out,
                    "# coupling: state restored ({} of {} platelets fine)",
                    cp.fine.len(),
                    cp.controller.len()
                )?;
            }
            if let Some(dir) = out_dir {
                cp.write_to(dir, resumed.map(|c| c.step))?;
            }
            coupled = Some(cp);
        }
        if let (Some(a), Some(decider)) = (cfg.adaptive, decider) {
            adaptive = Some(Adaptive::new(
                a,
                set,
                &system,
                engine.step(),
                &pp.rest,
                decider,
                &scenario.name,
                model_key(scenario, cfg),
                cfg.sample_every,
            ));
            if let (Some(c), Some(a)) = (saved_coupling, adaptive.as_mut()) {
                a.restore(&c.coupling).map_err(|why| CheckpointError::Mismatch { path: checkpoint_name(c), why })?;
                writeln!(out, "# adaptive stepping: state restored (interface factor {})", a.current())?;
            }
        }
        probe.get_or_insert_with(|| FlowProbe::new(u64::MAX, u64::MAX)).platelets = Some(pp);
    }
    writeln!(
        out,
        "# {}: {} particles ({} fluid, {} wall), box {:?}, {} steps on {} ({})",
        scenario.name,
        engine.n_particles(),
        initial.fluid,
        initial.wall,
        scenario.sim_box.len,
        scenario.steps,
        engine.backend().name(),
        engine.device_name()
    )?;
    if let Some(c) = resumed {
        let from = c.path.as_ref().map_or_else(|| "memory".to_string(), |p| p.display().to_string());
        writeln!(out, "# resumed at step {} from {from}", c.step)?;
        tracing::info!(step = c.step, from = %from, "resumed");
    }
    let mut files = match out_dir {
        Some(dir) => Some(Writers::open(dir, opts, scenario, resumed.map(|c| c.step))?),
        None => None,
    };
    // Counters and accumulators continue where the checkpoint left them.
    // The engine counts from its start; a resumed run adds what the checkpoint had counted.
    let base = resumed.map_or_else(WallCounts::default, |c| c.counters.wall_counts());
    let mut samples = resumed.map_or_else(Vec::new, |c| c.samples.clone());
    if let Some(c) = resumed {
        let mismatch = |why: String| CheckpointError::Mismatch { path: checkpoint_name(c), why };
        let mut w = Words::new(&c.probe);
        if let Some(p) = probe.as_mut() {
            p.restore(&mut w).map_err(|e| mismatch(format!("flow probe: {e}")))?;
        }
        w.finish().map_err(|e| mismatch(format!("flow probe: {e}")))?;
        let mut w = Words::new(&c.fields);
        if let Some(g) = files.as_mut().and_then(|f| f.grid.as_mut()) {
            g.restore(&mut w).map_err(|e| mismatch(format!("field grid (--fields): {e}")))?;
        }
        w.finish().map_err(|e| mismatch(format!("field grid (--fields): {e}")))?;
    }
    let mut last_good = resumed.and_then(|c| c.path.clone());
    let limits = opts.limits;
    let dt = f64::from(system.dt);
    let type_names: Vec<String> = system.types.iter().map(|t| t.name.clone()).collect();
    let masses: Vec<f64> = system.types.iter().map(|t| if t.frozen { 0.0 } else { f64::from(t.mass) }).collect();
    writeln!(out, "{:>10} {:>12} {:>12} {:>12} {:>10}", "step", "temperature", "pressure", "steps/s", "ETA")?;
    let bar = (opts.progress && crate::ranks::is_root())
        .then(|| progress_bar(scenario.steps, start_step, engine.n_particles()));
    let start = Instant::now();
    let mut since_row = Instant::now();
    let mut steps_since_row = 0u64;
    let every = opts.thermo_every.max(1);
    let end = scenario.steps;
    let checkpoint_due =
        |s: u64| opts.checkpoint.as_ref().is_some_and(|c| s == end || (c.every > 0 && s % c.every == 0));
    let inject_due = |s: u64| opts.inject.is_some_and(|i| i.step == s);
    // Checkpoints written and the wall-clock seconds they took (part of `wall_seconds`).
    let checkpoint_cost = std::cell::Cell::new((0usize, 0.0f64));
    let ckpt = |engine: &mut dyn Engine,
                samples: &[Observables],
                probe: &Option<FlowProbe>,
                files: &Option<Writers>,
                (coupled, adaptive): (&Option<Coupled>, &Option<Adaptive>)| {
        let plan = opts.checkpoint.as_ref().expect("checked by the caller");
        let grid = files.as_ref().and_then(|f| f.grid.as_ref());
        let _timed = Timed(&checkpoint_cost, Instant::now());
        write_checkpoint(
            engine,
            scenario,
            plan,
            (base, initial.fluid, initial.wall, initial.platelets.as_ref().and_then(|s| s.tag.first().copied())),
            samples,
            probe.as_ref(),
            grid,
            &limits,
            coupling_state(coupled, adaptive),
        )
    };
    while engine.step() < end {
        let step0 = engine.step();
        // Variants change the driving at their change points, a function of the step alone, so
        // a resumed run sets the same values at the same steps. Compared with the engine's own
        // system rather than a copy: an engine rebuilt by coupling or adaptive stepping starts
        // from the scenario's base values and is set again here.
        let wanted = scenario.driving_at(step0);
        if wanted != Driving::of(engine.system()) {
            engine.set_driving(wanted)?;
            tracing::debug!(step = step0, ?wanted, "driving changed");
        }
        // Rows at multiples of `thermo_every` and at the end.
        let row_at = ((step0 / every + 1) * every).min(end);
        let limit = row_at.min(step0 + MAX_CHUNK).min(scenario.next_driving_change(step0).unwrap_or(u64::MAX));
        let platelets_due = |s: u64| probe.as_ref().and_then(|p| p.platelets.as_ref()).is_some_and(|p| p.due(s));
        let state_due = |s: u64| {
            probe.as_ref().is_some_and(|p| p.due(s))
                || opts.trajectory.as_ref().is_some_and(|t| t.fires(s))
                || opts.fields.as_ref().is_some_and(|t| t.fires(s))
        };
        let next = (step0 + 1..=limit)
            .find(|&s| state_due(s) || platelets_due(s) || checkpoint_due(s) || inject_due(s))
            .unwrap_or(limit);
        let chunk = next - step0;
        let got = engine.run(chunk, opts.sample_every)?;
        tracing::debug!(from = step0, steps = chunk, samples = got.len(), "chunk");
        steps_since_row += chunk;
        if let Some(b) = &bar {
            b.set_position(engine.step());
            let rate = (engine.step() - start_step) as f64 / start.elapsed().as_secs_f64().max(1e-9);
            b.set_message(format!("{rate:.0} steps/s  {:.3e} particle-steps/s", rate * engine.n_particles() as f64));
        }
        if let Some(bad) = got.iter().find(|o| !o.is_finite()) {
            let what = "non-finite velocity or force";
            return Err(blown(engine.as_mut(), &system, &limits, bad.step, what.into(), &last_good));
        }
        if let Some((hot, t)) =
            limits.max_temperature.and_then(|t| got.iter().find(|o| o.temperature() > t).map(|o| (o, t)))
        {
            let what = format!("temperature {:.6} above the bound --max-temperature {t}", hot.temperature());
            return Err(blown(engine.as_mut(), &system, &limits, hot.step, what, &last_good));
        }
        samples.extend(got.iter().copied());
        let step = engine.step();
        let (sdue, pdue) = (state_due(step), platelets_due(step));
        if let (true, Some(c), Some(pp)) = (pdue, coupled.as_mut(), probe.as_mut().and_then(|p| p.platelets.as_mut())) {
            c.sample(&mut engine, pp, scenario.vessel.as_ref().map(|v| &v.shape))?;
        } else if pdue {
            if let (Some(ps), Some(pp)) = (engine.platelet_state()?, probe.as_mut().and_then(|p| p.platelets.as_mut()))
            {
                // Measured once: the probe records it, adaptive stepping reads its features.
                let measured = pp.measure(&ps);
                pp.record(step, &measured, ps.stress_steps, Some(&ps))?;
                // Stress-activated platelets become adhesive (a no-op for those already so).
                let flags = pp.activated_flags();
                if flags.iter().any(|&a| a) {
                    engine.activate_platelets(&flags)?;
                }
                if let Some(a) = adaptive.as_mut() {
                    a.sample(&mut engine, pp, &ps, &measured, &flags)?;
                }
            }
        }
        if sdue {
            let state = engine.state()?;
            if let Some(p) = probe.as_mut().filter(|p| p.due(step)) {
                let counts = if p.wall_shear.is_some() { base.plus(engine.wall_counts()?) } else { base };
                p.sample(&system, &state, step, counts)?;
            }
            if let Some(f) = files.as_mut() {
                if let Some(g) = f.grid.as_mut() {
                    g.accumulate(
                        &state.pos,
                        &state.vel,
                        Masses::ByType { type_ids: &state.type_id, masses: &masses },
                        None,
                    )?;
                }
                let frame = Frame {
                    step,
                    time: step as f64 * dt,
                    box_lengths: system.sim_box.len.map(f64::from),
                    positions: &state.pos,
                    velocities: &state.vel,
                    type_ids: &state.type_id,
                    tags: &state.tag,
                    type_names: &type_names,
                };
                if opts.trajectory.as_ref().is_some_and(|t| t.fires(step)) {
                    if let Some(x) = f.xyz.as_mut() {
                        x.write_frame(&frame)?;
                    }
                    if let Some(v) = f.vtp.as_mut() {
                        let _ = v.write_frame(&frame)?;
                    }
                }
                if opts.fields.as_ref().is_some_and(|t| t.fires(step)) {
                    if let (Some(g), Some(v)) = (f.grid.as_mut(), f.vti.as_mut()) {
                        if g.samples() > 0 {
                            let _ = v.write_fields(step, step as f64 * dt, &g.finish()?)?;
                            g.reset();
                        }
                    }
                }
            }
        }
        if step == row_at {
            // The row shows the state at its step: the last sample when it is that step's,
            // otherwise one extra reduction (rows are output steps; nothing is read back in
            // between).
            let row = match got.last() {
                Some(o) if o.step == step => *o,
                _ => engine.observables()?,
            };
            if !row.is_finite() {
                let what = "non-finite velocity or force".to_string();
                return Err(blown(engine.as_mut(), &system, &limits, step, what, &last_good));
            }
            let counts = base.plus(engine.wall_counts()?);
            if counts.leaked > 0 {
                let what = format!(
                    "{} time(s) a particle ended a step inside a wall (bounce-back could not return it): lower dt or the driving force",
                    counts.leaked
                );
                return Err(blown(engine.as_mut(), &system, &limits, step, what, &last_good));
            }
            if limits.max_speed.is_some() {
                if let Some(bad) = first_bad_particle(&system, &engine.state()?, &limits) {
                    return Err(RunError::Blowup { step, what: bad, checkpoint: last_good });
                }
            }
            let rate = steps_since_row as f64 / since_row.elapsed().as_secs_f64().max(1e-9);
            (since_row, steps_since_row) = (Instant::now(), 0);
            let eta = (end - step) as f64 / rate;
            let line = format!(
                "{:>10} {:>12.5} {:>12.5} {:>12.1} {:>9.1}s",
                step,
                row.temperature(),
                row.pressure(),
                rate,
                eta
            );
            match &bar {
                Some(b) => b.suspend(|| writeln!(out, "{line}"))?,
                None => writeln!(out, "{line}")?,
            }
            if let Some(f) = files.as_mut() {
                f.thermo.write_row(&thermo_row(&row, dt))?;
            }
        }
        if checkpoint_due(step) {
            match ckpt(engine.as_mut(), &samples, &probe, &files, (&coupled, &adaptive)) {
                Ok(path) => {
                    tracing::info!(step, path = %path.display(), "checkpoint written");
                    last_good = Some(path);
                }
                Err(RunError::Blowup { step, what, .. }) => {
                    return Err(RunError::Blowup { step, what, checkpoint: last_good })
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(i) = opts.inject.filter(|i| i.step == step) {
            inject(engine.as_mut(), &system, i.fault)?;
            tracing::warn!(step, fault = ?i.fault, "fault injected");
            writeln!(out, "# injected fault {:?} at step {step}", i.fault)?;
        }
        let mut signal = opts.stop.as_ref().map_or(0, |f| f.load(Ordering::SeqCst));
        let mut out_of_time = scenario.wall_limit.is_some_and(|l| step < end && began.elapsed().as_secs_f64() > l);
        if let Some(ranks) = crate::ranks::current() {
            // Each rank sees the signal and its clock at its own moment; they must stop together.
            let agreed = ranks.agree_max(&[signal as f64, f64::from(u8::from(out_of_time))])?;
            (signal, out_of_time) = (agreed[0] as usize, agreed[1] > 0.0);
        }
        let signal = Some(signal).filter(|&s| s != 0);
        let out_of_time = scenario.wall_limit.filter(|_| out_of_time);
        // A signal, else the wall-clock limit: (signal, limit).
        if let Some((signal, limit)) = signal.map(|g| (Some(g), 0.0)).or(out_of_time.map(|l| (None, l))) {
            let checkpoint = match &opts.checkpoint {
                Some(_) if !checkpoint_due(step) => {
                    Some(ckpt(engine.as_mut(), &samples, &probe, &files, (&coupled, &adaptive))?)
                }
                Some(_) => last_good,
                None => None,
            };
            return Err(match signal {
                Some(signal) => RunError::Interrupted { signal, step, checkpoint },
                None => RunError::WallLimit { limit, step, checkpoint },
            });
        }
    }
    let wall_seconds = start.elapsed().as_secs_f64();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let (written, checkpoint_seconds) = checkpoint_cost.get();
    if written > 0 {
        writeln!(
            out,
            "# {written} checkpoint(s) written in {checkpoint_seconds:.3} s ({:.2} % of the stepping time)",
            100.0 * checkpoint_seconds / wall_seconds.max(1e-12)
        )?;
    }
    let last = engine.observables()?;
    if !last.is_finite() {
        let what = "non-finite velocity or force".to_string();
        return Err(blown(engine.as_mut(), &system, &limits, last.step, what, &last_good));
    }
    let wall_counts = base.plus(engine.wall_counts()?);
    let domain = engine.domain_report()?;
    if let (Some(f), Some(p)) = (files.as_ref(), probe.as_ref()) {
        write_profiles(&f.dir, p)?; // rank 0 only: the others have no writers
    }
    if let Some(pp) = probe.as_mut().and_then(|p| p.platelets.as_mut()) {
        let _ = pp.finish()?;
    }
    if let (Some(c), Some(cfg), Some(dir)) = (&coupled, &scenario.platelets, out_dir) {
        // A loaded model is never refitted (`Controller::load_model`): what is saved is what came in.
        let what = if c.model_source == "online" {
            format!("learned online in {} ({} steps, seed {})", scenario.name, scenario.steps, scenario.seed)
        } else {
            format!(
                "as loaded ({}) in {} ({} steps, seed {})",
                c.model_source, scenario.name, scenario.steps, scenario.seed
            )
        };
        let key = model_key(scenario, cfg);
        let save_err = |e: hemoscale_surrogates::SurrogateError| std::io::Error::other(e.to_string());
        if let Some(m) = c.controller.model(key.clone(), what) {
            m.save(&dir.join("coupling_model.hsr")).map_err(save_err)?;
        }
        let harvest = c.controller.harvest();
        if !harvest.is_empty() {
            let run = format!(
                "{} {} steps seed {} shear rate {:.4e} 1/s",
                scenario.name,
                scenario.steps,
                scenario.seed,
                cfg.units.rate_to_si(c.shear_rate_sum.0 / c.shear_rate_sum.1.max(1) as f64)
            );
            harvest.to_dataset(&key, &[run]).save(&dir.join("coupling_harvest.hsd")).map_err(save_err)?;
        }
        crate::coupled::write_events(&dir.join("coupling_events.csv"), &c.controller, cfg.units)?;
    }
    if let (Some(h), Some(dir)) = (adaptive.as_ref().and_then(|a| a.harvest.as_ref()), out_dir) {
        if !h.is_empty() {
            let save_err = |e: hemoscale_surrogates::SurrogateError| std::io::Error::other(e.to_string());
            h.to_dataset().save(&dir.join("ats_harvest.hsd")).map_err(save_err)?;
        }
    }
    Ok(RunOutcome {
        backend: engine.backend().name(),
        adapter: engine.device_name(),
        particles: engine.n_particles(),
        fluid_particles: initial.fluid,
        wall_particles: initial.wall,
        steps: scenario.steps,
        resumed_at: start_step,
        checkpoints_written: written,
        checkpoint_seconds,
        wall_seconds,
        samples,
        last,
        wall_counts,
        probe,
        system,
        adhesion: engine.adhesion_counts(),
        platelet_seconds: match (&coupled, &adaptive) {
            (Some(c), _) => c.platelet_seconds(engine.as_ref()),
            (None, Some(a)) => a.platelet_seconds(engine.as_ref()),
            (None, None) => engine.platelet_seconds(),
        },
        adaptive: adaptive.map(|a| AdaptiveOutcome {
            fine: a.fine,
            coarse: a.coarse(),
            harvested: a.harvest.as_ref().map_or(0, |h| h.len()),
            coarse_label_fraction: a.harvest.as_ref().map(|h| h.coarse_fraction()),
            counters: a.counters,
        }),
        coupling: coupled.map(|c| CouplingOutcome {
            fine_seconds: c.fine_seconds(engine.as_ref()),
            mean_shear_rate: c.shear_rate_sum.0 / c.shear_rate_sum.1.max(1) as f64,
            model_source: c.model_source,
            cost: c.cost,
            controller: c.controller,
        }),
        domain,
    })
}

/// A bar over the run's steps, starting at `at`, with the ETA (indicatif's estimate) and, in its
/// message, steps/s and particle-steps/s since the run (re)started.
fn progress_bar(steps: u64, at: u64, particles: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(Some(steps), indicatif::ProgressDrawTarget::stderr());
    let style = indicatif::ProgressStyle::with_template("{bar:32.cyan/blue} {pos}/{len} steps  ETA {eta}  {msg}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_position(at);
    bar.reset_eta();
    bar.set_message(format!("{particles} particles"));
    bar
}

/// Adds the time since its start to a checkpoint cost counter when dropped (whichever way the
/// write ended).
struct Timed<'a>(&'a std::cell::Cell<(usize, f64)>, Instant);

impl Drop for Timed<'_> {
    fn drop(&mut self) {
        let (n, t) = self.0.get();
        self.0.set((n + 1, t + self.1.elapsed().as_secs_f64()));
    }
}

/// The coupling state a checkpoint keeps: a coupled run's or an adaptive-stepping run's (they
/// exclude each other), empty for neither.
fn coupling_state(coupled: &Option<Coupled>, adaptive: &Option<Adaptive>) -> Vec<u8> {
    match (coupled, adaptive) {
        (Some(c), _) => c.save(),
        (None, Some(a)) => a.save(),
        (None, None) => Vec::new(),
    }
}

/// How a checkpoint is named in messages.
fn checkpoint_name(c: &Checkpoint) -> String {
    c.path.as_ref().map_or_else(|| "checkpoint in memory".to_string(), |p| p.display().to_string())
}

/// The system and particles of `scenario` from checkpoint `c`, refused when `c` was written by
/// another scenario (name or physics) or lies beyond the run's end.
fn resumed_conditions(scenario: &Scenario, c: &Checkpoint) -> Result<Initial, RunError> {
    let mismatch = |why: String| CheckpointError::Mismatch { path: checkpoint_name(c), why };
    if c.scenario != scenario.name {
        return Err(mismatch(format!("written by scenario {:?}, not {:?}", c.scenario, scenario.name)).into());
    }
    if c.fingerprint != scenario.fingerprint() {
        return Err(mismatch(
            "written by a run whose physics differs (keys, seed, geometry or platelets); resume with the same scenario settings".into(),
        )
        .into());
    }
    if c.step > scenario.steps {
        return Err(mismatch(format!("at step {}, beyond the run's {} steps", c.step, scenario.steps)).into());
    }
    let system = if scenario.vessel.is_some() {
        scenario
            .walled_system()
            .ok_or_else(|| KernelError::InconsistentState("the vessel's distance field could not be sampled".into()))?
    } else {
        scenario.system()
    };
    let platelets = match (&scenario.platelets, &c.platelets) {
        (Some(cfg), Some(p)) => Some(cfg.build_set(p.first_tag)?),
        (None, None) => None,
        _ => return Err(mismatch("platelets in one of the run and the checkpoint but not the other".into()).into()),
    };
    let initial = Initial { system, state: c.state.clone(), fluid: c.counters.fluid, wall: c.counters.wall, platelets };
    initial.state.check(&initial.system).map_err(|e| mismatch(e.to_string()))?;
    Ok(initial)
}

/// Writes a checkpoint of the engine's current state with the run's samples and accumulators,
/// after checking that the state is good (no fault, [`first_bad_particle`]; no particle inside
/// a wall): a bad state is reported as a blow-up and never written, so the last checkpoint on
/// disk stays the last good one.
#[allow(clippy::too_many_arguments)]
fn write_checkpoint(
    engine: &mut dyn Engine,
    scenario: &Scenario,
    plan: &CheckpointPlan,
    (base, fluid, wall, first_platelet_tag): (WallCounts, usize, usize, Option<u32>),
    samples: &[Observables],
    probe: Option<&FlowProbe>,
    grid: Option<&FieldGrid>,
    limits: &Limits,
    coupling: Vec<u8>,
) -> Result<PathBuf, RunError> {
    let step = engine.step();
    let state = engine.state()?;
    let counts = base.plus(engine.wall_counts()?);
    if let Some(bad) = first_bad_particle(engine.system(), &state, limits) {
        return Err(RunError::blowup(step, format!("checkpoint not written: {bad}")));
    }
    if counts.leaked > 0 {
        return Err(RunError::blowup(
            step,
            format!("checkpoint not written: {} particle(s) leaked into a wall", counts.leaked),
        ));
    }
    let mut counters = Counters { fluid, wall, ..Counters::default() };
    counters.set_wall_counts(counts);
    let mut c = Checkpoint::new(&scenario.name, scenario.fingerprint(), plan.recipe.clone(), step, state, counters);
    c.samples = samples.to_vec();
    if let Some(first_tag) = first_platelet_tag {
        let pp = probe.and_then(|p| p.platelets.as_ref()).expect("a run with platelets measures them");
        c.platelets = Some(PlateletCheckpoint { first_tag, levels: engine.platelet_snapshot()?, probe: pp.save() });
    }
    c.coupling = coupling;
    if let Some(p) = probe {
        p.save(&mut c.probe);
    }
    if let Some(g) = grid {
        g.save(&mut c.fields);
    }
    if !crate::ranks::is_root() {
        // Every rank built the same checkpoint from the gathered state; rank 0 writes it.
        return Ok(plan.dir.join(Checkpoint::file_name(step)));
    }
    Ok(c.write(&plan.dir)?)
}

/// The network of an adaptive-stepping run (None when harvesting): checks the coarse factor
/// against the scenario's and loads `--coupling-model`, refusing what does not fit.
fn adaptive_decider(
    a: crate::adaptive::AdaptiveConfig,
    set: &hemoscale_kernels::platelet_set::PlateletSet,
    opts: &RunOptions,
    out: &mut dyn Write,
) -> Result<Option<hemoscale_coupling::adaptive::AtsDecider>, RunError> {
    let invalid = |field: &str, value: &dyn std::fmt::Display, why: String| {
        let mut e = crate::params::ValidationErrors::default();
        e.push(field, value, why);
        RunError::Invalid(e)
    };
    let fine = set.params.mts.interface;
    if a.coarse >= fine {
        return Err(invalid(
            "ats_coarse",
            &a.coarse,
            format!("must be below mts_interface ({fine}): it is the coarser level"),
        ));
    }
    if a.harvest {
        writeln!(
            out,
            "# coupling: adaptive stepping harvest, noise-free trials at interface {fine} and {} every {} samples",
            a.coarse, a.segment
        )?;
        return Ok(None);
    }
    let Some(path) = &opts.coupling_model else {
        return Err(invalid(
            "coupling",
            &"adaptive",
            "needs a network: --coupling-model FILE (a `hemoscale train` model of an ats_harvest.hsd), or --set ats_harvest=1 to harvest its training data".into(),
        ));
    };
    let refuse = |why: String| invalid("--coupling-model", &path.display(), why);
    let m = hemoscale_surrogates::model::Model::load(path).map_err(|e| refuse(e.to_string()))?;
    let d = hemoscale_coupling::adaptive::AtsDecider::new(m, a.window, a.margin, a.max_jump).map_err(refuse)?;
    writeln!(
        out,
        "# coupling: adaptive stepping, interface {fine} or {} sub-steps, network {}",
        a.coarse,
        path.display()
    )?;
    Ok(Some(d))
}

/// What a reduced model of the platelets of `cfg` in `scenario` is valid for.
fn model_key(scenario: &Scenario, cfg: &crate::platelets::PlateletsConfig) -> hemoscale_coupling::ModelKey {
    hemoscale_coupling::ModelKey {
        aspect_ratio: f64::from(cfg.spec.aspect_ratio),
        resolution: u64::from(cfg.spec.resolution),
        stiffness: cfg.stiffness_key(scenario.kt),
        kt: f64::from(scenario.kt),
        interface_gamma: f64::from(cfg.params.interface.gamma),
    }
}

/// Writes every profile of `probe` as `profile_NAME.csv` and two PNG plots (velocity, density).
fn write_profiles(dir: &Path, probe: &FlowProbe) -> Result<(), RunError> {
    for p in &probe.profiles {
        let Ok(data) = p.profile.finish() else { continue };
        let position = match p.profile.geometry() {
            ProfileGeometry::Along(axis) => ["x", "y", "z"][axis.index()],
            ProfileGeometry::Radial { .. } => "r",
        };
        data.write_csv(dir.join(format!("profile_{}.csv", p.name)), position)?;
        let v = data.velocity_points();
        if !v.is_empty() {
            plot_profile(
                dir.join(format!("profile_{}_velocity.png", p.name)),
                &format!("{}: mean velocity ({} samples)", p.name, data.samples),
                position,
                "v_x",
                &[Series::points("measured", v)],
            )?;
        }
        plot_profile(
            dir.join(format!("profile_{}_density.png", p.name)),
            &format!("{}: number density ({} samples)", p.name, data.samples),
            position,
            "density",
            &[Series::line("measured", data.density_points())],
        )?;
    }
    Ok(())
}
