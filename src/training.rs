//! The `train`, `dataset` and `model` commands: the surrogates crate behind a command line
//! (`model predict --backend gpu` evaluates through the coupling crate's batched GPU kernel).
//!
//! `hemoscale train` runs P learners as threads of one process (`--threads P`) or as the ranks of
//! an MPI job (`mpirun -n P hemoscale train ...`, built with `--features mpi`). Both give the same
//! weights bit for bit (deterministic reductions). Rank 0 writes the model, the per-epoch CSV log
//! and the checkpoints, and prints the final figures as one JSON object on the last line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use serde_json::{json, Value};

use hemoscale_coupling::batched_inference::{GpuModel, InferenceError};
use hemoscale_surrogates::comm::threads::ThreadComm;
use hemoscale_surrogates::dataset::Dataset;
use hemoscale_surrogates::model::Model;
use hemoscale_surrogates::optim::OptimizerKind;
use hemoscale_surrogates::schedule::{Elastic, LrScaling, LrSchedule};
use hemoscale_surrogates::train::{train, Algorithm, EpochRecord, Momentum, RunControl, TrainConfig, TrainOutcome};
use hemoscale_surrogates::Loss;

use crate::dsl::Backend;

/// Arguments of `hemoscale train`.
#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// Dataset file (`hemoscale dataset synth` writes one).
    #[arg(long)]
    pub data: PathBuf,
    /// Model spec: `default` (= mlp:64,64:tanh), `mlp:W1,W2,...:ACT` or `gru:H@STEPS+mlp:...`.
    #[arg(long, default_value = "default")]
    pub model: String,
    /// hardsync, asgd, kavg or mavg.
    #[arg(long, default_value = "kavg")]
    pub algorithm: String,
    /// Local steps per averaging round (KAVG, MAVG).
    #[arg(long, default_value_t = 4)]
    pub k: usize,
    /// Reduction momentum of MAVG: a number in [0, 1) or `auto` (1 - 1/P, recomputed when P changes).
    #[arg(long, default_value = "0")]
    pub mu: String,
    /// Mini-batch per learner.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Base step size eta_0.
    #[arg(long, default_value_t = 0.05)]
    pub lr: f64,
    /// Step-size decay p of eta_n = eta_0 / n^p (0: constant).
    #[arg(long, default_value_t = 0.0)]
    pub lr_decay: f64,
    /// How eta_0 follows the number of learners when it changes: none, linear or sqrt.
    #[arg(long, default_value = "none")]
    pub lr_scaling: String,
    /// Optimiser of hard-sync and ASGD updates: sgd, momentum:B, nesterov:B or adam.
    #[arg(long, default_value = "sgd")]
    pub optimizer: String,
    /// Loss: mse or huber[:DELTA].
    #[arg(long, default_value = "mse")]
    pub loss: String,
    /// Epochs (passes over the training rows by all learners together).
    #[arg(long, default_value_t = 20)]
    pub epochs: u64,
    /// Elastic schedule EPOCH:P,... (default: all learners throughout).
    #[arg(long)]
    pub schedule: Option<String>,
    /// Learners as threads of this process (without it: the MPI world, or 1).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Seed of initial weights and shuffles.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Fraction of the rows held out for validation.
    #[arg(long, default_value_t = 0.1)]
    pub validation: f64,
    /// Model file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Per-epoch CSV log [default: the model path with `.csv`].
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Checkpoint directory.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Checkpoint every N epochs (and always at the end).
    #[arg(long, default_value_t = 1)]
    pub checkpoint_every: u64,
    /// Continue from the checkpoint in `--checkpoint`.
    #[arg(long)]
    pub resume: bool,
    /// Stop after this epoch (a checkpoint is written there).
    #[arg(long)]
    pub stop_after: Option<u64>,
}

/// A refusal (exit status 2) or a failure (exit status 1).
#[derive(Debug)]
pub enum CommandError {
    /// Bad input: arguments, files.
    Invalid(String),
    /// Something failed while running.
    Failed(String),
}

