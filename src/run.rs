//! Running a scenario: pick the backend, build the initial state, step in chunks while printing a
//! thermo table, and collect the samples the summary is made of.

use std::io::Write;
use std::time::Instant;

use hemoscale_kernels::gpu::{AdapterChoice, GpuContext};
use hemoscale_kernels::{init, CpuEngine, DpdSystem, Engine, GpuEngine, KernelError, Observables, ParticleState};
use thiserror::Error;

use crate::dsl::{Backend, Scenario};

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
    #[error("simulation blew up at step {step}: {what}")]
    Blowup {
        /// Step of the first bad sample.
        step: u64,
        /// What was wrong.
        what: String,
    },
    /// Writing output failed.
    #[error("output: {0}")]
    Io(#[from] std::io::Error),
}

/// Opens an engine for `system` and `state` on the chosen backend. With [`Backend::Auto`] a
/// hardware GPU is used when present, otherwise the CPU with a one-line notice on stderr.
pub fn open_engine(
    backend: Backend,
    system: &DpdSystem,
    state: &ParticleState,
    step: u64,
) -> Result<Box<dyn Engine>, KernelError> {
    match backend {
        Backend::Cpu => Ok(Box::new(CpuEngine::new(system, state, step)?)),
        Backend::Gpu => Ok(Box::new(GpuEngine::new(system, state, step, AdapterChoice::Any)?)),
        Backend::Auto => match GpuContext::new(AdapterChoice::HardwareOnly) {
            Ok(ctx) => Ok(Box::new(GpuEngine::with_context(ctx, system, state, step)?)),
            Err(e) => {
                eprintln!("notice: using the native CPU backend ({e})");
                Ok(Box::new(CpuEngine::new(system, state, step)?))
            }
        },
    }
}

/// How often to print and sample.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// Steps between thermo rows (also the read-back interval of the GPU).
    pub thermo_every: u64,
    /// Steps between samples of the observables.
    pub sample_every: u64,
}

impl RunOptions {
    /// About 20 thermo rows, samples every 10 steps.
    pub fn for_steps(steps: u64) -> Self {
        Self { thermo_every: (steps / 20).max(1), sample_every: 10.min(steps.max(1)) }
    }
}

/// What a finished run produced.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// Backend name ("cpu", "gpu").
    pub backend: &'static str,
    /// Device name.
    pub adapter: String,
    /// Particles.
    pub particles: usize,
    /// Steps run.
    pub steps: u64,
    /// Wall-clock seconds spent stepping (set-up excluded).
    pub wall_seconds: f64,
    /// Samples in order.
    pub samples: Vec<Observables>,
    /// Observables of the final state.
    pub last: Observables,
}

impl RunOutcome {
    /// Particle-steps per second.
    pub fn particle_steps_per_second(&self) -> f64 {
        self.particles as f64 * self.steps as f64 / self.wall_seconds.max(1e-12)
    }
    /// Mean of `f` over the samples of the second half of the run (NaN without samples there).
    pub fn second_half_mean(&self, f: impl Fn(&Observables) -> f64) -> f64 {
        let first = self.samples.first().map_or(0, |s| s.step);
        let half = first.saturating_sub(1) + self.steps / 2;
        let tail: Vec<f64> = self.samples.iter().filter(|s| s.step > half).map(f).collect();
        tail.iter().sum::<f64>() / tail.len() as f64
    }
}

/// Runs `scenario` from fresh initial conditions, writing the thermo table to `out`.
pub fn run(scenario: &Scenario, opts: RunOptions, out: &mut dyn Write) -> Result<RunOutcome, RunError> {
    let system = scenario.system();
    let state = init::random_fluid(&system, scenario.particles());
    let mut engine = open_engine(scenario.backend, &system, &state, 0)?;
    engine.compute_forces()?;
    writeln!(
        out,
        "# {}: {} particles, box {:?}, {} steps on {} ({})",
        scenario.name,
        engine.n_particles(),
        scenario.sim_box.len,
        scenario.steps,
        engine.backend().name(),
        engine.device_name()
    )?;
    writeln!(out, "{:>10} {:>12} {:>12} {:>12} {:>10}", "step", "temperature", "pressure", "steps/s", "ETA")?;
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut done = 0u64;
    while done < scenario.steps {
        let chunk = opts.thermo_every.min(scenario.steps - done);
        let t0 = Instant::now();
        let got = engine.run(chunk, opts.sample_every)?;
        let rate = chunk as f64 / t0.elapsed().as_secs_f64().max(1e-9);
        done += chunk;
        if let Some(bad) = got.iter().find(|o| !o.is_finite()) {
            return Err(RunError::Blowup { step: bad.step, what: "non-finite velocity or force".into() });
        }
        // The row shows the state at its step: the last sample when it is that step's, otherwise
        // one extra reduction (rows are output steps; nothing is read back in between).
        let row = match got.last() {
            Some(o) if o.step == engine.step() => *o,
            _ => engine.observables()?,
        };
        if !row.is_finite() {
            return Err(RunError::Blowup { step: row.step, what: "non-finite velocity or force".into() });
        }
        let (t, p) = (row.temperature(), row.pressure());
        let eta = (scenario.steps - done) as f64 / rate;
        writeln!(out, "{:>10} {:>12.5} {:>12.5} {:>12.1} {:>9.1}s", engine.step(), t, p, rate, eta)?;
        samples.extend(got);
    }
    let wall_seconds = start.elapsed().as_secs_f64();
    let last = engine.observables()?;
    if !last.is_finite() {
        return Err(RunError::Blowup { step: last.step, what: "non-finite velocity or force".into() });
    }
    Ok(RunOutcome {
        backend: engine.backend().name(),
        adapter: engine.device_name(),
        particles: engine.n_particles(),
        steps: scenario.steps,
        wall_seconds,
        samples,
        last,
    })
}
