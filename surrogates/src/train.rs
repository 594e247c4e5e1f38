//! Distributed training: hard-sync SGD, asynchronous SGD with a parameter server, K-step
//! averaging (KAVG, Zhou & Cong, IJCAI 2018) and model averaging with reduction momentum (MAVG),
//! with elastic numbers of learners and exact checkpoints.
//!
//! One update rule serves the synchronous three. Every learner starts a round from the shared
//! weights `w~`, takes `K` plain-SGD steps on its own mini-batches while summing its gradients
//! into `u` (its weights are `w~ - eta u`), and the round ends with
//!
//! ```text
//! d = -(eta * mean_p(u_p))      (= mean of the learners' weights - w~)
//! v = mu v + d                  (MAVG's reduction momentum; v starts at 0)
//! w~ = w~ + v
//! ```
//!
//! KAVG is `mu = 0`; hard-sync SGD applies its optimiser to the all-reduced mean gradient every
//! step, which for plain SGD is the same arithmetic as `K = 1, mu = 0`. So "KAVG with K = 1 equals
//! hard-sync" and "MAVG with mu = 0 equals KAVG" hold bit for bit, not just in exact arithmetic
//! (the tests check both). The step size `eta_n` is indexed by updates of `w~`: steps for
//! hard-sync and ASGD, rounds for KAVG and MAVG, as in the convergence results.
//!
//! An epoch is one pass over the training data by all learners together: each takes
//! `len / P` rows of a permutation drawn from (seed, epoch), so samples processed per epoch do
//! not depend on P or K, and KAVG's last round of an epoch may be shorter than K. Epoch ends are
//! averaging boundaries: all learners agree there, which is where the number of learners may
//! change (the step size scaling and `mu = auto` are recomputed) and checkpoints are taken.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::comm::{CommStats, Communicator};
use crate::container;
use crate::dataset::Dataset;
use crate::error::{Result, SurrogateError};
use crate::loss::Loss;
use crate::model::Model;
use crate::network::{Architecture, Network};
use crate::normalize::Standardizer;
use crate::optim::{Optimizer, OptimizerKind};
use crate::schedule::{Elastic, LrSchedule};

/// Which algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// Mean gradient all-reduced every step.
    HardSync,
    /// Parameter server on rank 0, learners on ranks 1..=P, stale gradients applied on arrival.
    Asgd,
    /// K local steps, then the weights are averaged.
    Kavg,
    /// KAVG with reduction momentum mu.
    Mavg,
}

impl Algorithm {
    /// Parses `hardsync`, `asgd`, `kavg` or `mavg`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "hardsync" => Self::HardSync,
            "asgd" => Self::Asgd,
            "kavg" => Self::Kavg,
            "mavg" => Self::Mavg,
            _ => return None,
        })
    }

    /// Processes needed for `learners` learners (ASGD adds its server).
    pub fn ranks_for(self, learners: usize) -> usize {
        learners + usize::from(self == Self::Asgd)
    }
}

/// MAVG's reduction momentum.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Momentum {
    /// A fixed mu.
    Fixed(f64),
    /// `1 - 1/P`, recomputed when P changes (BMUF's default block momentum).
    Auto,
}

impl Momentum {
    /// mu for `p` learners.
    pub fn mu(self, p: usize) -> f64 {
        match self {
            Self::Fixed(m) => m,
            Self::Auto => 1.0 - 1.0 / p.max(1) as f64,
        }
    }
}

/// Everything that defines a training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Model spec (see [`Architecture::parse`]).
    pub model: String,
    /// Algorithm.
    pub algorithm: Algorithm,
    /// Local steps per round (KAVG, MAVG).
    pub k: usize,
    /// Reduction momentum (MAVG).
    pub mu: Momentum,
    /// Mini-batch per learner.
    pub batch: usize,
    /// Step sizes.
    pub lr: LrSchedule,
    /// Optimiser of hard-sync and ASGD updates (KAVG and MAVG step with plain SGD).
    pub optimizer: OptimizerKind,
    /// Loss.
    pub loss: Loss,
    /// Epochs in all.
    pub epochs: u64,
    /// Active learners by epoch.
    pub schedule: Elastic,
    /// Seed of initial weights and shuffles.
    pub seed: u64,
    /// Fraction of the data held out for validation (the file's last rows).
    pub validation: f64,
}

