//! Benchmark: first half-kick and drift.

use criterion::{criterion_group, Criterion};
use hemoscale::kernels::Pass;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("integrate");
    super::common::bench_pass(&mut group, Pass::Integrate);
    group.finish();
}

criterion_group!(benches, bench);
