//! Small helpers every kernel wrapper uses: WGSL assembly, bind group layouts, pipelines, dispatch
//! sizes and read-back.
//!
//! Dispatch sizes and layout checks need no device:
//!
//! ```
//! use hemoscale_kernels::gpu::kernel::{check_storage_slots, dispatch_dims, Bind};
//!
//! // 100,000 threads in groups of 64 take 1563 workgroups; beyond the per-axis limit they spill
//! // into y (the shaders rebuild the thread index from both).
//! assert_eq!(dispatch_dims(100_000, 64, 65_535), (1563, 1));
//! assert_eq!(dispatch_dims(100_000, 64, 1000), (1000, 2));
//! // A kernel binding two storage buffers does not fit an adapter that allows one per stage.
//! let slots = [(0, Bind::Uniform), (1, Bind::Read), (2, Bind::ReadWrite)];
//! let tight = wgpu::Limits { max_storage_buffers_per_shader_stage: 1, ..wgpu::Limits::default() };
//! assert!(check_storage_slots(&tight, "example", &slots).is_err());
//! assert!(check_storage_slots(&wgpu::Limits::default(), "example", &slots).is_ok());
//! ```

use crate::error::{KernelError, Result};

/// `common.wgsl`: the `Params` struct and helpers shared by all kernels.
pub const COMMON_WGSL: &str = include_str!("../../../shaders/common.wgsl");
/// `rng.wgsl`: Philox4x32-10.
pub const RNG_WGSL: &str = include_str!("../../../shaders/rng.wgsl");
/// The wall distance field, bounce-back and near-wall force (`shaders/walls.wgsl`).
pub const WALLS_WGSL: &str = include_str!("../../../shaders/walls.wgsl");

/// How a binding is used by a kernel.
#[derive(Clone, Copy, Debug)]
pub enum Bind {
    /// Uniform buffer.
    Uniform,
    /// Read-only storage buffer.
    Read,
    /// Read-write storage buffer.
    ReadWrite,
}

/// A bind group layout with the given bindings at indices `slots[k].0`.
pub fn layout(device: &wgpu::Device, label: &str, slots: &[(u32, Bind)]) -> wgpu::BindGroupLayout {
    let entries: Vec<wgpu::BindGroupLayoutEntry> = slots
        .iter()
        .map(|&(binding, kind)| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: match kind {
                    Bind::Uniform => wgpu::BufferBindingType::Uniform,
                    Bind::Read => wgpu::BufferBindingType::Storage { read_only: true },
                    Bind::ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
                },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        })
        .collect();
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some(label), entries: &entries })
}

/// Refuses a bind group layout with more storage buffers than the adapter allows per shader stage,
/// naming the kernel, the count and the adapter's limit. Without this check wgpu fails later with
/// a cascade of validation errors about invalid layouts that names no cause a user can act on
/// (seen with a software OpenGL adapter, which allows 16, when no Vulkan driver is installed).
pub fn check_storage_slots(limits: &wgpu::Limits, label: &str, slots: &[(u32, Bind)]) -> Result<()> {
    let storage = slots.iter().filter(|(_, k)| !matches!(k, Bind::Uniform)).count() as u32;
    if storage > limits.max_storage_buffers_per_shader_stage {
        return Err(KernelError::DeviceLimit(format!(
            "the `{label}` kernels bind {storage} storage buffers, and this adapter allows {} per shader stage (a Vulkan driver such as Mesa's lavapipe, package mesa-vulkan-drivers, allows more)",
            limits.max_storage_buffers_per_shader_stage
        )));
    }
    Ok(())
}

/// A bind group binding `buffers[k]` (whole) at index `slots[k].0`.
pub fn bind(
    device: &wgpu::Device,
    label: &str,
    layout: &wgpu::BindGroupLayout,
    slots: &[(u32, Bind)],
    buffers: &[&wgpu::Buffer],
) -> wgpu::BindGroup {
    let entries: Vec<wgpu::BindGroupEntry> = slots
        .iter()
        .zip(buffers)
        .map(|(&(binding, _), b)| wgpu::BindGroupEntry { binding, resource: b.as_entire_binding() })
        .collect();
    device.create_bind_group(&wgpu::BindGroupDescriptor { label: Some(label), layout, entries: &entries })
}

/// Compiles `sources` (concatenated: WGSL has no imports) into a module.
pub fn module(device: &wgpu::Device, label: &str, sources: &[&str]) -> wgpu::ShaderModule {
    device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(sources.concat().into()),
    })
}

