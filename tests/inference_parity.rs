//! The batched GPU inference kernel (`shaders/batched_inference.wgsl`) against the CPU reference
//! `Model::predict` (f64), on lavapipe in CI.
//!
//! Tolerance: the kernel computes in f32, so each output may differ from the f64 reference by
//! `TOL` times the output's standard deviation (the model's own output scale) plus `TOL` times
//! its magnitude. 2e-5 is about 150 f32 ulps: far above the rounding of these networks' sums
//! (worst measured 5.9e-7, see docs/coupling.md) and far below real errors: swapping the GRU's
//! update gate fails by 444 to 1,341 times the tolerance, and a network past lavapipe's loop
//! limit by 50,000 times.

mod common;

use hemoscale_coupling::batched_inference::{loop_iterations, GpuModel, InferenceError, SOFTWARE_LOOP_LIMIT};
use hemoscale_kernels::gpu::GpuContext;
use hemoscale_surrogates::model::Model;
use hemoscale_surrogates::network::{Architecture, Network};
use hemoscale_surrogates::normalize::Standardizer;
use ndarray::{Array2, Axis};

const TOL: f64 = 2e-5;

/// Inputs spread over a physical range (means and scales unlike 0 and 1, so the standardisation
/// matters), from a fixed LCG.
fn inputs(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    Array2::from_shape_fn((rows, cols), |(_, c)| {
        s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let u = (s >> 11) as f64 / (1u64 << 53) as f64;
        3.0 * c as f64 - 5.0 + (1.0 + c as f64) * (2.0 * u - 1.0)
    })
}

/// A model of `spec` with random weights and the standardisation of its inputs and of its own
/// raw outputs on those inputs, scaled as a trained model's would be.
fn model(spec: &str, cols: usize, outputs: usize, seed: u64) -> Model {
    let arch = Architecture::parse(spec, cols, outputs).expect("spec");
    let network = Network::new(arch, seed).expect("network");
    let x = inputs(512, cols, seed + 100);
    let inputs_std = Standardizer::fit(x.view());
    let raw = network.forward(inputs_std.apply(x.view()).view());
    let mut outputs_std = Standardizer::fit(raw.view());
    for (k, (m, s)) in outputs_std.mean.iter_mut().zip(outputs_std.std.iter_mut()).enumerate() {
        *m = 40.0 * k as f64 - 7.0;
        *s *= 25.0;
    }
    Model { network, inputs: inputs_std, outputs: outputs_std }
}

/// The largest deviation of `gpu` from `cpu` in units of the tolerance (pass: <= 1).
fn worst(m: &Model, cpu: &Array2<f64>, gpu: &Array2<f64>) -> f64 {
    assert_eq!(cpu.dim(), gpu.dim());
    let mut w: f64 = 0.0;
    for (k, (c, g)) in cpu.axis_iter(Axis(1)).zip(gpu.axis_iter(Axis(1))).enumerate() {
        for (a, b) in c.iter().zip(g.iter()) {
            assert!(b.is_finite(), "GPU output {b} not finite");
            w = w.max((a - b).abs() / (TOL * (m.outputs.std[k] + a.abs())));
        }
    }
    w
}

fn check(ctx: &GpuContext, m: &Model, rows: usize, seed: u64) {
    let x = inputs(rows, m.network.arch.inputs, seed);
    let cpu = m.predict(x.view());
    let gpu = GpuModel::new(ctx, m).expect("upload").predict(ctx, x.view()).expect("GPU inference");
    let w = worst(m, &cpu, &gpu);
    assert!(w <= 1.0, "{}: {rows} rows deviate {w:.2} x the tolerance", m.network.arch.spec);
    eprintln!("{}, {rows} rows: worst {:.2e} of (output std + |output|)", m.network.arch.spec, w * TOL);
}

#[test]
fn default_mlp_matches_the_cpu_at_1_100_and_10000_rows() {
    let Some(ctx) = common::gpu_context() else {
        return;
    };
    let m = model("default", 10, 1, 1);
    for rows in [1, 100, 10_000] {
        check(&ctx, &m, rows, rows as u64);
    }
}

#[test]
fn gru_encoder_with_heads_matches_the_cpu() {
    let Some(ctx) = common::gpu_context() else {
        return;
    };
    // The adaptive-stepping shape: a GRU over a window of 8 steps of 6 features, then two heads.
    let m = model("gru:32@8+mlp:64:tanh", 48, 2, 2);
    for rows in [1, 100, 2000] {
        check(&ctx, &m, rows, 7 + rows as u64);
    }
}

