//! Benchmark: DPD forces (and virial).

use criterion::{criterion_group, Criterion};
use hemoscale::kernels::Pass;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("dpd_forces");
    super::common::bench_pass(&mut group, Pass::Forces);
    group.finish();
}

criterion_group!(benches, bench);
