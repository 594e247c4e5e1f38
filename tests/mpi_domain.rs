//! Domain decomposition through the `hemoscale` binary: `mpirun.mpich -n 2` and `-n 4` runs of
//! `dpd-box`, `tube` and `shear-flip` (and `-n 2` of `stenosis-platelets`, whose platelets the
//! ranks divide) against the in-process ranks (`--ranks P`) and the single-rank run, and
//! checkpoints that resume on another number of ranks.
//!
//! References and tolerances:
//! - MPI and in-process ranks run the same code with the same decomposition, and every sum over
//!   ranks is taken in rank order, so their thermo logs must be the same bytes.
//! - Against one rank, sums run in another order (`tests/domain.rs` bounds the trajectories by
//!   the growth of a one-ulp nudge); over 100 steps (40 for
//!   `shear-flip`) the thermo rows agree to 1e-3 relative.
//! - A run resumed from a checkpoint on the ranks that wrote it continues bit for bit, GPU ranks
//!   included; on other rank counts, to summation order as above.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_hemoscale")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hemoscale-mpi-domain-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch folder");
    d
}

fn ok(o: Output, what: &str) -> Output {
    assert!(
        o.status.success(),
        "{what} failed ({}):\n{}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// `hemoscale ARGS --out DIR` on `mpi` MPI ranks (0: no mpirun).
fn hemoscale(mpi: usize, args: &[&str], out: &Path) -> Output {
    let mut c = if mpi > 0 {
        let mut c = Command::new("mpirun.mpich");
        c.args(["-n", &mpi.to_string(), bin()]);
        c
    } else {
        Command::new(bin())
    };
    c.args(args).arg("--out").arg(out).stdin(Stdio::null());
    ok(c.output().expect("mpirun.mpich runs (apt-get install mpich)"), &format!("{args:?} on {mpi} MPI ranks"))
}

/// `hemoscale run --resume CKPT --steps STEPS --ranks RANKS` (in-process ranks), which must
/// succeed.
fn resume(ckpt: &str, steps: &str, ranks: &str) -> Output {
    let mut c = Command::new(bin());
    c.args(["run", "--resume", ckpt, "--steps", steps, "--ranks", ranks]).stdin(Stdio::null());
    ok(c.output().expect("runs"), &format!("resume on {ranks} ranks"))
}

/// The thermo log's rows as numbers (step, time, temperature, pressure, ...).
fn thermo(dir: &Path) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(dir.join("thermo.csv")).expect("thermo.csv");
    text.lines().skip(1).map(|l| l.split(',').map(|x| x.parse().expect("a number")).collect()).collect()
}

/// Largest relative difference of temperature and pressure between two logs over the same steps.
fn worst(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    assert_eq!(a.len(), b.len(), "the same rows");
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| {
            assert_eq!(x[0], y[0], "the same steps");
            [2, 3].map(|k| ((x[k] - y[k]) / y[k]).abs())
        })
        .fold(0.0, f64::max)
}

#[cfg(feature = "mpi")]
fn particles(o: &Output) -> String {
    let text = String::from_utf8_lossy(&o.stdout);
    let header = text.lines().find(|l| l.contains(" particles (")).expect("a header line");
    header.split(" particles").next().expect("a count").rsplit(' ').next().expect("a count").to_string()
}

