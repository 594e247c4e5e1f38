//! The interface both backends implement. The scenario layer drives an engine through it and never
//! knows which backend it has.
//!
//! A body force switched on through [`Driving`] before the first step: pair forces conserve
//! momentum, so after `t = 20 dt` the fluid carries exactly the impulse `N f t` of the body force
//! (up to f32 rounding).
//!
//! ```
//! use hemoscale_kernels::{init, BackendKind, CpuEngine, DpdSystem, Driving, Engine, SimBox};
//!
//! let system = DpdSystem::standard(SimBox::cubic(3.0), 5);
//! let state = init::random_fluid(&system, 81);
//! let mut engine: Box<dyn Engine> = Box::new(CpuEngine::new(&system, &state, 0)?);
//! assert_eq!(engine.backend(), BackendKind::Cpu);
//! let push = Driving { body_force: [0.5, 0.0, 0.0], ..Driving::of(engine.system()) };
//! engine.set_driving(push)?;
//! engine.compute_forces()?;
//! engine.run(20, 0)?;
//! let px = engine.observables()?.momentum[0];
//! assert!((px - 81.0 * 0.5 * 0.2).abs() < 1e-3, "{px}");
//! // A wall speed needs walls, and this box has none.
//! assert!(engine.set_driving(Driving { wall_speed: 1.0, ..push }).is_err());
//! # Ok::<(), hemoscale_kernels::KernelError>(())
//! ```

use crate::adhesion::AdhesionCounts;
use crate::error::Result;
use crate::observables::Observables;
use crate::platelet_set::PlateletState;
use crate::state::ParticleState;
use crate::system::DpdSystem;
use crate::walls::WallCounts;

/// Which backend an engine runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// Native CPU (rayon threads, f32).
    Cpu,
    /// wgpu compute shaders.
    Gpu,
}

impl BackendKind {
    /// Lower-case name used in outputs ("cpu", "gpu").
    pub fn name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Gpu => "gpu",
        }
    }
}

/// One pass of a step, for benchmarks that time kernels separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// Cell assignment and counting sort (count, prefix sum, scatter).
    CellList,
    /// DPD forces and the second half-kick.
    Forces,
    /// First half-kick and drift.
    Integrate,
    /// One whole step (all of the above).
    Step,
    /// The halo exchange of a domain-decomposed run ([`crate::domain`]; nothing on one rank).
    Halo,
    /// The migration scan and its messages (decomposed runs; nothing on one rank).
    Migrate,
}

/// The parameters a run may change while it runs (as HOOMD-blue's variants change them): the
/// body force, the temperature and the speed of moving walls.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Driving {
    /// Body force per particle.
    pub body_force: [f32; 3],
    /// Temperature kT (the dissipative–random pair's noise amplitude follows it).
    pub kt: f32,
    /// Speed of the top wall relative to the bottom one (0 without moving walls).
    pub wall_speed: f32,
}

impl Driving {
    /// The driving `system` was built with.
    pub fn of(system: &DpdSystem) -> Self {
        Self {
            body_force: system.body_force,
            kt: system.kt,
            wall_speed: system.walls.as_ref().map_or(0.0, |w| w.motion.speed),
        }
    }

    /// `system` with this driving, validated (a wall speed needs walls).
    pub fn applied_to(&self, system: &DpdSystem) -> Result<DpdSystem> {
        let mut s = system.clone();
        s.body_force = self.body_force;
        s.kt = self.kt;
        match s.walls.as_mut() {
            Some(w) => w.motion.speed = self.wall_speed,
            None if self.wall_speed != 0.0 => {
                return Err(crate::error::KernelError::invalid("wall_speed", self.wall_speed, "needs walls"))
            }
            None => {}
        }
        if !self.wall_speed.is_finite() {
            return Err(crate::error::KernelError::invalid("wall_speed", self.wall_speed, "must be finite"));
        }
        s.validate()?;
        Ok(s)
    }
}

