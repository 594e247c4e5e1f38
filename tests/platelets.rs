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

/// 1,500 steps of `shear-flip`: the summary holds the observables the issue names, with units, and
/// the files are there: `platelets.csv` (a row per platelet sample), the membrane meshes' `.pvd`
/// and the histogram PNG.
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
        "--out",
        dir.to_str().expect("utf-8"),
        "--summary-json",
        json.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
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
