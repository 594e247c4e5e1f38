//! Platelets in plasma on the CPU backend: conservation, integrity and the multiple-time-stepping
//! integrator against single steps. Plasma of the platelet scenarios (kT 0.1, a 2.5, gamma 20) in a
//! periodic box of edge 14 (about 8,000 particles), one platelet of about 400 particles.

use glam::{DVec3, Quat};
use hemoscale_kernels::platelet::{PlateletSpec, PlateletTemplate, Stiffness};
use hemoscale_kernels::platelet_observables::Sampler;
use hemoscale_kernels::platelet_set::{MtsLevels, Placement, PlateletParams, PlateletSet};
use hemoscale_kernels::{init, CpuEngine, DpdPair, DpdSystem, Engine, PairTable, ParticleState, SimBox};

const EDGE: f32 = 14.0;

fn plasma(kt: f32, dt: f32) -> (DpdSystem, ParticleState) {
    let mut sys = DpdSystem::standard(SimBox::cubic(EDGE), 11);
    sys.kt = kt;
    sys.dt = dt;
    sys.pairs = PairTable::uniform(1, DpdPair::new(2.5, 20.0, 1.0, 2.0));
    let st = init::random_fluid(&sys, (3.0 * EDGE * EDGE * EDGE) as usize);
    // The same plasma for every dt: warmed up at dt 0.01, kT 0.1.
    let mut warm = sys.clone();
    warm.kt = 0.1;
    warm.dt = 0.01;
    let mut e = CpuEngine::new(&warm, &st, 0).expect("engine");
    e.compute_forces().expect("forces");
    let _ = e.run(200, 0).expect("run");
    (sys, e.state().expect("state"))
}

fn platelet(mts: MtsLevels, velocity: [f32; 3]) -> PlateletSet {
    let spec = PlateletSpec {
        diameter: 6.0,
        aspect_ratio: 0.25,
        resolution: 400,
        mass: 3.0 * 28.27,
        stiffness: Stiffness::DEFAULT.scaled(0.1),
    };
    let t = PlateletTemplate::build(&spec).expect("template");
    let mut params = PlateletParams { mts, ..PlateletParams::DEFAULT };
    params.interface.a *= 0.1;
    params.interface.morse.d0 *= 0.1;
    params.interface.gamma = 20.0;
    params.lj_epsilon = 0.1;
    let at = Placement { center: [0.5 * EDGE; 3], rotation: Quat::from_rotation_x(0.4), velocity };
    PlateletSet::place(t, params, &[at], 1_000_000).expect("placed")
}

fn total_momentum(e: &mut CpuEngine, set: &PlateletSet) -> DVec3 {
    let o = e.observables().expect("observables");
    let ps = e.platelet_state().expect("state").expect("platelets");
    let m = f64::from(set.template.particle_mass);
    let p = ps.vel.iter().fold(DVec3::ZERO, |s, v| s + m * DVec3::new(v[0].into(), v[1].into(), v[2].into()));
    DVec3::from(o.momentum) + p
}

/// The interface force acts on both sides (the plasma takes the reaction in its velocities), so
/// plasma plus platelet momentum is conserved, up to f32 rounding, with jump factors 2:1:2. The
/// platelet starts moving at 0.2 rc/tau, 17 momentum units: after 300 steps most of that has gone
/// into the plasma and the total must be what it was within 1e-3 of it.
#[test]
fn momentum_is_conserved_with_platelets() {
    let (sys, st) = plasma(0.1, 0.01);
    let set = platelet(MtsLevels { interface: 2, nonbonded: 1, bonded: 2 }, [0.2, 0.0, 0.0]);
    let (st, _) = set.carve(&st, &sys, 0.3);
    let mut e = CpuEngine::with_platelets(&sys, &st, 0, &set).expect("engine");
    e.compute_forces().expect("forces");
    let p0 = total_momentum(&mut e, &set);
    let _ = e.run(300, 0).expect("run");
    let ps = e.platelet_state().expect("state").expect("platelets");
    let vx = ps.vel.iter().map(|v| f64::from(v[0])).sum::<f64>() / ps.vel.len() as f64;
    assert!(vx < 0.15, "the platelet should have been slowed by the plasma: {vx}");
    let p1 = total_momentum(&mut e, &set);
    let moved = 0.2 * f64::from(set.template.particle_mass) * set.len() as f64;
    assert!((p1 - p0).length() < 1e-3 * moved, "momentum {p0} -> {p1} (scale {moved})");
}

