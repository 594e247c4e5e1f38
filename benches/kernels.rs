//! Criterion benchmarks of every kernel on both backends, registered in one place; one pass per
//! file. Throughput is reported in particles per second per pass, which for the whole step is
//! particle-steps per second (the unit of BENCHMARKS.md).
//!
//! `cargo bench --bench kernels` runs all sizes (24,000, 96,000, 375,000 particles);
//! `HEMOSCALE_BENCH_SIZES=24000` restricts them and `HEMOSCALE_BENCH_BACKENDS=cpu` the backends.
//! GPU benchmarks wait for the queue inside the timed closure (`Engine::bench_pass` drains it).

mod cell_list;
mod common;
mod dpd_forces;
mod integrate;
mod step;
mod walls;

criterion::criterion_main!(cell_list::benches, dpd_forces::benches, integrate::benches, step::benches, walls::benches);
