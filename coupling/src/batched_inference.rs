//! Batched GPU inference of a surrogate [`Model`] (`shaders/batched_inference.wgsl`): the network
//! evaluated for every platelet in one dispatch, with its weights in a storage buffer.
//!
//! Why a kernel of its own: a surrogate that stands in for thousands of platelets must not send
//! their state to the CPU and back at each step. A [`GpuBatch`] owns the input and output buffers
//! of `rows` rows; other kernels may write the inputs and read the outputs on the device, and
//! [`GpuModel::record`] adds the inference to their pass. [`GpuModel::predict`] is the
//! upload-dispatch-read-back round trip for tests, the command line and small batches.
//!
//! The reference is the CPU path, [`Model::predict`] (f64). The kernel computes in f32: outputs
//! agree to about 1e-6 of the outputs' standard deviation for the networks tested
//! (`tests/inference_parity.rs` states the tolerance).
//!
//! One thread per row: each invocation runs the whole network for its row, its activations in
//! private memory, every thread reading the same weight at the same time (a broadcast). No
//! barriers, so a software adapter runs rows side by side in its SIMD lanes. (A first version
//! gave each row a workgroup sharing the units of a layer; on lavapipe its barriers cost about
//! 90 µs per row, 20 times the CPU path, see docs/coupling.md.)
//!
//! Limits, refused with [`InferenceError::TooLarge`] rather than truncated: at most
//! [`MAX_WIDTH`] units (and dense inputs, and GRU features) per layer and [`MAX_LAYERS`] layers
//! (the sizes of the private arrays), weights and batches within the adapter's storage-binding
//! limit, and on a software adapter at most [`SOFTWARE_LOOP_LIMIT`] loop iterations per row.
//!
//! Whether a network fits a software adapter is known on the CPU, before any device is opened:
//!
//! ```
//! use hemoscale_coupling::batched_inference::{loop_iterations, SOFTWARE_LOOP_LIMIT};
//! use hemoscale_surrogates::Architecture;
//!
//! // Per row, the shader loops over the 6 inputs, the 2 outputs and the 2 layers, then over each
//! // layer's units and, per unit, over its bias and its inputs.
//! let small = Architecture::parse("mlp:8:tanh", 6, 2).unwrap();
//! assert_eq!(loop_iterations(&small), (6 + 2 + 2) + 8 * (1 + 6) + 2 * (1 + 8));
//! assert!(loop_iterations(&small) <= SOFTWARE_LOOP_LIMIT);
//! // Two layers of 256 run on hardware adapters only: lavapipe would stop their loops early.
//! let wide = Architecture::parse("mlp:256,256:tanh", 6, 2).unwrap();
//! assert!(loop_iterations(&wide) > SOFTWARE_LOOP_LIMIT);
//! ```

use bytemuck::{Pod, Zeroable};
use hemoscale_kernels::gpu::kernel::{
    bind, dispatch, layout, module, pipeline, read_back, storage, storage_with, uniform, Bind,
};
use hemoscale_kernels::gpu::GpuContext;
use hemoscale_kernels::KernelError;
use hemoscale_surrogates::model::Model;
use hemoscale_surrogates::{Activation, Architecture, Layer};
use ndarray::{Array2, ArrayView2};
use thiserror::Error;

/// The kernel's source.
const WGSL: &str = include_str!("../../shaders/batched_inference.wgsl");
/// Most units (and dense inputs, and GRU features per step) of one layer.
pub const MAX_WIDTH: usize = 256;
/// Most layers of one network.
pub const MAX_LAYERS: usize = 16;
/// Threads (rows) per workgroup.
const WG: u32 = 64;
/// Loop iterations one shader invocation may run on Mesa's llvmpipe (lavapipe), shared by all its
/// loops (`LP_MAX_TGSI_LOOP_ITERATIONS` in gallivm's `lp_bld_limits.h`): past it the loops stop
/// early and the outputs are silently wrong, so software adapters refuse larger networks.
pub const SOFTWARE_LOOP_LIMIT: u64 = 65_535;

const SLOTS: [(u32, Bind); 5] =
    [(0, Bind::Uniform), (1, Bind::Uniform), (2, Bind::Read), (3, Bind::Read), (4, Bind::ReadWrite)];

