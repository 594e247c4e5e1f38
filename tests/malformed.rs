//! Bad input is refused before anything runs: each malformed command or scenario below (a key out
//! of range, inconsistent geometry, unknown names, missing pieces) exits with status 2 and a
//! message naming the field, the value and what is allowed; none panics. Several mistakes at once
//! are all reported.

use std::process::Command;

/// (arguments, texts the error must contain)
const CASES: &[(&str, &[&str])] = &[
    // Unknown names and malformed assignments.
    ("run nosuch", &["unknown scenario \"nosuch\"", "built-in scenarios: dpd-box"]),
    ("run dpd-box --set bogus=1", &["bogus = 1", "unknown key; known keys: density"]),
    ("run dpd-box --set density", &["density = : expected KEY=VALUE"]),
    ("run dpd-box --set density=abc", &["density = abc: not a number; allowed range (0, 100]"]),
    ("run shear-flip --set coupling=bogus", &["coupling = bogus: one of fine, surrogate, adaptive"]),
    ("run dpd-box --backend foo", &["--backend", "unknown backend \"foo\"; allowed: auto, cpu, gpu"]),
    ("run dpd-box --fields sometimes", &["--fields \"sometimes\"", "unknown trigger \"sometimes\""]),
    ("run dpd-box --inject-fault boom@3", &["expected nan-velocity@STEP, into-wall@STEP or device-lost@STEP"]),
    ("run dpd-box --seed abc", &["invalid value 'abc' for '--seed"]),
    // Each fluid key out of its range.
    ("run dpd-box --set density=0", &["density = 0: allowed range (0, 100] 1/rc^3"]),
    ("run dpd-box --set density=101", &["density = 101: allowed range (0, 100]"]),
    ("run dpd-box --set a=-1", &["a = -1: allowed range [0, 1000] kT/rc"]),
    ("run dpd-box --set gamma=-1", &["gamma = -1: allowed range [0, 1000]"]),
    ("run dpd-box --set kT=-1", &["kT = -1: allowed range [0, 100]"]),
    ("run dpd-box --set dt=0", &["dt = 0: allowed range (0, 0.1] tau"]),
    ("run dpd-box --set dt=0.2", &["dt = 0.2: allowed range (0, 0.1]"]),
    ("run dpd-box --set lambda=2", &["lambda = 2: allowed range [0, 1]"]),
    ("run dpd-box --set rc=0", &["rc = 0: allowed range (0, 10]"]),
    ("run dpd-box --set s=5", &["s = 5: allowed range (0, 4]"]),
    ("run dpd-box --set particles=1", &["particles = 1: allowed range [2, 50000000] (integer)"]),
    ("run dpd-box --set particles=1.5", &["particles = 1.5", "(integer)"]),
    ("run dpd-box --set density=inf", &["density = inf: allowed range (0, 100]"]),
    // Geometry and keys inconsistent with each other.
    ("run dpd-box --set morse_r0=2 --set morse_d0=1", &["morse_r0 = 2: must lie in [0, rc = 1]"]),
    ("run couette --set wall_thickness=0.5", &["wall_thickness = 0.5: must be >= rc = 1"]),
    ("run couette --set height=0", &["height = 0: allowed range (0, 1000] rc"]),
    ("run couette --set width=1", &["width = 1: allowed range [2, 1000] rc"]),
    ("run tube --set radius=0.5", &["radius = 0.5: must be >= rc = 1"]),
    ("run stenosis --set stenosis_length=20", &["stenosis_length = 20: must be <= length = 16"]),
    ("run stenosis --set stenosis=1", &["stenosis = 1: allowed range [0, 1)"]),
    ("run stenosis-platelets --set preactivated=5", &["preactivated = 5: must be <= platelets = 4"]),
    ("run aggregation --set patch_length=30", &["patch_length = 30: must be <= length = 24"]),
    ("run shear-flip --set lambda=0.6", &["lambda = 0.6: must be 0.5 with platelets"]),
    ("run shear-flip --set phi0=4", &["phi0 = 4: allowed range [-3.2, 3.2] rad"]),
    ("run shear-flip --set diameter=0", &["diameter = 0: allowed range (0, 20]"]),
    // Run options.
    ("run dpd-box --steps 0", &["--steps = 0: must be >= 1"]),
    ("run dpd-box --thermo 0", &["--thermo = 0: must be >= 1"]),
    ("run dpd-box --trajectory every:0", &["--trajectory \"every:0\"", "period of every: must be at least 1"]),
    ("run dpd-box --max-speed=-1", &["--max-speed = -1: must be a positive number"]),
    ("run dpd-box --max-temperature nan", &["--max-temperature = NaN: must be a positive number"]),
    ("bench dpd --particles 10", &["--particles = 10: allowed range [54, 50000000]"]),
    // Time-varying driving.
    ("run dpd-box --vary kT=ramp:1:2:5", &["--vary kT", "expected const:V, ramp:FROM:TO:START:STEPS"]),
    ("run dpd-box --vary body_force=const:2", &["variant body_force = const:2", "scales a value that is 0"]),
    ("run dpd-box --vary kT=steps:1,5=-1", &["variant kT = steps:1,5=-1: a temperature factor must be >= 0"]),
    ("run couette --vary pressure=const:2", &["--vary = pressure: unknown; one of body_force, kT, wall_speed"]),
    ("run dpd-box --vary kT=ramp:1:2:0:0", &["--vary kT: \"ramp:1:2:0:0\": a ramp needs at least 1 step"]),
    ("run dpd-box --wall-limit 0", &["--wall-limit = 0: must be > 0 seconds"]),
    // Runs over ranks.
    ("run dpd-box --ranks 0", &["--ranks = 0: must be >= 1"]),
    ("run dpd-box --ranks 4 --grid 2x2", &["--grid \"2x2\": expected NXxNYxNZ"]),
    ("run dpd-box --ranks 4 --grid 2x1x1", &["--grid 2x1x1: holds 2 ranks, --ranks is 4"]),
    (
        "run dpd-box --set particles=100 --ranks 8",
        &["--ranks 8", "no grid of 8 ranks gives bricks at least 2 x halo = 2"],
    ),
    ("run dpd-box --ranks 8 --grid 8x1x1 --set particles=3000", &["brick width along x", "must be >= 2 x halo = 2"]),
    ("run dpd-box --time=-1", &["--time = -1: must be > 0"]),
    ("run dpd-box --time 1 --steps 5", &["'--time <TIME>' cannot be used with '--steps <STEPS>'"]),
    // Missing or conflicting pieces.
    ("run", &["required arguments were not provided", "<SCENARIO>"]),
    ("run dpd-box --checkpoint-every 10", &["required arguments were not provided", "--checkpoint <DIR>"]),
    ("run dpd-box --resume /tmp", &["'[SCENARIO]' cannot be used with '--resume <DIR>'"]),
    (
        "run --resume /nonexistent/hemoscale-checkpoints",
        &["no usable checkpoint in /nonexistent/hemoscale-checkpoints"],
    ),
];