impl TrainArgs {
    /// The training configuration these arguments describe, for `learners` learners when no
    /// schedule is given.
    pub fn config(&self, learners: usize) -> Result<TrainConfig, CommandError> {
        let inv = |s: String| CommandError::Invalid(s);
        let algorithm = Algorithm::parse(&self.algorithm)
            .ok_or_else(|| inv(format!("--algorithm `{}`: expected hardsync, asgd, kavg or mavg", self.algorithm)))?;
        let mu = match self.mu.as_str() {
            "auto" => Momentum::Auto,
            m => Momentum::Fixed(m.parse().map_err(|_| inv(format!("--mu `{m}`: a number in [0, 1) or auto")))?),
        };
        let scaling = match self.lr_scaling.as_str() {
            "none" => LrScaling::None,
            "linear" => LrScaling::Linear,
            "sqrt" => LrScaling::Sqrt,
            s => return Err(inv(format!("--lr-scaling `{s}`: expected none, linear or sqrt"))),
        };
        let optimizer = OptimizerKind::parse(&self.optimizer).ok_or_else(|| {
            inv(format!("--optimizer `{}`: expected sgd, momentum:B, nesterov:B or adam", self.optimizer))
        })?;
        let loss = Loss::parse(&self.loss)
            .ok_or_else(|| inv(format!("--loss `{}`: expected mse or huber[:DELTA]", self.loss)))?;
        let schedule = match &self.schedule {
            Some(s) => Elastic::parse(s).map_err(|e| inv(e.to_string()))?,
            None => Elastic::constant(learners),
        };
        Ok(TrainConfig {
            model: self.model.clone(),
            algorithm,
            k: self.k,
            mu,
            batch: self.batch,
            lr: LrSchedule { eta0: self.lr, decay: self.lr_decay, scaling },
            optimizer,
            loss,
            epochs: self.epochs,
            schedule,
            seed: self.seed,
            validation: self.validation,
        })
    }

    fn control(&self) -> RunControl {
        RunControl {
            checkpoint_dir: self.checkpoint.clone(),
            checkpoint_every: self.checkpoint_every,
            stop_after: self.stop_after,
            resume: self.resume,
        }
    }
}

/// Learners a world of `ranks` holds for the algorithm `name` (ASGD's server is not a learner;
/// an unknown name is refused later, by [`TrainArgs::config`]).
fn learners_in(name: &str, ranks: usize) -> usize {
    let server = Algorithm::parse(name).map_or(0, |a| a.ranks_for(0));
    ranks.saturating_sub(server).max(1)
}

/// Runs `hemoscale train`; returns the final JSON on rank 0 and `None` on the other ranks.
pub fn train_command(args: &TrainArgs) -> Result<Option<Value>, CommandError> {
    let data = Dataset::load(&args.data).map_err(|e| CommandError::Invalid(e.to_string()))?;
    if let Some(p) = args.threads {
        if p == 0 {
            return Err(CommandError::Invalid("--threads must be at least 1".into()));
        }
        let cfg = args.config(learners_in(&args.algorithm, p))?;
        cfg.check(p).map_err(|e| CommandError::Invalid(e.to_string()))?;
        let ctl = args.control();
        let mut results = ThreadComm::run(p, |mut c| train(c.as_mut(), &data, &cfg, &ctl));
        let first = results.remove(0).map_err(|e| CommandError::Failed(e.to_string()))?;
        if let Some(e) = results.into_iter().find_map(Result::err) {
            return Err(CommandError::Failed(e.to_string()));
        }
        return finish(args, &cfg, first.expect("rank 0 has the outcome")).map(Some);
    }
    mpi_or_single(args, &data)
}