/// Why a model cannot be evaluated on the device.
#[derive(Debug, Error)]
pub enum InferenceError {
    /// The model or the batch exceeds a limit of the kernel or of the adapter.
    #[error("{what} is {value}, but the GPU inference kernel allows at most {limit}")]
    TooLarge {
        /// What is too large.
        what: String,
        /// Its value.
        value: u64,
        /// The limit.
        limit: u64,
    },
    /// A parameter or standardisation value does not fit an f32.
    #[error("model value {value} at {what} is not a finite f32")]
    NotF32 {
        /// Where.
        what: String,
        /// The value.
        value: f64,
    },
    /// Input of the wrong width.
    #[error("inputs have {got} columns, the model takes {expected}")]
    Width {
        /// Columns given.
        got: usize,
        /// Columns the model takes.
        expected: usize,
    },
    /// A device error.
    #[error(transparent)]
    Gpu(#[from] KernelError),
}

/// Result of this module.
pub type Result<T> = std::result::Result<T, InferenceError>;

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct Info {
    rows: u32,
    inputs: u32,
    outputs: u32,
    layers: u32,
    in_mean: u32,
    in_std: u32,
    out_mean: u32,
    out_std: u32,
}

/// A model's weights and layer table on the device, with the compiled kernel.
///
/// Not run here, as it needs an adapter (lavapipe will do):
///
/// ```no_run
/// use hemoscale_coupling::GpuModel;
/// use hemoscale_kernels::gpu::{AdapterChoice, GpuContext};
/// use hemoscale_surrogates::model::Model;
/// use hemoscale_surrogates::normalize::Standardizer;
/// use hemoscale_surrogates::{Architecture, Network};
/// use ndarray::Array2;
///
/// let network = Network::new(Architecture::parse("mlp:16:tanh", 4, 1)?, 7)?;
/// let model = Model { network, inputs: Standardizer::identity(4), outputs: Standardizer::identity(1) };
/// let x = Array2::from_shape_fn((1000, 4), |(r, c)| (0.01 * r as f64).sin() + c as f64);
/// let ctx = GpuContext::new(AdapterChoice::Any)?;
/// let gpu = GpuModel::new(&ctx, &model)?.predict(&ctx, x.view())?;
/// // The kernel computes in f32, the CPU reference in f64 (`tests/inference_parity.rs`).
/// let cpu = model.predict(x.view());
/// assert!(gpu.iter().zip(&cpu).all(|(g, c)| (g - c).abs() <= 2e-5 * (1.0 + c.abs())));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct GpuModel {
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
    table: wgpu::Buffer,
    weights: wgpu::Buffer,
    info: Info,
    max_binding: u64,
    max_per_dim: u32,
}

/// The input and output buffers of `rows` rows, bound to one model.
pub struct GpuBatch {
    rows: usize,
    inputs: wgpu::Buffer,
    outputs: wgpu::Buffer,
    group: wgpu::BindGroup,
    _info: wgpu::Buffer,
}

fn too_large(what: impl Into<String>, value: usize, limit: u64) -> InferenceError {
    InferenceError::TooLarge { what: what.into(), value: value as u64, limit }
}

fn activation_code(a: Activation) -> u32 {
    match a {
        Activation::Identity => 0,
        Activation::Tanh => 1,
        Activation::Relu => 2,
        Activation::Sigmoid => 3,
        Activation::Softplus => 4,
    }
}

/// Loop iterations of one row in `batched_inference.wgsl`, loop by loop as the shader runs them.
pub fn loop_iterations(arch: &Architecture) -> u64 {
    let mut n = (arch.inputs + arch.outputs + arch.layers.len()) as u64;
    for l in &arch.layers {
        n += match *l {
            Layer::Dense { inputs, units, .. } => units * (1 + inputs),
            Layer::Gru { features, steps, units } => units + steps * (1 + features + units * (2 + features + units)),
        } as u64;
    }
    n
}

/// The flat f32 weights (parameters, then input mean and std, then output mean and std), the
/// layer table and the header of `model`, checked against the kernel's limits.
fn pack(model: &Model) -> Result<(Vec<f32>, Vec<[u32; 4]>, Info)> {
    let arch = &model.network.arch;
    if arch.layers.len() > MAX_LAYERS {
        return Err(too_large("the number of layers", arch.layers.len(), MAX_LAYERS as u64));
    }
    let mut table = vec![[0u32; 4]; 2 * MAX_LAYERS];
    let mut off = 0usize;
    for (i, l) in arch.layers.iter().enumerate() {
        let (word, widths) = match *l {
            Layer::Dense { inputs, units, activation } => {
                ([0, inputs as u32, units as u32, activation_code(activation)], [inputs, units])
            }
            Layer::Gru { features, steps, units } => {
                ([1, features as u32, units as u32, steps as u32], [features, units])
            }
        };
        for w in widths {
            if w > MAX_WIDTH {
                return Err(too_large(format!("the width of layer {i}"), w, MAX_WIDTH as u64));
            }
        }
        table[2 * i] = word;
        table[2 * i + 1] = [off as u32, 0, 0, 0];
        off += l.param_count();
    }
    let values = model
        .network
        .params
        .iter()
        .chain(&model.inputs.mean)
        .chain(&model.inputs.std)
        .chain(&model.outputs.mean)
        .chain(&model.outputs.std);
    let mut weights = Vec::with_capacity(off + 2 * (arch.inputs + arch.outputs));
    for (k, &v) in values.enumerate() {
        let f = v as f32;
        if !f.is_finite() {
            return Err(InferenceError::NotF32 { what: format!("weight index {k}"), value: v });
        }
        weights.push(f);
    }
    if weights.len() > u32::MAX as usize {
        return Err(too_large("the number of weights", weights.len(), u64::from(u32::MAX)));
    }
    let info = Info {
        rows: 0,
        inputs: arch.inputs as u32,
        outputs: arch.outputs as u32,
        layers: arch.layers.len() as u32,
        in_mean: off as u32,
        in_std: (off + arch.inputs) as u32,
        out_mean: (off + 2 * arch.inputs) as u32,
        out_std: (off + 2 * arch.inputs + arch.outputs) as u32,
    };
    Ok((weights, table, info))
}

