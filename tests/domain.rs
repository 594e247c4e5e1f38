//! Domain decomposition (`hemoscale_kernels::domain`): the same scenario on 1, 2 and 4 ranks
//! (threads, through the in-process communicator; `tests/mpi_domain.rs` runs the MPI binary).
//!
//! Reference: the single-rank run of the same initial state. A decomposed run sums each
//! particle's forces in another order (its ghosts' positions are shifted across the periodic
//! boundary, and pairs across a rank boundary are computed on both sides), so trajectories agree
//! to f32 rounding amplified by the fluid's chaos, not bit for bit.

mod common;

use hemoscale::dsl::Backend;
use hemoscale::kernels::{CpuEngine, DpdSystem, Engine, GpuContext, Observables, ParticleState};
use hemoscale::ranks::Ranks;
use hemoscale::surrogates::comm::threads::ThreadComm;

/// Runs `steps` steps of `state` on `ranks` ranks (threads) and returns the gathered state sorted
/// by tag, the observables sampled every 10 steps, and rank 0's traffic.
/// With `gpu`, every rank computes its pair forces on that device (GPU ranks,
/// `hemoscale_kernels::gpu::rank_forces`).
fn run_ranks(
    system: &DpdSystem,
    state: &ParticleState,
    ranks: usize,
    steps: u64,
    gpu: Option<&GpuContext>,
) -> (ParticleState, Vec<Observables>, hemoscale::kernels::domain::HaloTraffic) {
    let mut out = ThreadComm::run(ranks, |comm| {
        let e = Ranks::new(comm, None).engine(system, state, 0).expect("engine");
        let mut e = match gpu {
            Some(ctx) => e.with_gpu_forces(ctx.clone()).expect("GPU ranks"),
            None => e,
        };
        e.compute_forces().expect("forces");
        let samples = e.run(steps, 10).expect("run");
        let all = e.state().expect("gathered");
        (all, samples, e.halo_traffic().expect("decomposed"))
    });
    let (all, samples, traffic) = out.remove(0);
    for (a, s, _) in &out {
        assert_eq!(s, &samples, "every rank sees the same reduced observables");
        assert!(a == &all, "every rank gathers the same state");
    }
    (all.sorted_by_tag(), samples, traffic)
}

fn run_single(system: &DpdSystem, state: &ParticleState, steps: u64) -> (ParticleState, Vec<Observables>) {
    let mut e = CpuEngine::new(system, state, 0).expect("engine");
    e.compute_forces().expect("forces");
    let samples = e.run(steps, 10).expect("run");
    (e.state().expect("state").sorted_by_tag(), samples)
}

/// Largest position (minimum image) and velocity differences between two runs' particles.
fn max_diffs(a: &ParticleState, b: &ParticleState, len: [f32; 3]) -> (f32, f32) {
    assert_eq!(a.tag, b.tag, "the same particles");
    assert_eq!(a.type_id, b.type_id);
    let (mut dx, mut dv) = (0.0f32, 0.0f32);
    for i in 0..a.len() {
        for (k, l) in len.iter().enumerate() {
            let d = (a.pos[i][k] - b.pos[i][k]).abs();
            dx = dx.max(d.min(l - d));
            dv = dv.max((a.vel[i][k] - b.vel[i][k]).abs());
        }
    }
    (dx, dv)
}

/// The state with every positive coordinate moved up by one unit in the last place: a
/// perturbation of the size of one rounding, whose growth in the single-rank run is the chaos
/// envelope a decomposed run is held to.
fn nudged(state: &ParticleState) -> ParticleState {
    let mut s = state.clone();
    for x in s.pos.iter_mut().flatten().filter(|x| **x > 0.0) {
        *x = f32::from_bits(x.to_bits() + 1);
    }
    s
}