#[cfg(feature = "mpi")]
fn mpi_or_single(args: &TrainArgs, data: &Dataset) -> Result<Option<Value>, CommandError> {
    use hemoscale_surrogates::comm::mpi_comm::MpiComm;
    use hemoscale_surrogates::comm::Communicator;
    let universe = mpi::initialize().ok_or_else(|| CommandError::Failed("MPI was already initialised".into()))?;
    let mut world = MpiComm::new(mpi::topology::Communicator::duplicate(&universe.world()));
    let size = world.size();
    // A binary built against one MPI but started by another's mpirun runs as separate worlds of
    // one rank: the launcher's own idea of the size tells.
    for var in ["PMI_SIZE", "OMPI_COMM_WORLD_SIZE"] {
        if let Some(n) = std::env::var(var).ok().and_then(|v| v.parse::<usize>().ok()) {
            if n != size {
                return Err(CommandError::Invalid(format!(
                    "the launcher started {n} processes ({var}) but MPI sees a world of {size}: \
                     use the mpirun of the MPI this binary was built with (mpirun.mpich)"
                )));
            }
        }
    }
    let cfg = args.config(learners_in(&args.algorithm, size))?;
    cfg.check(size).map_err(|e| CommandError::Invalid(e.to_string()))?;
    let out = train(&mut world, data, &cfg, &args.control()).map_err(|e| CommandError::Failed(e.to_string()))?;
    match out {
        Some(o) => finish(args, &cfg, o).map(Some),
        None => Ok(None),
    }
}

#[cfg(not(feature = "mpi"))]
fn mpi_or_single(args: &TrainArgs, data: &Dataset) -> Result<Option<Value>, CommandError> {
    let cfg = args.config(learners_in(&args.algorithm, 1))?;
    let ranks = cfg.algorithm.ranks_for(cfg.schedule.max_learners());
    if ranks != 1 {
        return Err(CommandError::Invalid(format!(
            "this needs {ranks} ranks: pass --threads {ranks}, or build with --features mpi and use mpirun"
        )));
    }
    let mut world = ThreadComm::world(1).remove(0);
    let out = train(&mut world, data, &cfg, &args.control()).map_err(|e| CommandError::Failed(e.to_string()))?;
    finish(args, &cfg, out.expect("a single rank is rank 0")).map(Some)
}

/// Writes the model and the log, and returns the final figures.
fn finish(args: &TrainArgs, cfg: &TrainConfig, o: TrainOutcome) -> Result<Value, CommandError> {
    let fail = |e: String| CommandError::Failed(e);
    o.model.save(&args.out).map_err(|e| fail(e.to_string()))?;
    let log = args.log.clone().unwrap_or_else(|| args.out.with_extension("csv"));
    write_log(&log, &o.state.records).map_err(fail)?;
    let last = o.state.records.last();
    Ok(json!({
        "algorithm": cfg.algorithm,
        "learners": cfg.schedule.phases.last().map(|p| p.learners),
        "epochs": o.state.epoch,
        "train_loss": last.map(|r| r.train_loss),
        "validation_loss": last.map(|r| r.validation_loss),
        "all_reduces": last.map(|r| r.all_reduces),
        "bytes_sent": last.map(|r| r.bytes_sent),
        "wall_seconds": last.map(|r| r.wall_seconds),
        "samples": last.map(|r| r.samples),
        "parameters": o.model.network.params.len(),
        "model": args.out.display().to_string(),
        "log": log.display().to_string(),
    }))
}

fn write_log(path: &Path, records: &[EpochRecord]) -> Result<(), String> {
    let io = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
    writeln!(f, "epoch,learners,train_loss,validation_loss,all_reduces,bytes_sent,samples,wall_seconds").map_err(io)?;
    for r in records {
        writeln!(
            f,
            "{},{},{:.8e},{:.8e},{},{},{},{:.4}",
            r.epoch,
            r.learners,
            r.train_loss,
            r.validation_loss,
            r.all_reduces,
            r.bytes_sent,
            r.samples,
            r.wall_seconds
        )
        .map_err(io)?;
    }
    f.flush().map_err(io)
}

