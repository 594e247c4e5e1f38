//! `hemoscale bench`: whole-step throughput of a kernel set after a warm-up, in particle-steps per
//! second (the unit of BENCHMARKS.md, and LAMMPS's N x steps / loop time).

use std::time::Instant;

use hemoscale_kernels::init;

use crate::dsl::{Backend, Scenario};
use crate::run::{open_engine, RunError};

/// Result of one benchmark.
#[derive(Clone, Debug)]
pub struct BenchOutcome {
    /// Backend name.
    pub backend: &'static str,
    /// Device name.
    pub adapter: String,
    /// Particles.
    pub particles: usize,
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

/// Times `steps` steps of the standard DPD fluid (density 3, a 25, gamma 4.5, kT 1, dt 0.01) with
/// `particles` particles after `warmup` untimed steps.
pub fn bench_dpd(particles: usize, steps: u64, warmup: u64, backend: Backend) -> Result<BenchOutcome, RunError> {
    let edge = (particles as f64 / 3.0).cbrt() as f32;
    let scenario = Scenario::builder("bench-dpd")
        .cubic_box(edge)
        .density(particles as f64 / f64::from(edge).powi(3))
        .backend(backend)
        .build()?;
    let system = scenario.system();
    let state = init::random_fluid(&system, particles);
    let mut engine = open_engine(backend, &system, &state, 0)?;
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
        steps,
        wall_seconds,
    })
}