/// Runs `state` on 1, 2 and 4 ranks: after 10 steps the decomposed trajectories must equal the
/// single-rank one to 1e-5 (rounding, not yet amplified), and after 100 steps they may differ by
/// at most 10 times what a one-ulp nudge of the initial positions grows to in the single-rank run
/// itself (DPD is chaotic, and near walls a rounding can decide a bounce). With `gpu`, the
/// decomposed runs are GPU ranks.
fn compare(name: &str, system: &DpdSystem, state: &ParticleState, gpu: Option<&GpuContext>) {
    let (single10, _) = run_single(system, state, 10);
    let (single, s1) = run_single(system, state, 100);
    let (envelope_x, envelope_v) = max_diffs(&single, &run_single(system, &nudged(state), 100).0, system.sim_box.len);
    for ranks in [2, 4] {
        let name = if gpu.is_some() { format!("{name} (GPU ranks)") } else { name.to_string() };
        let (early, _, _) = run_ranks(system, state, ranks, 10, gpu);
        assert_eq!(early.len(), state.len(), "{name}: {ranks} ranks conserve the particle count");
        let (dx10, dv10) = max_diffs(&single10, &early, system.sim_box.len);
        let (many, sp, traffic) = run_ranks(system, state, ranks, 100, gpu);
        assert_eq!(many.len(), state.len(), "{name}: {ranks} ranks conserve the particle count");
        let (dx, dv) = max_diffs(&single, &many, system.sim_box.len);
        let (t1, tp) = (s1.last().expect("samples").temperature(), sp.last().expect("samples").temperature());
        let (p1, pp) = (s1.last().expect("samples").pressure(), sp.last().expect("samples").pressure());
        println!(
            "{name}, {ranks} ranks: after 10 steps max |dx| {dx10:.2e}, |dv| {dv10:.2e}; after 100 steps {dx:.2e}, {dv:.2e} (1-ulp envelope {envelope_x:.2e}, {envelope_v:.2e}); T {t1:.6} vs {tp:.6}, P {p1:.5} vs {pp:.5}; rank 0 sent {} halo + {} migration bytes in {} messages, received {} ghosts",
            traffic.halo_bytes, traffic.migration_bytes, traffic.halo_messages + traffic.migration_messages, traffic.ghosts
        );
        assert!(dx10 < 1e-5 && dv10 < 1e-5 * 10.0, "{name}, {ranks} ranks, 10 steps: {dx10} (x), {dv10} (v)");
        assert!(
            dx <= 10.0 * envelope_x && dv <= 10.0 * envelope_v,
            "{name}, {ranks} ranks, 100 steps: {dx} (x), {dv} (v) against the envelope {envelope_x}, {envelope_v}"
        );
        assert!((t1 - tp).abs() < 1e-3 * t1 && (p1 - pp).abs() < 1e-3 * p1.abs(), "{name}: observables differ");
    }
}

fn tube() -> hemoscale::run::Initial {
    let b = hemoscale::scenarios::find("tube").expect("built-in scenario");
    let values = hemoscale::params::ParamValues::parse(&b.params(), &[]).expect("defaults");
    let scenario = b.build(&values, 5, 100, Backend::Cpu).expect("valid");
    hemoscale::run::initial_conditions(&scenario, Backend::Cpu).expect("initial conditions")
}

#[test]
fn a_periodic_box_on_two_and_four_ranks_follows_the_single_rank_trajectory() {
    let system = common::standard_system(5184, 0.01, 11);
    let state = hemoscale::kernels::init::random_fluid(&system, 5184);
    compare("dpd box 12^3", &system, &state, None);
}

/// GPU ranks (lavapipe in CI): the pair forces on the device, the rest on the host.
#[test]
fn a_periodic_box_on_two_and_four_gpu_ranks_follows_the_single_rank_trajectory() {
    let Some(ctx) = common::gpu_context() else { return };
    let system = common::standard_system(5184, 0.01, 11);
    let state = hemoscale::kernels::init::random_fluid(&system, 5184);
    compare("dpd box 12^3", &system, &state, Some(&ctx));
}