impl GpuModel {
    /// Uploads `model` and compiles the kernel.
    pub fn new(ctx: &GpuContext, model: &Model) -> Result<Self> {
        let (weights, table, info) = pack(model)?;
        let loops = loop_iterations(&model.network.arch);
        if ctx.info.device_type == wgpu::DeviceType::Cpu && loops > SOFTWARE_LOOP_LIMIT {
            return Err(InferenceError::TooLarge {
                what: format!("the loop iterations per row on the software adapter {}", ctx.info.name),
                value: loops,
                limit: SOFTWARE_LOOP_LIMIT,
            });
        }
        let max_binding = ctx.limits.max_storage_buffer_binding_size;
        if 4 * weights.len() as u64 > max_binding {
            return Err(too_large("the weights' size in bytes", 4 * weights.len(), max_binding));
        }
        let d = &ctx.device;
        let m = module(d, "batched_inference.wgsl", &[WGSL]);
        let lay = layout(d, "batched inference", &SLOTS);
        let pl = pipeline(d, &m, "infer", &lay, &[]);
        let table = uniform(d, &ctx.queue, "inference layer table", bytemuck::cast_slice(&table));
        let weights = storage_with(d, &ctx.queue, "inference weights", bytemuck::cast_slice(&weights));
        ctx.take_errors()?;
        Ok(Self {
            pipeline: pl,
            layout: lay,
            table,
            weights,
            info,
            max_binding,
            max_per_dim: ctx.limits.max_compute_workgroups_per_dimension,
        })
    }

    /// Inputs per row.
    pub fn inputs(&self) -> usize {
        self.info.inputs as usize
    }

    /// Outputs per row.
    pub fn outputs(&self) -> usize {
        self.info.outputs as usize
    }

    /// Device buffers for `rows` rows (f32, row-major: `rows x inputs` in, `rows x outputs` out).
    pub fn batch(&self, ctx: &GpuContext, rows: usize) -> Result<GpuBatch> {
        for (what, width) in [("input", self.inputs()), ("output", self.outputs())] {
            let bytes = 4 * rows as u64 * width as u64;
            if bytes > self.max_binding {
                return Err(too_large(format!("the {what} batch's size in bytes"), bytes as usize, self.max_binding));
            }
        }
        let most = (u64::from(self.max_per_dim).pow(2) * u64::from(WG)).min(u64::from(u32::MAX));
        if rows as u64 > most {
            return Err(too_large("the number of rows", rows, most));
        }
        let d = &ctx.device;
        let inputs = storage(d, "inference inputs", 4 * (rows * self.inputs()) as u64);
        let outputs = storage(d, "inference outputs", 4 * (rows * self.outputs()) as u64);
        let info =
            uniform(d, &ctx.queue, "inference info", bytemuck::bytes_of(&Info { rows: rows as u32, ..self.info }));
        let group =
            bind(d, "batched inference", &self.layout, &SLOTS, &[&info, &self.table, &self.weights, &inputs, &outputs]);
        Ok(GpuBatch { rows, inputs, outputs, group, _info: info })
    }

