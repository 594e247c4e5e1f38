//! Benchmark: whole step.

use criterion::{criterion_group, Criterion};
use hemoscale::kernels::Pass;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("step");
    super::common::bench_pass(&mut group, Pass::Step);
    group.finish();
}

criterion_group!(benches, bench);
