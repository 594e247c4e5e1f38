//! The distributed trainers on in-process learners: the identities that define the algorithms
//! (bit for bit), convergence on Friedman's problem, exact resume across an elastic change, and
//! refusal of damaged files.

use std::path::PathBuf;

use hemoscale_surrogates::comm::threads::ThreadComm;
use hemoscale_surrogates::dataset::Dataset;
use hemoscale_surrogates::model::Model;
use hemoscale_surrogates::optim::OptimizerKind;
use hemoscale_surrogates::schedule::{Elastic, LrScaling, LrSchedule};
use hemoscale_surrogates::train::{
    train, Algorithm, Momentum, RunControl, TrainConfig, TrainOutcome, CHECKPOINT, PREVIOUS_CHECKPOINT,
};
use hemoscale_surrogates::Loss;

fn config(algorithm: Algorithm, learners: usize, k: usize, mu: f64) -> TrainConfig {
    TrainConfig {
        model: "mlp:16,16:tanh".into(),
        algorithm,
        k,
        mu: Momentum::Fixed(mu),
        batch: 16,
        lr: LrSchedule { eta0: 0.05, decay: 0.2, scaling: LrScaling::None },
        optimizer: OptimizerKind::PLAIN,
        loss: Loss::Mse,
        epochs: 3,
        schedule: Elastic::constant(learners),
        seed: 11,
        validation: 0.1,
    }
}

