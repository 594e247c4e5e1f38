//! Criterion benchmarks of the platelet force kernels on both backends: bonded terms
//! (`bonded`), Lennard-Jones over the Verlet list (`nonbonded`), the membrane–plasma force
//! (`interface`, both sides) and adhesion (`adhesion`, every platelet activated), for 10 and 100
//! platelets of the default resolution (400, 373 particles each) in plasma of density 3. Throughput is platelet particles per second per
//! evaluation. Lists are built once outside the timed loop (they are rebuilt only when stale).
//! `mts_step` times whole plasma steps of the engines with platelets (`CpuEngine` and
//! `GpuEngine::with_platelets`, jump factors 8:1:1, the platelet scenarios' plasma); its
//! throughput is plasma plus platelet particles per second.
//!
//! `cargo bench --bench platelets`; `HEMOSCALE_BENCH_PLATELETS=10` restricts the platelet counts
//! and `HEMOSCALE_BENCH_BACKENDS=cpu` the backends. GPU benchmarks wait for the queue inside the
//! timed closure (`GpuContext::sync`), so they time the work, not its submission.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use glam::{Quat, Vec3};
use hemoscale_kernels::bonded::{bonded_forces, Topology};
use hemoscale_kernels::dpd::PairCoeffs;
use hemoscale_kernels::gpu::bonded::Bonded;
use hemoscale_kernels::gpu::interface::Interface;
use hemoscale_kernels::gpu::nonbonded::Nonbonded;
use hemoscale_kernels::gpu::{AdapterChoice, GpuContext};
use hemoscale_kernels::interface::{interface_forces, InterfaceInput, InterfaceList};
use hemoscale_kernels::nonbonded::{lj_forces, NeighborList};
use hemoscale_kernels::platelet::{PlateletSpec, PlateletTemplate, Stiffness};
use hemoscale_kernels::platelet_set::{MtsLevels, Placement, PlateletParams, PlateletSet};
use hemoscale_kernels::rng::{philox4x32_10, seed_key, uniform_pm1};
use hemoscale_kernels::{init, CpuEngine, DpdPair, DpdSystem, Engine, GpuEngine, PairTable, SimBox};

/// Platelet counts: `HEMOSCALE_BENCH_PLATELETS` (comma-separated), default 10 and 100.
fn counts() -> Vec<usize> {
    std::env::var("HEMOSCALE_BENCH_PLATELETS")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 100])
}

/// Whether `name` (cpu or gpu) is among `HEMOSCALE_BENCH_BACKENDS` (default both).
fn backend(name: &str) -> bool {
    std::env::var("HEMOSCALE_BENCH_BACKENDS").map_or(true, |s| s.split(',').any(|x| x.trim() == name))
}

/// The GPU when one is wanted and there is an adapter.
fn gpu() -> Option<GpuContext> {
    if !backend("gpu") {
        return None;
    }
    let ctx = GpuContext::new(AdapterChoice::Any).map_err(|e| eprintln!("no GPU benchmarks: {e}")).ok()?;
    // GPU numbers mean nothing without the card's name.
    eprintln!("GPU benchmarks on {}", ctx.adapter_name());
    Some(ctx)
}

/// Platelets on a grid (7 rc apart in x and y, 2.5 in z, discs of diameter 6 and thickness 1.5)
/// in a periodic box of plasma, positions perturbed by 0.04 rc so every term is loaded.
struct Scene {
    set: PlateletSet,
    len: [f32; 3],
    pos: Vec<[f32; 4]>,
    vel: Vec<[f32; 4]>,
    plasma_pos: Vec<[f32; 4]>,
    plasma_vel: Vec<[f32; 4]>,
    plasma_tag: Vec<u32>,
}

fn noise(i: usize, k: u32, stream: u32, amp: f32) -> f32 {
    amp * uniform_pm1(philox4x32_10([i as u32, k, stream, 0xBE4C], seed_key(5))[0])
}

