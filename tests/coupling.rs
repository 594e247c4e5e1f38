//! The coupling layer end to end through the `hemoscale` binary (CPU backend): a run with
//! `coupling=surrogate` learns a reduced model online and writes it with its harvest, which
//! `hemoscale coupling fit` fits offline; a corrupt or mismatched model file is refused with exit
//! status 2; a run whose shear rate lies outside the model's training range never hands its
//! platelet to the surrogate and reproduces the fine run exactly; a shear rate that leaves the
//! range mid-run sends a reduced platelet back to the particles; and out of the box the shipped
//! model stands in after the first fine segment.
//!
//! Reference for the last point: the fine run itself, bit for bit (same seed, same engine, the
//! platelet never leaves it), not a tolerance. The accuracy of the surrogate against the fine run
//! over two flips is tested in `tests/platelet_physics.rs`, where the fine run is made anyway.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hemoscale-coupling-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

fn shear_flip(dir: &Path, steps: &str, sets: &[&str], extra: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hemoscale"));
    c.args(["run", "shear-flip", "--backend", "cpu", "--steps", steps, "--thermo", "500"]);
    for s in sets {
        c.args(["--set", s]);
    }
    c.args(["--out", dir.to_str().expect("utf-8")]);
    c.args(["--summary-json", dir.join("summary.json").to_str().expect("utf-8")]);
    c.args(extra).output().expect("hemoscale runs")
}

fn hemoscale(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hemoscale")).args(args).output().expect("hemoscale runs")
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8")
}

fn observables(dir: &Path) -> serde_json::Value {
    let s = std::fs::read_to_string(dir.join("summary.json")).expect("summary");
    serde_json::from_str::<serde_json::Value>(&s).expect("json")["observables"].clone()
}

/// Skips the rest-stress calibration.
const NO_REST: &str = "rest_stress_time=0";