impl TrainConfig {
    /// Checks the configuration against a world of `world` ranks.
    pub fn check(&self, world: usize) -> Result<()> {
        let bad = |s: String| Err(SurrogateError::Spec(s));
        self.schedule.check()?;
        if self.batch == 0 {
            return bad("batch must be at least 1".into());
        }
        if matches!(self.algorithm, Algorithm::Kavg | Algorithm::Mavg) && self.k == 0 {
            return bad("k must be at least 1".into());
        }
        if !(self.lr.eta0 > 0.0 && self.lr.eta0.is_finite() && (0.0..=1.0).contains(&self.lr.decay)) {
            return bad(format!("lr {} must be positive, lr-decay {} in [0, 1]", self.lr.eta0, self.lr.decay));
        }
        if let Momentum::Fixed(m) = self.mu {
            if !(0.0..1.0).contains(&m) {
                return bad(format!("mu {m} must be in [0, 1)"));
            }
        }
        if !(0.0..1.0).contains(&self.validation) {
            return bad(format!("validation fraction {} must be in [0, 1)", self.validation));
        }
        if matches!(self.algorithm, Algorithm::Kavg | Algorithm::Mavg) && !self.optimizer.is_plain_sgd() {
            return bad("KAVG and MAVG take plain SGD local steps (--optimizer sgd)".into());
        }
        let need = self.algorithm.ranks_for(self.schedule.max_learners());
        if need != world {
            return bad(format!(
                "{:?} with at most {} learners needs {need} ranks, but the world has {world}",
                self.algorithm,
                self.schedule.max_learners()
            ));
        }
        Ok(())
    }

    /// What a checkpoint must agree with to be resumed (the run length may change).
    fn fingerprint(&self) -> String {
        let mut c = self.clone();
        c.epochs = 0;
        serde_json::to_string(&c).expect("plain data")
    }
}

/// One epoch's line of the training log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch (1-based: after this many passes).
    pub epoch: u64,
    /// Learners active in it.
    pub learners: usize,
    /// Loss of the shared model on the training rows, standardised units.
    pub train_loss: f64,
    /// Loss on the validation rows, standardised units.
    pub validation_loss: f64,
    /// All-reduces so far (summed over nothing: every learner takes part in each).
    pub all_reduces: u64,
    /// Payload bytes sent so far by all ranks together.
    pub bytes_sent: u64,
    /// Samples processed so far by all learners together.
    pub samples: u64,
    /// Wall seconds so far (of this process; resumed runs add up their segments).
    pub wall_seconds: f64,
}

/// Everything needed to continue a run exactly: the shared weights, MAVG's `v`, the optimiser,
/// the counters and the log. Random choices are functions of (seed, epoch), so no generator
/// state is stored beyond the epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainState {
    /// Shared weights `w~`.
    pub params: Vec<f64>,
    /// MAVG's momentum `v` (empty otherwise).
    pub velocity: Vec<f64>,
    /// The hard-sync / ASGD optimiser.
    pub optimizer: Optimizer,
    /// Completed epochs.
    pub epoch: u64,
    /// Updates of `w~` so far (the n of eta_n).
    pub updates: u64,
    /// The log so far.
    pub records: Vec<EpochRecord>,
}

#[derive(Serialize, Deserialize)]
struct CheckpointHeader {
    config: String,
    data_crc: u32,
    epoch: u64,
    updates: u64,
    optimizer: OptimizerKind,
    optimizer_steps: u64,
    records: Vec<EpochRecord>,
}

const CKPT_MAGIC: &[u8; 8] = b"HSCKPT\0\0";
const CKPT_VERSION: u32 = 1;

