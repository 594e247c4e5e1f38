//! Criterion benchmarks of the domain decomposition (`hemoscale_kernels::domain`) on ranks that
//! are threads of this process (the in-process communicator): the halo exchange, the migration
//! scan with its messages, and the whole step, on 1, 2 and 4 ranks; and GPU ranks
//! (`gpu::rank_forces`): their forces (the halo exchange they overlap included) and their whole
//! step. Throughput is in particles of the whole system per second.
//!
//! `cargo bench --bench domain`; `HEMOSCALE_BENCH_SIZES=24000` restricts the sizes. Rank 0 is
//! timed; the other ranks run the same passes in lockstep on their own threads (every pass is
//! collective, so rank 0's time includes waiting for the slowest). On this machine's 2 cores, 4
//! ranks share 2 cores: the numbers show the decomposition's overhead, not a speed-up.

use std::sync::mpsc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hemoscale::kernels::gpu::{AdapterChoice, GpuContext};
use hemoscale::kernels::{init, DpdSystem, Engine, Pass, SimBox};
use hemoscale::ranks::Ranks;
use hemoscale::surrogates::comm::threads::ThreadComm;

/// Sizes: 24,000 and 96,000 particles (`HEMOSCALE_BENCH_SIZES` overrides); one small size under
/// `cargo test`, which runs each benchmark once.
fn sizes() -> Vec<usize> {
    if !std::env::args().any(|a| a == "--bench") {
        return vec![3000];
    }
    std::env::var("HEMOSCALE_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![24_000, 96_000])
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("domain");
    group.sample_size(10);
    group.warm_up_time(std::time::Duration::from_secs(1));
    group.measurement_time(std::time::Duration::from_secs(3));
    // GPU ranks share one adapter here (lavapipe or a hardware GPU); without one they are skipped.
    let gpu = GpuContext::new(AdapterChoice::Any).inspect_err(|e| eprintln!("no GPU ranks: {e}")).ok();
    for n in sizes() {
        let system = DpdSystem::standard(SimBox::cubic((n as f32 / 3.0).cbrt()), 1);
        let state = init::random_fluid(&system, n);
        group.throughput(Throughput::Elements(n as u64));
        for ranks in [1usize, 2, 4] {
            let passes = [
                ("halo", Pass::Halo, false),
                ("migrate", Pass::Migrate, false),
                ("step", Pass::Step, false),
                ("gpu-forces", Pass::Forces, true),
                ("gpu-step", Pass::Step, true),
            ];
            for (name, pass, on_gpu) in passes {
                if ranks == 1 && (pass != Pass::Step || on_gpu) {
                    continue; // nothing to exchange on one rank; one GPU runs the GPU engine
                }
                let gpu = match (on_gpu, &gpu) {
                    (false, _) => None,
                    (true, Some(ctx)) => Some(ctx),
                    (true, None) => continue,
                };
                let mut comms = ThreadComm::world(ranks).into_iter();
                let root = Ranks::new(Box::new(comms.next().expect("rank 0")), None);
                let open = |r: &Ranks| -> Box<dyn Engine> {
                    let mut e: Box<dyn Engine> = if ranks == 1 {
                        Box::new(hemoscale::kernels::CpuEngine::new(&system, &state, 0).expect("engine"))
                    } else {
                        let e = r.engine(&system, &state, 0).expect("engine");
                        match gpu {
                            Some(ctx) => Box::new(e.with_gpu_forces(ctx.clone()).expect("GPU ranks")),
                            None => Box::new(e),
                        }
                    };
                    e.compute_forces().expect("forces");
                    let _ = e.run(20, 0).expect("warm-up");
                    e
                };
                std::thread::scope(|scope| {
                    // Helper ranks on their own threads: each runs as many passes as rank 0 is
                    // about to time (0: stop).
                    let mut tx = Vec::new();
                    for comm in comms {
                        let (t, rx) = mpsc::channel::<u64>();
                        tx.push(t);
                        let open = &open;
                        let _ = scope.spawn(move || {
                            let mut e = open(&Ranks::new(Box::new(comm), None));
                            while let Ok(iters) = rx.recv() {
                                if iters == 0 {
                                    break;
                                }
                                e.bench_pass(pass, iters as u32).expect("pass");
                            }
                        });
                    }
                    let mut e = open(&root);
                    let id = criterion::BenchmarkId::new(format!("{name}/{ranks}ranks"), n);
                    group.bench_function(id, |b| {
                        b.iter_custom(|iters| {
                            for t in &tx {
                                t.send(iters).expect("helper alive");
                            }
                            let t0 = std::time::Instant::now();
                            e.bench_pass(pass, iters as u32).expect("pass");
                            t0.elapsed()
                        })
                    });
                    for t in &tx {
                        t.send(0).expect("helper alive");
                    }
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