/// A DPD simulation that can be advanced and observed.
pub trait Engine {
    /// The backend.
    fn backend(&self) -> BackendKind;
    /// Human-readable name of the device ("native CPU, 2 threads", "llvmpipe (LLVM 15.0.6, 256 bits)").
    fn device_name(&self) -> String;
    /// The system the engine was built for.
    fn system(&self) -> &DpdSystem;
    /// Number of particles.
    fn n_particles(&self) -> usize;
    /// Steps completed so far (the step index of the current state).
    fn step(&self) -> u64;
    /// Recomputes forces (and the virial) from the current positions and velocities. Needed once
    /// for fresh initial conditions; a resumed state brings its forces along.
    fn compute_forces(&mut self) -> Result<()>;
    /// Advances `steps` steps. After every step whose index is a multiple of `sample_every`
    /// (0: never) the observables are sampled; they are returned in order. The GPU engine records
    /// all steps in one submission and reads the samples back once at the end.
    fn run(&mut self, steps: u64, sample_every: u64) -> Result<Vec<Observables>>;
    /// Observables of the current state.
    fn observables(&mut self) -> Result<Observables>;
    /// Bounce-back counters since the engine was built (zero without walls), plus what
    /// [`Engine::add_wall_counts`] carried over.
    fn wall_counts(&mut self) -> Result<WallCounts>;
    /// Adds `earlier` to the counters: an engine that replaces another mid-run (a coupled run
    /// moving a platelet between models) carries its predecessor's counts, so leaks and wall
    /// impulses are never lost across the rebuild.
    fn add_wall_counts(&mut self, earlier: WallCounts);
    /// Copies the particle state back to the host (in the engine's memory order).
    fn state(&mut self) -> Result<ParticleState>;
    /// Overwrites the positions, velocities and forces of the particles in place with those of
    /// `state`, which must hold the same particles in the memory order [`Engine::state`] returns
    /// (types and tags are checked, values are not). For tools that edit a running system and for
    /// tests that inject faults (a NaN velocity, a particle inside a wall) to check they are
    /// caught.
    fn overwrite(&mut self, state: &ParticleState) -> Result<()>;
    /// Changes the body force, temperature and wall speed from the next step on (the state is
    /// untouched). Platelet levels follow: their interface noise takes the new temperature and
    /// their bounce-back the new wall speed (the body force drives the plasma alone, as it always
    /// does).
    fn set_driving(&mut self, driving: Driving) -> Result<()>;
    /// The platelet levels' dynamic state for a checkpoint: None without platelets. Every engine
    /// must provide it (no default), so a run with platelets can always be checkpointed; both
    /// engines export the same snapshot, so a run may resume on the other backend.
    fn platelet_snapshot(&mut self) -> Result<Option<crate::mts::PlateletSnapshot>>;
    /// Restores what [`Engine::platelet_snapshot`] returned into an engine built from the same
    /// platelet set and plasma state.
    fn restore_platelets(&mut self, snapshot: &crate::mts::PlateletSnapshot) -> Result<()>;
    /// Platelet particles (positions, velocities, interface forces); None without platelets.
    fn platelet_state(&mut self) -> Result<Option<PlateletState>> {
        Ok(None)
    }
    /// Marks platelets activated (`true` entries; activation is never undone): activated
    /// platelets adhere ([`crate::adhesion`]). An error without platelets.
    fn activate_platelets(&mut self, activated: &[bool]) -> Result<()> {
        let _ = activated;
        Err(crate::error::KernelError::invalid("platelets", 0, "this engine has no platelets to activate"))
    }
    /// Wall-clock seconds spent advancing the platelets' inner time-step levels so far (0 without
    /// platelets): the platelet share of a run's cost. The GPU engine counts their time on the
    /// device (timestamp queries) and its host's per-step share; NaN on a device without
    /// timestamp queries.
    fn platelet_seconds(&self) -> f64 {
        0.0
    }
    /// The GPU device this engine runs on (None on the CPU): an engine rebuilt from this one's
    /// state opens on the same device.
    fn gpu_context(&self) -> Option<crate::gpu::GpuContext> {
        None
    }
    /// The domain decomposition and the halo and migration traffic of all ranks together
    /// (collective); None for an engine that runs the whole box alone.
    fn domain_report(&mut self) -> Result<Option<crate::domain::DomainReport>> {
        Ok(None)
    }
    /// Adhesion events and bonds; None without platelets or adhesion.
    fn adhesion_counts(&self) -> Option<AdhesionCounts> {
        None
    }
    /// Runs one pass `repeats` times and waits for it to finish (benchmarks only; running passes
    /// out of order leaves the state physically meaningless).
    fn bench_pass(&mut self, pass: Pass, repeats: u32) -> Result<()>;
}
