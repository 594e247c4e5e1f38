//! Particle types and per-pair interactions from the DSL (`ScenarioBuilder::species`,
//! `interaction`): a heavy species shares the temperature (reference: equipartition, each
//! species' `m <v^2> / 3` is kT), and a strong unlike repulsion demixes a 50/50 mixture
//! (reference: a random mixture's fraction of unlike neighbours, 1/2, which equal parameters keep).

use hemoscale::dsl::{Backend, Scenario};
use hemoscale::run::initial_conditions;
use hemoscale_kernels::{CpuEngine, DpdPair, Engine, ParticleState};

/// Kinetic temperature of the particles of type `t` (`m <v^2> / 3`).
fn temperature_of(state: &ParticleState, t: u32, mass: f64) -> (f64, usize) {
    let v2: Vec<f64> = (0..state.len())
        .filter(|&i| state.type_id[i] == t)
        .map(|i| state.vel[i].iter().map(|&c| f64::from(c) * f64::from(c)).sum::<f64>())
        .collect();
    (mass * v2.iter().sum::<f64>() / (3.0 * v2.len() as f64), v2.len())
}

/// A species of mass 4 (30 % of the fluid) in the standard DPD fluid, 8^3 box at kT 1. Measured
/// here: 1.033 at the start (the initial velocities are drawn for each mass), then over steps
/// 500-2,500 (40 snapshots) plasma 0.999, heavy 0.999; integrated or measured with the plasma's
/// mass, the heavy species would sit near 4 or 0.25. Tolerances: 10 % at the start (one
/// snapshot of 460 particles: 4 % statistical), 3 % on the averages (DPD at dt 0.01 runs 1-2 %
/// hot, Groot and Warren 1997).
#[test]
fn a_heavy_species_shares_the_temperature() {
    let s = Scenario::builder("heavy")
        .cubic_box(8.0)
        .species("heavy", 4.0, 0.3)
        .seed(3)
        .backend(Backend::Cpu)
        .build()
        .expect("valid scenario");
    assert_eq!(s.type_names(), ["plasma", "heavy"]);
    let initial = initial_conditions(&s, Backend::Cpu).expect("initial conditions");
    let (t0, n_heavy) = temperature_of(&initial.state, 1, 4.0);
    assert_eq!(n_heavy, (0.3 * s.particles() as f64).round() as usize);
    let mut e = CpuEngine::new(&initial.system, &initial.state, 0).unwrap();
    e.compute_forces().unwrap();
    let _ = e.run(500, 0).unwrap();
    let (mut plasma, mut heavy) = (0.0, 0.0);
    for _ in 0..40 {
        let _ = e.run(50, 0).unwrap();
        let st = e.state().unwrap();
        plasma += temperature_of(&st, 0, 1.0).0 / 40.0;
        heavy += temperature_of(&st, 1, 4.0).0 / 40.0;
    }
    eprintln!("heavy species at the start {t0:.4}; averages: plasma {plasma:.4}, heavy {heavy:.4}");
    assert!((t0 - 1.0).abs() < 0.1, "initial heavy temperature {t0}");
    assert!((plasma - 1.0).abs() < 0.03, "plasma temperature {plasma}");
    assert!((heavy - 1.0).abs() < 0.03, "heavy temperature {heavy}");
}

/// Fraction of the unlike pairs among all pairs closer than `r` (types 0 and 1).
fn unlike_fraction(state: &ParticleState, l: f32, r: f32) -> f64 {
    let (mut unlike, mut all) = (0u64, 0u64);
    for i in 0..state.len() {
        for j in i + 1..state.len() {
            let d2: f32 = (0..3)
                .map(|k| {
                    let d = (state.pos[i][k] - state.pos[j][k]).abs();
                    let d = d.min(l - d);
                    d * d
                })
                .sum();
            if d2 < r * r {
                all += 1;
                unlike += u64::from(state.type_id[i] != state.type_id[j]);
            }
        }
    }
    unlike as f64 / all as f64
}

