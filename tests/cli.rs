//! End-to-end tests of the `hemoscale` binary: listing, running with a summary, benchmarking, and
//! refusing bad input with exit status 2 and a message that names the key and its range.

mod common;

use std::process::{Command, Output};

use serde_json::Value;

fn hemoscale(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hemoscale")).args(args).output().expect("binary runs")
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hemoscale-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

#[test]
fn scenarios_are_listed_with_their_keys() {
    let o = hemoscale(&["scenarios"]);
    assert!(o.status.success());
    assert!(text(&o).0.contains("dpd-box"));

    let o = hemoscale(&["scenarios", "dpd-box", "--json"]);
    assert!(o.status.success(), "{}", text(&o).1);
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let keys: Vec<&str> = v["keys"].as_array().unwrap().iter().map(|k| k["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        ["density", "a", "gamma", "kT", "rc", "s", "dt", "lambda", "morse_d0", "morse_alpha", "morse_r0", "particles"]
    );
    for k in v["keys"].as_array().unwrap() {
        assert!(k["default"].is_number() && k["unit"].is_string() && k["range"].is_string(), "{k}");
    }
    let density = &v["keys"][0];
    assert_eq!(density["default"], 3.0);
    assert_eq!(density["range"], "(0, 100]");

    let o = hemoscale(&["scenarios", "dpd-box"]);
    assert!(o.status.success());
    assert!(text(&o).0.contains("gamma"));
}

#[test]
fn run_writes_a_summary_json() {
    let path = tmp("summary.json");
    let o = hemoscale(&[
        "run",
        "dpd-box",
        "--set",
        "particles=1500",
        "--set",
        "a=20",
        "--steps",
        "300",
        "--backend",
        "cpu",
        "--seed",
        "5",
        "--summary-json",
        path.to_str().unwrap(),
        "--out",
        tmp("run-out").to_str().unwrap(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "stdout:\n{out}\nstderr:\n{err}");
    for col in ["step", "temperature", "pressure", "steps/s", "ETA"] {
        assert!(out.contains(col), "thermo header lacks {col}:\n{out}");
    }
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).expect("JSON");
    assert_eq!(v["scenario"], "dpd-box");
    assert_eq!(v["backend"], "cpu");
    assert_eq!(v["particles"], 1500);
    assert_eq!(v["steps"], 300);
    assert_eq!(v["parameters"]["a"], 20.0);
    assert!(v["adapter"].is_string());
    assert!(v["wall_seconds"].as_f64().unwrap() > 0.0);
    assert!(v["particle_steps_per_second"].as_f64().unwrap() > 0.0);
    let obs = &v["observables"];
    let t = obs["temperature"].as_f64().unwrap();
    let p = obs["pressure"].as_f64().unwrap();
    // Loose sanity bounds only (the physics is tested in dpd_physics.rs): a 300-step run of a
    // random start is still settling.
    assert!((0.9..1.3).contains(&t), "temperature {t}");
    assert!((15.0..25.0).contains(&p), "pressure {p}");
    assert!(obs["momentum_per_particle"].as_f64().unwrap() < 1e-3);
    // The pressure tensor: its trace is three times the pressure; an isotropic fluid has small
    // off-diagonal parts.
    let pt: Vec<f64> = obs["pressure_tensor"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    assert_eq!(pt.len(), 6);
    assert!(((pt[0] + pt[1] + pt[2]) / 3.0 - p).abs() < 1e-9 * p.abs().max(1.0), "{pt:?} vs {p}");
    assert!(pt[3..].iter().all(|x| x.abs() < 1.0), "off-diagonal {pt:?}");
}

/// Runs shorter than the sampling interval still print real numbers on every thermo row.
#[test]
fn short_runs_print_finite_thermo_rows() {
    let out_dir = tmp("short-out");
    let o = hemoscale(&[
        "run",
        "dpd-box",
        "--set",
        "particles=500",
        "--steps",
        "3",
        "--backend",
        "cpu",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let rows: Vec<&str> = out.lines().filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit())).collect();
    assert_eq!(rows.len(), 3, "{out}");
    assert!(!out.contains("NaN"), "{out}");
}

#[test]
fn gpu_backend_runs_from_the_command_line() {
    let Some(_ctx) = common::gpu_context() else {
        return;
    };
    let path = tmp("gpu.json");
    let o = hemoscale(&[
        "run",
        "dpd-box",
        "--set",
        "particles=1500",
        "--steps",
        "100",
        "--backend",
        "gpu",
        "--summary-json",
        path.to_str().unwrap(),
        "--out",
        tmp("gpu-out").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o).1);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["backend"], "gpu");
    assert!(v["observables"]["pressure"].as_f64().unwrap().is_finite());
}

#[test]
fn bench_prints_and_writes_particle_steps_per_second() {
    let path = tmp("bench.json");
    let o = hemoscale(&[
        "bench",
        "dpd",
        "--particles",
        "3000",
        "--steps",
        "10",
        "--warmup",
        "2",
        "--backend",
        "cpu",
        "--summary-json",
        path.to_str().unwrap(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("particle-steps/s"), "{out}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["particles"], 3000);
    assert_eq!(v["steps"], 10);
    assert!(v["particle_steps_per_second"].as_f64().unwrap() > 0.0);
}

/// Each bad input is refused before anything runs: exit status 2, a message naming the key (or
/// field) and what is allowed, and no panic.
#[test]
fn bad_input_is_refused_with_status_2() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["--set", "densty=3"], &["densty", "unknown key", "density"]),
        (&["--set", "density=abc"], &["density", "not a number"]),
        (&["--set", "density"], &["expected KEY=VALUE"]),
        (&["--set", "density=0"], &["density", "(0, 100]"]),
        (&["--set", "density=-3"], &["density", "(0, 100]"]),
        (&["--set", "dt=0"], &["dt", "(0, 0.1]"]),
        (&["--set", "dt=-0.01"], &["dt", "(0, 0.1]"]),
        (&["--set", "gamma=-1"], &["gamma", "[0, 1000]"]),
        (&["--set", "lambda=1.5"], &["lambda", "[0, 1]"]),
        (&["--set", "particles=2.5"], &["particles", "integer"]),
        (&["--set", "particles=1e9"], &["particles", "[2, 50000000]"]),
        (&["--set", "kT=nan"], &["kT"]),
        (&["--set", "particles=10"], &["box edge", ">= 2 rc"]),
        (&["--set", "rc=3", "--set", "particles=300"], &["box edge", ">= 2 rc = 6"]),
        (&["--steps", "0"], &["--steps", ">= 1"]),
    ];
    for (args, needles) in cases {
        let mut all = vec!["run", "dpd-box", "--backend", "cpu"];
        all.extend_from_slice(args);
        let o = hemoscale(&all);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?} should exit 2; stderr: {err}");
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
        assert!(!out.contains("temperature"), "{args:?} started running:\n{out}");
        for n in *needles {
            assert!(err.contains(n), "{args:?}: message lacks {n:?}: {err}");
        }
    }
    // Several mistakes are reported together.
    let o = hemoscale(&["run", "dpd-box", "--set", "density=0", "--set", "dt=0"]);
    let err = text(&o).1;
    assert_eq!(o.status.code(), Some(2));
    assert!(err.contains("density") && err.contains("dt"), "{err}");
    // Unknown scenario and unknown backend.
    let o = hemoscale(&["run", "no-such-box"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("dpd-box"));
    let o = hemoscale(&["run", "dpd-box", "--backend", "tpu"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("auto, cpu, gpu"));
}

/// Vessel scenarios refuse impossible geometry before running: the message names the key.
#[test]
fn bad_vessels_are_refused_with_status_2() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("tube", &["--set", "wall_thickness=0.5"], &["wall_thickness", ">= rc = 1"]),
        ("tube", &["--set", "radius=0.5"], &["radius", ">= rc = 1"]),
        ("stenosis", &["--set", "stenosis=1"], &["stenosis", "[0, 1)"]),
        ("stenosis", &["--set", "stenosis=1.2"], &["stenosis", "[0, 1)"]),
        ("stenosis", &["--set", "stenosis=0.95"], &["stenosis", "outlet of radius 0.894", "< rc = 1"]),
        ("stenosis", &["--set", "stenosis_length=40"], &["stenosis_length", "<= length = 16"]),
        ("couette", &["--set", "height=0.5"], &["height", ">= rc = 1"]),
        ("couette", &["--set", "wall_thickness=0.2", "--set", "height=0.4"], &["wall_thickness", "height"]),
    ];
    for (scenario, args, needles) in cases {
        let mut all = vec!["run", scenario, "--backend", "cpu", "--out", "/nonexistent/never-written"];
        all.extend_from_slice(args);
        let o = hemoscale(&all);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{scenario} {args:?} should exit 2; stderr: {err}");
        assert!(!err.contains("panicked") && !out.contains("temperature"), "{scenario} {args:?}: {out}{err}");
        for n in *needles {
            assert!(err.contains(n), "{scenario} {args:?}: message lacks {n:?}: {err}");
        }
    }
}

/// A short tube run writes every kind of output where `--out` says.
#[test]
fn a_tube_run_writes_its_files() {
    let dir = tmp("tube-out");
    let summary = tmp("tube.json");
    let o = hemoscale(&[
        "run",
        "tube",
        "--set",
        "radius=2.5",
        "--set",
        "length=6",
        "--steps",
        "400",
        "--backend",
        "cpu",
        "--out",
        dir.to_str().unwrap(),
        "--trajectory",
        "every:200",
        "--fields",
        "every:200",
        "--summary-json",
        summary.to_str().unwrap(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    for f in [
        "thermo.csv",
        "trajectory.xyz",
        "particles/particles.pvd",
        "fields/fields.pvd",
        "profile_vx_r.csv",
        "profile_vx_r_velocity.png",
        "profile_vx_r_density.png",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing in {}", dir.display());
    }
    let thermo = std::fs::read_to_string(dir.join("thermo.csv")).unwrap();
    assert!(thermo.starts_with("step,time,temperature,pressure"), "{thermo}");
    assert_eq!(thermo.lines().count(), 21, "a header and 20 rows:\n{thermo}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert!(v["wall_particles"].as_u64().unwrap() > 0);
    assert_eq!(v["observables"]["leaked_particles"], 0);
    for key in ["centerline_velocity", "flow_rate", "slip_velocity", "profile_r2", "near_wall_density_ratio"] {
        assert!(v["observables"][key].is_number(), "{key} missing: {}", v["observables"]);
    }
}
