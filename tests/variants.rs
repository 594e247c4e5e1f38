//! Time-varying driving (variants): the temperature follows a kT step (reference: the
//! fluctuation–dissipation theorem makes the DPD thermostat's temperature the set kT), platelets
//! included (their only heat bath is the interface pair, whose noise must follow), CPU and GPU
//! follow the same changes (trajectories within the parity tolerance), with platelets between
//! moving walls too, and a run resumed between a ramp's increments continues bit for bit.

mod common;

use std::process::Command;

use hemoscale::dsl::{Backend, Scenario};
use hemoscale::kernels::geometry::Shape;
use hemoscale::run::{initial_conditions, run, RunOptions};
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

/// Reference: equipartition. A platelet's particles exchange heat with the plasma only through
/// the interface pair (DPD dissipation and noise), so their kinetic temperature `m <v^2> / 3`
/// settles at the kT the interface's noise is set for; a kT step that reached the plasma but not
/// the interface would leave the platelet at the old kT, half the new one.
///
/// Run: the walled platelet at rest (walls still) at kT 0.1, kT doubled at step 1,000, platelet
/// velocities sampled every 20 steps over 600-1,000 and 1,600-2,400. Measured here: 0.1051 and
/// 0.2137, both 5-7 % hot (the platelet's particles run warm at these time-step levels, step or
/// no step), a ratio of 2.03; with the interface left at the old kT the second was 0.1145.
/// Tolerances: each within 10 % of its kT (about 40 correlated samples of 800 particles each),
/// their ratio within 5 % of 2.
#[test]
fn a_platelet_follows_a_kt_step() {
    // The DSL takes variants with platelets (the run loop applies them as above).
    let ramp = common::walled_platelet(0.8, 0.1).vary("wall_speed", "ramp:1:2:0:100".parse().unwrap()).unwrap();
    assert_eq!(ramp.driving_at(50).wall_speed, 1.2);
    let s = common::walled_platelet(0.0, 0.1);
    let initial = initial_conditions(&s, Backend::Cpu).expect("initial conditions");
    let set = initial.platelets.clone().expect("platelets");
    let m = f64::from(set.template.particle_mass);
    let mut e = CpuEngine::with_platelets(&initial.system, &initial.state, 0, &set).expect("cpu engine");
    e.compute_forces().unwrap();
    let temperature = |e: &mut CpuEngine, from: u64, to: u64| {
        let (mut sum, mut n) = (0.0, 0usize);
        let _ = e.run(from - e.step(), 0).unwrap();
        while e.step() < to {
            let _ = e.run(20, 0).unwrap();
            let ps = e.platelet_state().unwrap().expect("platelets");
            sum += ps.vel.iter().map(|v| v.iter().map(|&c| m * f64::from(c) * f64::from(c)).sum::<f64>()).sum::<f64>();
            n += 3 * ps.vel.len();
        }
        sum / n as f64
    };
    let before = temperature(&mut e, 600, 1000);
    let d = Driving::of(e.system());
    e.set_driving(Driving { kt: 0.2, ..d }).unwrap();
    let after = temperature(&mut e, 1600, 2400);
    eprintln!("platelet kinetic temperature {before:.4} at kT 0.1, {after:.4} at kT 0.2");
    assert!((before / 0.1 - 1.0).abs() < 0.1, "before the step: {before}");
    assert!((after / 0.2 - 1.0).abs() < 0.1, "after the step: {after}");
    assert!((after / before / 2.0 - 1.0).abs() < 0.05, "ratio {}", after / before);
}

