//! The GPU engine with platelets (`GpuEngine::with_platelets`, `kernels/src/gpu/mts.rs`) runs the
//! CPU engine's multiple-time-stepping composition: the same system on both engines stays on the
//! same trajectory for a short run and conserves plasma plus platelet momentum as well; with
//! adhesion (the `aggregation` start) both form the same bonds. A second system puts the `shear-flip` platelet (jump factors 8:1:1)
//! between moving frozen-particle walls.
//!
//! System: the plasma of the platelet scenarios (a 2.5, gamma 20, kT 0.1, dt 0.01) in a periodic
//! box of edge 10 (about 2,900 plasma particles after carving), one platelet of resolution 373
//! (diameter 6, aspect 0.25, soft stiffness) moving at 0.2 rc/tau, jump factors 2:1:2.
//!
//! Reference and tolerance: the CPU engine is the reference. Both engines draw the same Philox
//! numbers (plasma pairs by step, interface pairs by `step * n1 + k`); they differ in f32 summation
//! order, in the GPU's fixed-point interface reaction (1/8192 force units per pair) and in when
//! the Verlet list is rebuilt (which only changes the order of sums). These rounding differences
//! grow chaotically along the trajectory, so the run is kept to 20 plasma steps (80 bonded
//! sub-steps). Measured on lavapipe: platelet positions 3e-6 rc apart, velocities 3e-4 rc/tau,
//! interface forces 7e-4 (of 29). Tolerances, some 20 to 40 times that: `max |x_gpu - x_cpu| <=
//! 1e-4 rc`, `max |v_gpu - v_cpu| <= 5e-3 rc/tau` for platelet and plasma particles (matched by
//! global id), interface forces within 1e-3 of the largest; the velocities themselves change by
//! about 1.7 rc/tau along the run, so agreement is not trivial. Momentum (plasma plus platelets)
//! is conserved to 1e-4 of the 17 units the moving platelet carries, on both engines.

mod common;

use hemoscale::dsl::Backend;
use hemoscale::params::ParamValues;
use hemoscale::run::initial_conditions;
use hemoscale::scenarios::find;

use glam::{DVec3, Quat};
use hemoscale_kernels::platelet::{PlateletSpec, PlateletTemplate, Stiffness};
use hemoscale_kernels::platelet_set::{MtsLevels, Placement, PlateletParams, PlateletSet, PlateletState};
use hemoscale_kernels::{
    init, CpuEngine, DpdPair, DpdSystem, Engine, GpuEngine, KernelError, PairTable, ParticleState, SimBox,
};

const EDGE: f32 = 10.0;
const STEPS: u64 = 20;

fn plasma() -> (DpdSystem, ParticleState) {
    let mut sys = DpdSystem::standard(SimBox::cubic(EDGE), 23);
    sys.kt = 0.1;
    sys.dt = 0.01;
    sys.pairs = PairTable::uniform(1, DpdPair::new(2.5, 20.0, 1.0, 2.0));
    let st = init::random_fluid(&sys, (3.0 * EDGE * EDGE * EDGE) as usize);
    (sys, st)
}

fn platelet() -> PlateletSet {
    platelet_with_ids_from(1_000_000)
}

fn platelet_with_ids_from(first_tag: u32) -> PlateletSet {
    let spec = PlateletSpec {
        diameter: 6.0,
        aspect_ratio: 0.25,
        resolution: 373,
        mass: 3.0 * 28.27,
        stiffness: Stiffness::DEFAULT.scaled(0.1),
    };
    let t = PlateletTemplate::build(&spec).expect("template");
    let mut params =
        PlateletParams { mts: MtsLevels { interface: 2, nonbonded: 1, bonded: 2 }, ..PlateletParams::DEFAULT };
    params.interface.a *= 0.1;
    params.interface.morse.d0 *= 0.1;
    params.interface.gamma = 20.0;
    params.lj_epsilon = 0.1;
    let at = Placement { center: [0.5 * EDGE; 3], rotation: Quat::from_rotation_x(0.4), velocity: [0.2, 0.0, 0.0] };
    PlateletSet::place(t, params, &[at], first_tag).expect("placed")
}