fn run(data: &Dataset, cfg: &TrainConfig, ctl: &RunControl) -> TrainOutcome {
    let ranks = cfg.algorithm.ranks_for(cfg.schedule.max_learners());
    let mut out = ThreadComm::run(ranks, |mut c| train(c.as_mut(), data, cfg, ctl).expect("training"));
    out.remove(0).expect("rank 0 returns the outcome")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hemoscale-surrogates-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn kavg_with_one_local_step_is_hard_sync_bit_for_bit() {
    let data = Dataset::friedman1(1200, 1);
    let hard = run(&data, &config(Algorithm::HardSync, 3, 1, 0.0), &RunControl::default());
    let kavg = run(&data, &config(Algorithm::Kavg, 3, 1, 0.0), &RunControl::default());
    assert_eq!(hard.state.params, kavg.state.params);
    assert_eq!(hard.state.updates, kavg.state.updates);
    // Both all-reduce once per step.
    assert_eq!(hard.state.records.last().map(|r| r.all_reduces), kavg.state.records.last().map(|r| r.all_reduces));
}

#[test]
fn mavg_without_momentum_is_kavg_bit_for_bit() {
    let data = Dataset::friedman1(1200, 2);
    let kavg = run(&data, &config(Algorithm::Kavg, 4, 5, 0.0), &RunControl::default());
    let mavg = run(&data, &config(Algorithm::Mavg, 4, 5, 0.0), &RunControl::default());
    assert_eq!(kavg.state.params, mavg.state.params);
    // And momentum changes the result.
    let moving = run(&data, &config(Algorithm::Mavg, 4, 5, 0.5), &RunControl::default());
    assert_ne!(kavg.state.params, moving.state.params);
}

#[test]
fn every_algorithm_learns_friedman1() {
    // Standardised MSE: predicting the mean scores 1; the noise floor is 1 / var(y) = 0.04.
    let data = Dataset::friedman1(4000, 3);
    for (alg, k, mu) in
        [(Algorithm::HardSync, 1, 0.0), (Algorithm::Kavg, 4, 0.0), (Algorithm::Mavg, 4, 0.5), (Algorithm::Asgd, 1, 0.0)]
    {
        let mut cfg = config(alg, 2, k, mu);
        cfg.epochs = 30;
        cfg.lr.eta0 = 0.1;
        let out = run(&data, &cfg, &RunControl::default());
        let last = out.state.records.last().expect("a log");
        eprintln!("{alg:?}: {last:?}");
        assert!(last.validation_loss < 0.15, "{alg:?} validation loss {}", last.validation_loss);
        assert_eq!(last.samples, 30 * 2 * (3600 / 2 / 16 * 16) as u64);
        if alg == Algorithm::Kavg {
            // ceil(112 batches / 4) = 28 rounds per epoch.
            assert_eq!(last.all_reduces, 30 * 28);
        }
        if alg == Algorithm::Asgd {
            assert_eq!(last.all_reduces, 0);
            assert!(last.bytes_sent > 0);
        }
    }
}

#[test]
fn a_resumed_run_ends_where_an_uninterrupted_one_does_across_an_elastic_change() {
    let data = Dataset::friedman1(1500, 4);
    for alg in [Algorithm::Mavg, Algorithm::HardSync] {
        let mut cfg = config(alg, 2, 3, 0.3);
        cfg.epochs = 6;
        cfg.schedule = Elastic::parse("0:2,3:4,5:3").expect("schedule");
        cfg.lr.scaling = LrScaling::Sqrt;
        if alg == Algorithm::HardSync {
            cfg.optimizer = OptimizerKind::parse("adam").expect("adam");
            cfg.lr.eta0 = 0.01;
        }
        let whole = run(&data, &cfg, &RunControl::default());
        let dir = tmp(&format!("resume-{alg:?}"));
        // Stop after epoch 2 (before the change to 4 learners), then after 4, then finish.
        for (stop, resume) in [(2, false), (4, true), (6, true)] {
            let ctl =
                RunControl { checkpoint_dir: Some(dir.clone()), checkpoint_every: 1, stop_after: Some(stop), resume };
            let part = run(&data, &cfg, &ctl);
            assert_eq!(part.state.epoch, stop);
            if stop == 6 {
                assert_eq!(part.state.params, whole.state.params, "{alg:?}: resumed weights differ");
                assert_eq!(part.model.to_bytes(), whole.model.to_bytes());
                assert_eq!(part.state.records.len(), 6);
                let learners: Vec<usize> = part.state.records.iter().map(|r| r.learners).collect();
                assert_eq!(learners, [2, 2, 2, 4, 4, 3]);
            }
        }
        assert!(dir.join(PREVIOUS_CHECKPOINT).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn damaged_checkpoints_and_models_are_refused_and_the_previous_checkpoint_still_loads() {
    let data = Dataset::friedman1(800, 5);
    let mut cfg = config(Algorithm::Kavg, 2, 2, 0.0);
    cfg.epochs = 2;
    let dir = tmp("damage");
    let ctl = RunControl { checkpoint_dir: Some(dir.clone()), checkpoint_every: 1, stop_after: None, resume: false };
    let out = run(&data, &cfg, &ctl);
    // Truncate the newest checkpoint: resuming refuses it with a message.
    let ckpt = dir.join(CHECKPOINT);
    let bytes = std::fs::read(&ckpt).expect("checkpoint");
    std::fs::write(&ckpt, &bytes[..bytes.len() / 2]).expect("truncate");
    let resume = RunControl { resume: true, ..ctl.clone() };
    let errs = ThreadComm::run(2, |mut c| train(c.as_mut(), &data, &cfg, &resume).err().map(|e| e.to_string()));
    let e = errs[0].clone().expect("refused");
    assert!(e.contains("train.ckpt") && e.contains("checksum"), "{e}");
    // The previous one is intact: put it back and resume to the end.
    std::fs::copy(dir.join(PREVIOUS_CHECKPOINT), &ckpt).expect("restore");
    let again = run(&data, &cfg, &resume);
    assert_eq!(again.state.params, out.state.params);
    // A checkpoint of another configuration is refused too.
    let mut other = cfg.clone();
    other.seed = 12;
    let errs = ThreadComm::run(2, |mut c| train(c.as_mut(), &data, &other, &resume).err().map(|e| e.to_string()));
    assert!(errs[0].as_deref().is_some_and(|e| e.contains("another configuration")), "{errs:?}");
    // Models: deterministic bytes, and any damage refused.
    let path = dir.join("m.hsm");
    out.model.save(&path).expect("save");
    assert_eq!(Model::load(&path).expect("load"), out.model);
    let mut b = std::fs::read(&path).expect("model");
    let mid = b.len() / 2;
    b[mid] ^= 0x10;
    std::fs::write(&path, &b).expect("write");
    let e = Model::load(&path).unwrap_err().to_string();
    assert!(e.contains("checksum"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_world_of_the_wrong_size_is_refused() {
    let data = Dataset::friedman1(100, 6);
    let cfg = config(Algorithm::Asgd, 2, 1, 0.0);
    let errs =
        ThreadComm::run(2, |mut c| train(c.as_mut(), &data, &cfg, &RunControl::default()).err().map(|e| e.to_string()));
    assert!(errs[0].as_deref().is_some_and(|e| e.contains("needs 3 ranks")), "{errs:?}");
}
