//! Criterion benchmarks of the coupling layer: the reduced step of 1, 100 and 10,000 platelets
//! (generalised Jeffery equation and stress map), the local-flow fit around one platelet in a
//! `shear-flip`-sized plasma, the ensemble fits of a harvest, and batched surrogate inference for
//! 1, 100 and 10,000 platelets on the CPU (`Model::predict`) and the GPU
//! (`shaders/batched_inference.wgsl`). `cargo bench --bench coupling`.
//!
//! GPU inference is timed two ways, each waiting for the queue inside the timed closure:
//! `gpu_resident` is the dispatch alone (inputs and outputs stay on the device, as on the
//! surrogate path), `gpu_round_trip` adds the upload and the read-back.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use glam::DVec3;
use hemoscale_coupling::batched_inference::GpuModel;
use hemoscale_coupling::jeffery::{GeneralizedJeffery, JefferyEnsemble, OrientationSample};
use hemoscale_coupling::stress_map::{StressEnsemble, StressMap, StressSample};
use hemoscale_coupling::LocalFlow;
use hemoscale_kernels::gpu::{AdapterChoice, GpuContext};
use hemoscale_surrogates::model::Model;
use hemoscale_surrogates::network::{Architecture, Network};
use hemoscale_surrogates::normalize::Standardizer;
use ndarray::Array2;

fn normal(k: usize) -> DVec3 {
    let t = k as f64;
    DVec3::new((0.37 * t).sin(), 0.2 * (0.11 * t).cos(), (0.37 * t).cos()).normalize()
}

fn reduced_step(c: &mut Criterion) {
    let m = GeneralizedJeffery { a: 1.03, b: -0.82 };
    let map = StressMap { membrane: [2.0, -1.0, 1.5, 0.3, 0.1, 0.05], traction: [3.0, 0.5, -1.0, 0.0, 0.0, 0.0] };
    let flow = LocalFlow::simple_shear(0.06);
    let mut g = c.benchmark_group("reduced_step");
    for n in [1usize, 100, 10_000] {
        let mut normals: Vec<DVec3> = (0..n).map(normal).collect();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                for x in normals.iter_mut() {
                    // One sample interval (20 steps of 0.01).
                    *x = m.advance(*x, &flow, 0.2);
                    black_box(map.predict(*x, &flow.gradient));
                }
            });
        });
    }
    g.finish();
}

fn flow_fit(c: &mut Criterion) {
    // The shear-flip plasma: 16 x 12 x 16 rc at density 3, the platelet (radius 3) at the centre.
    let (l, rate) = ([16.0, 12.0, 16.0], 0.06);
    let n = 9200;
    let mut state = 1u64;
    let mut u = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let pos: Vec<[f32; 3]> = (0..n).map(|_| [(u() * l[0]) as f32, (u() * l[1]) as f32, (u() * l[2]) as f32]).collect();
    let vel: Vec<[f32; 3]> = pos.iter().map(|p| [(rate * (f64::from(p[2]) - 8.0)) as f32, 0.0, 0.0]).collect();
    let c0 = DVec3::new(8.0, 6.0, 8.0);
    c.bench_function("local_flow_shell_fit", |b| {
        b.iter(|| black_box(LocalFlow::around_shell(c0, 4.5, 7.5, l, &pos, &vel, |_| false)));
    });
}

fn ensemble_fit(c: &mut Criterion) {
    // A harvest of 500 samples (100 time units), as after shear-flip's default harvest.
    let flow = LocalFlow::simple_shear(0.06);
    let m = GeneralizedJeffery { a: 1.03, b: -0.82 };
    let mut n = normal(3);
    let track: Vec<OrientationSample> = (0..500)
        .map(|k| {
            n = m.advance(n, &flow, 0.2);
            OrientationSample { time: 0.2 * k as f64, normal: n, gradient: flow.gradient }
        })
        .collect();
    let map = StressMap { membrane: [2.0, -1.0, 1.5, 0.3, 0.1, 0.05], traction: [3.0, 0.5, -1.0, 0.0, 0.0, 0.0] };
    let samples: Vec<StressSample> = track
        .iter()
        .map(|s| {
            let (membrane, traction) = map.predict(s.normal, &s.gradient);
            StressSample { normal: s.normal, gradient: s.gradient, membrane, traction, weight: 20.0 }
        })
        .collect();
    let mut g = c.benchmark_group("ensemble_fit");
    g.sample_size(10);
    g.bench_function("jeffery_8_members", |b| {
        b.iter(|| black_box(JefferyEnsemble::fit([&track[..]], 5, 125, 8, 8, 1)));
    });
    g.bench_function("stress_8_members", |b| b.iter(|| black_box(StressEnsemble::fit(&samples, 8, 8, 1))));
    g.finish();
}

/// The surrogate networks timed: the default MLP (10 inputs, two hidden layers of 64, tanh) and the
/// adaptive-stepping shape (a GRU of 32 over 8 steps of 6 features, then a hidden layer of 64 and
/// two heads).
fn inference_models() -> Vec<(&'static str, Model)> {
    [("mlp_64x64", "default", 10, 1), ("gru32x8_mlp64", "gru:32@8+mlp:64:tanh", 48, 2)]
        .into_iter()
        .map(|(name, spec, inputs, outputs)| {
            let arch = Architecture::parse(spec, inputs, outputs).expect("spec");
            let network = Network::new(arch, 1).expect("network");
            (name, Model { network, inputs: Standardizer::identity(inputs), outputs: Standardizer::identity(outputs) })
        })
        .collect()
}

fn batched_inference(c: &mut Criterion) {
    let ctx = match GpuContext::new(AdapterChoice::Any) {
        Ok(ctx) => Some(ctx),
        Err(e) => {
            eprintln!("no GPU inference benchmarks: {e}");
            None
        }
    };
    for (name, model) in inference_models() {
        let mut g = c.benchmark_group(format!("batched_inference/{name}"));
        g.sample_size(10);
        let gpu = ctx.as_ref().map(|ctx| GpuModel::new(ctx, &model).expect("GPU model"));
        for rows in [1usize, 100, 10_000] {
            let x =
                Array2::from_shape_fn((rows, model.network.arch.inputs), |(r, k)| ((r * 7 + k * 3) % 11) as f64 * 0.1);
            g.throughput(Throughput::Elements(rows as u64));
            g.bench_with_input(BenchmarkId::new("cpu", rows), &rows, |b, _| {
                b.iter(|| black_box(model.predict(x.view())))
            });
            if let (Some(ctx), Some(gm)) = (&ctx, &gpu) {
                let batch = gm.batch(ctx, rows).expect("batch");
                batch.upload(ctx, x.view());
                g.bench_with_input(BenchmarkId::new("gpu_resident", rows), &rows, |b, _| {
                    b.iter(|| gm.run(ctx, &batch).expect("dispatch"));
                });
                g.bench_with_input(BenchmarkId::new("gpu_round_trip", rows), &rows, |b, _| {
                    b.iter(|| black_box(gm.predict(ctx, x.view()).expect("predict")));
                });
            }
        }
        g.finish();
    }
}

criterion_group!(benches, reduced_step, flow_fit, ensemble_fit, batched_inference);
criterion_main!(benches);