#[cfg(feature = "mpi")]
#[test]
fn mpirun_two_and_four_ranks_agree_with_threads_and_one_rank() {
    // shear-flip: small, and without the rest-stress calibration (every rank would run it whole;
    // it changes no rank's trajectory); 40 steps, as this plasma is cooler (kT 0.1) and its
    // pressure's rounding grows faster.
    let small_flip = ["resolution=100", "length=10", "width=10", "height=10", "rest_stress_time=0"];
    let small_flip: Vec<&str> = small_flip.iter().flat_map(|s| ["--set", s]).collect();
    // stenosis-platelets: four platelets along the vessel, divided among the ranks; on 2 ranks.
    let divided = vec!["--set", "resolution=100", "--set", "rest_stress_time=0"];
    for (scenario, steps, sets, rank_counts) in [
        ("dpd-box", "100", vec!["--set", "particles=6000"], &[2usize, 4][..]),
        ("tube", "100", vec![], &[2, 4]),
        ("shear-flip", "40", small_flip, &[2, 4]),
        ("stenosis-platelets", "40", divided, &[2]),
    ] {
        let d = scratch(scenario);
        let args = |extra: &[&'static str]| -> Vec<&str> {
            let mut a = vec!["run", scenario, "--backend", "cpu", "--steps", steps, "--thermo", "10"];
            a.extend(sets.iter().copied());
            a.extend(extra);
            a
        };
        let one = hemoscale(0, &args(&[]), &d.join("one"));
        let reference = thermo(&d.join("one"));
        for &p in rank_counts {
            let mpi = hemoscale(p, &args(&[]), &d.join(format!("mpi{p}")));
            let ranks = if p == 2 { "2" } else { "4" };
            let threads = hemoscale(0, &args(&["--ranks", ranks]), &d.join(format!("threads{p}")));
            assert_eq!(particles(&mpi), particles(&one), "{scenario}: {p} MPI ranks hold every particle");
            assert_eq!(particles(&threads), particles(&one));
            let (m, t) = (thermo(&d.join(format!("mpi{p}"))), thermo(&d.join(format!("threads{p}"))));
            assert_eq!(m, t, "{scenario}: {p} MPI ranks and {p} threads give the same bits");
            let w = worst(&m, &reference);
            if scenario.contains("platelets") || scenario == "shear-flip" {
                let read = |dir: String| std::fs::read(d.join(dir).join("platelets.csv")).expect("platelets.csv");
                let (pm, pt) = (read(format!("mpi{p}")), read(format!("threads{p}")));
                assert!(pm == pt, "{scenario}: the platelets' log is the same bytes over {p} MPI ranks and threads");
            }
            println!("{scenario}: {p} MPI ranks = {p} threads bit for bit; against one rank, temperature and pressure within {w:.2e} (relative) over {steps} steps");
            assert!(w < 1e-3, "{scenario}, {p} ranks: {w}");
        }
    }
}

/// GPU ranks (lavapipe in CI): each MPI process computes its pair forces on the device
/// (`hemoscale_kernels::gpu::rank_forces`). MPI and thread ranks give the same bytes; against
/// the single-GPU run (the same initial state: a scenario's wall particles are equilibrated on
/// the backend it runs on), temperature and pressure within 1e-3 over 100 steps.
/// The summary's step timings (`domain.seconds_per_step`, the mean over ranks): every part
/// present and not negative, no device wait on CPU ranks and some on GPU ranks (within their
/// forces, which it is a part of), and the parts together no longer than the run's wall time per
/// step (5 % allowed) and at least half of it. The parts must not overlap: the forces counted
/// twice exceed the wall time; a part left out (the forces, nearly all of a step) falls below
/// half.
#[test]
fn a_decomposed_run_reports_where_its_steps_spend_their_time() {
    let gpu = common::gpu_context().is_some();
    for backend in ["cpu", "gpu"].into_iter().filter(|&b| b == "cpu" || gpu) {
        let d = scratch(&format!("timing-{backend}"));
        let json = d.join("summary.json");
        let json_arg = json.to_str().expect("utf-8 path");
        let args = ["run", "dpd-box", "--backend", backend, "--ranks", "2", "--steps", "30", "--thermo", "30"];
        let mut all = args.to_vec();
        all.extend(["--set", "particles=6000", "--summary-json", json_arg]);
        hemoscale(0, &all, &d.join("out"));
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).expect("summary")).expect("JSON");
        let t = &s["domain"]["seconds_per_step"];
        let part = |k: &str| t[k].as_f64().unwrap_or_else(|| panic!("{backend}: seconds_per_step.{k} missing: {t}"));
        let names = ["integrate", "migrate", "halo", "forces", "device_wait", "platelets"];
        for k in names {
            assert!(part(k) >= 0.0, "{backend}: {k} = {}", part(k));
        }
        let wall = s["wall_seconds"].as_f64().expect("wall_seconds") / 30.0;
        let sum: f64 = names.iter().filter(|&&k| k != "device_wait").map(|&k| part(k)).sum();
        println!("{backend} ranks: {t}; parts {sum:.2e} s of {wall:.2e} s per step");
        // 5 %: a rank's first halo can wait for rank 0, which starts the wall clock.
        assert!(sum <= wall * 1.05, "{backend}: the parts ({sum}) exceed the wall time per step ({wall})");
        assert!(sum >= 0.5 * wall, "{backend}: the parts ({sum}) miss much of the wall time per step ({wall})");
        if backend == "cpu" {
            assert_eq!(part("device_wait"), 0.0);
        } else {
            assert!(part("device_wait") > 0.0 && part("device_wait") <= part("forces"), "{t}");
        }
        assert_eq!(part("platelets"), 0.0, "dpd-box has no platelets");
    }
}

