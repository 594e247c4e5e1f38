//! `hemoscale bench`: whole-step throughput after a warm-up, in particle-steps per second (the unit
//! of BENCHMARKS.md, and LAMMPS's N x steps / loop time), for the periodic DPD fluid and for the
//! same fluid inside walls (`tube`, `stenosis`) at the same particle count, so the cost of walls
//! (bounce-back, the near-wall force, frozen particles in the force loop) shows directly.

use std::time::Instant;

use hemoscale_kernels::geometry::{SdfGrid, Shape};

use crate::dsl::{Backend, Scenario, MAX_SDF_POINTS};
use crate::run::{initial_conditions, open_engine, Initial, RunError};
use crate::scenarios::vessel::DEFAULT_NEAR_WALL_FORCE;

/// What a benchmark runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchSetup {
    /// The standard DPD fluid in a periodic cube.
    Dpd,
    /// The same fluid in a tube (length 4 (R + 1)) with walls one rc thick.
    Tube,
    /// The same fluid in a tube with a 67 % stenosis of length 2 R.
    Stenosis,
}

impl std::str::FromStr for BenchSetup {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "dpd" => Ok(Self::Dpd),
            "tube" => Ok(Self::Tube),
            "stenosis" => Ok(Self::Stenosis),
            _ => Err(format!("unknown benchmark {s:?}; available: dpd, tube, stenosis")),
        }
    }
}

impl BenchSetup {
    /// Name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Dpd => "dpd",
            Self::Tube => "tube",
            Self::Stenosis => "stenosis",
        }
    }
}

/// Result of one benchmark.
#[derive(Clone, Debug)]
pub struct BenchOutcome {
    /// Backend name.
    pub backend: &'static str,
    /// Device name.
    pub adapter: String,
    /// Particles (fluid and frozen wall particles).
    pub particles: usize,
    /// Frozen wall particles among them.
    pub wall_particles: usize,
    /// Timed steps.
    pub steps: u64,
    /// Seconds for the timed steps (the GPU queue drained inside the timing).
    pub wall_seconds: f64,
}

impl BenchOutcome {
    /// Particle-steps per second.
    pub fn particle_steps_per_second(&self) -> f64 {
        self.particles as f64 * self.steps as f64 / self.wall_seconds.max(1e-12)
    }
}

const RHO: f64 = 3.0;
const WALL: f64 = 1.0;

fn vessel_scenario(setup: BenchSetup, outer: f64, backend: Backend) -> Result<Scenario, RunError> {
    let (side, length) = (2.0 * outer, 4.0 * outer);
    let (r, c) = (outer - WALL, [outer; 2]);
    let shape = match setup {
        BenchSetup::Stenosis => {
            Shape::Stenosis { center: c, radius: r, x0: 0.5 * length, length: 2.0 * r, area_reduction: 0.67 }
        }
        _ => Shape::Tube { center: c, radius: r },
    };
    Ok(Scenario::builder(setup.name())
        .box_lengths([length as f32, side as f32, side as f32])
        .body_force([0.02, 0.0, 0.0])
        .vessel(shape, WALL as f32)
        .near_wall_force(DEFAULT_NEAR_WALL_FORCE as f32, 1.0)
        .backend(backend)
        .build()?)
}

/// Fraction of the box a vessel scenario keeps particles in (fluid and wall layer).
fn kept_fraction(s: &Scenario) -> f64 {
    let v = s.vessel.as_ref().expect("vessel");
    SdfGrid::sample(&v.shape, s.sim_box.len, MAX_SDF_POINTS)
        .map(|g| g.values.iter().filter(|&&x| x < v.wall_thickness).count() as f64 / g.values.len() as f64)
        .unwrap_or(1.0)
}

/// Initial conditions of `setup` with close to `particles` particles (fluid plus wall), the
/// vessel scaled to fit.
pub fn bench_initial(setup: BenchSetup, particles: usize, backend: Backend) -> Result<Initial, RunError> {
    let n = particles as f64;
    if setup == BenchSetup::Dpd {
        let edge = (n / RHO).cbrt() as f32;
        let s = Scenario::builder("bench-dpd")
            .cubic_box(edge)
            .density(n / f64::from(edge).powi(3))
            .backend(backend)
            .build()?;
        return initial_conditions(&s, backend);
    }
    // A tube of outer radius a and length 4a holds 4 pi rho a^3 particles; correct the size by the
    // fraction the geometry actually keeps (twice suffices for a stenosis).
    let mut outer = (n / (4.0 * std::f64::consts::PI * RHO)).cbrt();
    for _ in 0..2 {
        let s = vessel_scenario(setup, outer, backend)?;
        let kept = RHO * s.sim_box.volume() * kept_fraction(&s);
        outer *= (n / kept).cbrt();
    }
    initial_conditions(&vessel_scenario(setup, outer, backend)?, backend)
}

/// Times `steps` steps of `setup` with about `particles` particles after `warmup` untimed steps.
pub fn bench_setup(
    setup: BenchSetup,
    particles: usize,
    steps: u64,
    warmup: u64,
    backend: Backend,
) -> Result<BenchOutcome, RunError> {
    let initial = bench_initial(setup, particles, backend)?;
    let mut engine = open_engine(backend, &initial.system, &initial.state, 0)?;
    engine.compute_forces()?;
    let _ = engine.run(warmup, 0)?;
    let t0 = Instant::now();
    // `run` returns once the device has finished the steps.
    let _ = engine.run(steps, 0)?;
    let wall_seconds = t0.elapsed().as_secs_f64();
    Ok(BenchOutcome {
        backend: engine.backend().name(),
        adapter: engine.device_name(),
        particles: engine.n_particles(),
        wall_particles: initial.wall,
        steps,
        wall_seconds,
    })
}

/// Times the standard DPD fluid in a periodic box (see [`bench_setup`]).
pub fn bench_dpd(particles: usize, steps: u64, warmup: u64, backend: Backend) -> Result<BenchOutcome, RunError> {
    bench_setup(BenchSetup::Dpd, particles, steps, warmup, backend)
}