/// Two species, half the fluid each (`plasma` and `b`, both mass 1, 6^3 box), with the unlike
/// repulsion raised from 25 to 60 by an interaction, against the same mixture with equal
/// parameters. Measured here after 1,500 steps: 0.500 with equal parameters, 0.100 with the strong
/// repulsion. Tolerances: within 0.03 of 1/2 for the equal mixture (650 particles, about 5,000
/// neighbour pairs), below 0.35 for the repelling one.
#[test]
fn an_unlike_repulsion_demixes_the_species() {
    let mixture = |a_unlike: f32| {
        let s = Scenario::builder("demix")
            .cubic_box(6.0)
            .species("b", 1.0, 0.5)
            .interaction("plasma", "b", DpdPair { a: a_unlike, ..DpdPair::STANDARD })
            .seed(9)
            .backend(Backend::Cpu)
            .build()
            .expect("valid scenario");
        assert_eq!(s.system().pairs.get(0, 1).a, a_unlike);
        let initial = initial_conditions(&s, Backend::Cpu).expect("initial conditions");
        let mut e = CpuEngine::new(&initial.system, &initial.state, 0).unwrap();
        e.compute_forces().unwrap();
        let _ = e.run(1500, 0).unwrap();
        unlike_fraction(&e.state().unwrap(), 6.0, 1.0)
    };
    let (equal, repelling) = (mixture(25.0), mixture(60.0));
    eprintln!("unlike neighbour fraction: equal parameters {equal:.3}, unlike a = 60 {repelling:.3}");
    assert!((equal - 0.5).abs() < 0.03, "equal parameters: {equal}");
    assert!(repelling < 0.35, "strong unlike repulsion: {repelling}");
}

/// Interactions and species are checked with everything else, each error naming its field.
#[test]
fn bad_species_and_interactions_are_named() {
    let e = Scenario::builder("bad")
        .species("wall", 0.0, 1.5)
        .species("b", 1.0, 0.2)
        .interaction("plasma", "blood", DpdPair::STANDARD)
        .interaction("b", "b", DpdPair { gamma: -1.0, rc: 0.0, ..DpdPair::STANDARD })
        .build()
        .unwrap_err()
        .to_string();
    for want in [
        "species[0].name = wall: must be a new, non-empty name",
        "species[0].mass = 0: must be > 0",
        "species[0].fraction = 1.5: must lie in (0, 1]",
        "species fractions = 1.7: must add up to at most 1",
        "interaction[0] = blood: unknown type; known: plasma, wall, b",
        "interaction[1](b,b).gamma = -1: must be >= 0",
        "interaction[1](b,b).rc = 0: must be > 0",
    ] {
        assert!(e.contains(want), "{want:?} missing from:\n{e}");
    }
}

/// With a vessel: every fluid type meets the wall with the vessel's wall friction unless an
/// interaction names the pair; type ids are the same before and after the walls are frozen.
#[test]
fn fluid_wall_pairs_take_the_wall_friction_or_the_interaction() {
    use hemoscale::kernels::geometry::Shape;
    let s = Scenario::builder("walled")
        .box_lengths([8.0, 8.0, 8.0])
        .vessel(Shape::Channel { center: 4.0, half_height: 3.0 }, 1.0)
        .wall_friction(3.0)
        .species("tracer", 2.0, 0.1)
        .interaction("plasma", "wall", DpdPair { gamma: 20.0, ..DpdPair::STANDARD })
        .build()
        .expect("valid scenario");
    assert_eq!(s.type_names(), ["plasma", "wall", "tracer"]);
    let w = s.walled_system().expect("walls");
    assert_eq!(w.types, s.system().types);
    assert_eq!(w.pairs.get(0, 1).gamma, 20.0);
    assert_eq!(w.pairs.get(2, 1).gamma, 3.0 * DpdPair::STANDARD.gamma);
    assert_eq!(w.pairs.get(2, 0), DpdPair::STANDARD);
    let initial = initial_conditions(&s, Backend::Cpu).expect("initial conditions");
    let count = |t: u32| initial.state.type_id.iter().filter(|&&x| x == t).count();
    assert_eq!(count(1), initial.wall);
    assert!(count(2) > 0 && count(0) + count(2) == initial.fluid);
}