#[test]
fn learns_online_refuses_bad_models_and_falls_back_out_of_range() {
    // 1. Learn at 1.3e5 1/s: 15 time units of harvest, then a fit.
    let learn = tmp("learn");
    // No rest-stress calibration in this test (`rest_stress_time=0`): what it checks (the
    // harvest, the fit, refusals, out-of-range decisions) does not depend on the subtracted
    // stress, and each calibration costs half a minute.
    let sets = ["shear_rate=1.3e5", "coupling=surrogate", "coupling_source=online", "coupling_harvest=15", NO_REST];
    let o = shear_flip(&learn, "2000", &sets, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let obs = observables(&learn);
    assert_eq!(obs["coupling"], "surrogate", "{obs}");
    assert_eq!(obs["coupling_model"], "online", "{obs}");
    assert!(obs["learned_jeffery"]["a"].as_f64().is_some_and(f64::is_finite), "{obs}");
    let range = &obs["trained_shear_rate"];
    let (lo, hi) = (range[0].as_f64().expect("lo"), range[1].as_f64().expect("hi"));
    // The local shear rate the platelet sees: within 20 % of the imposed 1.3e5 1/s.
    assert!(lo > 1.0e5 && hi < 1.6e5 && lo <= hi, "trained range {lo}..{hi}");
    assert_eq!(
        obs["fine_steps"].as_u64().expect("fine") + obs["surrogate_steps"].as_u64().expect("surrogate"),
        2000,
        "{obs}"
    );
    let model = learn.join("coupling_model.hsr");
    assert!(model.is_file() && learn.join("coupling.csv").is_file() && learn.join("coupling_events.csv").is_file());
    // The harvest (one sample per fine platelet sample) fits offline to a model that loads.
    let harvest = learn.join("coupling_harvest.hsd");
    let fitted = learn.join("fitted.hsr");
    let o = hemoscale(&["coupling", "fit", path(&harvest), path(&harvest), "--out", path(&fitted)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let fit: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().last().expect("a line")).expect("json");
    let fine_samples = obs["fine_steps"].as_u64().expect("fine") / 20;
    assert_eq!(fit["samples"].as_u64(), Some(2 * fine_samples), "{fit}");
    assert!(fit["jeffery"]["a"].as_f64().is_some_and(f64::is_finite), "{fit}");
    // Not a harvest: refused with exit status 2, naming the file.
    let o = hemoscale(&["coupling", "fit", path(&model), "--out", path(&learn.join("x.hsr"))]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("coupling_model.hsr"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // 2. A corrupt model file and a model for another platelet are refused, naming why.
    let bad = learn.join("corrupt.hsr");
    let mut bytes = std::fs::read(&model).expect("model");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    std::fs::write(&bad, &bytes).expect("write");
    let refused = tmp("refused");
    let o = shear_flip(&refused, "10", &["coupling=surrogate"], &["--coupling-model", bad.to_str().expect("utf-8")]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--coupling-model") && err.contains("corrupt.hsr"), "{err}");
    // Refused before the rest-stress calibration (half a minute) runs.
    assert!(!String::from_utf8_lossy(&o.stdout).contains("rest stress"), "calibrated before refusing");
    let o = shear_flip(
        &refused,
        "10",
        &["coupling=surrogate", "stiffness=2"],
        &["--coupling-model", model.to_str().expect("utf-8")],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("stiffness 1 in the model, 2 here"), "{err}");

    // A platelet the shipped model was not made for learns online, saying so.
    let o = shear_flip(&refused, "10", &["coupling=surrogate", "stiffness=2", NO_REST], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no shipped model"), "{}", String::from_utf8_lossy(&o.stdout));
    assert_eq!(observables(&refused)["coupling_model"], "online");

    // 3. At 3e4 1/s, far below the trained range: the platelet stays fine at every decision and
    //    the run is the fine run, bit for bit.
    let ood = tmp("ood");
    let o = shear_flip(
        &ood,
        "1000",
        &["shear_rate=3e4", "coupling=surrogate", NO_REST],
        &["--coupling-model", model.to_str().expect("utf-8")],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let fine = tmp("fine");
    let o = shear_flip(&fine, "1000", &["shear_rate=3e4", NO_REST], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let obs = observables(&ood);
    assert_eq!(obs["surrogate_steps"].as_u64(), Some(0), "{obs}");
    // One decision per platelet sample (every 20 steps), each out of range.
    assert_eq!(obs["held_fine"]["out_of_range"].as_u64(), Some(50), "{obs}");
    for file in ["platelets.csv", "thermo.csv"] {
        let a = std::fs::read(ood.join(file)).expect("coupled run file");
        let b = std::fs::read(fine.join(file)).expect("fine run file");
        assert!(a == b, "{file} differs between the out-of-range coupled run and the fine run");
    }
    // 4. The comparison plots of the two runs.
    let o = Command::new(env!("CARGO_BIN_EXE_hemoscale"))
        .args(["compare-platelets", fine.to_str().expect("utf-8"), ood.to_str().expect("utf-8")])
        .args(["--out", learn.to_str().expect("utf-8")])
        .output()
        .expect("hemoscale runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for png in ["compare_orientation.png", "compare_stress_accumulation.png"] {
        let bytes = std::fs::read(learn.join(png)).expect("plot written");
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 1000, "{png} is not a PNG");
    }
    for d in [learn, refused, ood, fine] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Out of distribution mid-run: the shipped model (trained on local shear rates of about 5.4e4
/// to 1.5e5 1/s) takes the platelet at step 320; at step 400 the walls speed up fourfold, the
/// local shear rate at the platelet climbs past the range (plus its 25 % margin) near step 1,460,
/// and the policy hands the platelet back to the particles as `out_of_range` and holds it there.
/// Reference: the fine run with the same speed-up (same seed). Measured at step 2,400: final
/// orientation angles 2.489 and 2.550 rad, stress accumulation 0.1019 and 0.1083 dyn s/cm^2
/// (the surrogate's own error over its reduced stretch). Tolerances: 0.1 rad and 10 %.
#[test]
fn a_shear_rate_leaving_the_range_mid_run_sends_the_platelet_back() {
    let dir = tmp("ood-mid-run");
    let (fine, coupled) = (dir.join("fine"), dir.join("coupled"));
    let vary = ["--vary", "wall_speed=steps:1,400=4"];
    let o = shear_flip(&fine, "2400", &[], &vary);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sets = ["coupling=surrogate", "coupling_fine_time=3", "coupling_verify_every=1000"];
    let o = shear_flip(&coupled, "2400", &sets, &vary);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (f, c) = (observables(&fine), observables(&coupled));
    assert_eq!(c["handovers"], 1, "{c}");
    assert_eq!(c["fallback_reasons"], serde_json::json!({"out_of_range": 1}), "{c}");
    assert!(c["held_fine"]["out_of_range"].as_u64().is_some_and(|n| n > 10), "held fine after the fall-back: {c}");
    let events = std::fs::read_to_string(coupled.join("coupling_events.csv")).expect("events");
    assert!(events.lines().last().is_some_and(|l| l.ends_with(",0,out_of_range")), "{events}");
    let last_phi = |d: &Path| -> f64 {
        let t = std::fs::read_to_string(d.join("platelets.csv")).expect("platelets.csv");
        let row: Vec<&str> = t.lines().last().expect("a row").split(',').collect();
        row[9].parse().expect("phi_rad")
    };
    let (pf, pc) = (last_phi(&fine), last_phi(&coupled));
    let (sf, sc) = (f["stress_accumulation"].as_f64().unwrap(), c["stress_accumulation"].as_f64().unwrap());
    eprintln!("orientation {pc:.3} rad against fine {pf:.3}; stress accumulation {sc:.4} against {sf:.4}");
    assert!((pc - pf).abs() < 0.1, "orientation {pc} against the fine run's {pf}");
    assert!((sc / sf - 1.0).abs() < 0.1, "stress accumulation {sc} against the fine run's {sf}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Out of the box: `coupling=surrogate` at the default shear rate starts from the model shipped in
/// the binary (`models/shear-flip.hsr`, made by `scripts/train-default-surrogates.sh`), so the
/// platelet is handed to the surrogate after its first fine segment (20 time units, 2,000 steps)
/// without a harvest of its own.
#[test]
fn the_shipped_model_works_out_of_the_box() {
    let dir = tmp("shipped");
    let o = shear_flip(&dir, "3000", &["coupling=surrogate"], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let obs = observables(&dir);
    assert_eq!(obs["coupling_model"], "shipped models/shear-flip.hsr", "{obs}");
    assert!(obs["handovers"].as_u64().is_some_and(|h| h >= 1), "{obs}");
    // Handed over at the first decision allowed (2,000 steps), reduced from then on unless a
    // check sends it back.
    let surrogate = obs["surrogate_steps"].as_u64().expect("surrogate steps");
    assert!(surrogate >= 500, "{obs}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Adaptive time stepping end to end: a harvest run labels segments by noise-free trials at both
/// interface factors and writes them as a dataset; `hemoscale train` fits a GRU network to it; a
/// run with that network coarsens where it allows, and its sub-step count is exactly what the
/// levels in force imply; a bad set-up is refused with exit status 2 before anything runs. Both
/// runs write checkpoints and, resumed from an earlier one, end bit for bit as they did.
///
/// The stress tolerance here is lenient (50 %; in so short a run its scale is the noise floor of
/// one stress window) so that the coarse factor qualifies and the decision path runs; at the
/// default 3 % it never does (`docs/coupling.md`, adaptive stepping). References: the trial labels' own bookkeeping and the sub-step arithmetic, exact.
/// Removes the checkpoint at `steps` in `ckpt`, resumes the run from the one at `from` (its
/// header line must say `restored`), and checks that it ends bit for bit as before: the final checkpoint (particles, platelet levels,
/// the adaptive-stepping state) and the observables, timings aside.
fn resume_from_older_checkpoint(ckpt: &Path, steps: u64, from: u64, restored: &str, whole: &serde_json::Value) {
    use hemoscale::checkpoint::Checkpoint;
    let last = ckpt.join(Checkpoint::file_name(steps));
    let a = Checkpoint::load(&last).expect("final checkpoint");
    assert!(ckpt.join(Checkpoint::file_name(from)).is_file(), "no checkpoint at {from}");
    std::fs::remove_file(&last).expect("removed");
    let o = hemoscale(&["run", "--resume", path(ckpt)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains(&format!("# resumed at step {from}")) && stdout.contains("state restored"), "{stdout}");
    assert!(stdout.contains(restored), "resumed from {from}: expected {restored:?} in {stdout}");
    let b = Checkpoint::load(&last).expect("final checkpoint");
    assert!(a.state == b.state && a.platelets == b.platelets, "resumed from {from}: the final states differ");
    assert!(!a.coupling.is_empty() && a.coupling == b.coupling, "resumed from {from}: adaptive states differ");
    let summary = ckpt.parent().expect("run folder").join("summary.json");
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(summary).expect("summary")).expect("json");
    let (mut x, mut y) = (whole.clone(), s["observables"].clone());
    for m in [&mut x, &mut y] {
        m.as_object_mut().expect("object").retain(|k, _| !k.contains("seconds") && !k.contains("cost"));
    }
    assert_eq!(x, y, "resumed from {from}: observables differ");
}

#[test]
fn adaptive_stepping_harvests_trains_and_decides() {
    let dir = tmp("ats");
    let ats = ["coupling=adaptive", "ats_window=2", "ats_segment=2"];
    let harvest = dir.join("harvest");
    let sets: Vec<&str> = ats.iter().copied().chain(["ats_harvest=1", "ats_stress_tolerance=0.5"]).collect();
    let ckpt = harvest.join("ckpt");
    let o = shear_flip(&harvest, "600", &sets, &["--checkpoint", path(&ckpt), "--checkpoint-every", "200"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let h = observables(&harvest);
    // Checkpointed and resumed from step 400, the harvest (windows, trial errors) ends the same.
    let data = harvest.join("ats_harvest.hsd");
    let rows = std::fs::read(&data).expect("harvest written");
    resume_from_older_checkpoint(&ckpt, 600, 400, "state restored (interface factor 8)", &h);
    assert!(std::fs::read(&data).expect("harvest written") == rows, "the resumed harvest differs");
    // 600 steps sampled every 20: 30 samples, a segment every 2, the first window full at once.
    assert_eq!(h["segments"], 15, "{h}");
    assert_eq!(h["ats_trials"], 15, "{h}");
    assert_eq!(h["ats_harvested"], 15, "{h}");
    assert_eq!(h["substeps_saved"], 0.0, "harvesting runs the reference levels: {h}");
    let fraction = h["ats_coarse_label_fraction"].as_f64().expect("a fraction");
    assert!(fraction > 0.5, "at a 50 % tolerance the coarse factor should mostly qualify: {h}");
    let model = dir.join("ats.hsm");
    let o = hemoscale(&[
        "train",
        "--data",
        path(&data),
        "--model",
        "gru:8@2+mlp:8:tanh",
        "--epochs",
        "30",
        "--batch",
        "4",
        "--threads",
        "2",
        "--out",
        path(&model),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let run = dir.join("run");
    let ckpt = run.join("ckpt");
    let extra = ["--coupling-model", path(&model), "--checkpoint", path(&ckpt), "--checkpoint-every", "100"];
    let o = shear_flip(&run, "200", &ats, &extra);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = observables(&run);
    // This network coarsens from step 40 to 160 (measured; the run logs each switch at info
    // level). Resumed from step 100, at the coarse factor, with its windows, hold and counters,
    // the run switches back at the same step and ends the same, sub-steps included.
    resume_from_older_checkpoint(&ckpt, 200, 100, "state restored (interface factor 4)", &r);
    let (sub, reference) =
        (r["interface_substeps"].as_u64().unwrap(), r["reference_interface_substeps"].as_u64().unwrap());
    assert_eq!(reference, 200 * 8, "{r}");
    let coarse = r["coarse_segments"].as_u64().unwrap();
    assert!(coarse > 0 && r["level_switches"].as_u64().unwrap() > 0, "the network should coarsen here: {r}");
    // Each coarse segment (40 steps) runs 4 interface sub-steps a step instead of 8.
    assert_eq!(sub, reference - coarse * 40 * 4, "{r}");

    // Refusals, each before the calibration run: no network, a network of the wrong shape, a
    // coarse factor that is not coarser.
    for (sets, extra, field) in [
        (vec!["coupling=adaptive"], vec![], "coupling"),
        (vec!["coupling=adaptive"], vec!["--coupling-model", path(&model)], "--coupling-model"),
        (vec!["coupling=adaptive", "ats_harvest=1", "ats_coarse=8"], vec![], "ats_coarse"),
    ] {
        let o = shear_flip(&dir.join("refused"), "100", &sets, &extra);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{sets:?}: {err}");
        assert!(err.contains(field), "{sets:?} should name {field}: {err}");
    }
}