#[cfg(feature = "mpi")]
#[test]
fn mpirun_gpu_ranks_agree_with_threads_and_one_rank() {
    if common::gpu_context().is_none() {
        return;
    }
    // Small systems: lavapipe runs about 6e4 particle-steps/s here, and every GPU rank
    // equilibrates the tube's whole box alone before its walls are cut (300 steps).
    let small_tube = vec!["--set", "radius=3", "--set", "length=8"];
    for (scenario, sets) in [("dpd-box", vec!["--set", "particles=3000"]), ("tube", small_tube)] {
        let d = scratch(&format!("gpu-{scenario}"));
        let args = |backend: &'static str, extra: &[&'static str]| -> Vec<&str> {
            let mut a = vec!["run", scenario, "--backend", backend, "--steps", "100", "--thermo", "10"];
            a.extend(sets.iter().copied());
            a.extend(extra);
            a
        };
        let one = hemoscale(0, &args("gpu", &[]), &d.join("one"));
        let reference = thermo(&d.join("one"));
        for p in [2usize, 4] {
            let mpi = hemoscale(p, &args("gpu", &[]), &d.join(format!("mpi{p}")));
            let ranks = if p == 2 { "2" } else { "4" };
            let threads = hemoscale(0, &args("gpu", &["--ranks", ranks]), &d.join(format!("threads{p}")));
            let header = String::from_utf8_lossy(&mpi.stdout).lines().next().unwrap_or_default().to_string();
            assert!(header.contains("on gpu (") && header.contains("pair forces"), "{scenario}: {header}");
            assert_eq!(particles(&mpi), particles(&one), "{scenario}: {p} MPI GPU ranks hold every particle");
            assert_eq!(particles(&threads), particles(&one));
            let (m, t) = (thermo(&d.join(format!("mpi{p}"))), thermo(&d.join(format!("threads{p}"))));
            assert_eq!(m, t, "{scenario}: {p} MPI GPU ranks and {p} GPU thread ranks give the same bits");
            let w = worst(&m, &reference);
            println!("{scenario}: {p} MPI GPU ranks = {p} GPU thread ranks bit for bit; against one GPU, temperature and pressure within {w:.2e} (relative) over 100 steps");
            assert!(w < 1e-3, "{scenario}, {p} GPU ranks: {w}");
        }
    }
}

/// Platelets divided among ranks resume bit for bit: `stenosis-platelets` (four platelets, each
/// rank advancing those whose cluster's centre its brick holds) checkpointed by 2 ranks at step
/// 20 continues on 2 ranks to the same `thermo.csv` and `platelets.csv` bytes as the
/// uninterrupted run, and on one rank within 1e-3 (summation order). What a rank keeps between
/// steps beyond the shared state (pair lists, adhesion candidates) must not change a bit.
#[test]
fn divided_platelets_resume_bit_for_bit() {
    let d = scratch("platelets-resume");
    let base = [
        "run",
        "stenosis-platelets",
        "--backend",
        "cpu",
        "--set",
        "resolution=100",
        "--set",
        "rest_stress_time=0",
        "--thermo",
        "5",
        "--ranks",
        "2",
    ];
    let whole = d.join("whole");
    let _ = hemoscale(0, &[&base[..], &["--steps", "40"]].concat(), &whole);
    let reference = thermo(&whole);
    let platelets = |dir: &Path| std::fs::read(dir.join("platelets.csv")).expect("platelets.csv");
    for ranks in ["2", "1"] {
        let (ckpt, first) = (d.join(format!("ckpt{ranks}")), d.join(format!("first{ranks}")));
        let ckpt_arg = ckpt.to_str().expect("utf-8");
        let _ = hemoscale(0, &[&base[..], &["--steps", "20", "--checkpoint", ckpt_arg]].concat(), &first);
        let out = resume(ckpt_arg, "40", ranks);
        assert!(String::from_utf8_lossy(&out.stdout).contains("resumed at step 20"));
        let resumed = thermo(&first);
        let w = worst(&resumed, &reference);
        println!("stenosis-platelets resumed on {ranks} rank(s) from a 2-rank checkpoint: within {w:.2e} of the uninterrupted run");
        if ranks == "2" {
            assert_eq!(resumed, reference, "resumed on the same 2 ranks: bit for bit");
            assert!(platelets(&first) == platelets(&whole), "the platelets' log continues bit for bit");
        } else {
            assert!(w < 1e-3, "resumed on one rank: {w}");
        }
    }
}

