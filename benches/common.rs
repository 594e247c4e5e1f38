//! Engines for the benchmarks: the standard DPD fluid (density 3, a 25, gamma 4.5, kT 1, dt 0.01)
//! at each size, equilibrated for a few steps so the cell occupancy is that of a liquid.

use criterion::{BenchmarkGroup, Throughput};
use hemoscale::kernels::gpu::{AdapterChoice, GpuContext};
use hemoscale::kernels::{init, CpuEngine, DpdSystem, Engine, GpuEngine, Pass, SimBox};

/// Particle counts of the issue: 24,000, 96,000 and 375,000 unless `HEMOSCALE_BENCH_SIZES` says.
/// Under `cargo test` (no `--bench` argument) criterion runs each benchmark once as a smoke test;
/// then a small system keeps the suite fast.
pub fn sizes() -> Vec<usize> {
    if !std::env::args().any(|a| a == "--bench") {
        return vec![3000];
    }
    std::env::var("HEMOSCALE_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![24_000, 96_000, 375_000])
}

/// Backends to benchmark: `HEMOSCALE_BENCH_BACKENDS` (comma-separated), default cpu and gpu.
pub fn backend_names() -> Vec<String> {
    std::env::var("HEMOSCALE_BENCH_BACKENDS")
        .map(|s| s.split(',').map(|x| x.trim().to_string()).collect())
        .unwrap_or_else(|_| vec!["cpu".into(), "gpu".into()])
}

/// Engines for one size: the CPU always, the GPU when an adapter exists.
pub fn engines(n: usize) -> Vec<(String, Box<dyn Engine>)> {
    let system = DpdSystem::standard(SimBox::cubic((n as f32 / 3.0).cbrt()), 1);
    let state = init::random_fluid(&system, n);
    let mut out: Vec<(String, Box<dyn Engine>)> = Vec::new();
    for b in backend_names() {
        let engine: Box<dyn Engine> = match b.as_str() {
            "cpu" => Box::new(CpuEngine::new(&system, &state, 0).expect("CPU engine")),
            "gpu" => match GpuContext::new(AdapterChoice::Any) {
                Ok(ctx) => Box::new(GpuEngine::with_context(ctx, &system, &state, 0).expect("GPU engine")),
                Err(e) => {
                    eprintln!("no GPU benchmarks: {e}");
                    continue;
                }
            },
            other => panic!("unknown backend {other} in HEMOSCALE_BENCH_BACKENDS"),
        };
        out.push((b, engine));
    }
    for (_, e) in &mut out {
        e.compute_forces().expect("forces");
        let _ = e.run(20, 0).expect("warm-up");
    }
    out
}

/// Benchmarks `pass` on every backend at every size.
pub fn bench_pass(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, pass: Pass) {
    group.sample_size(10);
    group.warm_up_time(std::time::Duration::from_secs(1));
    group.measurement_time(std::time::Duration::from_secs(3));
    for n in sizes() {
        group.throughput(Throughput::Elements(n as u64));
        for (name, mut engine) in engines(n) {
            let id = format!("{name}/{n}");
            group.bench_function(id, |b| b.iter(|| engine.bench_pass(pass, 1).expect("pass")));
        }
    }
}
