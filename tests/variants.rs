//! Time-varying driving (variants): the temperature follows a kT step (reference: the
//! fluctuation–dissipation theorem makes the DPD thermostat's temperature the set kT), CPU and GPU
//! follow the same changes (trajectories within the parity tolerance), and a run resumed between
//! a ramp's increments continues bit for bit.

mod common;

use std::process::Command;

use hemoscale::dsl::{Backend, Scenario};
use hemoscale::run::{run, RunOptions};
use hemoscale::variant::Variant;
use hemoscale_kernels::{init, CpuEngine, Driving, Engine, GpuEngine};

#[test]
fn the_temperature_follows_a_kt_step() {
    let steps = 4000;
    let s = Scenario::builder("kt-step")
        .cubic_box(8.0)
        .seed(5)
        .steps(steps)
        .backend(Backend::Cpu)
        .vary_kt(Variant::Steps { initial: 1.0, changes: vec![(2000, 1.5)] })
        .build()
        .unwrap();
    let o = run(&s, &RunOptions::for_steps(steps), None, &mut std::io::sink()).unwrap();
    let mean = |a: u64, b: u64| {
        let t: Vec<f64> = o.samples.iter().filter(|x| x.step > a && x.step <= b).map(|x| x.temperature()).collect();
        t.iter().sum::<f64>() / t.len() as f64
    };
    // After 500 steps (5 time units, many collision times) each half is in equilibrium. DPD at
    // dt = 0.01 and lambda = 0.5 runs 1-2 % hot (Groot and Warren 1997, fig. 3): 3 % tolerance.
    let (before, after) = (mean(500, 2000), mean(2500, 4000));
    eprintln!("temperature {before:.4} at kT 1, {after:.4} at kT 1.5");
    assert!((before - 1.0).abs() < 0.03, "before the step: {before}");
    assert!((after / 1.5 - 1.0).abs() < 0.03, "after the step: {after}");
}

#[test]
fn cpu_and_gpu_follow_the_same_driving_changes() {
    let Some(ctx) = common::gpu_context() else { return };
    let n = 3000;
    let system = common::standard_system(n, 0.01, 0xBEEF);
    let state = init::random_fluid(&system, n);
    let mut cpu = CpuEngine::new(&system, &state, 0).unwrap();
    let mut gpu = GpuEngine::with_context(ctx, &system, &state, 0).unwrap();
    let engines: [&mut dyn Engine; 2] = [&mut cpu, &mut gpu];
    for e in engines {
        e.compute_forces().unwrap();
        let _ = e.run(30, 0).unwrap();
        // A body force switched on, then the temperature doubled.
        e.set_driving(Driving { body_force: [0.2, 0.0, -0.1], kt: 1.0, wall_speed: 0.0 }).unwrap();
        let _ = e.run(30, 0).unwrap();
        e.set_driving(Driving { body_force: [0.2, 0.0, -0.1], kt: 2.0, wall_speed: 0.0 }).unwrap();
        let _ = e.run(40, 0).unwrap();
        // No walls: a wall speed is refused, the engine left as it was.
        assert!(e.set_driving(Driving { body_force: [0.0; 3], kt: 1.0, wall_speed: 1.0 }).is_err());
    }
    let (a, b) = (cpu.state().unwrap().sorted_by_tag(), gpu.state().unwrap().sorted_by_tag());
    let l = system.sim_box.len;
    let mut dx = 0.0f32;
    for (p, q) in a.pos.iter().zip(&b.pos) {
        for k in 0..3 {
            let d = (p[k] - q[k]).abs();
            dx = dx.max(d.min(l[k] - d));
        }
    }
    // Momentum from the body force over its 70 steps, less half a step's worth: velocity-Verlet's
    // first half-kick after the change uses the forces of the step before it.
    let px: f64 = a.vel.iter().map(|v| f64::from(v[0])).sum::<f64>() / n as f64;
    let expected = 0.2 * (70.0 - 0.5) * 0.01;
    eprintln!("after 100 steps: max |dx| = {dx:e}, mean vx {px:.6} (expected {expected})");
    assert!((px - expected).abs() < 1e-4, "the body force was not applied: mean vx {px}");
    assert!(dx <= 1e-3, "positions differ by {dx} after 100 steps");
}

#[test]
fn a_run_resumed_between_ramp_increments_continues_bit_for_bit() {
    let d = std::env::temp_dir().join(format!("hemoscale-variant-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    // A shear rate ramping up from step 100 to 1100 in increments every 10 steps; checkpoints
    // every 45 steps, so the one at 585 lies between two increments.
    let args = "run couette --backend cpu --steps 600 --thermo 50 --set width=6 --set height=6 \
                --vary wall_speed=ramp:1:2:100:1000 --checkpoint-every 45";
    let o = Command::new(env!("CARGO_BIN_EXE_hemoscale"))
        .args(args.split_whitespace())
        .arg("--checkpoint")
        .arg(d.join("ckpt"))
        .arg("--out")
        .arg(d.join("out"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let last = d.join("ckpt").join(hemoscale::checkpoint::Checkpoint::file_name(600));
    let whole = hemoscale::checkpoint::Checkpoint::load(&last).unwrap();
    std::fs::remove_file(&last).unwrap();
    let o =
        Command::new(env!("CARGO_BIN_EXE_hemoscale")).arg("run").arg("--resume").arg(d.join("ckpt")).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("resumed at step 585"));
    let resumed = hemoscale::checkpoint::Checkpoint::load(&last).unwrap();
    assert_eq!(whole.state, resumed.state);
    assert_eq!(whole.samples, resumed.samples);
    std::fs::remove_dir_all(&d).unwrap();
}