/// GPU ranks resume bit for bit: a checkpoint written by 2 GPU ranks (threads) at step 50
/// continues on 2 GPU ranks to the same `thermo.csv` bytes as the uninterrupted run (the device
/// order of the particles follows from the host's, which the checkpoint keeps), and on one GPU
/// within 1e-3 (summation order).
#[test]
fn a_checkpoint_of_gpu_ranks_resumes_bit_for_bit() {
    if common::gpu_context().is_none() {
        return;
    }
    let d = scratch("gpu-resume");
    let base = ["run", "dpd-box", "--backend", "gpu", "--set", "particles=3000", "--thermo", "10", "--ranks", "2"];
    let whole = d.join("whole");
    let _ = hemoscale(0, &[&base[..], &["--steps", "100"]].concat(), &whole);
    let reference = thermo(&whole);
    for ranks in ["2", "1"] {
        let (ckpt, first) = (d.join(format!("ckpt{ranks}")), d.join(format!("first{ranks}")));
        let ckpt_arg = ckpt.to_str().expect("utf-8");
        let _ = hemoscale(0, &[&base[..], &["--steps", "50", "--checkpoint", ckpt_arg]].concat(), &first);
        let out = resume(ckpt_arg, "100", ranks);
        assert!(String::from_utf8_lossy(&out.stdout).contains("resumed at step 50"));
        let resumed = thermo(&first);
        let w = worst(&resumed, &reference);
        println!(
            "resumed on {ranks} GPU rank(s) from a 2-GPU-rank checkpoint: within {w:.2e} of the uninterrupted run"
        );
        if ranks == "2" {
            assert_eq!(resumed, reference, "resumed on the same 2 GPU ranks: bit for bit");
        } else {
            assert!(w < 1e-3, "resumed on one GPU: {w}");
        }
    }
}

/// A coupled run on GPU ranks: each change of the platelet's model rebuilds the engine
/// (`run::reopen`), which must give GPU ranks again, not a CPU rank or a single-GPU engine. Two
/// GPU ranks hand the platelet over as one GPU does (at step 220 with `coupling_fine_time=2`).
#[test]
fn a_coupled_platelet_run_on_gpu_ranks_rebuilds_gpu_ranks_and_hands_over_alike() {
    if common::gpu_context().is_none() {
        return;
    }
    let d = scratch("coupled-gpu");
    let base = [
        "run",
        "shear-flip",
        "--backend",
        "gpu",
        "--thermo",
        "50",
        "--steps",
        "300",
        "--set",
        "coupling=surrogate",
        "--set",
        "coupling_fine_time=2",
        // The same handover at step 220 as with the calibration and in the default box (measured
        // on the CPU), at a third of the plasma: lavapipe is slow.
        "--set",
        "rest_stress_time=0",
        "--set",
        "length=10",
        "--set",
        "width=10",
        "--set",
        "height=12",
    ];
    let summary = |name: &str| d.join(format!("{name}.json"));
    let arg = |p: &Path| p.to_str().expect("utf-8").to_string();
    let (s1, s2) = (arg(&summary("one")), arg(&summary("two")));
    let _ = hemoscale(0, &[&base[..], &["--summary-json", &s1]].concat(), &d.join("one"));
    let _ = hemoscale(0, &[&base[..], &["--ranks", "2", "--summary-json", &s2]].concat(), &d.join("two"));
    let one = coupling_counts(&summary("one"));
    println!("one GPU: {one}");
    assert!(one.contains("surrogate_steps 80"), "the platelet is handed over at step 220: {one}");
    assert_eq!(coupling_counts(&summary("two")), one, "2 GPU ranks hand over alike");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(summary("two")).expect("summary")).expect("JSON");
    let adapter = v["adapter"].as_str().unwrap_or_default();
    assert!(
        v["backend"] == "gpu" && adapter.contains("pair forces") && adapter.contains("rank 0 of 2"),
        "the rebuilt engine is a GPU rank: {} on {adapter}",
        v["backend"]
    );
}