fn scene(count: usize) -> Scene {
    let spec = PlateletSpec {
        diameter: 6.0,
        aspect_ratio: 0.25,
        resolution: 400,
        mass: 3.0 * 28.27,
        stiffness: Stiffness::DEFAULT,
    };
    let t = PlateletTemplate::build(&spec).expect("template");
    let side = if count > 25 { 5 } else { (count as f64).sqrt().ceil() as usize };
    let layers = count.div_ceil(side * side);
    let len = [7.0 * side as f32, 7.0 * side as f32, 2.5 * layers as f32];
    let at: Vec<Placement> = (0..count)
        .map(|p| {
            let (x, y, z) = (p % side, (p / side) % side, p / (side * side));
            Placement {
                center: [3.5 + 7.0 * x as f32, 3.5 + 7.0 * y as f32, 1.25 + 2.5 * z as f32],
                rotation: Quat::IDENTITY,
                velocity: [0.0; 3],
            }
        })
        .collect();
    let set = PlateletSet::place(t, PlateletParams::DEFAULT, &at, 10_000_000).expect("placed");
    let pos = set
        .pos
        .iter()
        .enumerate()
        .map(|(i, p)| [p[0] + noise(i, 0, 0, 0.04), p[1] + noise(i, 1, 0, 0.04), p[2] + noise(i, 2, 0, 0.04), 0.0])
        .collect();
    let vel = (0..set.len()).map(|i| [noise(i, 0, 1, 0.3), noise(i, 1, 1, 0.3), noise(i, 2, 1, 0.3), 0.0]).collect();
    let sys = DpdSystem::standard(SimBox { len }, 3);
    let plasma = init::random_fluid(&sys, (3.0 * len[0] * len[1] * len[2]) as usize);
    let (plasma, _) = set.carve(&plasma, &sys, 0.2);
    let four = |v: &[[f32; 3]]| v.iter().map(|a| [a[0], a[1], a[2], 0.0]).collect::<Vec<_>>();
    Scene {
        len,
        pos,
        vel,
        plasma_pos: four(&plasma.pos),
        plasma_vel: four(&plasma.vel),
        plasma_tag: plasma.tag.clone(),
        set,
    }
}

fn configure(g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
}

fn bonded(c: &mut Criterion) {
    let ctx = gpu();
    let mut g = c.benchmark_group("platelet_bonded");
    configure(&mut g);
    for count in counts() {
        let s = scene(count);
        let topo: Topology = s.set.topology();
        g.throughput(Throughput::Elements(s.pos.len() as u64));
        if backend("cpu") {
            let mut out = vec![[0.0f32; 4]; s.pos.len()];
            g.bench_function(format!("cpu/{count}"), |b| b.iter(|| bonded_forces(&topo, &s.pos, &mut out)));
        }
        if let Some(ctx) = &ctx {
            let k = Bonded::new(&ctx.device);
            let bufs = k.upload(ctx, &topo, &s.pos);
            g.bench_function(format!("gpu/{count}"), |b| {
                b.iter(|| {
                    k.run(ctx, &bufs);
                    ctx.sync().expect("bonded pass");
                })
            });
        }
    }
    g.finish();
}

fn nonbonded(c: &mut Criterion) {
    let ctx = gpu();
    let mut g = c.benchmark_group("platelet_nonbonded");
    configure(&mut g);
    for count in counts() {
        let s = scene(count);
        let lj = s.set.lj();
        let nl = NeighborList::build(&s.pos, s.len, lj.rcut + s.set.params.skin, &s.set.exclusions());
        g.throughput(Throughput::Elements(s.pos.len() as u64));
        if backend("cpu") {
            let mut out = vec![[0.0f32; 4]; s.pos.len()];
            g.bench_function(format!("cpu/{count}"), |b| b.iter(|| lj_forces(&nl, &s.pos, &lj, s.len, &mut out)));
        }
        if let Some(ctx) = &ctx {
            let k = Nonbonded::new(&ctx.device);
            let bufs = k.upload(ctx, &nl, &s.pos, &lj, s.len);
            g.bench_function(format!("gpu/{count}"), |b| {
                b.iter(|| {
                    k.run(ctx, &bufs);
                    ctx.sync().expect("nonbonded pass");
                })
            });
        }
    }
    g.finish();
}