/// Checkpoint file name in a checkpoint directory; the one before it is kept as
/// [`PREVIOUS_CHECKPOINT`].
pub const CHECKPOINT: &str = "train.ckpt";
/// The previous checkpoint.
pub const PREVIOUS_CHECKPOINT: &str = "train.prev.ckpt";

impl TrainState {
    fn to_bytes(&self, cfg: &TrainConfig, data_crc: u32) -> Vec<u8> {
        let h = CheckpointHeader {
            config: cfg.fingerprint(),
            data_crc,
            epoch: self.epoch,
            updates: self.updates,
            optimizer: self.optimizer.kind,
            optimizer_steps: self.optimizer.t,
            records: self.records.clone(),
        };
        container::encode(
            CKPT_MAGIC,
            CKPT_VERSION,
            &h,
            &[&self.params, &self.velocity, &self.optimizer.m, &self.optimizer.v],
        )
    }

    /// Reads a checkpoint written for `cfg` and `data`, refusing a corrupt one or one of another
    /// run.
    pub fn load(path: &Path, cfg: &TrainConfig, data: &Dataset) -> Result<Self> {
        let bytes = container::read(path)?;
        let (h, mut a): (CheckpointHeader, _) =
            container::decode(&bytes, CKPT_MAGIC, CKPT_VERSION, "training checkpoint", path)?;
        let bad = |why: &str| SurrogateError::Corrupt { path: path.display().to_string(), why: why.into() };
        if h.config != cfg.fingerprint() {
            return Err(bad(
                "written by a run with another configuration (model, algorithm, k, mu, batch, lr, schedule, seed)",
            ));
        }
        if h.data_crc != data_crc(data) {
            return Err(bad("written for another dataset"));
        }
        if a.len() != 4 {
            return Err(bad("expected four arrays"));
        }
        let ov = a.pop().expect("4");
        let om = a.pop().expect("4");
        let velocity = a.pop().expect("4");
        let params = a.pop().expect("4");
        let mut optimizer = Optimizer::new(h.optimizer, params.len());
        if om.len() != optimizer.m.len() || ov.len() != optimizer.v.len() {
            return Err(bad("optimiser state does not match the model"));
        }
        optimizer.m = om;
        optimizer.v = ov;
        optimizer.t = h.optimizer_steps;
        Ok(Self { params, velocity, optimizer, epoch: h.epoch, updates: h.updates, records: h.records })
    }

    /// Writes the checkpoint atomically into `dir`, keeping the previous one.
    fn save(&self, dir: &Path, cfg: &TrainConfig, crc: u32) -> Result<()> {
        let path = dir.join(CHECKPOINT);
        if path.exists() {
            std::fs::rename(&path, dir.join(PREVIOUS_CHECKPOINT))
                .map_err(|source| SurrogateError::Io { path: path.display().to_string(), source })?;
        }
        container::write_atomic(&path, &self.to_bytes(cfg, crc))
    }
}

/// CRC-32 of a dataset's contents (ties a checkpoint to its data).
pub fn data_crc(d: &Dataset) -> u32 {
    crc32fast::hash(&d.to_bytes())
}

/// Where and how often to checkpoint, and when to stop early (tests, `--stop-after`).
#[derive(Clone, Debug, Default)]
pub struct RunControl {
    /// Checkpoint directory.
    pub checkpoint_dir: Option<PathBuf>,
    /// Checkpoint every this many epochs (0: only at the end).
    pub checkpoint_every: u64,
    /// Stop after this epoch (a checkpoint is written there).
    pub stop_after: Option<u64>,
    /// Resume from the checkpoint in `checkpoint_dir`.
    pub resume: bool,
}

/// What a finished (or stopped) run returns on rank 0.
#[derive(Clone, Debug)]
pub struct TrainOutcome {
    /// The trained model.
    pub model: Model,
    /// The final state (its `records` are the log).
    pub state: TrainState,
    /// Rows used for training.
    pub train_samples: usize,
}

