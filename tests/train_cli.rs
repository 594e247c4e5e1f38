//! `hemoscale train`, `dataset` and `model` end to end: files written and read back, damaged files
//! refused with exit status 2, and the MPI runs (`mpirun.mpich -n 2` and `-n 4`) giving the same
//! model file, byte for byte, as the same number of in-process learners.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;

fn hemoscale(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hemoscale")).args(args).output().expect("binary runs")
}

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("hemoscale-train-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The JSON object on the last line of standard output.
fn last_json(o: &Output) -> Value {
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "failed: {}\n{}", out, String::from_utf8_lossy(&o.stderr));
    serde_json::from_str(out.lines().last().expect("a line")).expect("JSON on the last line")
}

fn synth(samples: &str, name: &str) -> PathBuf {
    let f = dir().join(name);
    let _ = last_json(&hemoscale(&["dataset", "synth", "--samples", samples, "--seed", "3", "--out", s(&f)]));
    f
}

#[test]
fn synth_train_inspect_and_refuse_damage() {
    let data = synth("3000", "f1.hsd");
    let v = last_json(&hemoscale(&["dataset", "inspect", s(&data)]));
    assert_eq!((v["samples"].as_u64(), v["inputs"].as_u64(), v["outputs"].as_u64()), (Some(3000), Some(10), Some(1)));
    let model = dir().join("m.hsm");
    let args = ["train", "--data", s(&data), "--algorithm", "mavg", "--k", "4", "--mu", "0.5", "--batch", "16"];
    let rest = ["--lr", "0.1", "--epochs", "8", "--threads", "2", "--out", s(&model)];
    let v = last_json(&hemoscale(&[&args[..], &rest[..]].concat()));
    for k in ["train_loss", "validation_loss", "all_reduces", "bytes_sent", "wall_seconds", "samples"] {
        assert!(v[k].is_number(), "{k} missing from {v}");
    }
    // Standardised MSE: 1 for the mean, about 0.04 at the noise floor.
    assert!(v["validation_loss"].as_f64().unwrap() < 0.3, "{v}");
    let log = std::fs::read_to_string(model.with_extension("csv")).expect("log");
    assert_eq!(log.lines().count(), 9);
    assert!(log.starts_with("epoch,learners,train_loss,validation_loss,all_reduces,bytes_sent,samples,wall_seconds"));
    let m = last_json(&hemoscale(&["model", "inspect", s(&model)]));
    assert_eq!(m["spec"], "default");
    // Inference over the whole dataset on the CPU and, in one dispatch, on the GPU: the same
    // error against the targets (f32 against f64: 1e-5 relative), and the predictions' CSV.
    let csv = dir().join("predictions.csv");
    let cpu = last_json(&hemoscale(&[
        "model",
        "predict",
        s(&model),
        "--data",
        s(&data),
        "--backend",
        "cpu",
        "--out",
        s(&csv),
    ]));
    let cpu_rmse = cpu["rmse"][0].as_f64().expect("rmse");
    // Friedman #1: targets' standard deviation about 5, noise 1; a trained model is in between.
    assert!((1.0..2.7).contains(&cpu_rmse), "{cpu}");
    let lines = std::fs::read_to_string(&csv).expect("predictions");
    assert_eq!(lines.lines().count(), 3001);
    assert!(lines.starts_with("row,prediction_0,target_0\n"));
    if common::gpu_context().is_some() {
        let gpu = last_json(&hemoscale(&["model", "predict", s(&model), "--data", s(&data), "--backend", "gpu"]));
        assert_eq!(gpu["backend"], "gpu");
        let gpu_rmse = gpu["rmse"][0].as_f64().expect("rmse");
        assert!((gpu_rmse - cpu_rmse).abs() <= 1e-5 * cpu_rmse, "GPU {gpu_rmse} against CPU {cpu_rmse}");
    }
    // Equal runs write equal files.
    let again = dir().join("m2.hsm");
    let rest2 = ["--lr", "0.1", "--epochs", "8", "--threads", "2", "--out", s(&again)];
    let _ = last_json(&hemoscale(&[&args[..], &rest2[..]].concat()));
    assert_eq!(std::fs::read(&model).unwrap(), std::fs::read(&again).unwrap());
    // Damage: a truncated dataset and a flipped byte in the model are refused (exit 2).
    let bytes = std::fs::read(&data).unwrap();
    let cut = dir().join("cut.hsd");
    std::fs::write(&cut, &bytes[..bytes.len() - 9]).unwrap();
    for o in [
        hemoscale(&["dataset", "inspect", s(&cut)]),
        hemoscale(&["train", "--data", s(&cut), "--threads", "1", "--out", s(&dir().join("x.hsm"))]),
    ] {
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("checksum"), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let mut mb = std::fs::read(&model).unwrap();
    mb[40] ^= 1;
    let bad = dir().join("bad.hsm");
    std::fs::write(&bad, &mb).unwrap();
    for o in [
        hemoscale(&["model", "inspect", s(&bad)]),
        hemoscale(&["model", "predict", s(&bad), "--data", s(&data), "--backend", "cpu"]),
    ] {
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("checksum"), "{}", String::from_utf8_lossy(&o.stderr));
    }
    // Bad arguments are named.
    let o = hemoscale(&["train", "--data", s(&data), "--threads", "2", "--algorithm", "sgd", "--out", s(&bad)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--algorithm"));
    let o = hemoscale(&["train", "--data", s(&data), "--threads", "2", "--schedule", "0:4", "--out", s(&bad)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs 4 ranks"), "{}", String::from_utf8_lossy(&o.stderr));
}

/// MPI is part of the product: in CI the binary must be built with it.
#[test]
fn the_mpi_feature_is_built_in_ci() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if ci && !cfg!(feature = "mpi") {
        panic!("CI must build and test with --features mpi (scripts/test.sh does)");
    }
}

/// `mpirun.mpich -n P` gives the model file that P in-process learners give (rank-order
/// reductions), for hard-sync, KAVG and MAVG with an elastic change of P; and a binary started by
/// a launcher of another MPI is refused rather than run as P worlds of one.
#[cfg(feature = "mpi")]
#[test]
fn mpirun_gives_the_same_weights_as_threads() {
    let data = synth("2400", "mpi.hsd");
    let bin = env!("CARGO_BIN_EXE_hemoscale");
    for (n, alg, extra) in [
        ("2", "hardsync", vec!["--optimizer", "adam", "--lr", "0.01"]),
        ("4", "kavg", vec!["--k", "3"]),
        ("4", "mavg", vec!["--k", "3", "--mu", "auto", "--schedule", "0:2,2:4,3:3", "--lr-scaling", "sqrt"]),
    ] {
        let common =
            [vec!["train", "--data", s(&data), "--algorithm", alg, "--epochs", "4", "--batch", "16"], extra].concat();
        let (fm, ft) = (dir().join(format!("mpi-{alg}.hsm")), dir().join(format!("thr-{alg}.hsm")));
        let o = Command::new("mpirun.mpich")
            .args(["-n", n, bin])
            .args(&common)
            .args(["--out", s(&fm)])
            .output()
            .expect("mpirun.mpich runs (apt-get install mpich)");
        let vm = last_json(&o);
        let threads = if alg == "mavg" { "4" } else { n };
        let vt = last_json(&hemoscale(&[&common[..], &["--threads", threads, "--out", s(&ft)][..]].concat()));
        assert_eq!(vm["all_reduces"], vt["all_reduces"], "{alg}");
        assert_eq!(vm["bytes_sent"], vt["bytes_sent"], "{alg}");
        assert_eq!(
            std::fs::read(&fm).unwrap(),
            std::fs::read(&ft).unwrap(),
            "{alg} on {n} ranks: MPI and threads differ"
        );
    }
}
