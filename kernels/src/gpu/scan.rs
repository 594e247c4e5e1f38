//! Multi-level exclusive prefix sum of u32 (`shaders/scan.wgsl`), with a workspace reusable for
//! any array of a fixed length (wgsparkl's `PrefixSumWorkspace`). Each level scans blocks of 1024
//! values and emits one total per block; the totals are scanned by the next level, and added back
//! on the way down.
//!
//! ```no_run
//! use hemoscale_kernels::gpu::kernel::{read_back, storage, storage_with};
//! use hemoscale_kernels::gpu::scan::Scan;
//! use hemoscale_kernels::gpu::{AdapterChoice, GpuContext};
//!
//! let ctx = GpuContext::new(AdapterChoice::Any)?;
//! let (d, q) = (&ctx.device, &ctx.queue);
//! // 3000 values: three blocks of 1024, so a second level scans the three block totals.
//! let values: Vec<u32> = (0..3000).map(|i| i % 7).collect();
//! let input = storage_with(d, q, "values", bytemuck::cast_slice(&values));
//! let output = storage(d, "exclusive sums", 4 * 3000);
//! let scan = Scan::new(d);
//! let workspace = scan.workspace(d, q, &input, &output, 3000);
//! let mut enc = d.create_command_encoder(&Default::default());
//! let max_dim = ctx.limits.max_compute_workgroups_per_dimension;
//! scan.record(&mut enc.begin_compute_pass(&Default::default()), &workspace, max_dim);
//! let _index = q.submit([enc.finish()]);
//! let got: Vec<u32> = bytemuck::pod_collect_to_vec(&read_back(d, q, &output, 4 * 3000)?);
//! ctx.take_errors()?;
//! let want: Vec<u32> = values.iter().scan(0, |sum, &v| Some(std::mem::replace(sum, *sum + v))).collect();
//! assert_eq!(got, want);
//! # Ok::<(), hemoscale_kernels::KernelError>(())
//! ```

use super::kernel::{bind, dispatch, layout, module, pipeline, storage, uniform, Bind, COMMON_WGSL};

const BLOCK: u32 = 1024;
const SCAN_SLOTS: [(u32, Bind); 4] = [(0, Bind::Uniform), (1, Bind::Read), (2, Bind::ReadWrite), (3, Bind::ReadWrite)];
const ADD_SLOTS: [(u32, Bind); 3] = [(0, Bind::Uniform), (2, Bind::ReadWrite), (4, Bind::Read)];

/// Compiled scan kernels.
pub struct Scan {
    scan_layout: wgpu::BindGroupLayout,
    add_layout: wgpu::BindGroupLayout,
    scan_blocks: wgpu::ComputePipeline,
    add_offsets: wgpu::ComputePipeline,
}

struct Level {
    len: u32,
    scan_group: wgpu::BindGroup,
    add_group: Option<wgpu::BindGroup>,
}

/// Buffers and bind groups to scan one `input` array of a fixed length into `output`.
pub struct ScanWorkspace {
    levels: Vec<Level>,
    /// The levels' own uniform, block-sum and output buffers, owned here for the workspace's life.
    _buffers: Vec<wgpu::Buffer>,
}

impl Scan {
    /// Compiles the kernels.
    pub fn new(device: &wgpu::Device) -> Self {
        let m = module(device, "scan.wgsl", &[COMMON_WGSL, include_str!("../../../shaders/scan.wgsl")]);
        let scan_layout = layout(device, "scan", &SCAN_SLOTS);
        let add_layout = layout(device, "scan add", &ADD_SLOTS);
        Self {
            scan_blocks: pipeline(device, &m, "scan_blocks", &scan_layout, &[]),
            add_offsets: pipeline(device, &m, "add_offsets", &add_layout, &[]),
            scan_layout,
            add_layout,
        }
    }

    /// A workspace scanning the first `len` words of `input` into `output`.
    pub fn workspace(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        input: &wgpu::Buffer,
        output: &wgpu::Buffer,
        len: u32,
    ) -> ScanWorkspace {
        // Level k scans `ins[k]` into `outs[k]` and writes block totals to `sums[k]`, which is the
        // input of level k + 1.
        let mut lens = vec![len];
        while *lens.last().unwrap_or(&1) > BLOCK {
            let l = lens[lens.len() - 1].div_ceil(BLOCK);
            lens.push(l);
        }
        let params: Vec<wgpu::Buffer> =
            lens.iter().map(|&l| uniform(device, queue, "scan params", bytemuck::cast_slice(&[l, 0, 0, 0]))).collect();
        let sums: Vec<wgpu::Buffer> =
            lens.iter().map(|&l| storage(device, "scan sums", 4 * u64::from(l.div_ceil(BLOCK)))).collect();
        let outs: Vec<wgpu::Buffer> =
            lens.iter().skip(1).map(|&l| storage(device, "scan out", 4 * u64::from(l))).collect();
        let mut levels = Vec::new();
        for k in 0..lens.len() {
            let inp = if k == 0 { input } else { &sums[k - 1] };
            let out = if k == 0 { output } else { &outs[k - 1] };
            let scan_group = bind(device, "scan", &self.scan_layout, &SCAN_SLOTS, &[&params[k], inp, out, &sums[k]]);
            let add_group = (k + 1 < lens.len())
                .then(|| bind(device, "scan add", &self.add_layout, &ADD_SLOTS, &[&params[k], out, &outs[k]]));
            levels.push(Level { len: lens[k], scan_group, add_group });
        }
        ScanWorkspace { levels, _buffers: params.into_iter().chain(sums).chain(outs).collect() }
    }

    /// Records the scan of `ws` into `pass`.
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>, ws: &ScanWorkspace, max_per_dim: u32) {
        for level in &ws.levels {
            // One workgroup of 256 threads per block of 1024 values.
            dispatch(pass, &self.scan_blocks, &level.scan_group, level.len.div_ceil(BLOCK) * 256, 256, max_per_dim);
        }
        for level in ws.levels.iter().rev() {
            if let Some(g) = &level.add_group {
                dispatch(pass, &self.add_offsets, g, level.len, 256, max_per_dim);
            }
        }
    }
}
