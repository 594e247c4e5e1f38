//! Checkpoints and faults through the `hemoscale` binary: a run killed with SIGKILL at a random
//! moment and resumed ends exactly as an uninterrupted one (CPU: bit for bit; GPU: within the
//! CPU–GPU parity tolerance, 1e-3 in position); damaged checkpoints are refused and their
//! predecessor is used; forced faults are caught within one output interval with a diagnostic
//! naming the particle, and the last good checkpoint stays.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hemoscale::checkpoint::{self, Checkpoint};

fn hemoscale() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hemoscale"));
    c.stdin(Stdio::null());
    c
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hemoscale-ckpt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A small plane Couette run (864 particles with walls): every kind of output and accumulator
/// (thermo, trajectory, fields, velocity profile, wall shear) has to continue across a resume.
fn couette_args(backend: &str, steps: u64, every: u64) -> Vec<String> {
    let args = format!(
        "run couette --backend {backend} --steps {steps} --thermo 50 --set width=6 --set height=6 \
         --checkpoint-every {every} --trajectory every:100 --fields every:200"
    );
    args.split_whitespace().map(String::from).collect()
}

/// `hemoscale` with `args` writing its checkpoints, outputs and summary into `dir`.
fn run_in(dir: &Path, args: &[impl AsRef<std::ffi::OsStr>]) -> Command {
    let mut c = hemoscale();
    c.args(args)
        .arg("--checkpoint")
        .arg(dir.join("ckpt"))
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--summary-json")
        .arg(dir.join("summary.json"));
    c
}

fn run_to_end(dir: &Path, args: &[String]) -> Output {
    let o = run_in(dir, args).output().unwrap();
    assert!(o.status.success(), "run failed: {}", String::from_utf8_lossy(&o.stderr));
    o
}

fn resume(dir: &Path) -> Output {
    hemoscale().arg("run").arg("--resume").arg(dir.join("ckpt")).output().unwrap()
}