/// Plasma plus platelet momentum, and the platelet state (which resets the stress average).
fn total_momentum(e: &mut dyn Engine, set: &PlateletSet) -> (DVec3, PlateletState) {
    let o = e.observables().expect("observables");
    let ps = e.platelet_state().expect("state").expect("platelets");
    let m = f64::from(set.template.particle_mass);
    let p = ps.vel.iter().fold(DVec3::ZERO, |s, v| s + m * DVec3::new(v[0].into(), v[1].into(), v[2].into()));
    (DVec3::from(o.momentum) + p, ps)
}

fn by_tag(s: ParticleState) -> ParticleState {
    let mut order: Vec<usize> = (0..s.len()).collect();
    order.sort_by_key(|&i| s.tag[i]);
    s.permuted(&order)
}

fn max_diff_periodic(a: &[[f32; 3]], b: &[[f32; 3]], l: f32) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            (0..3)
                .map(|k| {
                    let d = (x[k] - y[k]).abs();
                    d.min(l - d)
                })
                .fold(0.0, f32::max)
        })
        .fold(0.0, f32::max)
}

fn max_diff(a: &[[f32; 3]], b: &[[f32; 3]]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (0..3).map(|k| (x[k] - y[k]).abs()).fold(0.0, f32::max)).fold(0.0, f32::max)
}

#[test]
fn gpu_engine_with_platelets_follows_the_cpu_and_conserves_momentum() {
    let Some(ctx) = common::gpu_context() else {
        return;
    };
    let (sys, st) = plasma();
    let set = platelet();
    let (st, removed) = set.carve(&st, &sys, 0.3);
    assert!(removed > 0);
    let mut cpu = CpuEngine::with_platelets(&sys, &st, 0, &set).expect("cpu engine");
    let mut gpu = GpuEngine::with_platelets(ctx, &sys, &st, 0, &set).expect("gpu engine");
    let mut moves = Vec::new();
    for e in [&mut cpu as &mut dyn Engine, &mut gpu as &mut dyn Engine] {
        e.compute_forces().expect("forces");
        let (p0, _) = total_momentum(e, &set);
        let _ = e.run(STEPS, 0).expect("run");
        let (p1, state) = total_momentum(e, &set);
        // The platelet carries 0.2 * 373 * 0.227 = 17 momentum units into the plasma.
        let moved = 0.2 * f64::from(set.template.particle_mass) * set.len() as f64;
        let name = e.backend().name();
        assert!((p1 - p0).length() < 1e-4 * moved, "{name}: momentum {p0} -> {p1} (scale {moved})");
        moves.push(state);
    }
    eprintln!(
        "pair-list rebuilds: cpu {} (interface and Verlet lists), gpu {} (Verlet list only)",
        cpu.platelet_levels().expect("platelets").rebuilds,
        gpu.platelet_levels().expect("platelets").rebuilds
    );
    let (c, g) = (&moves[0], &moves[1]);
    assert_eq!(g.stress_steps, STEPS, "one stress sample per plasma step");
    let (dx, dv) = (max_diff(&c.pos, &g.pos), max_diff(&c.vel, &g.vel));
    let dv_run = max_diff(&c.vel, &set.vel);
    eprintln!("gpu vs cpu after {STEPS} steps: max |dx| {dx:.3e}, max |dv| {dv:.3e}; max velocity change {dv_run:.3}");
    assert!(dx <= 1e-4, "positions differ by {dx}");
    assert!(dv <= 5e-3, "velocities differ by {dv}");
    assert!(dv_run > 100.0 * 5e-3, "the velocities should change along the run: {dv_run}");
    // The plasma too (the engines order particles differently: match them by id), which takes
    // the interface reaction in its velocities.
    let (sc, sg) = (by_tag(cpu.state().expect("cpu state")), by_tag(gpu.state().expect("gpu state")));
    assert_eq!(sc.tag, sg.tag);
    let (px, pv) = (max_diff_periodic(&sc.pos, &sg.pos, EDGE), max_diff(&sc.vel, &sg.vel));
    eprintln!("plasma: max |dx| {px:.3e}, max |dv| {pv:.3e}");
    assert!(px <= 1e-4 && pv <= 5e-3, "plasma differs: positions {px}, velocities {pv}");
    // The interface forces agree too (same noise numbers).
    let df = max_diff(&c.interface_force, &g.interface_force);
    let scale = c.interface_force.iter().map(|f| f[0].abs().max(f[1].abs()).max(f[2].abs())).fold(0.0, f32::max);
    eprintln!("interface force: max |dF| {df:.3e}, scale {scale:.3}");
    assert!(df <= 1e-3 * scale, "interface forces differ by {df} (scale {scale})");
    // The mean stresses are computed the same way on both.
    let ds = c.mean_membrane_stress[0]
        .iter()
        .zip(&g.mean_membrane_stress[0])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let ss = c.mean_membrane_stress[0].iter().map(|a| a.abs()).fold(0.0, f64::max);
    eprintln!("mean membrane stress: max difference {ds:.3e}, scale {ss:.3e}");
    assert!(ds <= 1e-3 * ss + 1e-9, "mean membrane stress differs by {ds} (scale {ss})");
}