/// Training and validation data, standardised.
struct Prepared {
    train: Dataset,
    valid: Dataset,
    inputs: Standardizer,
    outputs: Standardizer,
}

fn prepare(data: &Dataset, validation: f64) -> Result<Prepared> {
    let (train, valid) = data.split_validation(validation);
    if train.is_empty() {
        return Err(SurrogateError::Spec("no training rows".into()));
    }
    let inputs = Standardizer::fit(train.inputs.view());
    let outputs = Standardizer::fit(train.targets.view());
    let std = |d: &Dataset| Dataset {
        inputs: inputs.apply(d.inputs.view()),
        targets: outputs.apply(d.targets.view()),
        description: String::new(),
    };
    Ok(Prepared { train: std(&train), valid: std(&valid), inputs, outputs })
}

fn mean_loss(net: &Network, params: &[f64], x: ArrayView2<f64>, t: ArrayView2<f64>, loss: Loss) -> f64 {
    if x.nrows() == 0 {
        return f64::NAN;
    }
    // In chunks, to bound memory; weighted by rows.
    let mut total = 0.0;
    for start in (0..x.nrows()).step_by(4096) {
        let end = (start + 4096).min(x.nrows());
        let y = net.forward_at(params, x.slice(ndarray::s![start..end, ..]));
        total += loss.value(y.view(), t.slice(ndarray::s![start..end, ..])) * (end - start) as f64;
    }
    total / x.nrows() as f64
}

/// Packs the state for a broadcast: params, velocity, optimiser buffers, counters.
fn pack(s: &TrainState) -> Vec<f64> {
    let mut v = Vec::with_capacity(s.params.len() * 2 + s.optimizer.m.len() + s.optimizer.v.len() + 2);
    v.extend(&s.params);
    v.extend(&s.velocity);
    v.extend(&s.optimizer.m);
    v.extend(&s.optimizer.v);
    v.push(s.updates as f64);
    v.push(s.optimizer.t as f64);
    v
}

fn unpack(s: &mut TrainState, v: &[f64]) {
    let mut at = 0;
    for buf in [&mut s.params, &mut s.velocity, &mut s.optimizer.m, &mut s.optimizer.v] {
        let n = buf.len();
        buf.copy_from_slice(&v[at..at + n]);
        at += n;
    }
    s.updates = v[at] as u64;
    s.optimizer.t = v[at + 1] as u64;
}

