//! Platelet scenarios from the command line and the DSL: bad input refused with the field named,
//! and a short `shear-flip` run writing what users open (CSV time series, membrane meshes for
//! ParaView, the stress-accumulation histogram) with the observables in its summary.

use std::path::PathBuf;
use std::process::{Command, Output};

use glam::Quat;
use hemoscale::dsl::{Backend, Scenario};
use hemoscale::kernels::geometry::Shape;
use hemoscale::kernels::platelet_set::Placement;
use hemoscale::params::ParamValues;
use hemoscale::scenarios::find;
use hemoscale::scenarios::platelet_plasma::platelets_config;

fn hemoscale(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hemoscale")).args(args).output().expect("hemoscale runs")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hemoscale-platelets-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// A jump factor of 0 and a resolution too low to close the membrane: status 2, the key named,
/// no panic.
#[test]
fn bad_platelet_keys_are_refused_with_status_2() {
    for (set, want) in
        [("mts_bonded=0", "mts.bonded"), ("mts_interface=0", "mts.interface"), ("resolution=40", "close the membrane")]
    {
        let o = hemoscale(&["run", "shear-flip", "--steps", "10", "--backend", "cpu", "--set", set]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{set}: {err}");
        assert!(err.contains(want), "{set}: expected {want:?} in {err}");
        assert!(!err.contains("panicked"), "{set}: {err}");
    }
}

/// Platelets that overlap each other, or a wall, are refused by the builder with a message.
#[test]
fn overlapping_platelets_are_refused() {
    let s = find("shear-flip").expect("shear-flip");
    let v = ParamValues::parse(&s.params(), &[]).expect("defaults");
    let place = |c: [f32; 3]| Placement { center: c, rotation: Quat::IDENTITY, velocity: [0.0; 3] };
    let base = || {
        Scenario::builder("overlap")
            .box_lengths([20.0, 14.0, 14.0])
            .density(3.0)
            .dpd(hemoscale::kernels::DpdPair::new(2.5, 20.0, 1.0, 2.0))
            .kt(0.1)
            .backend(Backend::Cpu)
    };
    let mut cfg = platelets_config(&v, 20);
    cfg.placements = vec![place([7.0, 7.0, 7.0]), place([9.0, 7.0, 7.2])];
    let e = base().platelets(cfg.clone()).build().unwrap_err().to_string();
    assert!(e.contains("platelets") && e.contains("overlap"), "{e}");
    // One platelet lying flat 0.2 rc from the lower wall of a channel (half an interface cut-off
    // must stay clear).
    cfg.placements = vec![place([10.0, 7.0, 1.0 + 0.2 + 0.75])];
    let e = base()
        .vessel(Shape::Channel { center: 7.0, half_height: 6.0 }, 1.0)
        .platelets(cfg)
        .build()
        .unwrap_err()
        .to_string();
    assert!(e.contains("overlaps the wall"), "{e}");
}

/// 1,500 steps of `shear-flip` (without the rest-stress calibration): the summary holds the
/// observables the issue names, with units, and the files are there: `platelets.csv` (a row per
/// platelet sample), the membrane meshes' `.pvd` and the histogram PNG.
#[test]
fn shear_flip_writes_its_files_and_observables() {
    let dir = tmp("sf");
    let json = dir.join("summary.json");
    std::fs::create_dir_all(&dir).expect("dir");
    let o = hemoscale(&[
        "run",
        "shear-flip",
        "--steps",
        "1500",
        "--backend",
        "cpu",
        "--thermo",
        "500",
        "--set",
        "rest_stress_time=0",
        "--out",
        dir.to_str().expect("utf-8"),
        "--summary-json",
        json.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // rest_stress_time=0: no calibration run, nothing subtracted (the other tests here calibrate).
    assert!(!String::from_utf8_lossy(&o.stdout).contains("rest stress"), "calibrated although told not to");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("summary")).expect("json");
    let obs = &summary["observables"];
    for key in [
        "shear_rate",
        "diameter",
        "aspect_ratio",
        "resolution",
        "stiffness",
        "mts",
        "flip_period",
        "jeffery_period",
        "effective_aspect_ratio",
        "max_membrane_stress",
        "stress_accumulation",
        "volume_change",
    ] {
        assert!(!obs[key].is_null(), "observable {key} missing: {obs}");
    }
    assert_eq!(obs["mts"], "8:1:1");
    let res = obs["resolution"].as_u64().expect("resolution");
    assert!((300..=400).contains(&res), "{res}");
    assert!((obs["diameter"].as_f64().expect("d") - 3.6).abs() < 1e-9);
    let rate = obs["shear_rate"].as_f64().expect("rate");
    assert!((rate / 6.5e4 - 1.0).abs() < 0.1, "measured shear rate {rate} 1/s");
    assert!(obs["volume_change"].as_f64().expect("dv") < 0.05);
    let csv = std::fs::read_to_string(dir.join("platelets.csv")).expect("csv");
    assert!(csv.starts_with("step,time_s,platelet,x_um"), "{}", &csv[..80]);
    assert_eq!(csv.lines().count(), 1 + 1500 / 20, "one row per sample");
    assert!(dir.join("platelets").join("membrane.pvd").exists());
    let png = std::fs::read(dir.join("stress_accumulation_histogram.png")).expect("png");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `scenario` for `steps` steps on the CPU with `sets`, returning the summary's observables.
fn observables(scenario: &str, steps: u64, sets: &[&str], tag: &str) -> serde_json::Value {
    let dir = tmp(tag);
    std::fs::create_dir_all(&dir).expect("dir");
    let json = dir.join("summary.json");
    let steps = steps.to_string();
    let mut args =
        vec!["run", scenario, "--steps", &steps, "--backend", "cpu", "--thermo", "500", "--out", dir.to_str().unwrap()];
    args.extend(["--summary-json", json.to_str().unwrap()]);
    for s in sets {
        args.extend(["--set", s]);
    }
    let o = hemoscale(&args);
    assert!(o.status.success(), "{scenario} {sets:?}: {}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("# outputs in") && stdout.contains("ParaView"), "output listing: {stdout}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("summary")).expect("json");
    let _ = std::fs::remove_dir_all(&dir);
    summary["observables"].clone()
}

/// The adhesion mechanism in `aggregation` (reference: the model's rules, `kernels::adhesion`):
/// activated platelets 0.6 rc above an adhesive patch bond to it within 1,000 steps and the one
/// resting on them is recruited; the same platelets unactivated form no bond at all.
#[test]
fn aggregation_activated_platelets_adhere_and_resting_ones_do_not() {
    let on = observables("aggregation", 1000, &[], "agg-on");
    let formed = on["bonds_formed"].as_u64().expect("bonds_formed");
    assert!(on["adhered_platelets"].as_u64().expect("adhered") >= 1, "{on}");
    assert!(on["wall_bonds"].as_u64().expect("wall") >= 1, "{on}");
    assert!(on["platelet_bonds"].as_u64().expect("pp") >= 1, "recruitment: {on}");
    assert_eq!(
        formed,
        on["wall_bonds"].as_u64().unwrap()
            + on["platelet_bonds"].as_u64().unwrap()
            + on["bonds_broken"].as_u64().unwrap()
    );
    assert!(on["volume_change"].as_f64().expect("dv") < 0.05, "{on}");
    let off = observables("aggregation", 1000, &["activated=0"], "agg-off");
    assert_eq!(off["bonds_formed"], 0, "{off}");
    assert_eq!(off["adhered_platelets"], 0, "{off}");
}

/// `stenosis-platelets` over one stress window (2,000 steps) and a bit: the observables the issue
/// names are in the summary, every platelet accumulated stress, they stay intact and no plasma
/// leaks; bad counts are refused with status 2 and the key named.
#[test]
fn stenosis_platelets_reports_and_refuses_bad_counts() {
    let obs = observables("stenosis-platelets", 2100, &[], "sp");
    for key in
        ["platelets", "activated_fraction", "mean_stress_accumulation", "max_stress_accumulation", "bonds_formed"]
    {
        assert!(!obs[key].is_null(), "observable {key} missing: {obs}");
    }
    assert_eq!(obs["platelets"], 4);
    let (mean, max) =
        (obs["mean_stress_accumulation"].as_f64().expect("sa"), obs["max_stress_accumulation"].as_f64().expect("sa"));
    assert!(mean > 0.0 && max >= mean && max.is_finite(), "{obs}");
    assert!(obs["volume_change"].as_f64().expect("dv") < 0.05, "{obs}");
    assert_eq!(obs["leaked_particles"], 0);
    for (set, want) in [
        ("preactivated=5", "preactivated"),
        ("platelets=6", "platelets"),
        ("bond_rupture_force=0", "bond_rupture_force"),
    ] {
        let o = hemoscale(&["run", "stenosis-platelets", "--steps", "10", "--backend", "cpu", "--set", set]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{set}: {err}");
        assert!(err.contains(want) && !err.contains("panicked"), "{set}: {err}");
    }
}