/// Adhesion on both engines: the `aggregation` scenario's start (three activated platelets, two
/// over an adhesive patch on the lower wall of a Couette channel, one resting on them, 8:1:1) for
/// 10 plasma steps. Bonds form from the first step (the upper platelet touches the lower ones; the
/// lower ones' sites sit within capture of the wall), so the Morse and Hooke terms act throughout.
/// Tolerances as above for the platelets; the bond counts may differ by a pair or two that sit
/// right at the capture distance (rounding decides those). Measured on lavapipe, step by step:
/// 1e-6 rc and 2e-5 rc/tau after the first step, 5e-6 and 3.5e-4 after ten (42 then 47 bonds on
/// both engines), then the chaotic growth the other tests see, faster here with the stiff bonds
/// (1e-4 rc and 1e-2 rc/tau after 20 steps; the same start without adhesion: 3e-5, 1e-3), so this
/// run stops at 10 steps.
/// Both engines report how long their platelet levels took (`Engine::platelet_seconds`, the
/// summary's `platelet_seconds`): the CPU engine by the wall clock around `B(h)`, the GPU engine
/// by timestamps around `B(h)` on the device plus its host share. The figure must be positive,
/// grow with the steps, and stay within the run's wall time; on a device without timestamp
/// queries the GPU engine reports NaN rather than a wrong number (lavapipe and NVIDIA's driver
/// have them).
#[test]
fn both_engines_time_their_platelet_levels() {
    let Some(ctx) = common::gpu_context() else {
        return;
    };
    let (sys, st) = plasma();
    let set = platelet();
    let (st, _) = set.carve(&st, &sys, 0.3);
    let timestamps = ctx.device.features().contains(wgpu::Features::TIMESTAMP_QUERY);
    let mut cpu = CpuEngine::with_platelets(&sys, &st, 0, &set).expect("cpu engine");
    let mut gpu = GpuEngine::with_platelets(ctx, &sys, &st, 0, &set).expect("gpu engine");
    for e in [&mut cpu as &mut dyn Engine, &mut gpu as &mut dyn Engine] {
        let name = e.backend().name();
        e.compute_forces().expect("forces");
        let before = e.platelet_seconds();
        let t0 = std::time::Instant::now();
        let _ = e.run(5, 0).expect("run");
        let mid = e.platelet_seconds();
        let _ = e.run(5, 0).expect("run");
        let (after, wall) = (e.platelet_seconds(), t0.elapsed().as_secs_f64());
        eprintln!("{name}: platelet levels {:.4} s of {wall:.4} s", after - before);
        if name == "gpu" && !timestamps {
            assert!(after.is_nan(), "no timestamps: {after}");
            continue;
        }
        assert!(before >= 0.0 && mid > before && after > mid, "{name}: {before} {mid} {after}");
        assert!(after - before <= wall, "{name}: {} s of platelets in {wall} s", after - before);
    }
    if timestamps {
        let p = gpu.platelet_levels().expect("platelets");
        eprintln!("gpu: device {:.4} s, host {:.4} s", p.device_seconds, p.host_seconds);
        assert!(p.device_seconds > 0.0, "the timestamps must be read: {}", p.device_seconds);
    }
}