/// Trains on `data` with the ranks of `world` (every rank calls this with the same arguments);
/// returns the outcome on rank 0 and `None` elsewhere.
///
/// ```
/// use hemoscale_surrogates::comm::threads::ThreadComm;
/// use hemoscale_surrogates::dataset::Dataset;
/// use hemoscale_surrogates::optim::OptimizerKind;
/// use hemoscale_surrogates::schedule::{Elastic, LrScaling, LrSchedule};
/// use hemoscale_surrogates::train::{train, Algorithm, Momentum, RunControl, TrainConfig};
/// use hemoscale_surrogates::Loss;
///
/// // KAVG with two learners, 4 local steps a round, on 240 rows of which 48 are held out.
/// let data = Dataset::friedman1(240, 1);
/// let cfg = TrainConfig {
///     model: "mlp:16:tanh".into(),
///     algorithm: Algorithm::Kavg,
///     k: 4,
///     mu: Momentum::Fixed(0.0),
///     batch: 8,
///     lr: LrSchedule { eta0: 0.05, decay: 0.0, scaling: LrScaling::None },
///     optimizer: OptimizerKind::PLAIN,
///     loss: Loss::Mse,
///     epochs: 5,
///     schedule: Elastic::constant(2),
///     seed: 3,
///     validation: 0.2,
/// };
/// let out = ThreadComm::run(2, |mut c| train(c.as_mut(), &data, &cfg, &RunControl::default()).expect("trained"));
/// assert!(out[1].is_none());
/// let outcome = out[0].as_ref().expect("rank 0 has the outcome");
/// assert_eq!(outcome.train_samples, 192);
/// let log = &outcome.state.records;
/// assert_eq!(log.len(), 5);
/// assert!(log[4].train_loss < log[0].train_loss, "{log:?}");
/// ```
pub fn train(
    world: &mut dyn Communicator,
    data: &Dataset,
    cfg: &TrainConfig,
    ctl: &RunControl,
) -> Result<Option<TrainOutcome>> {
    cfg.check(world.size())?;
    let prep = prepare(data, cfg.validation)?;
    let arch = Architecture::parse(&cfg.model, data.inputs.ncols(), data.targets.ncols())?;
    let net = Network::new(arch, cfg.seed)?;
    let n_params = net.params.len();
    let crc = data_crc(data);
    let fresh = TrainState {
        params: net.params.clone(),
        velocity: if cfg.algorithm == Algorithm::Mavg { vec![0.0; n_params] } else { Vec::new() },
        optimizer: Optimizer::new(
            if matches!(cfg.algorithm, Algorithm::HardSync | Algorithm::Asgd) {
                cfg.optimizer
            } else {
                OptimizerKind::PLAIN
            },
            n_params,
        ),
        epoch: 0,
        updates: 0,
        records: Vec::new(),
    };
    // Rank 0 reads the checkpoint; the others receive the state at the first phase boundary.
    let loaded = match (&ctl.checkpoint_dir, ctl.resume, world.rank()) {
        (Some(dir), true, 0) => Some(TrainState::load(&dir.join(CHECKPOINT), cfg, data)),
        _ => None,
    };
    // Everyone learns whether rank 0 could resume, and from which epoch, before going on.
    let verdict = match &loaded {
        Some(Ok(s)) => s.epoch as f64,
        Some(Err(_)) => -1.0,
        None => 0.0,
    };
    let mut at = [verdict];
    world.broadcast(&mut at, 0)?;
    let mut state = match loaded {
        Some(r) => r?,
        None if at[0] < 0.0 => return Err(SurrogateError::Comm("rank 0 could not read the checkpoint".into())),
        None => TrainState { epoch: at[0] as u64, ..fresh },
    };
    let t0 = Instant::now();
    let wall0 = state.records.last().map_or(0.0, |r| r.wall_seconds);
    let p0 = cfg.schedule.phases[0].learners;
    let last_epoch = ctl.stop_after.map_or(cfg.epochs, |s| s.min(cfg.epochs));
    let mut traffic = state
        .records
        .last()
        .map_or(CommStats::default(), |r| CommStats { all_reduces: r.all_reduces, bytes_sent: r.bytes_sent });
    let mut samples = state.records.last().map_or(0, |r| r.samples);
    let mut epoch = state.epoch;
    while epoch < last_epoch {
        // A phase: the epochs with the same learners.
        let phase = cfg.schedule.phase_of(epoch);
        let phase_end = cfg.schedule.phases.get(phase + 1).map_or(last_epoch, |p| p.from_epoch.min(last_epoch));
        let p = cfg.schedule.phases[phase].learners;
        let ranks = cfg.algorithm.ranks_for(p);
        // Everyone agrees on the state at the boundary (ranks that sat out have stale copies).
        let before = world.stats();
        let mut packed = pack(&state);
        world.broadcast(&mut packed, 0)?;
        unpack(&mut state, &packed);
        let world_bytes = world.stats().bytes_sent - before.bytes_sent;
        let world_bytes = sum_over(world, world_bytes)?;
        traffic.bytes_sent += world_bytes;
        let active = world.rank() < ranks;
        let sub = world.split(active.then_some(0))?;
        if let Some(mut sub) = sub {
            for e in epoch..phase_end {
                let s0 = sub.stats();
                let ep = Epoch { net: &net, train: &prep.train, cfg, index: e, learners: p, first_learners: p0 };
                match cfg.algorithm {
                    Algorithm::Asgd => asgd_epoch(sub.as_mut(), &ep, &mut state)?,
                    _ => sync_epoch(sub.as_mut(), &ep, &mut state)?,
                }
                let s1 = sub.stats();
                let delta = [(s1.all_reduces - s0.all_reduces) as f64, (s1.bytes_sent - s0.bytes_sent) as f64];
                // Traffic of all ranks (this gather's own bytes excluded).
                let all = sub.all_gather(&delta)?;
                traffic.all_reduces += all[0][0] as u64;
                traffic.bytes_sent += all.iter().map(|d| d[1] as u64).sum::<u64>();
                let per = prep.train.len() / p;
                samples += (p * (per / cfg.batch) * cfg.batch) as u64;
                state.epoch = e + 1;
                if world.rank() == 0 {
                    let (x, t) = (prep.train.inputs.view(), prep.train.targets.view());
                    let (vx, vt) = (prep.valid.inputs.view(), prep.valid.targets.view());
                    state.records.push(EpochRecord {
                        epoch: e + 1,
                        learners: p,
                        train_loss: mean_loss(&net, &state.params, x, t, cfg.loss),
                        validation_loss: mean_loss(&net, &state.params, vx, vt, cfg.loss),
                        all_reduces: traffic.all_reduces,
                        bytes_sent: traffic.bytes_sent,
                        samples,
                        wall_seconds: wall0 + t0.elapsed().as_secs_f64(),
                    });
                    tracing::info!(
                        epoch = e + 1,
                        learners = p,
                        loss = state.records.last().map(|r| r.train_loss),
                        "epoch"
                    );
                    let due = ctl.checkpoint_every > 0 && (e + 1) % ctl.checkpoint_every == 0;
                    if let Some(dir) = &ctl.checkpoint_dir {
                        if due || e + 1 == last_epoch {
                            state.save(dir, cfg, crc)?;
                        }
                    }
                }
            }
        }
        // Ranks that sat out learn the counters from rank 0 at the next boundary; keep samples and
        // traffic in step with rank 0 (only rank 0's log is reported).
        epoch = phase_end;
        state.epoch = epoch;
    }
    if world.rank() != 0 {
        return Ok(None);
    }
    let network = Network::from_params(net.arch.clone(), state.params.clone())?;
    let model = Model { network, inputs: prep.inputs.clone(), outputs: prep.outputs.clone() };
    Ok(Some(TrainOutcome { model, state, train_samples: prep.train.len() }))
}