#[test]
fn a_tube_with_walls_on_two_and_four_gpu_ranks_follows_the_single_rank_trajectory() {
    let Some(ctx) = common::gpu_context() else { return };
    let initial = tube();
    compare("tube", &initial.system, &initial.state, Some(&ctx));
}

#[test]
fn a_tube_with_walls_on_two_and_four_ranks_follows_the_single_rank_trajectory() {
    let initial = tube();
    compare("tube", &initial.system, &initial.state, None);
}

/// One number from a sample.
type Observable = dyn Fn(&Observables) -> f64;

/// Mean and standard error (of block means, 10 blocks) of `f` over `samples`.
fn mean_err(samples: &[Observables], f: impl Fn(&Observables) -> f64) -> (f64, f64) {
    let x: Vec<f64> = samples.iter().map(f).collect();
    let blocks: Vec<f64> = x.chunks(x.len() / 10).take(10).map(|c| c.iter().sum::<f64>() / c.len() as f64).collect();
    let m = blocks.iter().sum::<f64>() / 10.0;
    let var = blocks.iter().map(|b| (b - m).powi(2)).sum::<f64>() / 9.0;
    (m, (var / 10.0).sqrt())
}

/// Long runs: the trajectories have long parted, so the observables are compared as averages,
/// within 4 combined standard errors (block averages over 10 blocks of the production run).
#[test]
fn long_runs_on_four_ranks_give_the_single_rank_observables_within_their_error() {
    let box_system = common::standard_system(5184, 0.01, 12);
    let box_state = hemoscale::kernels::init::random_fluid(&box_system, 5184);
    let t = tube();
    for (name, system, state) in [("dpd box", &box_system, &box_state), ("tube", &t.system, &t.state)] {
        let steps = 3000;
        let (_, s1) = run_single(system, state, steps);
        let (_, s4, _) = run_ranks(system, state, 4, steps, None);
        let production = |s: &[Observables]| s[s.len() / 3..].to_vec();
        let (s1, s4) = (production(&s1), production(&s4));
        let flow = |o: &Observables| o.momentum[0] / o.n as f64;
        let mut checks: Vec<(&str, &Observable)> =
            vec![("temperature", &Observables::temperature), ("pressure", &Observables::pressure)];
        if system.body_force[0] != 0.0 {
            checks.push(("mean velocity along x (the driven flow)", &flow));
        }
        for (what, f) in checks {
            let ((m1, e1), (m4, e4)) = (mean_err(&s1, f), mean_err(&s4, f));
            let tol = 4.0 * (e1 * e1 + e4 * e4).sqrt();
            println!("{name}, {what}: 1 rank {m1:.5} +- {e1:.5}, 4 ranks {m4:.5} +- {e4:.5} (tolerance {tol:.5})");
            assert!((m1 - m4).abs() <= tol, "{name}, {what}: {m1} against {m4}");
        }
    }
}