#[test]
fn malformed_input_is_refused_with_status_2_and_a_message() {
    assert!(CASES.len() >= 30);
    let mut failures = Vec::new();
    for (args, expect) in CASES {
        let o = Command::new(env!("CARGO_BIN_EXE_hemoscale")).args(args.split_whitespace()).output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        let missing: Vec<&&str> = expect.iter().filter(|e| !stderr.contains(**e)).collect();
        if o.status.code() != Some(2) || !missing.is_empty() || stderr.contains("panicked") {
            failures.push(format!(
                "`hemoscale {args}`: status {:?}, missing {missing:?}, stderr:\n{stderr}",
                o.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), CASES.len(), failures.join("\n"));
}

#[test]
fn every_mistake_is_reported_at_once() {
    let o = Command::new(env!("CARGO_BIN_EXE_hemoscale"))
        .args(["run", "couette", "--set", "density=0", "--set", "dt=0", "--set", "lambda=2", "--set", "nosuch=1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    for field in ["density = 0", "dt = 0", "lambda = 2", "nosuch = 1"] {
        assert!(stderr.contains(field), "{field} not reported: {stderr}");
    }
}

/// A binary built without MPI but started by `mpirun` (seen through the launcher's
/// `PMI_SIZE`) would run the whole scenario once per process, all writing the same files: it is
/// refused before anything runs. (With `--features mpi` the same variable starts MPI instead.)
#[cfg(not(feature = "mpi"))]
#[test]
fn a_binary_without_mpi_started_by_mpirun_is_refused() {
    let out = std::env::temp_dir().join(format!("hemoscale-no-mpi-{}", std::process::id()));
    let o = Command::new(env!("CARGO_BIN_EXE_hemoscale"))
        .args(["run", "dpd-box", "--set", "particles=300", "--steps", "5", "--out"])
        .arg(&out)
        .env("PMI_SIZE", "2")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("mpirun = PMI_SIZE=2") && stderr.contains("built without --features mpi"), "{stderr}");
    assert!(!out.exists(), "nothing is written");
}
