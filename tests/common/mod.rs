//! Helpers shared by the integration tests.
#![allow(dead_code)]

use hemoscale_kernels::gpu::{AdapterChoice, GpuContext};
use hemoscale_kernels::{init, CpuEngine, DpdSystem, Engine, GpuEngine, Observables, SimBox};

/// Opens a GPU adapter (lavapipe in CI). Without one the test is skipped, except under `CI=true`
/// where a missing adapter is a failure: CI must run the GPU tests.
pub fn gpu_context() -> Option<GpuContext> {
    match GpuContext::new(AdapterChoice::Any) {
        Ok(ctx) => Some(ctx),
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but no GPU adapter: {e}. Install mesa-vulkan-drivers and libvulkan1.")
        }
        Err(e) => {
            eprintln!("skipping GPU test: {e}");
            None
        }
    }
}

/// The standard DPD fluid (density 3, a 25, gamma 4.5, kT 1, rc 1) of `n` particles at `dt`.
pub fn standard_system(n: usize, dt: f32, seed: u64) -> DpdSystem {
    let l = (n as f32 / 3.0).cbrt();
    let mut s = DpdSystem::standard(SimBox::cubic(l), seed);
    s.dt = dt;
    s
}

/// A CPU engine on fresh initial conditions with forces computed.
pub fn cpu_engine(system: &DpdSystem, n: usize) -> CpuEngine {
    let state = init::random_fluid(system, n);
    let mut e = CpuEngine::new(system, &state, 0).expect("valid system");
    e.compute_forces().expect("forces");
    e
}

/// A GPU engine on fresh initial conditions with forces computed.
pub fn gpu_engine(ctx: GpuContext, system: &DpdSystem, n: usize) -> GpuEngine {
    let state = init::random_fluid(system, n);
    let mut e = GpuEngine::with_context(ctx, system, &state, 0).expect("valid system");
    e.compute_forces().expect("forces");
    e
}

/// Mean temperature and pressure over `prod` steps (sampled every 10) after `eq` steps.
pub fn mean_t_p(engine: &mut dyn Engine, eq: u64, prod: u64) -> (f64, f64) {
    let _ = engine.run(eq, 0).expect("equilibration");
    let samples: Vec<Observables> = engine.run(prod, 10).expect("production");
    assert!(!samples.is_empty());
    let n = samples.len() as f64;
    let t = samples.iter().map(|o| o.temperature()).sum::<f64>() / n;
    let p = samples.iter().map(|o| o.pressure()).sum::<f64>() / n;
    (t, p)
}

/// Runs the built-in scenario `name` with `KEY=VALUE` settings for `steps` steps on `backend`
/// (no files) and returns its summary observables with the outcome.
pub fn run_builtin(
    name: &str,
    sets: &[&str],
    steps: u64,
    seed: u64,
    backend: hemoscale::dsl::Backend,
) -> (serde_json::Map<String, serde_json::Value>, hemoscale::run::RunOutcome) {
    let b = hemoscale::scenarios::find(name).expect("built-in scenario");
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let values = hemoscale::params::ParamValues::parse(&b.params(), &sets).expect("valid keys");
    let scenario = b.build(&values, seed, steps, backend).expect("valid scenario");
    let opts = hemoscale::run::RunOptions::for_steps(steps);
    let probe = b.probe(&scenario, steps);
    let outcome = hemoscale::run::run(&scenario, &opts, probe, &mut std::io::sink()).expect("run");
    (b.observables(&scenario, &outcome), outcome)
}

/// A number from a summary map.
pub fn num(m: &serde_json::Map<String, serde_json::Value>, key: &str) -> f64 {
    m.get(key).and_then(serde_json::Value::as_f64).unwrap_or_else(|| panic!("observable {key} missing in {m:?}"))
}

/// A `shear-flip` platelet (jump factors 8:1:1) lying in a Couette channel whose walls move at
/// `±speed/2`: the scenario of the platelet parity tests, at `kt`.
pub fn walled_platelet(speed: f32, kt: f32) -> hemoscale::dsl::Scenario {
    let sf = hemoscale::scenarios::find("shear-flip").expect("shear-flip");
    let v = hemoscale::params::ParamValues::parse(&sf.params(), &[]).expect("defaults");
    let mut cfg = hemoscale::scenarios::platelet_plasma::platelets_config(&v, 20);
    cfg.calibration_steps = 0;
    cfg.placements = vec![hemoscale_kernels::platelet_set::Placement {
        center: [7.0, 6.0, 7.0],
        rotation: glam::Quat::from_rotation_x(1.2),
        velocity: [0.0; 3],
    }];
    hemoscale::dsl::Scenario::builder("walled-platelet")
        .box_lengths([14.0, 12.0, 14.0])
        .dpd(hemoscale_kernels::DpdPair::new(2.5, 20.0, 1.0, 0.5))
        .kt(kt)
        .vessel(hemoscale_kernels::geometry::Shape::Channel { center: 7.0, half_height: 6.0 }, 1.0)
        .wall_speed(speed, 7.0)
        .platelets(cfg)
        .backend(hemoscale::dsl::Backend::Cpu)
        .seed(31)
        .build()
        .expect("valid scenario")
}