/// The communication model of `docs/scaling.md` (`Decomposition::traffic_model`) against the
/// bytes and messages the ranks sent, all ranks together: within 20 % (the bound) for
/// the halo and the messages; the migration, a hundredth of the halo, within 20 % too.
#[test]
fn the_measured_traffic_matches_the_model() {
    let system = common::standard_system(10368, 0.01, 21); // a 15.1^3 box
    let state = hemoscale::kernels::init::random_fluid(&system, 10368);
    for ranks in [2, 4, 8] {
        let out = ThreadComm::run(ranks, |comm| {
            let mut e = Ranks::new(comm, None).engine(&system, &state, 0).expect("engine");
            e.compute_forces().expect("forces");
            let samples = e.run(200, 10).expect("run");
            let report = e.domain_report().expect("collective").expect("decomposed");
            (samples, report)
        });
        let (samples, report) = &out[0];
        let kt = samples.iter().map(Observables::temperature).sum::<f64>() / samples.len() as f64;
        let density = 10368.0 / system.sim_box.volume();
        let model = report.decomposition.total_traffic_model(density, kt, 1.0, 0.01);
        let t = &report.traffic;
        let halo = t.halo_bytes as f64 / t.exchanges as f64;
        let migration = t.migration_bytes as f64 / t.migrations as f64;
        let messages = t.halo_messages as f64 / t.exchanges as f64 + t.migration_messages as f64 / t.migrations as f64;
        println!(
            "{ranks} ranks, grid {:?}: per step {halo:.0} halo bytes (model {:.0}), {migration:.0} migration bytes (model {:.0}), {messages} messages (model {})",
            report.decomposition.ranks, model.halo_bytes, model.migration_bytes, model.messages
        );
        assert!((halo / model.halo_bytes - 1.0).abs() < 0.2, "halo: {halo} against {}", model.halo_bytes);
        assert!(
            (migration / model.migration_bytes - 1.0).abs() < 0.2,
            "migration: {migration} against {}",
            model.migration_bytes
        );
        assert_eq!(messages, model.messages);
    }
}

/// Static load balance (`Decomposition::weighted`, what `Ranks` uses with walls): in the
/// stenosis, even bricks along the tube give the ranks at the throat less fluid; cuts that
/// balance the fluid volume bring every rank within 10 % of the mean particle count.
#[test]
fn fluid_volume_weights_balance_a_stenosis() {
    let b = hemoscale::scenarios::find("stenosis").expect("built-in scenario");
    let values = hemoscale::params::ParamValues::parse(&b.params(), &[]).expect("defaults");
    let scenario = b.build(&values, 3, 100, Backend::Cpu).expect("valid");
    let initial = hemoscale::run::initial_conditions(&scenario, Backend::Cpu).expect("initial conditions");
    let system = &initial.system;
    let imbalance = |d: &hemoscale::kernels::domain::Decomposition| {
        let mut owned = vec![0usize; d.size()];
        for (i, p) in initial.state.pos.iter().enumerate() {
            if !system.types[initial.state.type_id[i] as usize].frozen {
                owned[d.owner(*p)] += 1;
            }
        }
        let mean = owned.iter().sum::<usize>() as f64 / owned.len() as f64;
        (owned.iter().copied().max().unwrap_or(0) as f64 / mean, owned)
    };
    let ranks = ThreadComm::run(4, |comm| {
        let r = Ranks::new(comm, None);
        r.decomposition(system).expect("valid")
    });
    let weighted = &ranks[0];
    let even = hemoscale::kernels::domain::Decomposition::new(weighted.ranks, system.sim_box.len, 1.0).expect("valid");
    let (ie, oe) = imbalance(&even);
    let (iw, ow) = imbalance(weighted);
    println!(
        "stenosis on 4 ranks, grid {:?}: even cuts {:?} hold {oe:?} fluid particles (max/mean {ie:.3}); weighted cuts {:?} hold {ow:?} (max/mean {iw:.3})",
        weighted.ranks, even.cuts[0], weighted.cuts[0]
    );
    assert!(iw < 1.1 && iw < ie, "weighted {iw} against even {ie}");
}

