//! Criterion benchmarks of the surrogates: forward and forward+backward passes of the default
//! surrogate sizes (samples per second per learner), and the all-reduce of a model-sized buffer
//! through the in-process communicator. `cargo bench --bench surrogates`.
//!
//! The MPI all-reduce of the same buffer is `hemoscale train` under `mpirun.mpich`; its cost per
//! round is in `docs/distributed-training.md` (bytes and wall time from the training log).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hemoscale_surrogates::comm::threads::ThreadComm;
use hemoscale_surrogates::dataset::Dataset;
use hemoscale_surrogates::network::{Architecture, Network};
use hemoscale_surrogates::Loss;
use ndarray::Array2;

/// The default surrogate (10 inputs, Friedman's problem) and a recurrent one over 8 steps of 5
/// features, as the coupling layer's history encoder will be.
const MODELS: [(&str, usize); 2] = [("default", 10), ("gru:32@8+mlp:64:tanh", 40)];

fn passes(c: &mut Criterion) {
    let mut g = c.benchmark_group("surrogate_pass");
    for (spec, inputs) in MODELS {
        let net = Network::new(Architecture::parse(spec, inputs, 1).expect("spec"), 1).expect("network");
        for batch in [32usize, 256] {
            let d = Dataset::friedman1(batch, 2);
            let x = Array2::from_shape_fn((batch, inputs), |(i, j)| d.inputs[[i, j % 10]]);
            let t = d.targets.clone();
            let mut grad = vec![0.0; net.params.len()];
            g.throughput(Throughput::Elements(batch as u64));
            g.bench_with_input(BenchmarkId::new(format!("forward/{spec}"), batch), &batch, |b, _| {
                b.iter(|| black_box(net.forward(black_box(x.view()))));
            });
            g.bench_with_input(BenchmarkId::new(format!("forward+backward/{spec}"), batch), &batch, |b, _| {
                b.iter(|| black_box(net.loss_and_grad(x.view(), t.view(), Loss::Mse, &mut grad)));
            });
        }
    }
    g.finish();
}

/// One all-reduce of the default model's 4,929 parameters among P threads (each iteration runs
/// 100 reductions on every rank, so thread start-up is amortised).
fn all_reduce(c: &mut Criterion) {
    let n = Architecture::parse("default", 10, 1).expect("spec").param_count();
    let mut g = c.benchmark_group("all_reduce_threads");
    for p in [2usize, 4] {
        g.throughput(Throughput::Elements(100));
        g.bench_with_input(BenchmarkId::new("default_model", p), &p, |b, &p| {
            b.iter(|| {
                ThreadComm::run(p, |mut comm| {
                    let mut buf = vec![comm.rank() as f64; n];
                    for _ in 0..100 {
                        comm.all_reduce_mean(&mut buf).expect("all-reduce");
                    }
                    buf[0]
                })
            });
        });
    }
    g.finish();
}

criterion_group!(benches, passes, all_reduce);
criterion_main!(benches);