fn interface(c: &mut Criterion) {
    let ctx = gpu();
    let mut g = c.benchmark_group("platelet_interface");
    configure(&mut g);
    for count in counts() {
        let s = scene(count);
        let p = s.set.params.interface;
        let membrane = s.set.outer_membrane();
        let list = InterfaceList::build(&membrane, &s.pos, &s.plasma_pos, s.len, p.rc + s.set.params.skin);
        let coeffs = PairCoeffs::new(&p, 0.1, 0.01);
        let inp = InterfaceInput {
            plat_pos: &s.pos,
            plat_vel: &s.vel,
            plat_tag: &s.set.tag,
            plasma_pos: &s.plasma_pos,
            plasma_vel: &s.plasma_vel,
            plasma_tag: &s.plasma_tag,
            coeffs: &coeffs,
            len: s.len,
            key: seed_key(3),
            counter: 1,
        };
        g.throughput(Throughput::Elements(s.pos.len() as u64));
        if backend("cpu") {
            let (mut pf, mut mf, mut qf): (Vec<Vec3>, Vec<Vec3>, Vec<Vec3>) = (Vec::new(), Vec::new(), Vec::new());
            g.bench_function(format!("cpu/{count}"), |b| {
                b.iter(|| interface_forces(&list, &inp, &mut pf, &mut mf, &mut qf))
            });
        }
        if let Some(ctx) = &ctx {
            let k = Interface::new(&ctx.device);
            let bufs = k.upload(ctx, &list, &inp);
            g.bench_function(format!("gpu/{count}"), |b| {
                b.iter(|| {
                    k.run(ctx, &bufs);
                    ctx.sync().expect("interface pass");
                })
            });
        }
    }
    g.finish();
}

/// Adhesion forces with every platelet activated (no walls): Morse between the sites of
/// neighbouring platelets (1 rc apart at their rims) and nothing bonded yet.
fn adhesion(c: &mut Criterion) {
    use hemoscale_kernels::adhesion::{Adhesion, AdhesionParams, AdhesionState};
    use hemoscale_kernels::cell_list::CellGrid;
    use hemoscale_kernels::gpu::adhesion::Adhesion as GpuAdhesion;
    use hemoscale_kernels::gpu::buffers::Params;
    let ctx = gpu();
    let mut g = c.benchmark_group("platelet_adhesion");
    configure(&mut g);
    for count in counts() {
        let s = scene(count);
        let a = Adhesion { params: AdhesionParams::DEFAULT, patches: Vec::new() };
        let mut st =
            AdhesionState::new(a, s.set.outer_membrane(), s.set.per_platelet(), s.pos.len(), s.set.params.skin)
                .expect("adhesion");
        let on = vec![true; count];
        g.throughput(Throughput::Elements(s.pos.len() as u64));
        if backend("cpu") {
            let mut out = vec![[0.0f32; 4]; s.pos.len()];
            g.bench_function(format!("cpu/{count}"), |b| b.iter(|| st.add_forces(&s.pos, &on, s.len, None, &mut out)));
        }
        if let Some(ctx) = &ctx {
            let lists = st.gpu_lists(&s.pos, &on, s.len, None);
            let sys = DpdSystem::standard(SimBox { len: s.len }, 3);
            let params = Params::new(&sys, &CellGrid::new(&sys), 0);
            let k = GpuAdhesion::new(&ctx.device);
            let zero = vec![[0.0f32; 4]; s.pos.len()];
            let bufs = k.upload(ctx, &lists, &s.pos, &zero, st.params(), s.len, &params, &[0.0]);
            g.bench_function(format!("gpu/{count}"), |b| {
                b.iter(|| {
                    k.run(ctx, &bufs);
                    ctx.sync().expect("adhesion pass");
                })
            });
        }
    }
    g.finish();
}