/// Starts the run, waits for its first checkpoint, then SIGKILLs it after a random delay
/// (printed, so a failure can be replayed). Returns whether the kill landed mid-run.
fn run_and_kill(dir: &Path, args: &[String], max_delay_ms: u64) -> bool {
    let mut child = run_in(dir, args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let t0 = Instant::now();
    while checkpoint::list(&dir.join("ckpt")).unwrap().is_empty() {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before its first checkpoint");
        assert!(t0.elapsed() < Duration::from_secs(120), "no checkpoint after 2 minutes");
        std::thread::sleep(Duration::from_millis(5));
    }
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
    let delay = u64::from(nanos) % max_delay_ms;
    eprintln!("killing {delay} ms after the first checkpoint");
    std::thread::sleep(Duration::from_millis(delay));
    let finished = child.try_wait().unwrap().is_some();
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    eprintln!("killed run: {status:?}; checkpoints {:?}", checkpoint::list(&dir.join("ckpt")).unwrap());
    !finished
}

fn final_checkpoint(dir: &Path, steps: u64) -> Checkpoint {
    Checkpoint::load(&dir.join("ckpt").join(Checkpoint::file_name(steps))).unwrap()
}

fn observables(dir: &Path) -> serde_json::Value {
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    s["observables"].clone()
}

#[test]
fn a_killed_cpu_run_resumes_bit_for_bit() {
    let steps = 4000;
    let args = couette_args("cpu", steps, 100);
    let whole = scratch("cpu-whole");
    let _ = run_to_end(&whole, &args);
    let killed = scratch("cpu-killed");
    // The run takes about 2 s after its first checkpoint (100 steps in) on a 2-core machine.
    assert!(run_and_kill(&killed, &args, 500), "the run finished before it was killed: make it longer");
    let o = resume(&killed);
    assert!(o.status.success(), "resume failed: {}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("# resumed at step"));
    let (a, b) = (final_checkpoint(&whole, steps), final_checkpoint(&killed, steps));
    // Bit for bit: the particles in memory order, every sample, every accumulator, the counters.
    assert_eq!(a.state, b.state, "final particle states differ");
    assert_eq!(a.samples, b.samples, "sampled observables differ");
    assert_eq!((a.probe.len(), a.fields.len()), (b.probe.len(), b.fields.len()));
    let same_bits = |x: &[f64], y: &[f64]| x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits());
    assert!(same_bits(&a.probe, &b.probe) && same_bits(&a.fields, &b.fields), "accumulators differ");
    assert_eq!(a.counters, b.counters);
    // The outputs continue as if nothing happened.
    for file in ["out/thermo.csv", "out/trajectory.xyz", "out/particles/particles.pvd", "out/fields/fields.pvd"] {
        assert_eq!(std::fs::read(whole.join(file)).unwrap(), std::fs::read(killed.join(file)).unwrap(), "{file}");
    }
    assert_eq!(observables(&whole), observables(&killed));
    // Only the two newest checkpoints are kept.
    assert_eq!(checkpoint::list(&killed.join("ckpt")).unwrap().len(), checkpoint::KEEP);
    for d in [whole, killed] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn a_killed_platelet_run_resumes_bit_for_bit() {
    // One platelet flipping in shear (about 6 s for 1,000 steps on 2 cores, after a short
    // rest-stress calibration, whose result the resume must take from the checkpoint): the
    // platelet levels, stress accumulation and tracks continue too.
    let steps = 1000;
    let args: Vec<String> = format!(
        "run shear-flip --backend cpu --steps {steps} --thermo 50 --checkpoint-every 100 --trajectory every:200 \
         --set rest_stress_time=1"
    )
    .split_whitespace()
    .map(String::from)
    .collect();
    let whole = scratch("platelets-whole");
    let _ = run_to_end(&whole, &args);
    let killed = scratch("platelets-killed");
    assert!(run_and_kill(&killed, &args, 3000), "the run finished before it was killed: make it longer");
    let o = resume(&killed);
    assert!(o.status.success(), "resume failed: {}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("# resumed at step") && !stdout.contains("rest stress"), "no calibration on resume");
    let (a, b) = (final_checkpoint(&whole, steps), final_checkpoint(&killed, steps));
    assert_eq!(a.state, b.state, "final plasma states differ");
    assert!(a.platelets.is_some());
    assert_eq!(a.platelets, b.platelets, "platelet levels or measurements differ");
    assert_eq!(a.samples, b.samples);
    for file in ["out/thermo.csv", "out/platelets.csv", "out/trajectory.xyz", "out/platelets/membrane.pvd"] {
        assert_eq!(std::fs::read(whole.join(file)).unwrap(), std::fs::read(killed.join(file)).unwrap(), "{file}");
    }
    let (mut x, mut y) = (observables(&whole), observables(&killed));
    for timing in ["platelet_seconds", "platelet_cost_fraction"] {
        for m in [&mut x, &mut y] {
            let _ = m.as_object_mut().unwrap().remove(timing);
        }
    }
    assert_eq!(x, y);
    for d in [whole, killed] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

/// A coupled run (`coupling=surrogate`, the shipped model, fine segments of 3 and verifications
/// every 4 time units) hands its platelet to the surrogate near steps 320 and 1060 and takes it
/// back to the particles near 740 and 1480. Resumed from a checkpoint taken while the platelet
/// ran reduced (step 1200: the engine holds no platelet; it is re-created after the resume) and
/// from one taken while it ran fine (step 1000: it goes reduced and comes back after the
/// resume), the run ends bit for bit as it did uninterrupted: particles, platelet levels, the
/// coupling state (models, harvest, modes, counters), samples, and the CSV files; the two
/// uninterrupted runs, checkpointed every 300 and every 500 steps, end the same too.
#[test]
fn a_coupled_run_resumes_bit_for_bit_from_reduced_and_fine_states() {
    let steps = 1500;
    let mut finals = Vec::new();
    for (every, from, platelet_fine) in [(300u64, 1200u64, false), (500, 1000, true)] {
        let args: Vec<String> = format!(
            "run shear-flip --backend cpu --steps {steps} --thermo 100 --checkpoint-every {every} \
             --set coupling=surrogate --set coupling_fine_time=3 --set coupling_verify_every=4 \
             --set rest_stress_time=0"
        )
        .split_whitespace()
        .map(String::from)
        .collect();
        let dir = scratch(&format!("coupled-{every}"));
        let _ = run_to_end(&dir, &args);
        let files = ["out/thermo.csv", "out/platelets.csv", "out/coupling.csv", "out/coupling_events.csv"];
        let whole: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(dir.join(f)).unwrap()).collect();
        let whole_obs = observables(&dir);
        let a = final_checkpoint(&dir, steps);
        let older = Checkpoint::load(&dir.join("ckpt").join(Checkpoint::file_name(from))).unwrap();
        let levels = older.platelets.as_ref().and_then(|p| p.levels.as_ref());
        assert_eq!(levels.is_some(), platelet_fine, "the platelet at step {from} should run fine: {platelet_fine}");
        assert!(!older.coupling.is_empty(), "the coupling state is saved");
        std::fs::remove_file(dir.join("ckpt").join(Checkpoint::file_name(steps))).unwrap();
        let o = resume(&dir);
        assert!(o.status.success(), "resume failed: {}", String::from_utf8_lossy(&o.stderr));
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(stdout.contains(&format!("# resumed at step {from}")) && stdout.contains("# coupling: state restored"));
        let b = final_checkpoint(&dir, steps);
        assert_eq!(a.state, b.state, "final plasma states differ (resumed from {from})");
        assert_eq!(a.platelets, b.platelets, "platelet levels or measurements differ (resumed from {from})");
        assert!(a.coupling == b.coupling, "coupling states differ (resumed from {from})");
        assert_eq!(a.samples, b.samples);
        for (f, w) in files.iter().zip(&whole) {
            assert!(&std::fs::read(dir.join(f)).unwrap() == w, "{f} differs (resumed from {from})");
        }
        let (mut x, mut y) = (whole_obs, observables(&dir));
        for m in [&mut x, &mut y] {
            let m = m.as_object_mut().unwrap();
            m.retain(|k, _| !k.contains("seconds") && !k.contains("cost") && !k.contains("speedup"));
        }
        assert_eq!(x, y);
        assert!(x["handovers"].as_u64() == Some(2) && x["fallbacks"].as_u64() == Some(2), "{x}");
        finals.push(a);
        std::fs::remove_dir_all(dir).unwrap();
    }
    assert_eq!(finals[0].state, finals[1].state, "checkpointing every 300 or 500 steps changed the run");
    assert!(finals[0].coupling == finals[1].coupling);
}

#[test]
fn sigterm_writes_a_checkpoint_and_the_run_resumes_bit_for_bit() {
    let steps = 4000;
    // Checkpoints only at the end: the one the signal writes is the only one on the way.
    let args = couette_args("cpu", steps, 0);
    let whole = scratch("term-whole");
    let _ = run_to_end(&whole, &args);
    let d = scratch("term");
    let child = run_in(&d, &args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    // Wait for the first thermo row past the set-up, then ask the run to stop.
    let thermo = d.join("out/thermo.csv");
    let t0 = Instant::now();
    while std::fs::read_to_string(&thermo).map_or(0, |t| t.lines().count()) < 3 {
        assert!(t0.elapsed() < Duration::from_secs(120), "no thermo rows after 2 minutes");
        std::thread::sleep(Duration::from_millis(5));
    }
    let term = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(term.success());
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(128 + 15), "{stderr}");
    let list = checkpoint::list(&d.join("ckpt")).unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    let at = list[0].0;
    assert!(0 < at && at < steps && stderr.contains(&format!("stopped by signal 15 at step {at}")), "{stderr}");
    let o = resume(&d);
    assert!(o.status.success(), "resume failed: {}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(final_checkpoint(&whole, steps).state, final_checkpoint(&d, steps).state);
    assert_eq!(std::fs::read(whole.join("out/thermo.csv")).unwrap(), std::fs::read(thermo).unwrap());
    for d in [whole, d] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn the_wall_clock_limit_checkpoints_and_stops_with_status_75() {
    let d = scratch("wall-limit");
    let t0 = Instant::now();
    let args = "run dpd-box --backend cpu --set particles=3000 --steps 10000000 --wall-limit 2 --checkpoint-every 0";
    let o = run_in(&d, &args.split_whitespace().collect::<Vec<_>>()).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(75), "{stderr}");
    // Set-up, 2 s of steps, then at most one chunk (500 steps of 3,000 particles: well under 1 s).
    assert!(t0.elapsed() < Duration::from_secs(30), "took {:?}", t0.elapsed());
    let list = checkpoint::list(&d.join("ckpt")).unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    let at = list[0].0;
    assert!(stderr.contains(&format!("stopped by the wall-clock limit of 2 s at step {at}")), "{stderr}");
    // Continue a little further, with more time.
    let o = hemoscale()
        .args(["run", "--steps", &(at + 100).to_string(), "--wall-limit", "600", "--resume"])
        .arg(d.join("ckpt"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(checkpoint::list(&d.join("ckpt")).unwrap()[0].0, at + 100);
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn a_killed_gpu_run_resumes_within_the_parity_tolerance() {
    if common::gpu_context().is_none() {
        return;
    }
    let steps = 300;
    let args = couette_args("gpu", steps, 50);
    let whole = scratch("gpu-whole");
    let _ = run_to_end(&whole, &args);
    let killed = scratch("gpu-killed");
    let _ = run_and_kill(&killed, &args, 1000);
    let o = resume(&killed);
    assert!(o.status.success(), "resume failed: {}", String::from_utf8_lossy(&o.stderr));
    let (a, b) =
        (final_checkpoint(&whole, steps).state.sorted_by_tag(), final_checkpoint(&killed, steps).state.sorted_by_tag());
    assert_eq!(a.tag, b.tag);
    let len = [6.0f32, 6.0, 8.0];
    let mut dx = 0.0f32;
    for (p, q) in a.pos.iter().zip(&b.pos) {
        for k in 0..3 {
            let d = (p[k] - q[k]).abs();
            dx = dx.max(d.min(len[k] - d));
        }
    }
    eprintln!("GPU: max |dx| between the uninterrupted and the resumed run after {steps} steps: {dx:e}");
    assert!(dx <= 1e-3, "positions differ by {dx}");
    for d in [whole, killed] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn a_killed_gpu_platelet_run_resumes_within_the_parity_tolerance() {
    if common::gpu_context().is_none() {
        return;
    }
    // On lavapipe, in a box of 10 x 10 x 14: about 18 s to set up, then about 11 steps/s (no
    // rest-stress calibration, which would add half a minute of CPU).
    let steps = 200;
    let args: Vec<String> = format!(
        "run shear-flip --backend gpu --steps {steps} --thermo 50 --checkpoint-every 50 --set rest_stress_time=0 \
         --set length=10 --set width=10 --set height=12"
    )
    .split_whitespace()
    .map(String::from)
    .collect();
    let whole = scratch("gpu-platelets-whole");
    let _ = run_to_end(&whole, &args);
    let killed = scratch("gpu-platelets-killed");
    assert!(run_and_kill(&killed, &args, 8000), "the run finished before it was killed: make it longer");
    let o = resume(&killed);
    assert!(o.status.success(), "resume failed: {}", String::from_utf8_lossy(&o.stderr));
    let (a, b) = (final_checkpoint(&whole, steps), final_checkpoint(&killed, steps));
    let levels = |c: Checkpoint| c.platelets.and_then(|p| p.levels).expect("platelet levels saved");
    let (pa, pb) = (levels(a.clone()), levels(b.clone()));
    let diff = |x: &[[f32; 4]], y: &[[f32; 4]]| {
        x.iter().zip(y).flat_map(|(p, q)| (0..3).map(move |k| (p[k] - q[k]).abs())).fold(0.0f32, f32::max)
    };
    let dx = diff(&pa.pos, &pb.pos);
    // The plasma wraps: compare by the nearest image in the box of the keys above (the header
    // line says [10, 10, 14]: the walls add one unit above and below `height`).
    let len = [10.0f32, 10.0, 14.0];
    let (sa, sb) = (a.state.sorted_by_tag(), b.state.sorted_by_tag());
    assert_eq!(sa.tag, sb.tag);
    let plasma = sa
        .pos
        .iter()
        .zip(&sb.pos)
        .flat_map(|(p, q)| (0..3).map(move |k| (p[k] - q[k]).abs().min(len[k] - (p[k] - q[k]).abs())))
        .fold(0.0f32, f32::max);
    eprintln!("GPU platelets: max |dx| platelet {dx:e}, plasma {plasma:e}");
    assert!(dx <= 1e-3, "platelet positions differ by {dx}");
    assert!(plasma <= 1e-3, "plasma positions differ by {plasma}");
    for d in [whole, killed] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn damaged_checkpoints_are_refused_and_the_previous_one_loads() {
    let steps = 600;
    let args = couette_args("cpu", steps, 100);
    let whole = scratch("damage-whole");
    let _ = run_to_end(&whole, &args);
    // A copy of the run's folder as it was at step 500: checkpoints 400 and 500.
    let d = scratch("damage");
    let _ = run_to_end(&d, &couette_args("cpu", 500, 100));
    let list = checkpoint::list(&d.join("ckpt")).unwrap();
    assert_eq!(list.iter().map(|x| x.0).collect::<Vec<_>>(), vec![500, 400]);
    // Flip one byte of the newest; a direct load names the file and the reason.
    let newest = &list[0].1;
    let mut bytes = std::fs::read(newest).unwrap();
    let k = bytes.len() / 3;
    bytes[k] ^= 0x40;
    std::fs::write(newest, &bytes).unwrap();
    let e = Checkpoint::load(newest).unwrap_err().to_string();
    assert!(e.contains("checkpoint_000000000500.hsc") && e.contains("checksum mismatch"), "{e}");
    // The run's recipe said 500 steps; continue to 600 to compare with the uninterrupted run.
    let o = hemoscale().args(["run", "--steps", "600", "--resume"]).arg(d.join("ckpt")).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("skipping a damaged checkpoint") && stderr.contains("checksum mismatch"), "{stderr}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("resumed at step 400"));
    assert_eq!(final_checkpoint(&whole, steps).state, final_checkpoint(&d, steps).state);

    // Truncated files, all of them: nothing to resume from, exit status 2, each reason given.
    for (_, p) in checkpoint::list(&d.join("ckpt")).unwrap() {
        let b = std::fs::read(&p).unwrap();
        std::fs::write(&p, &b[..b.len() / 2]).unwrap();
    }
    let o = resume(&d);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no usable checkpoint") && stderr.matches("truncated or corrupted").count() == 2,
        "{stderr}"
    );
    // An empty folder as well.
    let o = hemoscale().args(["run", "--resume"]).arg(d.join("nothing-here")).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    for d in [whole, d] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

/// A fault forced in at step 230 with thermo rows every 50 steps: caught by step 300 at the
/// latest, with the particle named; the checkpoint of step 200 is reported and still loads.
fn forced_fault(fault: &str, expect: &str) {
    let d = scratch(fault);
    let o = run_in(&d, &couette_args("cpu", 1000, 100)).arg(format!("--inject-fault={fault}@230")).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let step: u64 = stderr
        .split("blew up at step ")
        .nth(1)
        .and_then(|s| s.split(':').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no step in {stderr}"));
    assert!((230..=280).contains(&step), "caught at step {step}, more than one output interval after 230: {stderr}");
    // The injected particle is the fluid particle with the lowest id (0).
    assert!(stderr.contains("particle 0 (plasma) at (") && stderr.contains(expect), "{stderr}");
    assert!(stderr.contains("last good checkpoint:") && stderr.contains("checkpoint_000000000200.hsc"), "{stderr}");
    let (c, refused) = checkpoint::newest_good(&d.join("ckpt")).unwrap();
    assert!(refused.is_empty());
    assert_eq!(c.step, 200, "a checkpoint was written after the fault");
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn a_nan_velocity_is_caught_and_diagnosed() {
    forced_fault("nan-velocity", "non-finite position, velocity or force");
}

#[test]
fn a_particle_forced_into_a_wall_is_caught_and_diagnosed() {
    forced_fault("into-wall", "inside a wall");
}

#[test]
fn with_backend_auto_a_lost_device_continues_on_the_cpu_from_the_last_checkpoint() {
    let steps = 600;
    let args = couette_args("auto", steps, 100);
    let whole = scratch("lost-whole");
    let _ = run_to_end(&whole, &args);
    let d = scratch("lost");
    let o = run_in(&d, &args).arg("--inject-fault=device-lost@250").output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("the GPU device was lost (injected at step 250)"), "{stderr}");
    assert!(stderr.contains("continuing on the native CPU from") && stderr.contains("(step 200)"), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["backend"], "cpu");
    assert_eq!(summary["resumed_at"], 200);
    // Where `auto` ran on the CPU throughout (no hardware GPU, as in CI), the recovered run ends
    // bit for bit as the uninterrupted one.
    let whole_summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(whole.join("summary.json")).unwrap()).unwrap();
    if whole_summary["backend"] == "cpu" {
        assert_eq!(final_checkpoint(&whole, steps).state, final_checkpoint(&d, steps).state);
        assert_eq!(observables(&whole), observables(&d));
    }
    for d in [whole, d] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn a_checkpoint_of_another_scenario_is_refused() {
    use hemoscale::dsl::{Backend, Scenario};
    use hemoscale::run::{run, CheckpointPlan, RunError, RunOptions};
    let d = scratch("mismatch");
    let build =
        |seed| Scenario::builder("box").cubic_box(6.0).seed(seed).steps(40).backend(Backend::Cpu).build().unwrap();
    let mut opts = RunOptions::for_steps(40);
    opts.checkpoint = Some(CheckpointPlan { dir: d.clone(), every: 20, recipe: serde_json::Value::Null });
    let _ = run(&build(1), &opts, None, &mut std::io::sink()).unwrap();
    let (c, _) = checkpoint::newest_good(&d).unwrap();
    opts.resume = Some(c);
    // Another seed is other physics: refused, naming the file.
    let e = run(&build(2), &opts, None, &mut std::io::sink()).unwrap_err();
    assert!(matches!(e, RunError::Checkpoint(_)), "{e}");
    assert!(e.to_string().contains("checkpoint_000000000040.hsc") && e.to_string().contains("physics differs"), "{e}");
    std::fs::remove_dir_all(d).unwrap();
}