/// A checkpoint written by 4 ranks resumes on 4 (bit for bit), 2 and 1 (summation order). The
/// 4-rank run is MPI's when the binary has it, threads' otherwise.
#[test]
fn a_checkpoint_of_four_ranks_resumes_on_four_two_and_one() {
    let d = scratch("resume");
    let base = ["run", "dpd-box", "--backend", "cpu", "--set", "particles=6000", "--thermo", "10"];
    let four: (usize, &[&str]) = if cfg!(feature = "mpi") { (4, &[]) } else { (0, &["--ranks", "4"]) };
    let whole = d.join("whole");
    let _ = hemoscale(four.0, &[&base[..], &["--steps", "200"], four.1].concat(), &whole);
    let reference = thermo(&whole);
    let ckpt = d.join("ckpt");
    let first = d.join("first");
    let ckpt_arg = ckpt.to_str().expect("utf-8");
    let _ = hemoscale(four.0, &[&base[..], &["--steps", "100", "--checkpoint", ckpt_arg], four.1].concat(), &first);
    for ranks in ["4", "2", "1"] {
        // Each resume gets its own copy: it writes its later checkpoints where it resumed from.
        let copy = d.join(format!("ckpt{ranks}"));
        std::fs::create_dir_all(&copy).expect("copy");
        for f in std::fs::read_dir(&ckpt).expect("checkpoints") {
            let f = f.expect("entry").path();
            std::fs::copy(&f, copy.join(f.file_name().expect("name"))).expect("copy");
        }
        let out = resume(copy.to_str().expect("utf-8"), "200", ranks);
        assert!(String::from_utf8_lossy(&out.stdout).contains("resumed at step 100"));
        // The resumed run writes into the first run's folder, continuing its log.
        let resumed = thermo(&first);
        assert_eq!(resumed.len(), reference.len(), "rows up to step 200");
        let w = worst(&resumed, &reference);
        println!("resumed on {ranks} ranks from a 4-rank checkpoint: temperature and pressure within {w:.2e} of the uninterrupted 4-rank run");
        if ranks == "4" {
            assert_eq!(resumed, reference, "resumed on the same 4 ranks: bit for bit");
        } else {
            assert!(w < 1e-3, "resumed on {ranks} ranks: {w}");
        }
    }
}

/// The coupling's counters in a summary JSON: fine and surrogate steps, handovers, fall-backs
/// and the events.
fn coupling_counts(summary: &Path) -> String {
    let text = std::fs::read_to_string(summary).expect("summary JSON");
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let o = &v["observables"];
    ["fine_steps", "surrogate_steps", "handovers", "fallbacks", "coupling_events"]
        .map(|k| format!("{k} {}", o[k]))
        .join(", ")
}

