//! CPU and GPU backends compute the same physics: forces on one configuration agree component by
//! component to 1e-4 of the RMS force, and 100-step trajectories agree to 1e-3 in position.
//! (The CPU sweeps pairs once, the GPU gathers from both sides: only the summation order differs,
//! so the differences are f32 rounding, amplified along a trajectory by the chaos of the fluid.)

mod common;

use hemoscale_kernels::gpu::AdapterChoice;
use hemoscale_kernels::{init, CpuEngine, DpdPair, DpdSystem, Engine, GpuEngine, PairTable, ParticleType, SimBox};

/// A two-type system with unequal masses, cut-offs and weight exponents, so that every table
/// lookup and the `pow` path are exercised.
fn mixed_system() -> (DpdSystem, usize) {
    let mut s = DpdSystem::standard(SimBox { len: [9.0, 8.0, 7.5] }, 0xC0FFEE);
    s.types = vec![ParticleType::fluid("plasma", 1.0), ParticleType::fluid("heavy", 2.5)];
    let mut pairs = PairTable::uniform(2, DpdPair::STANDARD);
    pairs.set(0, 1, DpdPair::new(40.0, 6.0, 0.9, 0.5));
    pairs.set(1, 1, DpdPair::new(15.0, 3.0, 1.1, 1.0));
    s.pairs = pairs;
    s.lambda = 0.6;
    s.body_force = [0.05, 0.0, -0.02];
    s.reorder_every = 7;
    (s, 1620)
}

fn state_for(system: &DpdSystem, n: usize) -> hemoscale_kernels::ParticleState {
    let mut st = init::random_fluid(system, n);
    for (i, t) in st.type_id.iter_mut().enumerate() {
        *t = u32::from(i % 3 == 0);
    }
    st
}

fn max_component_diff(a: &[[f32; 3]], b: &[[f32; 3]], periodic: Option<[f32; 3]>) -> f64 {
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| (0..3).map(move |k| (k, x[k], y[k])))
        .map(|(k, x, y)| {
            let mut d = f64::from(x) - f64::from(y);
            if let Some(l) = periodic {
                let l = f64::from(l[k]);
                d -= l * (d / l).round();
            }
            d.abs()
        })
        .fold(0.0, f64::max)
}

#[test]
fn forces_agree_to_1e_4_of_rms() {
    let Some(_ctx) = common::gpu_context() else {
        return;
    };
    // A box of 2 x 5 x 2 cells: neighbour offsets -1 and +1 alias, which both backends must
    // count once.
    let small = (DpdSystem::standard(SimBox { len: [2.5, 5.0, 2.2] }, 5), 82);
    // 12^3 = 1728 cells: more than one 1024-value block, so the GPU prefix sum runs two levels.
    let two_level_scan = (common::standard_system(5184, 0.01, 13), 5184);
    for (system, n) in [(common::standard_system(3000, 0.01, 11), 3000), mixed_system(), small, two_level_scan] {
        let state = state_for(&system, n);
        let state = if system.types.len() == 1 { init::random_fluid(&system, n) } else { state };
        let mut cpu = CpuEngine::new(&system, &state, 17).unwrap();
        cpu.compute_forces().unwrap();
        let mut gpu = GpuEngine::new(&system, &state, 17, AdapterChoice::Any).unwrap();
        gpu.compute_forces().unwrap();
        let (fc, fg) = (cpu.state().unwrap(), gpu.state().unwrap());
        assert_eq!(fc.tag, fg.tag, "no reordering happens when only forces are computed");
        let rms = (fc.force.iter().flat_map(|f| f.iter()).map(|&x| f64::from(x).powi(2)).sum::<f64>() / (3 * n) as f64)
            .sqrt();
        let diff = max_component_diff(&fc.force, &fg.force, None);
        assert!(rms > 1.0, "RMS force {rms} suspiciously small");
        assert!(diff <= 1e-4 * rms, "max force difference {diff} exceeds 1e-4 x RMS {rms}");
        let (oc, og) = (cpu.observables().unwrap(), gpu.observables().unwrap());
        for k in 0..6 {
            let scale = oc.virial[0].abs().max(1.0);
            assert!(
                (oc.virial[k] - og.virial[k]).abs() < 1e-4 * scale,
                "virial[{k}]: {} vs {}",
                oc.virial[k],
                og.virial[k]
            );
        }
    }
}

/// The standard fluid with the non-default integrator options on (lambda 0.65, a body force,
/// reordering every 7 steps), from the same initial state on both backends.
#[test]
fn hundred_step_trajectories_agree_to_1e_3() {
    let Some(ctx) = common::gpu_context() else {
        return;
    };
    let n = 3000;
    let mut system = common::standard_system(n, 0.01, 0xC0FFEE);
    system.lambda = 0.65;
    system.body_force = [0.05, 0.0, -0.02];
    system.reorder_every = 7;
    let state = init::random_fluid(&system, n);
    let mut cpu = CpuEngine::new(&system, &state, 0).unwrap();
    cpu.compute_forces().unwrap();
    let mut gpu = GpuEngine::with_context(ctx, &system, &state, 0).unwrap();
    gpu.compute_forces().unwrap();
    let _ = cpu.run(100, 0).unwrap();
    let _ = gpu.run(100, 0).unwrap();
    assert_eq!((cpu.step(), gpu.step()), (100, 100));
    let (a, b) = (cpu.state().unwrap().sorted_by_tag(), gpu.state().unwrap().sorted_by_tag());
    assert_eq!(a.tag, b.tag);
    let dx = max_component_diff(&a.pos, &b.pos, Some(system.sim_box.len));
    let dv = max_component_diff(&a.vel, &b.vel, None);
    eprintln!("after 100 steps: max |dx| = {dx:e}, max |dv| = {dv:e}");
    assert!(dx <= 1e-3, "positions differ by {dx} after 100 steps");
}