/// The platelet particles' positions after `steps` steps of `initial` on `ranks` ranks (1: the
/// single-domain engine), with the gathered plasma sorted by tag. Every rank holds every
/// platelet as the ranks that advanced them left it, so their copies must agree bit for bit.
fn run_with_platelets(
    initial: &hemoscale::run::Initial,
    ranks: usize,
    steps: u64,
    gpu: Option<&GpuContext>,
) -> Platelets {
    let set = initial.platelets.as_ref().expect("a scenario with platelets");
    let go = |e: &mut CpuEngine| {
        e.compute_forces().expect("forces");
        let _ = e.run(steps, 0).expect("run");
        let plasma = e.state().expect("state").sorted_by_tag();
        let report = e.domain_report().expect("report");
        if let Some(d) = &report {
            // Every platelet particle's state (80 bytes) is shared once a step. On top: each
            // platelet's index and stress sums (100), each rank's header and counters (48), at
            // most one adhesion bond (20) per platelet particle, and the gathered plasma, whose
            // records (32) and kicked velocities (16) are fewer than all particles.
            let (np, n) = (set.pos.len() as u64, initial.state.len() as u64);
            let shared = 80 * np * steps;
            let most = shared + (100 * set.count as u64 + 48 * ranks as u64 + 20 * np + 48 * n) * steps;
            let bytes = d.traffic.platelet_bytes;
            assert!((shared..=most).contains(&bytes), "platelet bytes {bytes} outside {shared}..={most}");
        }
        let divided = report.map_or_else(Vec::new, |d| d.platelet_steps);
        (plasma, e.platelet_levels().expect("platelets").positions().to_vec(), e.adhesion_counts(), divided)
    };
    if ranks == 1 {
        let mut e = CpuEngine::with_platelets(&initial.system, &initial.state, 0, set).expect("engine");
        return go(&mut e);
    }
    let mut out = ThreadComm::run(ranks, |comm| {
        let r = Ranks::new(comm, None);
        let e = r.engine_with_platelets(&initial.system, &initial.state, 0, set).expect("engine");
        go(&mut match gpu {
            Some(ctx) => e.with_gpu_forces(ctx.clone()).expect("GPU ranks"),
            None => e,
        })
    });
    let first = out.remove(0);
    for (plasma, platelets, bonds, divided) in &out {
        assert!(plasma == &first.0 && platelets == &first.1, "every rank holds the same plasma and platelets");
        assert_eq!(bonds, &first.2, "every rank holds the same adhesion bonds");
        assert_eq!(divided, &first.3, "every rank reports the same division");
    }
    first
}

/// The gathered plasma (sorted by tag), the platelet particles' positions, the adhesion counts
/// after a run, and the platelet-steps each rank advanced (empty on one rank).
type Platelets = (ParticleState, Vec<[f32; 4]>, Option<hemoscale::kernels::adhesion::AdhesionCounts>, Vec<u64>);

/// Largest platelet-particle distance (minimum image) between two runs.
fn max_platelet_diff(a: &[[f32; 4]], b: &[[f32; 4]], len: [f32; 3]) -> f32 {
    let mut dx = 0.0f32;
    for (p, q) in a.iter().zip(b) {
        for (k, l) in len.iter().enumerate() {
            let d = (p[k] - q[k]).abs();
            dx = dx.max(d.min(l - d));
        }
    }
    dx
}

/// `shear-flip` (one platelet in Couette flow between moving walls) on 2 and 4 ranks: the plasma
/// and the platelet follow the single-rank trajectory, within 10 times what a one-ulp nudge of
/// the plasma grows to in the single-rank run, after 10 and after 100 steps. Here the envelope
/// is wide already after 10 steps (8.7e-5 in position, 3.8e-3 in velocity: a rounding can decide
/// a bounce off the moving walls), so a fixed 1e-5 as in [`compare`] would not hold even for a
/// single-rank run. A platelet that missed plasma in the gather, or plasma that missed the
/// interface's reaction, would be off by orders of magnitude more (forces of order 10 over
/// the 8 interface sub-steps of every step).
#[test]
fn a_platelet_in_couette_flow_on_two_and_four_ranks_follows_the_single_rank_trajectory() {
    let initial = scenario_initial("shear-flip", &[]);
    compare_with_platelets("shear-flip", &initial, None, false);
}

/// GPU ranks with a platelet: the plasma's pair forces on the device, the platelet on the host.
#[test]
fn a_platelet_in_couette_flow_on_two_and_four_gpu_ranks_follows_the_single_rank_trajectory() {
    let Some(ctx) = common::gpu_context() else { return };
    let initial = scenario_initial("shear-flip", &[]);
    compare_with_platelets("shear-flip (GPU ranks)", &initial, Some(&ctx), false);
}