/// `hemoscale dataset synth`: Friedman's problem #1.
pub fn synth_command(samples: usize, seed: u64, out: &Path) -> Result<Value, CommandError> {
    if samples == 0 {
        return Err(CommandError::Invalid("--samples must be at least 1".into()));
    }
    let d = Dataset::friedman1(samples, seed);
    d.save(out).map_err(|e| CommandError::Failed(e.to_string()))?;
    Ok(
        json!({"file": out.display().to_string(), "samples": samples, "inputs": 10, "outputs": 1, "description": d.description}),
    )
}

/// `hemoscale dataset inspect`.
pub fn inspect_dataset(path: &Path) -> Result<Value, CommandError> {
    Ok(Dataset::load(path).map_err(|e| CommandError::Invalid(e.to_string()))?.describe())
}

/// `hemoscale model inspect`.
pub fn inspect_model(path: &Path) -> Result<Value, CommandError> {
    Ok(Model::load(path).map_err(|e| CommandError::Invalid(e.to_string()))?.describe())
}

/// What `hemoscale model predict` reports: the backend, the time of the inference alone, and the
/// error of the predictions against the dataset's targets.
pub fn predict_command(model: &Path, data: &Path, backend: Backend, out: Option<&Path>) -> Result<Value, CommandError> {
    let invalid = |e: &dyn std::fmt::Display| CommandError::Invalid(e.to_string());
    let m = Model::load(model).map_err(|e| invalid(&e))?;
    let d = Dataset::load(data).map_err(|e| invalid(&e))?;
    let arch = &m.network.arch;
    if d.inputs.ncols() != arch.inputs || d.targets.ncols() != arch.outputs {
        return Err(CommandError::Invalid(format!(
            "{} has {} inputs and {} outputs per sample, the model {} and {}",
            data.display(),
            d.inputs.ncols(),
            d.targets.ncols(),
            arch.inputs,
            arch.outputs
        )));
    }
    let gpu = crate::run::gpu_context(backend).map_err(|e| CommandError::Failed(e.to_string()))?;
    let failed = |e: InferenceError| match e {
        InferenceError::Gpu(_) => CommandError::Failed(e.to_string()),
        _ => CommandError::Invalid(e.to_string()),
    };
    let (y, seconds, adapter) = match &gpu {
        None => {
            let t = Instant::now();
            let y = m.predict(d.inputs.view());
            (y, t.elapsed().as_secs_f64(), Value::Null)
        }
        Some(ctx) => {
            let g = GpuModel::new(ctx, &m).map_err(failed)?;
            let batch = g.batch(ctx, d.len()).map_err(failed)?;
            batch.upload(ctx, d.inputs.view());
            let t = Instant::now();
            g.run(ctx, &batch).map_err(failed)?;
            let seconds = t.elapsed().as_secs_f64();
            (batch.read(ctx, arch.outputs).map_err(failed)?, seconds, json!(ctx.adapter_name()))
        }
    };
    let n = d.len().max(1) as f64;
    let rmse: Vec<f64> =
        (0..arch.outputs).map(|k| ((&y.column(k) - &d.targets.column(k)).mapv(|e| e * e).sum() / n).sqrt()).collect();
    if let Some(path) = out {
        let io = |e: std::io::Error| CommandError::Failed(format!("{}: {e}", path.display()));
        let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
        let head: Vec<String> =
            (0..arch.outputs).flat_map(|k| [format!("prediction_{k}"), format!("target_{k}")]).collect();
        writeln!(f, "row,{}", head.join(",")).map_err(io)?;
        for (r, (p, t)) in y.rows().into_iter().zip(d.targets.rows()).enumerate() {
            let cells: Vec<String> = p.iter().zip(t.iter()).flat_map(|(p, t)| [p.to_string(), t.to_string()]).collect();
            writeln!(f, "{r},{}", cells.join(",")).map_err(io)?;
        }
        f.flush().map_err(io)?;
    }
    Ok(json!({
        "model": model.display().to_string(),
        "data": data.display().to_string(),
        "rows": d.len(),
        "backend": if gpu.is_some() { "gpu" } else { "cpu" },
        "adapter": adapter,
        "inference_seconds": seconds,
        "rmse": rmse,
        "predictions": out.map(|p| p.display().to_string()),
    }))
}