/// `count` platelets (stiffness 0.1, 8:1:1, the interface and Lennard-Jones scaled to kT 0.1 as in
/// the platelet scenarios) on a grid 8 rc apart in x and y and 2.5 in z, in plasma of the platelet
/// scenarios (a 2.5, gamma 20, kT 0.1, dt 0.01) of density 3, at rest.
fn engine_scene(count: usize) -> (DpdSystem, hemoscale_kernels::ParticleState, PlateletSet) {
    let spec = PlateletSpec {
        diameter: 6.0,
        aspect_ratio: 0.25,
        resolution: 400,
        mass: 3.0 * 28.27,
        stiffness: Stiffness::DEFAULT.scaled(0.1),
    };
    let t = PlateletTemplate::build(&spec).expect("template");
    let side = if count > 25 { 5 } else { (count as f64).sqrt().ceil() as usize };
    let layers = count.div_ceil(side * side);
    let len = [8.0 * side as f32, 8.0 * side as f32, (2.5 * layers as f32).max(9.0)];
    let at: Vec<Placement> = (0..count)
        .map(|p| {
            let (x, y, z) = (p % side, (p / side) % side, p / (side * side));
            Placement {
                center: [4.0 + 8.0 * x as f32, 4.0 + 8.0 * y as f32, 1.25 + 2.5 * z as f32],
                rotation: Quat::IDENTITY,
                velocity: [0.0; 3],
            }
        })
        .collect();
    let mut params =
        PlateletParams { mts: MtsLevels { interface: 8, nonbonded: 1, bonded: 1 }, ..PlateletParams::DEFAULT };
    params.interface.a *= 0.1;
    params.interface.morse.d0 *= 0.1;
    params.interface.gamma = 20.0;
    params.lj_epsilon = 0.1;
    let set = PlateletSet::place(t, params, &at, 10_000_000).expect("placed");
    let mut sys = DpdSystem::standard(SimBox { len }, 3);
    sys.kt = 0.1;
    sys.pairs = PairTable::uniform(1, DpdPair::new(2.5, 20.0, 1.0, 2.0));
    let plasma = init::random_fluid(&sys, (3.0 * len[0] * len[1] * len[2]) as usize);
    let (plasma, _) = set.carve(&plasma, &sys, 0.3);
    (sys, plasma, set)
}

fn mts_step(c: &mut Criterion) {
    let ctx = gpu();
    let mut g = c.benchmark_group("platelet_mts_step");
    configure(&mut g);
    for count in counts() {
        let (sys, plasma, set) = engine_scene(count);
        g.throughput(Throughput::Elements((plasma.len() + set.len()) as u64));
        if backend("cpu") {
            let mut e = CpuEngine::with_platelets(&sys, &plasma, 0, &set).expect("cpu engine");
            e.compute_forces().expect("forces");
            g.bench_function(format!("cpu/{count}"), |b| b.iter(|| e.run(1, 0).expect("step")));
        }
        if let Some(ctx) = &ctx {
            // A second device for the engine (it owns its context).
            let own = GpuContext::new(AdapterChoice::Any).expect("adapter");
            assert_eq!(own.adapter_name(), ctx.adapter_name());
            let mut e = GpuEngine::with_platelets(own, &sys, &plasma, 0, &set).expect("gpu engine");
            e.compute_forces().expect("forces");
            // Each step is submitted and its platelet state read back (the engine waits).
            g.bench_function(format!("gpu/{count}"), |b| b.iter(|| e.run(1, 0).expect("step")));
        }
    }
    g.finish();
}

criterion_group!(benches, bonded, nonbonded, interface, adhesion, mts_step);
criterion_main!(benches);