#[test]
fn every_activation_and_the_kernel_limits_match_the_cpu() {
    let Some(ctx) = common::gpu_context() else {
        return;
    };
    for act in ["identity", "tanh", "relu", "sigmoid", "softplus"] {
        check(&ctx, &model(&format!("mlp:17,9:{act}"), 5, 3, 3), 300, 11);
    }
    // The widest layer (256 units), the deepest network (16 layers) and a GRU wider than the
    // 64 threads of a workgroup.
    check(&ctx, &model("mlp:256:tanh", 8, 4, 4), 50, 12);
    check(&ctx, &model("mlp:8,8,8,8,8,8,8,8,8,8,8,8,8,8,8:relu", 3, 1, 5), 50, 13);
    check(&ctx, &model("gru:128@2+mlp:8:tanh", 6, 1, 6), 20, 14);
}

/// Mesa's llvmpipe stops a shader's loops after 65,535 iterations in all (its loop limiter), which
/// would truncate the sums of a large network without an error. The kernel counts its loops: a
/// network just under the limit computes correctly there, one just over it is refused on a
/// software adapter (and computed on any other).
#[test]
fn networks_near_the_software_loop_limit() {
    let Some(ctx) = common::gpu_context() else {
        return;
    };
    let under = model("mlp:175,175:tanh", 175, 4, 4);
    let over = model("mlp:181,181:tanh", 181, 4, 4);
    assert!(loop_iterations(&under.network.arch) <= SOFTWARE_LOOP_LIMIT);
    assert!(loop_iterations(&over.network.arch) > SOFTWARE_LOOP_LIMIT);
    check(&ctx, &under, 40, 17);
    if ctx.info.device_type == wgpu::DeviceType::Cpu {
        let e = GpuModel::new(&ctx, &over).err().expect("refused on a software adapter");
        assert!(e.to_string().contains("loop iterations per row"), "{e}");
    } else {
        check(&ctx, &over, 40, 18);
    }
}

/// More rows than workgroups per dimension (65,535 on most adapters): the dispatch spills into
/// its second dimension and every row is still computed once.
#[test]
fn rows_beyond_one_dispatch_dimension_are_all_computed() {
    let Some(ctx) = common::gpu_context() else {
        return;
    };
    let rows = ctx.limits.max_compute_workgroups_per_dimension as usize + 4465;
    check(&ctx, &model("mlp:4:tanh", 2, 1, 7), rows, 15);
}

/// The surrogate path stays on the device: the outputs of one model are copied into the inputs of
/// another by the GPU, both dispatches in one submission, and only the end is read back.
#[test]
fn chained_models_stay_on_the_device() {
    let Some(ctx) = common::gpu_context() else {
        return;
    };
    let (a, b) = (model("mlp:16:tanh", 4, 3, 8), model("mlp:16:softplus", 3, 2, 9));
    let x = inputs(700, 4, 16);
    let cpu = b.predict(a.predict(x.view()).view());
    let (ga, gb) = (GpuModel::new(&ctx, &a).expect("a"), GpuModel::new(&ctx, &b).expect("b"));
    let (ba, bb) = (ga.batch(&ctx, 700).expect("batch a"), gb.batch(&ctx, 700).expect("batch b"));
    ba.upload(&ctx, x.view());
    let mut enc = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("chain") });
    {
        let mut pass =
            enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("a"), timestamp_writes: None });
        ga.record(&mut pass, &ba);
    }
    enc.copy_buffer_to_buffer(ba.output_buffer(), 0, bb.input_buffer(), 0, 700 * 3 * 4);
    {
        let mut pass =
            enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("b"), timestamp_writes: None });
        gb.record(&mut pass, &bb);
    }
    let _index = ctx.queue.submit([enc.finish()]);
    let gpu = bb.read(&ctx, 2).expect("read back");
    // Two networks in f32: twice the budget of one.
    let w = worst(&b, &cpu, &gpu);
    assert!(w <= 2.0, "chained models deviate {w:.2} x the tolerance");
}

#[test]
fn wrong_input_width_is_refused() {
    let Some(ctx) = common::gpu_context() else {
        return;
    };
    let g = GpuModel::new(&ctx, &model("mlp:4:tanh", 3, 1, 10)).expect("upload");
    let e = g.predict(&ctx, inputs(5, 4, 1).view()).expect_err("4 columns for 3 inputs");
    assert!(matches!(e, InferenceError::Width { got: 4, expected: 3 }), "{e}");
}