#[test]
fn adhesion_follows_the_cpu() {
    let Some(ctx) = common::gpu_context() else {
        return;
    };
    let agg = find("aggregation").expect("aggregation");
    let v = ParamValues::parse(&agg.params(), &[]).expect("defaults");
    let steps = 10;
    let sc = agg.build(&v, 5, steps, Backend::Cpu).expect("valid scenario");
    let initial = initial_conditions(&sc, Backend::Cpu).expect("initial conditions");
    let set = initial.platelets.clone().expect("platelets");
    assert!(set.adhesion.is_some() && set.activated.iter().all(|&a| a));
    let mut cpu = CpuEngine::with_platelets(&initial.system, &initial.state, 0, &set).expect("cpu engine");
    let mut gpu = GpuEngine::with_platelets(ctx, &initial.system, &initial.state, 0, &set).expect("gpu engine");
    let mut states = Vec::new();
    let mut counts = Vec::new();
    for e in [&mut cpu as &mut dyn Engine, &mut gpu as &mut dyn Engine] {
        e.compute_forces().expect("forces");
        let _ = e.run(steps, 0).expect("run");
        states.push(e.platelet_state().expect("state").expect("platelets"));
        counts.push(e.adhesion_counts().expect("adhesion counts"));
    }
    let (c, g) = (&states[0], &states[1]);
    let (dx, dv) = (max_diff(&c.pos, &g.pos), max_diff(&c.vel, &g.vel));
    eprintln!("adhesion: max |dx| {dx:.3e}, max |dv| {dv:.3e}; bonds cpu {:?} gpu {:?}", counts[0], counts[1]);
    assert!(dx <= 1e-4 && dv <= 5e-3, "platelets differ: positions {dx}, velocities {dv}");
    let (fc, fg) = (counts[0].formed as i64, counts[1].formed as i64);
    assert!(fc > 10 && counts[0].wall_bonds > 0 && counts[0].platelet_bonds > 0, "{:?}", counts[0]);
    assert!((fc - fg).abs() <= 2, "bonds formed: cpu {fc}, gpu {fg}");
}

/// An engine holding adhesion bonds is never rebuilt (coupling, adaptive stepping): a platelet set
/// carries no bonds, and the rebuilt engine would drop them without a word. CPU only.
#[test]
fn a_rebuild_refuses_to_drop_adhesion_bonds() {
    let agg = find("aggregation").expect("aggregation");
    let v = ParamValues::parse(&agg.params(), &[]).expect("defaults");
    let sc = agg.build(&v, 5, 10, Backend::Cpu).expect("valid scenario");
    let initial = initial_conditions(&sc, Backend::Cpu).expect("initial conditions");
    let set = initial.platelets.clone().expect("platelets");
    let mut cpu = CpuEngine::with_platelets(&initial.system, &initial.state, 0, &set).expect("cpu engine");
    cpu.compute_forces().expect("forces");
    // Before any bond forms, a rebuild is fine.
    let state = cpu.state().expect("state");
    assert!(hemoscale::run::reopen(&mut cpu, &initial.system, &state, 0, Some(&set)).is_ok());
    let _ = cpu.run(10, 0).expect("run");
    let bonds = cpu.adhesion_counts().expect("counts");
    assert!(bonds.platelet_bonds + bonds.wall_bonds > 0, "{bonds:?}");
    let state = cpu.state().expect("state");
    let err =
        hemoscale::run::reopen(&mut cpu, &initial.system, &state, 10, Some(&set)).err().expect("refused").to_string();
    assert!(err.contains("adhesion bonds") && err.contains("step 10"), "{err}");
}

