//! Equation of state and conservation of the DPD fluid, on both backends, against LAMMPS run on
//! the same machine (Debian's LAMMPS 20220106 source package built with DPD-BASIC + OPENMP,
//! `pair_style dpd` / `dpd/ext`, velocity-Verlet = `fix nve`, 24,000 particles, 2,000 steps to
//! equilibrate, 5,000 averaged). Each reference was produced by `scripts/lammps-reference.sh eos`;
//! the line used is quoted with each case. Tolerances: temperature 1 %, pressure 2 % (the LAMMPS
//! standard errors are below 0.02 %, ours below 0.2 % at these lengths).

mod common;

use hemoscale_kernels::{CpuEngine, DpdPair, DpdSystem, Engine, SimBox};

struct Case {
    name: &'static str,
    rho: f32,
    pair: DpdPair,
    kt: f32,
    dt: f32,
    /// LAMMPS temperature and pressure.
    lammps_t: f64,
    lammps_p: f64,
}

/// The reference cases.
const CASES: [Case; 4] = [
    // `eos.in -var N 24000 -var dt 0.01` (physics.md part 6; reproduced here:
    // PHYS tag=std N=24000 dt=0.01 nprod=5000 T=1.00330257380415 P=23.6968927016075)
    Case {
        name: "standard dt 0.01",
        rho: 3.0,
        pair: DpdPair::STANDARD,
        kt: 1.0,
        dt: 0.01,
        lammps_t: 1.0033,
        lammps_p: 23.697,
    },
    // `eos.in -var N 24000 -var dt 0.04`
    // (PHYS tag=dt04 N=24000 dt=0.04 nprod=5000 T=1.02848401365756 P=23.846928160579)
    Case {
        name: "standard dt 0.04",
        rho: 3.0,
        pair: DpdPair::STANDARD,
        kt: 1.0,
        dt: 0.04,
        lammps_t: 1.0285,
        lammps_p: 23.847,
    },
    // `eos_ext.in -var N 24000 -var dt 0.01 -var ws 0.25` (pair_style dpd/ext, ws = s/2)
    // (PHYS tag=s05 N=24000 dt=0.01 nprod=5000 T=1.00436292404888 P=23.7400981044276)
    Case {
        name: "weight exponent s 0.5",
        rho: 3.0,
        pair: DpdPair::new(25.0, 4.5, 1.0, 0.5),
        kt: 1.0,
        dt: 0.01,
        lammps_t: 1.0044,
        lammps_p: 23.740,
    },
    // `eos.in -var N 24000 -var dt 0.01 -var rho 4 -var a 18.75 -var gamma 3 -var kT 0.8`
    // (PHYS tag=rho4 N=24000 dt=0.01 nprod=5000 T=0.801624479760052 P=31.9367789601498)
    Case {
        name: "rho 4, a 18.75, gamma 3, kT 0.8",
        rho: 4.0,
        pair: DpdPair::new(18.75, 3.0, 1.0, 2.0),
        kt: 0.8,
        dt: 0.01,
        lammps_t: 0.8016,
        lammps_p: 31.937,
    },
];

/// 3000 particles (box edge 10 at density 3): large enough that finite-size effects on the
/// pressure are far below the tolerance, small enough for CI.
fn system_for(c: &Case, n: usize) -> DpdSystem {
    let mut s = DpdSystem::standard(SimBox::cubic((n as f32 / c.rho).cbrt()), 20261125);
    s.pairs = hemoscale_kernels::PairTable::uniform(1, c.pair);
    s.kt = c.kt;
    s.dt = c.dt;
    s
}

/// Steps scaled so every case covers the same physical time: 10 time units to equilibrate, 30 to
/// average.
fn steps(c: &Case) -> (u64, u64) {
    ((10.0 / c.dt) as u64, (30.0 / c.dt) as u64)
}

fn check(c: &Case, t: f64, p: f64, backend: &str) {
    eprintln!("{backend} {}: kT {t:.4} (LAMMPS {}), p {p:.4} (LAMMPS {})", c.name, c.lammps_t, c.lammps_p);
    assert!((t - c.lammps_t).abs() <= 0.01 * c.lammps_t, "{backend} {}: kT {t} vs LAMMPS {} (1 %)", c.name, c.lammps_t);
    assert!((p - c.lammps_p).abs() <= 0.02 * c.lammps_p, "{backend} {}: p {p} vs LAMMPS {} (2 %)", c.name, c.lammps_p);
    if c.dt == 0.01 {
        // The issue's own bound: at dt 0.01 the temperature is within 1 % of the thermostat's kT.
        assert!((t - f64::from(c.kt)).abs() <= 0.01 * f64::from(c.kt), "{backend} {}: kT {t} vs set {}", c.name, c.kt);
    }
}

#[test]
fn cpu_equation_of_state_matches_lammps() {
    for c in &CASES {
        let n = 3000;
        let system = system_for(c, n);
        let mut e = common::cpu_engine(&system, n);
        let (eq, prod) = steps(c);
        let (t, p) = common::mean_t_p(&mut e, eq, prod);
        check(c, t, p, "cpu");
    }
}

/// The GPU at the CPU's lengths (shorter runs are too noisy for these tolerances: at 10 time units
/// averaged the CPU's rho-4 temperature came out 0.7 % low), on the three cases that exercise
/// something of its own: the reference, the large time step and the weight exponent's `pow`
/// branch. The rho-4 set only changes coefficients the parity tests already pass through; it is
/// left to the CPU, as lavapipe needs about 110 s for each dt-0.01 case (6e4 particle-steps/s).
#[test]
fn gpu_equation_of_state_matches_lammps() {
    for c in CASES.iter().filter(|c| c.rho == 3.0) {
        let Some(ctx) = common::gpu_context() else {
            return;
        };
        let n = 3000;
        let system = system_for(c, n);
        let mut e = common::gpu_engine(ctx, &system, n);
        let (eq, prod) = steps(c);
        let (t, p) = common::mean_t_p(&mut e, eq, prod);
        check(c, t, p, "gpu");
    }
}

/// Newton's third law holds pair by pair (symmetric noise), so the total momentum only drifts by
/// f32 rounding: below 1e-3 per particle after 10,000 steps (the bound; we see ~1e-6).
fn momentum_after_10000_steps(engine: &mut dyn Engine) -> f64 {
    let _ = engine.run(10_000, 0).expect("run");
    let o = engine.observables().expect("observables");
    eprintln!("{}: |P|/N = {:e} after {} steps", engine.backend().name(), o.momentum_per_particle(), o.step);
    o.momentum_per_particle()
}

#[test]
fn cpu_momentum_is_conserved() {
    let system = common::standard_system(1500, 0.01, 3);
    let mut e: CpuEngine = common::cpu_engine(&system, 1500);
    assert!(momentum_after_10000_steps(&mut e) < 1e-3);
}

#[test]
fn gpu_momentum_is_conserved() {
    let Some(ctx) = common::gpu_context() else {
        return;
    };
    // 500 particles (box edge 5.5): the pair-by-pair symmetry does not depend on the count, and
    // lavapipe needed 230 s for 10,000 steps of 1,500.
    let system = common::standard_system(500, 0.01, 3);
    let mut e = common::gpu_engine(ctx, &system, 500);
    assert!(momentum_after_10000_steps(&mut e) < 1e-3);
}