    /// Records the inference of every row of `batch` into `pass`: one thread per row.
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>, batch: &GpuBatch) {
        if batch.rows > 0 {
            dispatch(pass, &self.pipeline, &batch.group, batch.rows as u32, WG, self.max_per_dim);
        }
    }

    /// Submits the inference of `batch` (inputs already on the device) and waits for it.
    pub fn run(&self, ctx: &GpuContext, batch: &GpuBatch) -> Result<()> {
        let mut enc =
            ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("batched inference") });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("batched inference"),
                timestamp_writes: None,
            });
            self.record(&mut pass, batch);
        }
        let _index = ctx.queue.submit([enc.finish()]);
        Ok(ctx.sync()?)
    }

    /// Physical outputs for a batch of physical inputs: upload, one dispatch, read back. The GPU
    /// counterpart of [`Model::predict`].
    pub fn predict(&self, ctx: &GpuContext, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        if x.ncols() != self.inputs() {
            return Err(InferenceError::Width { got: x.ncols(), expected: self.inputs() });
        }
        let batch = self.batch(ctx, x.nrows())?;
        batch.upload(ctx, x);
        self.run(ctx, &batch)?;
        batch.read(ctx, self.outputs())
    }
}

impl GpuBatch {
    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The input buffer (`rows x inputs` f32), for kernels that write features on the device.
    pub fn input_buffer(&self) -> &wgpu::Buffer {
        &self.inputs
    }

    /// The output buffer (`rows x outputs` f32), for kernels that read predictions on the device.
    pub fn output_buffer(&self) -> &wgpu::Buffer {
        &self.outputs
    }

    /// Writes host inputs (converted to f32) into the input buffer.
    pub fn upload(&self, ctx: &GpuContext, x: ArrayView2<f64>) {
        let flat: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        if !flat.is_empty() {
            ctx.queue.write_buffer(&self.inputs, 0, bytemuck::cast_slice(&flat));
        }
    }

    /// Reads the outputs back (waits for the queue).
    pub fn read(&self, ctx: &GpuContext, outputs: usize) -> Result<Array2<f64>> {
        let n = self.rows * outputs;
        if n == 0 {
            return Ok(Array2::zeros((self.rows, outputs)));
        }
        let bytes = read_back(&ctx.device, &ctx.queue, &self.outputs, 4 * n as u64)?;
        let v: Vec<f32> = bytemuck::pod_collect_to_vec(&bytes[..4 * n]);
        ctx.take_errors()?;
        Ok(Array2::from_shape_vec((self.rows, outputs), v.into_iter().map(f64::from).collect())
            .expect("rows x outputs values"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hemoscale_surrogates::network::{Architecture, Network};
    use hemoscale_surrogates::normalize::Standardizer;

    fn model(spec: &str, inputs: usize, outputs: usize) -> Model {
        let arch = Architecture::parse(spec, inputs, outputs).expect("spec");
        Model {
            network: Network::new(arch, 3).expect("network"),
            inputs: Standardizer::identity(inputs),
            outputs: Standardizer::identity(outputs),
        }
    }

    #[test]
    fn packs_parameters_then_standardisation_with_offsets() {
        let m = model("gru:4@3+mlp:5:relu", 6, 2);
        let (w, table, info) = pack(&m).expect("pack");
        let params = m.network.params.len();
        assert_eq!(w.len(), params + 2 * 6 + 2 * 2);
        assert_eq!(table[0], [1, 2, 4, 3]);
        assert_eq!(table[2], [0, 4, 5, 2]);
        assert_eq!(table[3][0] as usize, hemoscale_surrogates::gru::param_count(2, 4));
        assert_eq!(table[4], [0, 5, 2, 0]);
        assert_eq!((info.in_mean as usize, info.out_std as usize), (params, params + 14));
    }

    #[test]
    fn counts_the_shaders_loop_iterations() {
        // Input loop 10 + output loop 1 + layer loop 3; then 64 x (1 + 10), 64 x (1 + 64), 1 x (1 + 64).
        let a = Architecture::parse("default", 10, 1).expect("spec");
        assert_eq!(loop_iterations(&a), 14 + 704 + 4160 + 65);
        // GRU of 4 over 3 steps of 2: init 4, per step 1 + 2 + 4 x (2 + 2 + 4).
        let g = Architecture::parse("gru:4@3+mlp:2:tanh", 6, 1).expect("spec");
        assert_eq!(loop_iterations(&g), (6 + 1 + 3) + 4 + 3 * (1 + 2 + 32) + 2 * 5 + 3);
    }

    #[test]
    fn refuses_what_the_kernel_cannot_hold() {
        let wide = model("mlp:300:tanh", 4, 1);
        assert!(matches!(pack(&wide), Err(InferenceError::TooLarge { limit: 256, .. })), "width");
        let deep = model("mlp:4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4:tanh", 4, 1);
        let e = pack(&deep).expect_err("17 layers");
        assert!(e.to_string().contains("number of layers is 17"), "{e}");
        let mut huge = model("mlp:4:tanh", 4, 1);
        huge.network.params[0] = 1e300;
        assert!(matches!(pack(&huge), Err(InferenceError::NotF32 { .. })));
    }
}
