//! Benchmark: cell list (count, scan, scatter, per-cell order).

use criterion::{criterion_group, Criterion};
use hemoscale::kernels::Pass;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("cell_list");
    super::common::bench_pass(&mut group, Pass::CellList);
    group.finish();
}

criterion_group!(benches, bench);