/// A rebuilt engine carries its predecessor's bounce-back counters on (reflections, leaks, wall
/// impulses), so a coupled run's leak check and wall shear stress see the whole run. CPU only.
#[test]
fn a_rebuild_carries_the_wall_counters_on() {
    let couette = find("couette").expect("couette");
    let v = ParamValues::parse(&couette.params(), &["width=6".into(), "height=6".into()]).expect("keys");
    let sc = couette.build(&v, 5, 100, Backend::Cpu).expect("valid scenario");
    let initial = initial_conditions(&sc, Backend::Cpu).expect("initial conditions");
    let mut cpu = CpuEngine::new(&initial.system, &initial.state, 0).expect("cpu engine");
    cpu.compute_forces().expect("forces");
    let _ = cpu.run(100, 0).expect("run");
    let before = cpu.wall_counts().expect("counts");
    assert!(before.bounced > 0 && before.impulse != [0, 0], "{before:?}");
    let state = cpu.state().expect("state");
    let mut e = hemoscale::run::reopen(&mut cpu, &initial.system, &state, 100, None).expect("rebuilt");
    assert_eq!(e.wall_counts().expect("counts"), before);
    let _ = e.run(50, 0).expect("run");
    assert!(e.wall_counts().expect("counts").bounced > before.bounced);
}

/// A non-finite platelet velocity stops both engines at the first step's health check, with the
/// same message.
#[test]
fn a_broken_platelet_stops_both_engines_alike() {
    let Some(ctx) = common::gpu_context() else {
        return;
    };
    let (sys, st) = plasma();
    let mut set = platelet();
    set.vel[5] = [f32::NAN, 0.0, 0.0];
    let (st, _) = set.carve(&st, &sys, 0.3);
    let mut cpu = CpuEngine::with_platelets(&sys, &st, 0, &set).expect("cpu engine");
    let mut gpu = GpuEngine::with_platelets(ctx, &sys, &st, 0, &set).expect("gpu engine");
    let mut messages = Vec::new();
    for e in [&mut cpu as &mut dyn Engine, &mut gpu as &mut dyn Engine] {
        e.compute_forces().expect("forces");
        match e.run(3, 0) {
            Err(KernelError::InconsistentState(m)) => messages.push(m),
            other => panic!("{}: expected InconsistentState, got {other:?}", e.backend().name()),
        }
    }
    assert!(messages[0].contains("non-finite position or velocity at step 0"), "{}", messages[0]);
    assert_eq!(messages[0].split(':').next(), messages[1].split(':').next(), "{messages:?}");
}