/// A compute pipeline for `entry` of `module` with one bind group layout and pipeline constants.
pub fn pipeline(
    device: &wgpu::Device,
    module: &wgpu::ShaderModule,
    entry: &str,
    layout: &wgpu::BindGroupLayout,
    constants: &[(&str, f64)],
) -> wgpu::ComputePipeline {
    let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(entry),
        bind_group_layouts: &[Some(layout)],
        immediate_size: 0,
    });
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(entry),
        layout: Some(&pl),
        module,
        entry_point: Some(entry),
        compilation_options: wgpu::PipelineCompilationOptions { constants, ..Default::default() },
        cache: None,
    })
}

/// Workgroup counts `(x, y)` covering `threads` threads in groups of `wg`, within the per-axis
/// limit (the shaders rebuild the index with `thread_index`).
pub fn dispatch_dims(threads: u32, wg: u32, max_per_dim: u32) -> (u32, u32) {
    let groups = threads.div_ceil(wg).max(1);
    let x = groups.min(max_per_dim);
    (x, groups.div_ceil(x))
}

/// Records one dispatch of `pipeline` with `group` over `threads` threads.
pub fn dispatch(
    pass: &mut wgpu::ComputePass<'_>,
    pipeline: &wgpu::ComputePipeline,
    group: &wgpu::BindGroup,
    threads: u32,
    wg: u32,
    max_per_dim: u32,
) {
    let (x, y) = dispatch_dims(threads, wg, max_per_dim);
    pass.set_pipeline(pipeline);
    pass.set_bind_group(0, group, &[]);
    pass.dispatch_workgroups(x, y, 1);
}

/// A storage buffer of `bytes` bytes (at least 16) with copy usages.
pub fn storage(device: &wgpu::Device, label: &str, bytes: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(16).next_multiple_of(16),
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

/// A storage buffer (copy usages) holding `data`; at least 16 bytes, so empty inputs still bind.
pub fn storage_with(device: &wgpu::Device, queue: &wgpu::Queue, label: &str, data: &[u8]) -> wgpu::Buffer {
    let b = storage(device, label, data.len() as u64);
    if !data.is_empty() {
        queue.write_buffer(&b, 0, data);
    }
    b
}

/// Reads `count` vec4 values of `src` back to the host (waits for the queue).
pub fn read_vec4(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    src: &wgpu::Buffer,
    count: usize,
) -> Result<Vec<[f32; 4]>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let bytes = read_back(device, queue, src, 16 * count as u64)?;
    Ok(bytemuck::pod_collect_to_vec(&bytes))
}

/// A uniform buffer holding `data`.
pub fn uniform(device: &wgpu::Device, queue: &wgpu::Queue, label: &str, data: &[u8]) -> wgpu::Buffer {
    let b = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: (data.len() as u64).max(16).next_multiple_of(16),
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    queue.write_buffer(&b, 0, data);
    b
}

/// Copies `bytes` bytes of `src` to the host (waits for the queue).
pub fn read_back(device: &wgpu::Device, queue: &wgpu::Queue, src: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>> {
    let bytes = bytes.next_multiple_of(4);
    let staging = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("read back"),
        size: bytes.max(4),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("read back") });
    enc.copy_buffer_to_buffer(src, 0, &staging, 0, bytes);
    let _index = queue.submit([enc.finish()]);
    let (tx, rx) = std::sync::mpsc::channel();
    staging.map_async(wgpu::MapMode::Read, .., move |r| {
        // The receiver lives until `recv` below; a send error cannot happen.
        let _ignored = tx.send(r);
    });
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| KernelError::Gpu(format!("device poll failed: {e}")))?;
    rx.recv()
        .map_err(|_| KernelError::Gpu("read-back callback dropped".into()))?
        .map_err(|e| KernelError::Gpu(format!("mapping for read-back failed: {e}")))?;
    let view = staging.get_mapped_range(..).map_err(|e| KernelError::Gpu(format!("mapped range: {e}")))?;
    let out = view.to_vec();
    drop(view);
    staging.unmap();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layout_over_the_storage_limit_is_refused_with_the_numbers() {
        let slots = [(0, Bind::Uniform), (1, Bind::Read), (2, Bind::ReadWrite), (3, Bind::Read)];
        let mut limits = wgpu::Limits { max_storage_buffers_per_shader_stage: 3, ..wgpu::Limits::default() };
        assert!(check_storage_slots(&limits, "k", &slots).is_ok());
        limits.max_storage_buffers_per_shader_stage = 2;
        let e = check_storage_slots(&limits, "k", &slots).unwrap_err().to_string();
        assert!(e.contains("`k` kernels bind 3 storage buffers") && e.contains("allows 2"), "{e}");
    }
}