/// `aggregation` (three activated platelets at an adhesive wall patch in shear) on 2 and 4 ranks:
/// the same bounds as [`a_platelet_in_couette_flow_on_two_and_four_ranks_follows_the_single_rank_trajectory`],
/// and the same adhesion bonds formed (to the wall and between platelets): every rank holds
/// every bond.
#[test]
fn adhering_platelets_on_two_and_four_ranks_follow_the_single_rank_trajectory() {
    let initial = scenario_initial("aggregation", &[]);
    compare_with_platelets("aggregation", &initial, None, false);
}

/// `stenosis-platelets` (four platelets one after another along a narrowed vessel, cut across
/// its length) on 2 and 4 ranks: the clusters lie on different ranks, so each rank advances
/// only its own and takes the others' state from the ranks that advanced them. Each plasma step
/// every platelet is advanced by exactly one rank, no rank advances them all, and the plasma
/// and the platelets follow the single-rank trajectory within the bounds of
/// [`a_platelet_in_couette_flow_on_two_and_four_ranks_follows_the_single_rank_trajectory`]. A
/// rank that dropped another rank's state, or the plasma velocities its platelets kicked, would
/// be off by far more.
#[test]
fn platelets_apart_are_divided_among_ranks_and_follow_the_single_rank_trajectory() {
    let initial = scenario_initial("stenosis-platelets", &["resolution=150"]);
    compare_with_platelets("stenosis-platelets", &initial, None, true);
}

/// The initial conditions of the built-in `name` with its defaults and `sets` (seed 5).
fn scenario_initial(name: &str, sets: &[&str]) -> hemoscale::run::Initial {
    let b = hemoscale::scenarios::find(name).expect("built-in scenario");
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let values = hemoscale::params::ParamValues::parse(&b.params(), &sets).expect("defaults");
    let scenario = b.build(&values, 5, 100, Backend::Cpu).expect("valid");
    hemoscale::run::initial_conditions(&scenario, Backend::Cpu).expect("initial conditions")
}