/// The `shear-flip` platelet (resolution 373 from the scenario's 400, jump factors 8:1:1, kT 0.1)
/// between plane walls of frozen particles moving at +-0.8 rc/tau: the half-step plasma drifts
/// move the walls by a whole step, the platelet's bounce-back and the interface with wall
/// particles run on both engines. Over 20 plasma steps (160 interface sub-steps) lavapipe gave
/// platelets 4e-6 rc / 7e-4 rc/tau apart and plasma 2e-5 rc / 1e-4 rc/tau: the platelet
/// tolerances are those above, the plasma position tolerance is 5e-4 rc (the wall layer's
/// particles add more pairs to the chaos).
#[test]
fn walled_shear_with_eight_interface_substeps_agrees() {
    let Some(ctx) = common::gpu_context() else {
        return;
    };
    let sc = common::walled_platelet(1.6, 0.1);
    let initial = initial_conditions(&sc, Backend::Cpu).expect("initial conditions");
    let set = initial.platelets.clone().expect("platelets");
    assert_eq!(set.params.mts, MtsLevels { interface: 8, nonbonded: 1, bonded: 1 });
    assert!(initial.wall > 300, "{} wall particles", initial.wall);
    let mut cpu = CpuEngine::with_platelets(&initial.system, &initial.state, 0, &set).expect("cpu engine");
    let mut gpu = GpuEngine::with_platelets(ctx, &initial.system, &initial.state, 0, &set).expect("gpu engine");
    let mut states = Vec::new();
    for e in [&mut cpu as &mut dyn Engine, &mut gpu as &mut dyn Engine] {
        e.compute_forces().expect("forces");
        let _ = e.run(STEPS, 0).expect("run");
        states.push(e.platelet_state().expect("state").expect("platelets"));
    }
    let (c, g) = (&states[0], &states[1]);
    let (dx, dv) = (max_diff(&c.pos, &g.pos), max_diff(&c.vel, &g.vel));
    let dv_run = max_diff(&c.vel, &set.vel);
    eprintln!("walls, 8:1:1: max |dx| {dx:.3e}, max |dv| {dv:.3e}; max velocity change {dv_run:.3}");
    assert!(dx <= 1e-4 && dv <= 5e-3, "platelets differ: positions {dx}, velocities {dv}");
    assert!(dv_run > 100.0 * 5e-3, "the velocities should change along the run: {dv_run}");
    let (sc, sg) = (by_tag(cpu.state().expect("cpu state")), by_tag(gpu.state().expect("gpu state")));
    let l = initial.system.sim_box.len;
    let px = sc
        .pos
        .iter()
        .zip(&sg.pos)
        .map(|(x, y)| {
            (0..3)
                .map(|k| {
                    let d = (x[k] - y[k]).abs();
                    d.min(l[k] - d)
                })
                .fold(0.0, f32::max)
        })
        .fold(0.0, f32::max);
    let pv = max_diff(&sc.vel, &sg.vel);
    eprintln!("walls, 8:1:1 plasma: max |dx| {px:.3e}, max |dv| {pv:.3e}");
    assert!(px <= 5e-4 && pv <= 5e-3, "plasma differs: positions {px}, velocities {pv}");
    let (wc, wg) = (cpu.wall_counts().expect("cpu walls"), gpu.wall_counts().expect("gpu walls"));
    assert_eq!(wc.leaked, wg.leaked, "leaks");
}

/// Both engines refuse what multiple time stepping cannot take, with the same message (one check,
/// `PlateletSet::check_for_engine`): a velocity-Verlet `lambda` other than 0.5, and platelet ids
/// that collide with plasma ids (they key the pair noise).
#[test]
fn both_engines_refuse_the_same_inconsistent_platelets() {
    let (mut sys, st) = plasma();
    sys.lambda = 0.65;
    let lambda = CpuEngine::with_platelets(&sys, &st, 0, &platelet()).err().expect("lambda refused").to_string();
    assert!(lambda.contains("lambda") && lambda.contains("0.5"), "{lambda}");
    let (sys, st) = plasma();
    let low = platelet_with_ids_from(10);
    let ids = CpuEngine::with_platelets(&sys, &st, 0, &low).err().expect("ids refused").to_string();
    assert!(ids.contains("platelet ids must lie above every plasma id"), "{ids}");
    let Some(ctx) = common::gpu_context() else {
        return;
    };
    let gpu = GpuEngine::with_platelets(ctx, &sys, &st, 0, &low).err().expect("ids refused on the GPU").to_string();
    assert_eq!(gpu, ids);
    let mut sys = sys;
    sys.lambda = 0.65;
    let ctx = common::gpu_context().expect("opened once already");
    let gpu = GpuEngine::with_platelets(ctx, &sys, &st, 0, &platelet()).err().expect("lambda refused").to_string();
    assert_eq!(gpu, lambda);
}