/// Platelets and coupling over ranks: `shear-flip` with the shipped reduced model on 2 ranks
/// hands the platelet over to the reduced model on the same step as on one rank (after 2 DPD
/// times of fine verification), and a 2-rank checkpoint taken while the platelet still runs
/// fine resumes on 1 rank and hands over on that same step too. Over the 100 steps after the
/// resume the temperature follows the uninterrupted run to 1e-3 (summation order).
#[test]
fn a_coupled_platelet_run_over_ranks_hands_over_alike_and_resumes_on_one_rank() {
    let d = scratch("coupled");
    let base = [
        "run",
        "shear-flip",
        "--backend",
        "cpu",
        "--thermo",
        "50",
        "--set",
        "coupling=surrogate",
        "--set",
        "coupling_fine_time=2",
        // The same handover at step 220 as with the calibration (measured), without its cost.
        "--set",
        "rest_stress_time=0",
    ];
    let summary = |name: &str| d.join(format!("{name}.json"));
    let arg = |p: &Path| p.to_str().expect("utf-8").to_string();
    let (s1, s2) = (arg(&summary("one")), arg(&summary("two")));
    let _ = hemoscale(0, &[&base[..], &["--steps", "400", "--summary-json", &s1]].concat(), &d.join("one"));
    let _ =
        hemoscale(0, &[&base[..], &["--steps", "400", "--ranks", "2", "--summary-json", &s2]].concat(), &d.join("two"));
    let one = coupling_counts(&summary("one"));
    println!("one rank: {one}");
    assert!(one.contains("surrogate_steps 180"), "the platelet is handed over at step 220: {one}");
    assert_eq!(coupling_counts(&summary("two")), one, "2 ranks hand over alike");
    let ckpt = arg(&d.join("ckpt"));
    let first = d.join("first");
    // The resumed run keeps the first run's options, its summary path among them.
    let s3 = arg(&summary("resumed"));
    let _ = hemoscale(
        0,
        &[
            &base[..],
            &[
                "--steps",
                "100",
                "--ranks",
                "2",
                "--checkpoint",
                &ckpt,
                "--checkpoint-every",
                "100",
                "--summary-json",
                &s3,
            ],
        ]
        .concat(),
        &first,
    );
    let _ = resume(&ckpt, "400", "1");
    assert_eq!(coupling_counts(&summary("resumed")), one, "resumed on one rank, the platelet is handed over alike");
    let (resumed, reference) = (thermo(&first), thermo(&d.join("two")));
    assert_eq!(resumed.len(), reference.len(), "rows up to step 400");
    // 100 steps after the resume, as in the other tests; later the fluid's chaos parts the runs
    // (1e-3 is reached near step 400).
    let early = |rows: &[Vec<f64>]| rows.iter().filter(|r| r[0] <= 200.0).cloned().collect::<Vec<_>>();
    let t =
        early(&resumed).iter().zip(&early(&reference)).map(|(a, b)| ((a[2] - b[2]) / b[2]).abs()).fold(0.0, f64::max);
    println!("resumed on one rank from a 2-rank checkpoint at step 100: temperature to step 200 within {t:.2e} of the 2-rank run");
    assert!(t < 1e-3, "{t}");
}

/// Runs `cmd` for at most `limit`: a run whose ranks wait for one that failed would hang here.
fn within(mut cmd: Command, limit: std::time::Duration) -> Output {
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null()).spawn().expect("starts");
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(o) => o.expect("waited"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &id.to_string()]).status();
            panic!("{cmd:?} still ran after {limit:?}: ranks wait for one that failed");
        }
    }
}

/// Rank 0 alone fails (it cannot write the checkpoint at step 50): the other ranks must not wait
/// for it for ever. In-process ranks end with rank 0's error (status 1, the file named); MPI ranks
/// abort the job (a failing status).
#[test]
fn a_rank_that_fails_alone_ends_the_run_with_its_error() {
    let d = scratch("fails");
    let args = ["run", "dpd-box", "--backend", "cpu", "--set", "particles=3000", "--steps", "200"];
    let bad = ["--checkpoint", "/proc/hemoscale-cannot-write-here", "--checkpoint-every", "50"];
    let mut launches = vec![("threads", {
        let mut c = Command::new(bin());
        c.args(args).args(bad).args(["--ranks", "2", "--out"]).arg(d.join("t"));
        c
    })];
    if cfg!(feature = "mpi") {
        let mut c = Command::new("mpirun.mpich");
        c.args(["-n", "2", bin()]).args(args).args(bad).arg("--out").arg(d.join("m"));
        launches.push(("mpirun.mpich -n 2", c));
    }
    for (how, cmd) in launches {
        let o = within(cmd, std::time::Duration::from_secs(120));
        let stderr = String::from_utf8_lossy(&o.stderr);
        println!("{how}: status {}, stderr: {}", o.status, stderr.trim());
        assert!(!o.status.success(), "{how}: the run must fail");
        // Over threads rank 0 reports. An MPI rank prints its error and aborts the job; when it
        // is busy, mpirun may end before it forwards that line, so only the status is required.
        if how == "threads" {
            assert!(stderr.contains("checkpoint_000000000050.hsc"), "{how}: the error names the file: {stderr}");
        }
    }
}