/// CPU and GPU with platelets follow the same driving changes: the walled platelet's channel
/// with the wall speed raised from 0.8 to 1.6 and kT from 0.1 to 0.15 after 10 of 20 steps. The
/// parity tolerances of `tests/platelet_gpu_engine.rs` (platelets 1e-4 rc and 5e-3 rc/tau,
/// plasma velocities 5e-3); a GPU that kept the old interface noise or half-step wall speed
/// leaves the platelet velocities 1e-2 rc/tau or more apart.
#[test]
fn cpu_and_gpu_platelets_follow_the_same_driving_changes() {
    let Some(ctx) = common::gpu_context() else { return };
    let s = common::walled_platelet(0.8, 0.1);
    let initial = initial_conditions(&s, Backend::Cpu).expect("initial conditions");
    let set = initial.platelets.clone().expect("platelets");
    let mut cpu = CpuEngine::with_platelets(&initial.system, &initial.state, 0, &set).expect("cpu engine");
    let mut gpu = GpuEngine::with_platelets(ctx, &initial.system, &initial.state, 0, &set).expect("gpu engine");
    let mut states = Vec::new();
    for e in [&mut cpu as &mut dyn Engine, &mut gpu as &mut dyn Engine] {
        e.compute_forces().unwrap();
        let _ = e.run(10, 0).unwrap();
        e.set_driving(Driving { body_force: [0.0; 3], kt: 0.15, wall_speed: 1.6 }).unwrap();
        let _ = e.run(10, 0).unwrap();
        states.push((e.platelet_state().unwrap().expect("platelets"), e.state().unwrap().sorted_by_tag()));
    }
    let max_diff = |a: &[[f32; 3]], b: &[[f32; 3]]| {
        a.iter().zip(b).flat_map(|(x, y)| (0..3).map(move |k| (x[k] - y[k]).abs())).fold(0.0f32, f32::max)
    };
    let ((c, cp), (g, gp)) = (&states[0], &states[1]);
    let (dx, dv) = (max_diff(&c.pos, &g.pos), max_diff(&c.vel, &g.vel));
    let pv = max_diff(&cp.vel, &gp.vel);
    eprintln!("after a driving change: platelets max |dx| {dx:.3e}, max |dv| {dv:.3e}; plasma max |dv| {pv:.3e}");
    assert!(dx <= 1e-4 && dv <= 5e-3, "platelets differ: positions {dx}, velocities {dv}");
    assert!(pv <= 5e-3, "plasma velocities differ by {pv}");
}

/// A wall-speed change moves the walls themselves, not only the bounce-back: after the change
/// every frozen wall particle moves at the new wall velocity (±speed/2 on either side of the
/// motion plane, exactly), on both engines, so the pair friction with the wall drags the fluid
/// at the new speed. (Before this was so, the frozen particles kept their old velocity and a
/// 4x wall-speed step barely changed a platelet channel's shear rate.)
#[test]
fn a_wall_speed_change_moves_the_frozen_walls() {
    let s = Scenario::builder("walls")
        .box_lengths([6.0, 6.0, 8.0])
        .vessel(Shape::Channel { center: 4.0, half_height: 3.0 }, 1.0)
        .wall_speed(1.0, 4.0)
        .seed(4)
        .backend(Backend::Cpu)
        .build()
        .unwrap();
    let initial = initial_conditions(&s, Backend::Cpu).unwrap();
    let mut engines: Vec<Box<dyn Engine>> = vec![Box::new(CpuEngine::new(&initial.system, &initial.state, 0).unwrap())];
    if let Some(ctx) = common::gpu_context() {
        engines.push(Box::new(GpuEngine::with_context(ctx, &initial.system, &initial.state, 0).unwrap()));
    }
    for e in &mut engines {
        e.compute_forces().unwrap();
        let _ = e.run(5, 0).unwrap();
        e.set_driving(Driving { body_force: [0.0; 3], kt: 1.0, wall_speed: 3.0 }).unwrap();
        let _ = e.run(2, 0).unwrap();
        let st = e.state().unwrap();
        let walls: Vec<usize> = (0..st.len()).filter(|&i| st.type_id[i] == 1).collect();
        assert_eq!(walls.len(), initial.wall);
        for &i in &walls {
            let want = if st.pos[i][2] >= 4.0 { 1.5 } else { -1.5 };
            assert_eq!(st.vel[i], [want, 0.0, 0.0], "{}: wall particle {i} at {:?}", e.backend().name(), st.pos[i]);
        }
    }
}