/// Runs `initial` (with platelets) on 1, 2 and 4 ranks and holds the decomposed runs to 10 times
/// the one-ulp envelope after 10 and 100 steps, for the plasma and the platelet particles. With
/// `gpu`, the decomposed runs are GPU ranks. Every platelet-step is advanced by one rank; with
/// `divided`, no rank may advance them all.
fn compare_with_platelets(name: &str, initial: &hemoscale::run::Initial, gpu: Option<&GpuContext>, divided: bool) {
    let len = initial.system.sim_box.len;
    let count = initial.platelets.as_ref().map_or(0, |p| p.count) as u64;
    let (single10, plat10, ..) = run_with_platelets(initial, 1, 10, None);
    let (single, plat, bonds, _) = run_with_platelets(initial, 1, 100, None);
    let nudged_initial = hemoscale::run::Initial { state: nudged(&initial.state), ..initial.clone() };
    let (nudged_plasma, nudged_plat, ..) = run_with_platelets(&nudged_initial, 1, 100, None);
    let (envelope_x, envelope_v) = max_diffs(&single, &nudged_plasma, len);
    let envelope_p = max_platelet_diff(&plat, &nudged_plat, len);
    let (nudged10, nudged_plat10, ..) = run_with_platelets(&nudged_initial, 1, 10, None);
    let (e10_x, e10_v) = max_diffs(&single10, &nudged10, len);
    let e10_p = max_platelet_diff(&plat10, &nudged_plat10, len);
    println!("{name}, one-ulp nudge after 10 steps: plasma {e10_x:.2e}, {e10_v:.2e}, platelet {e10_p:.2e}");
    for ranks in [2, 4] {
        let (early, early_plat, ..) = run_with_platelets(initial, ranks, 10, gpu);
        let (dx10, dv10) = max_diffs(&single10, &early, len);
        let dp10 = max_platelet_diff(&plat10, &early_plat, len);
        let (many, many_plat, many_bonds, steps) = run_with_platelets(initial, ranks, 100, gpu);
        assert_eq!(many.len(), initial.state.len(), "{name}: {ranks} ranks conserve the particle count");
        assert_eq!(steps.len(), ranks, "{name}: one count per rank");
        assert_eq!(steps.iter().sum::<u64>(), 100 * count, "{name}, {ranks} ranks: each platelet-step once: {steps:?}");
        if divided {
            assert!(
                steps.iter().all(|&s| s < 100 * count),
                "{name}, {ranks} ranks: the platelets are divided: {steps:?}"
            );
        }
        println!("{name}, {ranks} ranks: platelet-steps advanced by each rank {steps:?}");
        assert_eq!(many_bonds, bonds, "{name}: {ranks} ranks form the same adhesion bonds");
        let (dx, dv) = max_diffs(&single, &many, len);
        let dp = max_platelet_diff(&plat, &many_plat, len);
        println!(
            "{name}, {ranks} ranks: after 10 steps plasma max |dx| {dx10:.2e}, |dv| {dv10:.2e}, platelet |dx| {dp10:.2e}; after 100 steps plasma {dx:.2e}, {dv:.2e}, platelet {dp:.2e} (1-ulp envelope {envelope_x:.2e}, {envelope_v:.2e}, platelet {envelope_p:.2e}); adhesion {many_bonds:?}"
        );
        assert!(
            dx10 <= 10.0 * e10_x && dv10 <= 10.0 * e10_v && dp10 <= 10.0 * e10_p,
            "{name}, {ranks} ranks, 10 steps: {dx10}, {dv10}, platelet {dp10} against the envelope {e10_x}, {e10_v}, {e10_p}"
        );
        assert!(
            dx <= 10.0 * envelope_x && dv <= 10.0 * envelope_v && dp <= 10.0 * envelope_p,
            "{name}, {ranks} ranks, 100 steps: {dx}, {dv}, platelet {dp} against the envelope {envelope_x}, {envelope_v}, {envelope_p}"
        );
    }
}

/// A platelet that blows up on one rank stops every rank with its diagnostic: only the rank
/// that advances it sees the non-finite velocity, and it sends the health check's message in
/// place of its share, so no rank waits for a share that never comes and every rank names the
/// platelet. The fault is written into every rank's copy of platelet 3 (of 4), which one rank
/// advances.
#[test]
fn a_platelet_that_blows_up_on_one_rank_stops_every_rank_with_its_diagnostic() {
    let initial = scenario_initial("stenosis-platelets", &["resolution=150"]);
    let set = initial.platelets.as_ref().expect("platelets");
    let per = set.pos.len() / set.count;
    let errors = ThreadComm::run(2, |comm| {
        let r = Ranks::new(comm, None);
        let mut e = r.engine_with_platelets(&initial.system, &initial.state, 0, set).expect("engine");
        e.compute_forces().expect("forces");
        let _ = e.run(2, 0).expect("two good steps");
        let mut snap = e.platelet_snapshot().expect("snapshot").expect("platelets");
        snap.vel[3 * per + 7][0] = f32::NAN;
        e.restore_platelets(&snap).expect("restore");
        let advanced = e.domain_report().expect("report").expect("decomposed").platelet_steps;
        (e.run(1, 0).err().map(|x| x.to_string()), advanced)
    });
    let (_, advanced) = &errors[0];
    assert!(advanced.iter().all(|&s| s < 2 * set.count as u64), "the platelets are divided: {advanced:?}");
    for (rank, (error, _)) in errors.iter().enumerate() {
        let error = error.as_deref().unwrap_or_else(|| panic!("rank {rank} ran on"));
        println!("rank {rank}: {error}");
        assert!(error.contains("platelet 3 particle") && error.contains("non-finite"), "rank {rank}: {error}");
    }
}
