//! The `hemoscale` command line: `run`, `scenarios`, `bench`, `train`, `dataset`, `model`. Without a subcommand it runs the
//! default scenario on the best backend found (what `cargo run --release` does).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;

use clap::{Parser, Subcommand};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use signal_hook::consts::{SIGINT, SIGTERM};

use hemoscale::bench::{bench_setup, BenchSetup};
use hemoscale::checkpoint::{self, Checkpoint, CheckpointError};
use hemoscale::dsl::Backend;
use hemoscale::faults::Injection;
use hemoscale::output::Trigger;
use hemoscale::params::{ParamSpec, ParamValues};
use hemoscale::run::{run, CheckpointPlan, RunError, RunOptions};
use hemoscale::scenarios;
use hemoscale::training::{self, TrainArgs};

#[derive(Parser)]
#[command(name = "hemoscale", version, about = "Multiscale platelet dynamics: DPD plasma on CPU and GPU")]
struct Cli {
    /// Log level on standard error: error, warn, info, debug or trace, or a filter such as
    /// `hemoscale=debug` (the environment variable HEMOSCALE_LOG overrides it).
    #[arg(long, global = true, default_value = "warn", value_name = "LEVEL")]
    log_level: String,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a built-in scenario and print a thermo table; or continue one from its checkpoints
    /// (`--resume DIR`).
    Run(Box<RunArgs>),
    /// List the built-in scenarios, or one scenario's keys.
    Scenarios {
        /// A scenario whose keys to list.
        name: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Time whole steps: the standard DPD fluid in a periodic box (`dpd`), or inside walls at the
    /// same particle count (`tube`, `stenosis`).
    Bench {
        /// What to time: dpd, tube or stenosis.
        what: BenchSetup,
        /// Particles.
        #[arg(long, default_value_t = 96_000)]
        particles: usize,
        /// Timed steps.
        #[arg(long, default_value_t = 200)]
        steps: u64,
        /// Untimed warm-up steps.
        #[arg(long, default_value_t = 20)]
        warmup: u64,
        /// Backend (auto, cpu or gpu).
        #[arg(long, default_value = "auto")]
        backend: Backend,
        /// Write the result as one JSON object to this file.
        #[arg(long, value_name = "PATH")]
        summary_json: Option<PathBuf>,
    },
    /// Train a surrogate network: hard-sync SGD, ASGD, KAVG or MAVG over `--threads P` or the
    /// MPI world (`mpirun -n P hemoscale train ...`, built with `--features mpi`).
    Train(Box<TrainArgs>),
    /// Write or inspect dataset files.
    #[command(subcommand)]
    Dataset(DatasetCommand),
    /// Inspect model files.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Reduced platelet models offline.
    #[command(subcommand)]
    Coupling(CouplingCommand),
    /// Plot the platelets of two runs side by side (orientation and stress accumulation over
    /// time, PNG), e.g. `coupling=fine` against `coupling=surrogate`.
    ComparePlatelets {
        /// Output folder of the first run (holds platelets.csv).
        a: PathBuf,
        /// Output folder of the second run.
        b: PathBuf,
        /// Legend name of the first run.
        #[arg(long, default_value = "fine")]
        name_a: String,
        /// Legend name of the second run.
        #[arg(long, default_value = "surrogate")]
        name_b: String,
        /// Folder for the plots.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum DatasetCommand {
    /// Write Friedman's non-convex regression problem #1 (10 inputs, 1 output; see the docs of
    /// `hemoscale_surrogates::dataset`).
    Synth {
        /// Samples.
        #[arg(long, default_value_t = 10_000)]
        samples: usize,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// File to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print what a dataset file holds (refusing a corrupt one).
    Inspect {
        /// The file.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum CouplingCommand {
    /// Fit one reduced model (generalised Jeffery equation and stress map, with their ensembles)
    /// to the harvests of several runs (`coupling_harvest.hsd` of coupled runs), e.g. at several
    /// shear rates; the result loads with `hemoscale run ... --coupling-model FILE`.
    Fit {
        /// Harvest files, all of one platelet.
        harvests: Vec<PathBuf>,
        /// Fit settings as `coupling_*` keys of `shear-flip` (KEY=VALUE, repeatable).
        #[arg(long = "set")]
        set: Vec<String>,
        /// Model file to write.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum ModelCommand {
    /// Print a model file's architecture, size and standardisation (refusing a corrupt one).
    Inspect {
        /// The file.
        file: PathBuf,
    },
    /// Evaluate a model on a dataset's inputs, all rows in one batch (on the GPU: one dispatch of
    /// the batched inference kernel); prints the error against the targets and the time taken.
    Predict {
        /// The model file.
        model: PathBuf,
        /// The dataset file.
        #[arg(long)]
        data: PathBuf,
        /// cpu, gpu (any adapter, lavapipe included) or auto (a hardware GPU if there is one).
        #[arg(long, default_value = "auto")]
        backend: Backend,
        /// CSV of the predictions beside the targets.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// What `hemoscale run` takes. A checkpoint stores these (as JSON), so `--resume DIR` needs
/// nothing else; with `--resume`, only `--backend`, `--steps` and `--wall-limit` may be given,
/// to continue on another backend, to run longer, or within another time limit.
#[derive(clap::Args, Clone, Debug, Default, Serialize, Deserialize)]
struct RunArgs {
    /// Scenario name (see `hemoscale scenarios`).
    #[arg(required_unless_present = "resume")]
    scenario: Option<String>,
    /// Set a scenario key: KEY=VALUE (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Steps to run (default: the scenario's).
    #[arg(long, conflicts_with = "time")]
    steps: Option<u64>,
    /// Run length as simulated time in DPD time units instead of steps (`ceil(TIME / dt)` steps).
    #[arg(long, value_name = "TIME")]
    time: Option<f64>,
    /// Wall-clock seconds the run may take (set-up included): then it writes a checkpoint (with
    /// `--checkpoint`) and stops with exit status 75, to be continued with `--resume`.
    #[arg(long, value_name = "SECONDS")]
    wall_limit: Option<f64>,
    /// Backend: auto (hardware GPU, else CPU), cpu or gpu (any wgpu adapter, lavapipe included)
    /// [default: auto].
    #[arg(long)]
    backend: Option<String>,
    /// Seed of all random numbers.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Steps between thermo rows (default: a twentieth of the run).
    #[arg(long)]
    thermo: Option<u64>,
    /// Write the run's summary as one JSON object to this file.
    #[arg(long, value_name = "PATH")]
    summary_json: Option<PathBuf>,
    /// Folder for the run's files: thermo.csv, profiles (CSV, PNG), trajectories, fields
    /// [default: out/SCENARIO].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Write trajectory frames (trajectory.xyz for OVITO; particles/*.vtp + particles.pvd for
    /// ParaView) when this trigger fires, e.g. `every:1000`, `every:500&after:10000`.
    #[arg(long, value_name = "TRIGGER")]
    trajectory: Option<String>,
    /// Write binned fields (fields/*.vti + fields.pvd: density, velocity, stress) averaged
    /// since the previous firing, when this trigger fires.
    #[arg(long, value_name = "TRIGGER")]
    fields: Option<String>,
    /// With `--set coupling=surrogate`: a reduced-model file (a coupled run writes its own as
    /// coupling_model.hsr) used instead of learning one online.
    #[arg(long, value_name = "FILE")]
    coupling_model: Option<PathBuf>,
    /// Write checkpoints into this folder (the two newest are kept), every
    /// `--checkpoint-every` steps, at the end, and when SIGINT or SIGTERM stops the run.
    #[arg(long, value_name = "DIR")]
    checkpoint: Option<PathBuf>,
    /// Steps between checkpoints (0: only at the end and on a signal) [default: 1000].
    #[arg(long, value_name = "N", requires = "checkpoint")]
    checkpoint_every: Option<u64>,
    /// Continue the run whose checkpoints are in DIR from the newest intact one (damaged ones
    /// are reported and skipped), with the arguments it was started with.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["scenario", "set", "checkpoint", "trajectory", "fields", "out", "thermo", "coupling_model", "max_speed", "max_temperature", "inject_fault", "summary_json", "vary", "time"])]
    #[serde(skip)]
    resume: Option<PathBuf>,
    /// Make a parameter follow the step (repeatable): NAME=VARIANT with NAME body_force, kT or
    /// wall_speed (a factor of the scenario's value) and VARIANT `ramp:FROM:TO:START:STEPS`,
    /// `steps:INITIAL,STEP=VALUE,...` or `const:V`; e.g. `--vary body_force=ramp:0:1:0:5000`
    /// switches a flow on over 5000 steps, `--vary wall_speed=steps:1,20000=2` doubles the shear
    /// rate at step 20000.
    #[arg(long, value_name = "NAME=VARIANT")]
    vary: Vec<String>,
    /// Stop as blown up when a particle is faster than this (DPD units; checked at thermo rows
    /// and checkpoints).
    #[arg(long, value_name = "SPEED")]
    max_speed: Option<f64>,
    /// Stop as blown up when the temperature kT exceeds this (checked at every sample).
    #[arg(long, value_name = "KT")]
    max_temperature: Option<f64>,
    /// Spread the run over P ranks, threads of this process, each owning one brick of the box
    /// (domain decomposition, on the CPU). Under `mpirun -n P` (a binary built with `--features
    /// mpi`) the run spreads over the MPI ranks instead. A checkpoint resumes on any number of
    /// ranks.
    #[arg(long, value_name = "P")]
    #[serde(skip)]
    ranks: Option<usize>,
    /// The rank grid of a run over several ranks, `NXxNYxNZ` (e.g. `2x2x1`) [default: the grid
    /// with the least halo for the box shape].
    #[arg(long, value_name = "NXxNYxNZ")]
    #[serde(skip)]
    grid: Option<String>,
    /// Force a fault into the run to test that it is caught: nan-velocity@STEP, into-wall@STEP
    /// or device-lost@STEP.
    #[arg(long, value_name = "FAULT@STEP", hide = true)]
    #[serde(skip)]
    inject_fault: Option<Injection>,
}

/// Exit status of a run stopped by its wall-clock limit (sysexits' EX_TEMPFAIL: try again, i.e.
/// `--resume`).
const EXIT_WALL_LIMIT: u8 = 75;

/// Exit status for input the program refuses (as clap uses for usage errors).
const EXIT_INVALID: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("HEMOSCALE_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&cli.log_level));
    match filter {
        Ok(f) => tracing_subscriber::fmt()
            .with_env_filter(f)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        Err(e) => return invalid(format!("--log-level {:?}: {e}", cli.log_level)),
    }
    let command = cli.command.unwrap_or_else(|| {
        Command::Run(Box::new(RunArgs { scenario: Some(scenarios::DEFAULT.into()), seed: 1, ..RunArgs::default() }))
    });
    match command {
        Command::Run(args) => run_command(*args),
        Command::Scenarios { name, json } => scenarios_command(name.as_deref(), json),
        Command::Bench { what, particles, steps, warmup, backend, summary_json } => {
            bench_command(what, particles, steps, warmup, backend, summary_json)
        }
        Command::Train(args) => report(training::train_command(&args)),
        Command::Dataset(DatasetCommand::Synth { samples, seed, out }) => {
            report(training::synth_command(samples, seed, &out).map(Some))
        }
        Command::ComparePlatelets { a, b, name_a, name_b, out } => {
            match hemoscale::compare::compare_platelets(&a, &b, &name_a, &name_b, &out) {
                Ok(files) => {
                    for f in files {
                        println!("{}", f.display());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => invalid(e),
            }
        }
        Command::Dataset(DatasetCommand::Inspect { file }) => report(training::inspect_dataset(&file).map(Some)),
        Command::Coupling(CouplingCommand::Fit { harvests, set, out }) => {
            report(hemoscale::shipped_models::fit_command(&harvests, &set, &out).map(Some))
        }
        Command::Model(ModelCommand::Inspect { file }) => report(training::inspect_model(&file).map(Some)),
        Command::Model(ModelCommand::Predict { model, data, backend, out }) => {
            report(training::predict_command(&model, &data, backend, out.as_deref()).map(Some))
        }
    }
}

/// Prints a command's JSON result (the last line of standard output) or its error.
fn report(r: Result<Option<Value>, training::CommandError>) -> ExitCode {
    match r {
        Ok(Some(v)) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(training::CommandError::Invalid(e)) => invalid(e),
        Err(training::CommandError::Failed(e)) => failed(e),
    }
}

fn invalid(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(EXIT_INVALID)
}

fn failed(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::FAILURE
}

fn write_json(path: &PathBuf, value: &Value) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The arguments of the run that wrote the newest intact checkpoint in `dir`, with the
/// `--backend` and `--steps` given now, and the checkpoint itself.
fn resume_args(dir: &std::path::Path, now: &RunArgs) -> Result<(RunArgs, Checkpoint), String> {
    let (c, refused) = checkpoint::newest_good(dir).map_err(|e| e.to_string())?;
    for r in refused {
        tracing::warn!("skipping a damaged checkpoint: {r}");
    }
    let mut args: RunArgs = serde_json::from_value(c.recipe.clone())
        .map_err(|e| format!("{}: the checkpoint's run arguments do not read back: {e}", checkpoint_name(&c)))?;
    args.backend = now.backend.clone().or(args.backend);
    if now.steps.is_some() {
        (args.steps, args.time) = (now.steps, None);
    }
    args.wall_limit = now.wall_limit.or(args.wall_limit);
    // The ranks are how this run is started, not part of it: a checkpoint resumes on any number.
    (args.ranks, args.grid) = (now.ranks, now.grid.clone());
    // Later checkpoints go where this one came from.
    args.checkpoint = Some(dir.to_path_buf());
    Ok((args, c))
}

fn checkpoint_name(c: &Checkpoint) -> String {
    c.path.as_ref().map_or_else(String::new, |p| p.display().to_string())
}

/// Flag set to the signal's number on SIGINT or SIGTERM; a second one of either ends the process
/// at once (for a run stuck in its set-up).
fn stop_flag() -> Arc<AtomicUsize> {
    let flag = Arc::new(AtomicUsize::new(0));
    let twice = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        // Order matters: the shutdown check runs before the flags are set, so it fires on the
        // second signal only.
        let _ = signal_hook::flag::register_conditional_shutdown(sig, 130, twice.clone());
        let _ = signal_hook::flag::register(sig, twice.clone());
        let _ = signal_hook::flag::register_usize(sig, flag.clone(), sig as usize);
    }
    flag
}

fn run_command(args: RunArgs) -> ExitCode {
    let (args, resume) = match &args.resume {
        Some(dir) => match resume_args(dir, &args) {
            Ok((a, c)) => (a, Some(c)),
            Err(e) => return invalid(e),
        },
        None => (args, None),
    };
    let Some(name) = args.scenario.clone() else { return invalid("a scenario name (or --resume DIR) is needed") };
    let Some(builtin) = scenarios::find(&name) else {
        let names: Vec<&str> = scenarios::all().iter().map(|s| s.name()).collect();
        return invalid(format!("unknown scenario {name:?}; built-in scenarios: {}", names.join(", ")));
    };
    let values = match ParamValues::parse(&builtin.params(), &args.set) {
        Ok(v) => v,
        Err(e) => return invalid(e),
    };
    let backend: Backend = match args.backend.as_deref().unwrap_or("auto").parse() {
        Ok(b) => b,
        Err(e) => return invalid(format!("--backend: {e}")),
    };
    let parse_trigger = |flag: &str, t: &Option<String>| -> Result<Option<Trigger>, String> {
        t.as_deref().map(|t| t.parse::<Trigger>().map_err(|e| format!("--{flag} {t:?}: {e}"))).transpose()
    };
    let (trajectory, fields) =
        match (parse_trigger("trajectory", &args.trajectory), parse_trigger("fields", &args.fields)) {
            (Ok(t), Ok(f)) => (t, f),
            (Err(e), _) | (_, Err(e)) => return invalid(e),
        };
    let mut steps = args.steps.unwrap_or(builtin.default_steps());
    if steps == 0 {
        return invalid("--steps = 0: must be >= 1");
    }
    if let Some(t) = args.time {
        // The time step is the scenario's: build once to learn it.
        let dt = match builtin.build(&values, args.seed, steps, backend) {
            Ok(s) => s.dt,
            Err(e) => return invalid(e),
        };
        steps = match hemoscale::dsl::steps_for(t, dt) {
            Some(n) => n,
            None => return invalid(format!("--time = {t}: must be > 0 and at most 1e15 steps of dt = {dt}")),
        };
    }
    for (flag, v) in [("--max-speed", args.max_speed), ("--max-temperature", args.max_temperature)] {
        if let Some(v) = v.filter(|v| !(v.is_finite() && *v > 0.0)) {
            return invalid(format!("{flag} = {v}: must be a positive number"));
        }
    }
    let mut scenario = match builtin.build(&values, args.seed, steps, backend) {
        Ok(s) => s,
        Err(e) => return invalid(e),
    };
    scenario.wall_limit = args.wall_limit;
    if let Some(w) = args.wall_limit.filter(|w| !(w.is_finite() && *w > 0.0)) {
        return invalid(format!("--wall-limit = {w}: must be > 0 seconds"));
    }
    for v in &args.vary {
        let Some((name, spec)) = v.split_once('=') else {
            return invalid(format!("--vary {v:?}: expected NAME=VARIANT, e.g. body_force=ramp:0:1:0:5000"));
        };
        let variant = match spec.parse::<hemoscale::variant::Variant>() {
            Ok(x) => x,
            Err(e) => return invalid(format!("--vary {name}: {e}")),
        };
        scenario = match scenario.vary(name, variant) {
            Ok(s) => s,
            Err(e) => return invalid(e),
        };
    }
    if args.thermo == Some(0) {
        return invalid("--thermo = 0: must be >= 1");
    }
    // The command line's outputs override the scenario's observers (checked above, flag by
    // flag, so the messages name the flags).
    let o = &mut scenario.observers;
    o.thermo_every = args.thermo.or(o.thermo_every);
    o.dir = Some(args.out.clone().or(o.dir.take()).unwrap_or_else(|| PathBuf::from("out").join(&name)));
    o.trajectory = trajectory.or(o.trajectory.take());
    o.fields = fields.or(o.fields.take());
    o.limits.max_speed = args.max_speed.or(o.limits.max_speed);
    o.limits.max_temperature = args.max_temperature.or(o.limits.max_temperature);
    let mut opts = RunOptions::for_scenario(&scenario);
    opts.coupling_model = args.coupling_model.clone();
    opts.inject = args.inject_fault;
    if let Some(dir) = &args.checkpoint {
        // Paths as absolute ones, so `--resume` from another folder writes where this run did.
        let mut recorded = args.clone();
        recorded.out = opts.out_dir.clone();
        for p in [&mut recorded.out, &mut recorded.summary_json, &mut recorded.coupling_model].into_iter().flatten() {
            if let Ok(abs) = std::path::absolute(&*p) {
                *p = abs;
            }
        }
        let recipe = match serde_json::to_value(&recorded) {
            Ok(v) => v,
            Err(e) => return failed(format!("cannot record the run's arguments: {e}")),
        };
        opts.checkpoint =
            Some(CheckpointPlan { dir: dir.clone(), every: args.checkpoint_every.unwrap_or(1000), recipe });
    }
    opts.resume = resume;
    opts.stop = Some(stop_flag());
    opts.progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let layout = match Layout::of(&args).and_then(|l| l.check(&scenario).map(|()| l)) {
        Ok(l) => l,
        Err(e) => return invalid(e),
    };
    // Not locked: the ranks' threads print through their own handles.
    let mut out = std::io::stdout();
    let (mut result, root) = layout.run(&scenario, &opts, &name, steps);
    if !root {
        // Rank 0 reports; the others end quietly, with its exit status when they agree.
        return match result {
            Ok(_) => ExitCode::SUCCESS,
            Err(RunError::Interrupted { signal, .. }) => ExitCode::from(128 + signal.min(127) as u8),
            Err(RunError::WallLimit { .. }) => ExitCode::from(EXIT_WALL_LIMIT),
            Err(RunError::Invalid(_)) => ExitCode::from(EXIT_INVALID),
            Err(_) => ExitCode::FAILURE,
        };
    }
    // With --backend auto, a GPU that fails mid-run (lost, out of memory) is not the end: the run
    // continues on the CPU from its last checkpoint.
    if let (Err(RunError::Kernel(e)), Backend::Auto, Some(dir)) = (&result, backend, &args.checkpoint) {
        if e.is_device_failure() {
            match checkpoint::newest_good(dir) {
                Ok((c, _)) => {
                    eprintln!(
                        "error: {e}\nnotice: continuing on the native CPU from {} (step {})",
                        checkpoint_name(&c),
                        c.step
                    );
                    scenario.backend = Backend::Cpu;
                    (opts.resume, opts.inject) = (Some(c), None);
                    let probe = builtin.probe(&scenario, steps);
                    result = run(&scenario, &opts, probe, &mut out.lock());
                }
                Err(why) => eprintln!("notice: cannot continue on the CPU: {why}"),
            }
        }
    }
    let outcome = match result {
        Ok(o) => o,
        Err(RunError::Invalid(e)) => return invalid(e),
        Err(RunError::Checkpoint(e @ (CheckpointError::Mismatch { .. } | CheckpointError::None { .. }))) => {
            return invalid(e)
        }
        Err(e @ RunError::Interrupted { signal, .. }) => {
            eprintln!("{e}");
            return ExitCode::from(128 + signal.min(127) as u8);
        }
        Err(e @ RunError::WallLimit { .. }) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_WALL_LIMIT);
        }
        Err(e) => return failed(e),
    };
    let observables = builtin.observables(&scenario, &outcome);
    let _ = writeln!(
        out,
        "# {} steps in {:.2} s: {:.4e} particle-steps/s; {}",
        outcome.timed_steps(),
        outcome.wall_seconds,
        outcome.particle_steps_per_second(),
        observables.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
    );
    let domain = outcome.domain.as_ref().map(|d| domain_summary(d, &outcome));
    if let Some(d) = &domain {
        let f = |k: &str| d[k].as_f64().unwrap_or(f64::NAN);
        let _ = writeln!(
            out,
            "# {} ranks, grid {}, all ranks together, per step: {:.0} halo bytes (model {:.0}), {:.0} migration bytes (model {:.0}), {:.0} messages (model {:.0})",
            d["ranks"],
            d["grid"].as_str().unwrap_or(""),
            f("halo_bytes_per_step"),
            f("model_halo_bytes_per_step"),
            f("migration_bytes_per_step"),
            f("model_migration_bytes_per_step"),
            f("messages_per_step"),
            f("model_messages_per_step")
        );
        if let Some(t) = outcome.domain.as_ref().map(|d| d.seconds.per_step()) {
            let parts: Vec<String> = t.iter().map(|(k, v)| format!("{k} {:.3}", 1e3 * v)).collect();
            let _ = writeln!(out, "# per rank and step (ms, mean over ranks): {}", parts.join(", "));
        }
        if let Some(p) = outcome.domain.as_ref().map(|d| &d.platelet_steps).filter(|p| !p.is_empty()) {
            let _ = writeln!(
                out,
                "# platelet-steps advanced by each rank: {p:?}; {:.0} bytes per step into the platelets' all-gathers",
                f("platelet_bytes_per_step")
            );
        }
    }
    if let Some(dir) = opts.out_dir.as_deref() {
        print_outputs(&mut out, dir);
    }
    if let Some(path) = &args.summary_json {
        let summary = json!({
            "scenario": name,
            "backend": outcome.backend,
            "adapter": outcome.adapter,
            "particles": outcome.particles,
            "steps": outcome.steps,
            "resumed_at": outcome.resumed_at,
            "fluid_particles": outcome.fluid_particles,
            "wall_particles": outcome.wall_particles,
            "out": opts.out_dir.as_ref().map(|d| d.display().to_string()),
            "wall_seconds": outcome.wall_seconds,
            "particle_steps_per_second": outcome.particle_steps_per_second(),
            "checkpoints_written": outcome.checkpoints_written,
            "checkpoint_seconds": outcome.checkpoint_seconds,
            "seed": args.seed,
            "parameters": values.to_json(),
            "observables": observables,
            "domain": domain,
        });
        if let Err(e) = write_json(path, &summary) {
            return failed(e);
        }
    }
    ExitCode::SUCCESS
}

/// The decomposition and its traffic per step against the model of `docs/scaling.md`, all ranks
/// together. The model's density is the mean number density of the box (walls and the space
/// beyond them included), its temperature and time step the run's.
fn domain_summary(d: &hemoscale::kernels::domain::DomainReport, outcome: &hemoscale::run::RunOutcome) -> Value {
    let sys = &outcome.system;
    let density = outcome.particles as f64 / sys.sim_box.volume();
    // The migration flux grows with the thermal speed: the model takes the run's mean temperature.
    let n = outcome.samples.len().max(1) as f64;
    let kt = outcome.samples.iter().map(|o| o.temperature()).sum::<f64>() / n;
    let model = d.decomposition.total_traffic_model(density, kt, f64::from(sys.types[0].mass), f64::from(sys.dt));
    let t = &d.traffic;
    let (per_exchange, per_step) = (t.exchanges.max(1) as f64, t.migrations.max(1) as f64);
    let g = d.decomposition.ranks;
    json!({
        "ranks": d.decomposition.size(),
        "grid": format!("{}x{}x{}", g[0], g[1], g[2]),
        "halo_bytes_per_step": t.halo_bytes as f64 / per_exchange,
        "model_halo_bytes_per_step": model.halo_bytes,
        "migration_bytes_per_step": t.migration_bytes as f64 / per_step,
        "model_migration_bytes_per_step": model.migration_bytes,
        "messages_per_step": t.halo_messages as f64 / per_exchange + t.migration_messages as f64 / per_step,
        "model_messages_per_step": model.messages,
        "ghosts_per_step": t.ghosts as f64 / per_exchange,
        "platelet_steps_per_rank": d.platelet_steps,
        "platelet_bytes_per_step": t.platelet_bytes as f64 / per_step,
        "seconds_per_step": d.seconds.per_step().into_iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<String, Value>>(),
    })
}

/// How a run is spread: over threads of this process (`--ranks P`), over MPI's world (under
/// `mpirun`), or not at all.
struct Layout {
    /// In-process ranks (None or 1: no threads).
    threads: Option<usize>,
    /// The rank grid (`--grid`).
    grid: Option<[usize; 3]>,
}

impl Layout {
    fn of(args: &RunArgs) -> Result<Self, String> {
        let grid = match &args.grid {
            Some(g) => {
                let parts: Vec<Option<usize>> = g.split('x').map(|p| p.parse().ok().filter(|&n| n > 0)).collect();
                match parts[..] {
                    [Some(x), Some(y), Some(z)] => Some([x, y, z]),
                    _ => return Err(format!("--grid {g:?}: expected NXxNYxNZ with positive numbers, e.g. 2x2x1")),
                }
            }
            None => None,
        };
        if args.ranks == Some(0) {
            return Err("--ranks = 0: must be >= 1".into());
        }
        if let (Some(g), Some(p)) = (grid, args.ranks) {
            if g.iter().product::<usize>() != p {
                return Err(format!(
                    "--grid {}: holds {} ranks, --ranks is {p}",
                    args.grid.as_deref().unwrap_or(""),
                    g.iter().product::<usize>()
                ));
            }
        }
        Ok(Self { threads: args.ranks, grid })
    }

    /// Refuses, before anything runs, a grid whose bricks are too narrow for `scenario`. (Under
    /// `mpirun` the same check runs inside, on every rank alike.)
    fn check(&self, scenario: &hemoscale::dsl::Scenario) -> Result<(), String> {
        let Some(p) = self.threads.filter(|&p| p > 1) else { return Ok(()) };
        let (len, halo) = (scenario.sim_box.len, scenario.max_rc());
        let d = match self.grid {
            Some(g) => hemoscale::kernels::domain::Decomposition::new(g, len, halo),
            None => hemoscale::kernels::domain::Decomposition::choose(p, len, halo),
        };
        d.map(|_| ()).map_err(|e| format!("--ranks {p}: {e}"))
    }

    /// Runs the scenario `name` on this layout; returns rank 0's outcome (or this MPI rank's)
    /// and whether this process is the one that reports.
    fn run(
        &self,
        scenario: &hemoscale::dsl::Scenario,
        opts: &RunOptions,
        name: &str,
        steps: u64,
    ) -> (Result<hemoscale::run::RunOutcome, RunError>, bool) {
        let probe = |s: &hemoscale::dsl::Scenario| scenarios::find(name).and_then(|b| b.probe(s, steps));
        if let Some(p) = self.threads.filter(|&p| p > 1) {
            let results = hemoscale::surrogates::comm::threads::ThreadComm::run(p, |comm| {
                run_on_ranks(hemoscale::ranks::Ranks::new(comm, self.grid), scenario, opts, &probe).0
            });
            return (hemoscale::ranks::root_cause(results), true);
        }
        mpi_run(self.grid, scenario, opts, probe)
    }
}

/// The run as one of `ranks`: rank 0 prints, the others stay quiet. Returns the outcome and
/// whether this is rank 0.
fn run_on_ranks(
    ranks: hemoscale::ranks::Ranks,
    scenario: &hemoscale::dsl::Scenario,
    opts: &RunOptions,
    probe: &dyn Fn(&hemoscale::dsl::Scenario) -> Option<hemoscale::flow::FlowProbe>,
) -> (Result<hemoscale::run::RunOutcome, RunError>, bool) {
    let root = ranks.rank() == 0;
    let result = hemoscale::ranks::within(ranks, || {
        let (mut sink, mut stdout) = (std::io::sink(), std::io::stdout());
        let out: &mut dyn Write = if root { &mut stdout } else { &mut sink };
        run(scenario, opts, probe(scenario), out)
    });
    (result, root)
}

/// Under `mpirun -n P` (P > 1): the run over MPI's world, rank 0 reporting. An error that not
/// every rank shares (a file rank 0 could not write, a failed peer) aborts the whole job, as
/// MPI programs do, rather than leave the other ranks waiting.
#[cfg(feature = "mpi")]
fn mpi_run(
    grid: Option<[usize; 3]>,
    scenario: &hemoscale::dsl::Scenario,
    opts: &RunOptions,
    probe: impl Fn(&hemoscale::dsl::Scenario) -> Option<hemoscale::flow::FlowProbe>,
) -> (Result<hemoscale::run::RunOutcome, RunError>, bool) {
    use hemoscale_surrogates::comm::mpi_comm::MpiComm;
    let launched = ["PMI_SIZE", "OMPI_COMM_WORLD_SIZE"]
        .iter()
        .find_map(|v| std::env::var(v).ok().and_then(|n| n.parse::<usize>().ok()));
    if launched.is_none_or(|n| n <= 1) {
        return (run(scenario, opts, probe(scenario), &mut std::io::stdout().lock()), true);
    }
    let Some(universe) = mpi::initialize() else {
        return (Err(RunError::Io(std::io::Error::other("MPI was already initialised"))), true);
    };
    let world = universe.world();
    let size = mpi::topology::Communicator::size(&world) as usize;
    if launched != Some(size) {
        let e = format!(
            "the launcher started {} processes but MPI sees a world of {size}: use the mpirun of the MPI this binary was built with (mpirun.mpich)",
            launched.unwrap_or(0)
        );
        return (Err(RunError::Io(std::io::Error::other(e))), true);
    }
    let comm = Box::new(MpiComm::new(mpi::topology::Communicator::duplicate(&world)));
    let (result, root) = run_on_ranks(hemoscale::ranks::Ranks::new(comm, grid), scenario, opts, &probe);
    // Outcomes every rank reaches alike: decisions on reduced or gathered values, and input
    // refused on every rank by the same checks. Not shared: writing a checkpoint or an output,
    // which rank 0 alone does.
    let shared = matches!(
        &result,
        Ok(_)
            | Err(RunError::Blowup { .. }
                | RunError::Interrupted { .. }
                | RunError::WallLimit { .. }
                | RunError::Invalid(_)
                | RunError::Checkpoint(CheckpointError::Mismatch { .. } | CheckpointError::None { .. })
                | RunError::Kernel(hemoscale::kernels::KernelError::InvalidParameter { .. }))
    );
    if !shared {
        if let Err(e) = &result {
            eprintln!("error on rank {}: {e}", mpi::topology::Communicator::rank(&world));
        }
        mpi::traits::Communicator::abort(&world, 1);
    }
    (result, root)
}

#[cfg(not(feature = "mpi"))]
fn mpi_run(
    _grid: Option<[usize; 3]>,
    scenario: &hemoscale::dsl::Scenario,
    opts: &RunOptions,
    probe: impl Fn(&hemoscale::dsl::Scenario) -> Option<hemoscale::flow::FlowProbe>,
) -> (Result<hemoscale::run::RunOutcome, RunError>, bool) {
    // Started by mpirun, every process would run the whole scenario alone and write the same files.
    let launched = ["PMI_SIZE", "OMPI_COMM_WORLD_SIZE"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|n| n != "1").map(|n| format!("{v}={n}")));
    if let Some(var) = launched {
        let mut e = hemoscale::params::ValidationErrors::default();
        e.push(
            "mpirun",
            var,
            "this binary was built without --features mpi, so every process would run the whole scenario alone and write the same files: build with `MPICC=mpicc.mpich cargo build --release --features mpi`, or use --ranks P",
        );
        return (Err(RunError::Invalid(e)), true);
    }
    (run(scenario, opts, probe(scenario), &mut std::io::stdout().lock()), true)
}

/// Lists what a run wrote into `dir` and what opens each kind of file.
fn print_outputs(out: &mut impl Write, dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut names: Vec<String> =
        entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into()).collect();
    names.sort();
    let _ = writeln!(out, "# outputs in {}:", dir.display());
    for name in names {
        let path = dir.join(&name);
        let how = if path.is_dir() {
            let pvd = std::fs::read_dir(&path)
                .ok()
                .and_then(|d| d.filter_map(|e| e.ok()).find(|e| e.path().extension().is_some_and(|x| x == "pvd")));
            match pvd {
                Some(p) => format!("time series: open {} in ParaView", p.path().display()),
                None => "frames".to_string(),
            }
        } else {
            match path.extension().and_then(|x| x.to_str()).unwrap_or("") {
                "csv" => "table (CSV): spreadsheet, pandas.read_csv, ParaView".into(),
                "png" => "plot (PNG): any image viewer".into(),
                "pvd" => "time series: open in ParaView (File > Open)".into(),
                "vtp" | "vti" => "VTK XML: ParaView".into(),
                "xyz" => "extended XYZ trajectory: OVITO, ASE".into(),
                _ => continue,
            }
        };
        let _ = writeln!(out, "#   {:<40} {how}", name);
    }
}

fn scenarios_command(name: Option<&str>, as_json: bool) -> ExitCode {
    let all = scenarios::all();
    let Some(name) = name else {
        if as_json {
            let list: Vec<Value> = all.iter().map(|s| json!({"name": s.name(), "about": s.about()})).collect();
            println!("{}", Value::Array(list));
        } else {
            for s in &all {
                println!("{:<20} {}", s.name(), s.about());
            }
        }
        return ExitCode::SUCCESS;
    };
    let Some(s) = scenarios::find(name) else {
        let names: Vec<&str> = all.iter().map(|s| s.name()).collect();
        return invalid(format!("unknown scenario {name:?}; built-in scenarios: {}", names.join(", ")));
    };
    let params = s.params();
    if as_json {
        let keys: Vec<Value> = params
            .iter()
            .map(|p| {
                json!({"key": p.key, "default": if matches!(p.kind, hemoscale::params::Kind::Choice(_)) { json!(p.default_text()) } else { json!(p.default) }, "unit": p.unit, "kind": p.kind,
                       "range": p.range_text(), "min": p.min, "max": p.max, "help": p.help})
            })
            .collect();
        println!("{}", json!({"name": s.name(), "about": s.about(), "default_steps": s.default_steps(), "keys": keys}));
    } else {
        println!("{}: {}\n", s.name(), s.about());
        // Columns as wide as their longest entry, so long keys keep the table aligned.
        let width = |head: &str, f: &dyn Fn(&ParamSpec) -> String| {
            params.iter().map(|p| f(p).chars().count()).chain([head.len()]).max().unwrap_or(0)
        };
        let (wk, wd, wu, wa) = (
            width("key", &|p| p.key.to_string()),
            width("default", &|p| p.default_text()),
            width("unit", &|p| p.unit.to_string()),
            width("allowed", &|p| p.range_text()),
        );
        println!("{:<wk$} {:>wd$} {:<wu$} {:<wa$} meaning", "key", "default", "unit", "allowed");
        for p in &params {
            println!("{:<wk$} {:>wd$} {:<wu$} {:<wa$} {}", p.key, p.default_text(), p.unit, p.range_text(), p.help);
        }
        println!("\ndefault steps: {}", s.default_steps());
    }
    ExitCode::SUCCESS
}

fn bench_command(
    what: BenchSetup,
    particles: usize,
    steps: u64,
    warmup: u64,
    backend: Backend,
    summary_json: Option<PathBuf>,
) -> ExitCode {
    if !(54..=50_000_000).contains(&particles) {
        return invalid(format!(
            "--particles = {particles}: allowed range [54, 50000000] (box edge >= 2 rc at density 3; memory)"
        ));
    }
    if steps == 0 {
        return invalid("--steps = 0: must be >= 1");
    }
    let o = match bench_setup(what, particles, steps, warmup, backend) {
        Ok(o) => o,
        Err(RunError::Invalid(e)) => return invalid(e),
        Err(e) => return failed(e),
    };
    println!(
        "bench {}: {} particles ({} wall), {} steps on {} ({}): {:.3} s, {:.4e} particle-steps/s",
        what.name(),
        o.particles,
        o.wall_particles,
        o.steps,
        o.backend,
        o.adapter,
        o.wall_seconds,
        o.particle_steps_per_second()
    );
    if let Some(path) = summary_json {
        let v = json!({
            "scenario": format!("bench-{}", what.name()),
            "wall_particles": o.wall_particles,
            "backend": o.backend,
            "adapter": o.adapter,
            "particles": o.particles,
            "steps": o.steps,
            "warmup_steps": warmup,
            "wall_seconds": o.wall_seconds,
            "particle_steps_per_second": o.particle_steps_per_second(),
            "observables": {},
        });
        if let Err(e) = write_json(&path, &v) {
            return failed(e);
        }
    }
    ExitCode::SUCCESS
}