/// Sum of `x` over all ranks of `c` (bookkeeping: callers measure traffic around the algorithm's
/// own communication only, so this gather is not counted).
fn sum_over(c: &mut dyn Communicator, x: u64) -> Result<u64> {
    let all = c.all_gather(&[x as f64])?;
    Ok(all.iter().map(|v| v[0] as u64).sum())
}

/// What one epoch's learners share: the network, the (standardised) training rows, the
/// configuration, which epoch, and how many learners take part now and did in the first phase.
struct Epoch<'a> {
    net: &'a Network,
    train: &'a Dataset,
    cfg: &'a TrainConfig,
    index: u64,
    learners: usize,
    first_learners: usize,
}

impl Epoch<'_> {
    /// Step size of update `n` with this epoch's learners.
    fn eta(&self, n: u64) -> f64 {
        self.cfg.lr.eta(n, self.learners, self.first_learners)
    }
}

/// One epoch of hard-sync, KAVG or MAVG on the active learners `c`.
fn sync_epoch(c: &mut dyn Communicator, ep: &Epoch, s: &mut TrainState) -> Result<()> {
    let (net, train, cfg, p) = (ep.net, ep.train, ep.cfg, ep.learners);
    let rows = train.shard(cfg.seed, ep.index, c.rank(), p);
    let batches: Vec<&[usize]> = rows.chunks_exact(cfg.batch).collect();
    let n = s.params.len();
    let mut g = vec![0.0; n];
    if cfg.algorithm == Algorithm::HardSync {
        for b in batches {
            let (x, t) = train.batch(b);
            let _ = net.loss_and_grad_at(&s.params, x.view(), t.view(), cfg.loss, &mut g);
            c.all_reduce_mean(&mut g)?;
            s.updates += 1;
            let eta = ep.eta(s.updates);
            s.optimizer.step(&mut s.params, &g, eta);
        }
        return Ok(());
    }
    let k = cfg.k;
    let mu = if cfg.algorithm == Algorithm::Mavg { cfg.mu.mu(p) } else { 0.0 };
    let mut local = s.params.clone();
    let mut u = vec![0.0; n];
    for round in batches.chunks(k) {
        let eta = ep.eta(s.updates + 1);
        u.fill(0.0);
        local.copy_from_slice(&s.params);
        for b in round {
            let (x, t) = train.batch(b);
            let _ = net.loss_and_grad_at(&local, x.view(), t.view(), cfg.loss, &mut g);
            for i in 0..n {
                u[i] += g[i];
                local[i] = s.params[i] - eta * u[i];
            }
        }
        c.all_reduce_mean(&mut u)?;
        s.updates += 1;
        if cfg.algorithm == Algorithm::Mavg {
            for ((w, v), u) in s.params.iter_mut().zip(&mut s.velocity).zip(&u) {
                let d = -(eta * u);
                *v = mu * *v + d;
                *w += *v;
            }
        } else {
            for (w, u) in s.params.iter_mut().zip(&u) {
                *w += -(eta * u);
            }
        }
    }
    Ok(())
}

