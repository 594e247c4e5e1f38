//! Benchmark: whole steps with walls (`tube`, `stenosis`: bounce-back, near-wall force, frozen
//! particles in the force loop) against the periodic fluid (`dpd`) at the same particle count.

use criterion::{criterion_group, Criterion, Throughput};
use hemoscale::bench::{bench_initial, BenchSetup};
use hemoscale::dsl::Backend;
use hemoscale::kernels::Pass;
use hemoscale::run::open_engine;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("walls_step");
    group.sample_size(10);
    group.warm_up_time(std::time::Duration::from_secs(1));
    group.measurement_time(std::time::Duration::from_secs(3));
    for n in super::common::sizes() {
        for backend in super::common::backend_names() {
            let choice = if backend == "gpu" { Backend::Gpu } else { Backend::Cpu };
            for setup in [BenchSetup::Dpd, BenchSetup::Tube, BenchSetup::Stenosis] {
                let initial = match bench_initial(setup, n, choice) {
                    Ok(i) => i,
                    Err(e) => {
                        eprintln!("no {backend} walls benchmark: {e}");
                        continue;
                    }
                };
                let mut engine = open_engine(choice, &initial.system, &initial.state, 0).expect("engine");
                engine.compute_forces().expect("forces");
                let _ = engine.run(20, 0).expect("warm-up");
                group.throughput(Throughput::Elements(engine.n_particles() as u64));
                let id = format!("{backend}/{}/{n}", setup.name());
                group.bench_function(id, |b| b.iter(|| engine.bench_pass(Pass::Step, 1).expect("step")));
            }
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
