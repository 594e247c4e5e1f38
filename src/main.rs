//! The `hemoscale` command line: `run`, `scenarios`, `bench`, `train`, `dataset`, `model`. Without a subcommand it runs the
//! default scenario on the best backend found (what `cargo run --release` does).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::{json, Value};

use hemoscale::bench::{bench_setup, BenchSetup};
use hemoscale::dsl::Backend;
use hemoscale::output::Trigger;
use hemoscale::params::ParamValues;
use hemoscale::run::{run, RunError, RunOptions};
use hemoscale::scenarios;
use hemoscale::training::{self, TrainArgs};

#[derive(Parser)]
#[command(name = "hemoscale", version, about = "Multiscale platelet dynamics: DPD plasma on CPU and GPU")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a built-in scenario and print a thermo table.
    Run {
        /// Scenario name (see `hemoscale scenarios`).
        scenario: String,
        /// Set a scenario key: KEY=VALUE (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Steps to run (default: the scenario's).
        #[arg(long)]
        steps: Option<u64>,
        /// Backend: auto (hardware GPU, else CPU), cpu or gpu (any wgpu adapter, lavapipe included).
        #[arg(long, default_value = "auto")]
        backend: Backend,
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
        trajectory: Option<Trigger>,
        /// Write binned fields (fields/*.vti + fields.pvd: density, velocity, stress) averaged
        /// since the previous firing, when this trigger fires.
        #[arg(long, value_name = "TRIGGER")]
        fields: Option<Trigger>,
        /// With `--set coupling=surrogate`: a reduced-model file (a coupled run writes its own as
        /// coupling_model.hsr) used instead of learning one online.
        #[arg(long, value_name = "FILE")]
        coupling_model: Option<PathBuf>,
    },
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

/// Exit status for input the program refuses (as clap uses for usage errors).
const EXIT_INVALID: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Run {
        scenario: scenarios::DEFAULT.into(),
        set: Vec::new(),
        steps: None,
        backend: Backend::Auto,
        seed: 1,
        thermo: None,
        summary_json: None,
        out: None,
        trajectory: None,
        fields: None,
        coupling_model: None,
    });
    match command {
        Command::Run {
            scenario,
            set,
            steps,
            backend,
            seed,
            thermo,
            summary_json,
            out,
            trajectory,
            fields,
            coupling_model,
        } => {
            let files = Files { out, trajectory, fields, coupling_model };
            run_command(&scenario, &set, steps, backend, seed, thermo, summary_json, files)
        }
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

/// Where a run writes its files.
struct Files {
    out: Option<PathBuf>,
    trajectory: Option<Trigger>,
    fields: Option<Trigger>,
    coupling_model: Option<PathBuf>,
}

#[allow(clippy::too_many_arguments)]
fn run_command(
    name: &str,
    set: &[String],
    steps: Option<u64>,
    backend: Backend,
    seed: u64,
    thermo: Option<u64>,
    summary_json: Option<PathBuf>,
    files: Files,
) -> ExitCode {
    let Some(builtin) = scenarios::find(name) else {
        let names: Vec<&str> = scenarios::all().iter().map(|s| s.name()).collect();
        return invalid(format!("unknown scenario {name:?}; built-in scenarios: {}", names.join(", ")));
    };
    let values = match ParamValues::parse(&builtin.params(), set) {
        Ok(v) => v,
        Err(e) => return invalid(e),
    };
    let steps = steps.unwrap_or(builtin.default_steps());
    if steps == 0 {
        return invalid("--steps = 0: must be >= 1");
    }
    let scenario = match builtin.build(&values, seed, steps, backend) {
        Ok(s) => s,
        Err(e) => return invalid(e),
    };
    let mut opts = RunOptions::for_steps(steps);
    if let Some(t) = thermo {
        if t == 0 {
            return invalid("--thermo = 0: must be >= 1");
        }
        opts.thermo_every = t;
    }
    opts.out_dir = Some(files.out.unwrap_or_else(|| PathBuf::from("out").join(name)));
    opts.trajectory = files.trajectory;
    opts.fields = files.fields;
    opts.coupling_model = files.coupling_model;
    let probe = builtin.probe(&scenario, steps);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let outcome = match run(&scenario, &opts, probe, &mut out) {
        Ok(o) => o,
        Err(RunError::Invalid(e)) => return invalid(e),
        Err(e) => return failed(e),
    };
    let observables = builtin.observables(&scenario, &outcome);
    let _ = writeln!(
        out,
        "# {} steps in {:.2} s: {:.4e} particle-steps/s; {}",
        outcome.steps,
        outcome.wall_seconds,
        outcome.particle_steps_per_second(),
        observables.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
    );
    if let Some(dir) = opts.out_dir.as_deref() {
        print_outputs(&mut out, dir);
    }
    if let Some(path) = summary_json {
        let summary = json!({
            "scenario": name,
            "backend": outcome.backend,
            "adapter": outcome.adapter,
            "particles": outcome.particles,
            "steps": outcome.steps,
            "fluid_particles": outcome.fluid_particles,
            "wall_particles": outcome.wall_particles,
            "out": opts.out_dir.as_ref().map(|d| d.display().to_string()),
            "wall_seconds": outcome.wall_seconds,
            "particle_steps_per_second": outcome.particle_steps_per_second(),
            "seed": seed,
            "parameters": values.to_json(),
            "observables": observables,
        });
        if let Err(e) = write_json(&path, &summary) {
            return failed(e);
        }
    }
    ExitCode::SUCCESS
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
        println!("{:<10} {:>10} {:<10} {:<24} meaning", "key", "default", "unit", "allowed");
        for p in &params {
            println!("{:<10} {:>10} {:<10} {:<24} {}", p.key, p.default_text(), p.unit, p.range_text(), p.help);
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