const ASGD_TAG: u32 = 77;
const ASGD_PULL: f64 = 0.0;
const ASGD_GRAD: f64 = 1.0;
const ASGD_DONE: f64 = 2.0;

/// One epoch of asynchronous SGD: rank 0 serves, ranks 1..=p learn. A learner pulls the weights,
/// computes a mini-batch gradient and pushes it; the server applies each gradient on arrival
/// (however stale) and answers with the current weights.
fn asgd_epoch(c: &mut dyn Communicator, ep: &Epoch, s: &mut TrainState) -> Result<()> {
    let (net, train, cfg, p) = (ep.net, ep.train, ep.cfg, ep.learners);
    let n = s.params.len();
    if c.rank() == 0 {
        let mut done = 0;
        while done < p {
            let (from, msg) = c.recv(None, ASGD_TAG)?;
            let kind = msg.first().copied().unwrap_or(ASGD_DONE);
            if kind == ASGD_GRAD {
                if msg.len() != n + 1 {
                    return Err(SurrogateError::Comm(format!("gradient of {} values from rank {from}", msg.len() - 1)));
                }
                s.updates += 1;
                let eta = ep.eta(s.updates);
                s.optimizer.step(&mut s.params, &msg[1..], eta);
            }
            if kind == ASGD_DONE {
                done += 1;
            } else {
                let reply = s.params.clone();
                c.send(from, ASGD_TAG, &reply)?;
            }
        }
        return Ok(());
    }
    let rows = train.shard(cfg.seed, ep.index, c.rank() - 1, p);
    let mut g = vec![0.0; n + 1];
    g[0] = ASGD_GRAD;
    c.send(0, ASGD_TAG, &[ASGD_PULL])?;
    let (_, mut w) = c.recv(Some(0), ASGD_TAG)?;
    for b in rows.chunks_exact(cfg.batch) {
        let (x, t) = train.batch(b);
        let _ = net.loss_and_grad_at(&w, x.view(), t.view(), cfg.loss, &mut g[1..]);
        g[0] = ASGD_GRAD;
        c.send(0, ASGD_TAG, &g)?;
        w = c.recv(Some(0), ASGD_TAG)?.1;
    }
    c.send(0, ASGD_TAG, &[ASGD_DONE])?;
    Ok(())
}

/// Loss of a model on physical data, in standardised units (what the log reports).
pub fn standardized_loss(model: &Model, data: &Dataset, loss: Loss) -> f64 {
    let x = model.inputs.apply(data.inputs.view());
    let t: Array2<f64> = model.outputs.apply(data.targets.view());
    mean_loss(&model.network, &model.network.params, x.view(), t.view(), loss)
}