/// 2,000 steps (20 time units) at rest: the shell keeps its volume within 1 % (the volume term
/// holds the plasma's pressure), no spring stretches beyond 1.3 of its rest length, and no plasma
/// particle gets inside the inner membrane layer.
#[test]
fn platelet_stays_intact_and_plasma_stays_out() {
    let (sys, st) = plasma(0.1, 0.01);
    let set = platelet(MtsLevels { interface: 2, nonbonded: 1, bonded: 2 }, [0.0; 3]);
    let (st, removed) = set.carve(&st, &sys, 0.3);
    assert!(removed > 50, "the platelet displaces plasma: {removed}");
    let mut e = CpuEngine::with_platelets(&sys, &st, 0, &set).expect("engine");
    e.compute_forces().expect("forces");
    let sampler = Sampler::new(&set.template);
    let (a, c) = (3.0f64, 0.75f64);
    for _ in 0..10 {
        let _ = e.run(200, 0).expect("run");
        let ps = e.platelet_state().expect("state").expect("platelets");
        let s = sampler.sample(&ps, 0);
        assert!((s.volume / f64::from(set.template.volume) - 1.0).abs() < 0.01, "volume {}", s.volume);
        let stretch = e.platelet_levels().expect("levels").max_stretch();
        assert!(stretch < 1.3, "stretch {stretch}");
        // Body frame from the measured normal: plasma inside the spheroid shrunk by 0.6 rc.
        let n = DVec3::from(s.normal);
        let c0 = DVec3::from(s.center);
        let plasma = e.state().expect("plasma");
        let inside = plasma
            .pos
            .iter()
            .filter(|p| {
                let mut d = DVec3::new(p[0].into(), p[1].into(), p[2].into()) - c0;
                let l = f64::from(EDGE);
                d -= l * (d / l).round();
                let z = d.dot(n);
                let r2 = d.length_squared() - z * z;
                r2 / (a - 0.6).powi(2) + z * z / (c - 0.6).powi(2) < 1.0
            })
            .count();
        assert_eq!(inside, 0, "plasma particles inside the platelet");
    }
}

/// Multiple time stepping against single small steps, without noise (kT = 0: the runs differ by
/// integration error only). A platelet launched at 0.3 rc/tau through resting plasma: after 2 time
/// units its centre of mass has moved about 0.4 rc; with jump factors 2:1:2 at dt 0.01 it lands
/// within 1 % of that displacement of where steps of 0.0025 for everything put it, and its
/// orientation within 0.01 rad.
#[test]
fn jump_factors_agree_with_the_smallest_step() {
    let run = |dt: f32, mts: MtsLevels, steps: u64| {
        let (sys, st) = plasma(0.0, dt);
        let set = platelet(mts, [0.3, 0.0, 0.1]);
        let (st, _) = set.carve(&st, &sys, 0.3);
        let mut e = CpuEngine::with_platelets(&sys, &st, 0, &set).expect("engine");
        e.compute_forces().expect("forces");
        let _ = e.run(steps, 0).expect("run");
        let ps = e.platelet_state().expect("state").expect("platelets");
        let s = Sampler::new(&set.template).sample(&ps, 0);
        (DVec3::from(s.center), DVec3::from(s.normal))
    };
    let (c_mts, n_mts) = run(0.01, MtsLevels { interface: 2, nonbonded: 1, bonded: 2 }, 200);
    let (c_one, n_one) = run(0.0025, MtsLevels::SINGLE, 800);
    let start = DVec3::splat(f64::from(0.5 * EDGE));
    let moved = (c_one - start).length();
    assert!(moved > 0.2, "the platelet should move: {moved}");
    assert!((c_mts - c_one).length() < 0.01 * moved, "centre {c_mts} vs {c_one} (moved {moved})");
    assert!(n_mts.dot(n_one).abs() > (0.01f64).cos(), "normal {n_mts} vs {n_one}");
}
