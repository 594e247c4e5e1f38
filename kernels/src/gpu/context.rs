//! Finding and opening a GPU adapter. Limits are taken from the adapter (lavapipe allows 128 MiB per
//! storage binding, an H100 far more); nothing is hard-coded.

use std::sync::{Arc, Mutex};

use crate::error::{KernelError, Result};

/// Which adapters are acceptable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdapterChoice {
    /// Hardware GPUs only (discrete, integrated, virtual). `--backend auto` uses this: a software
    /// rasteriser is slower than the native CPU backend.
    HardwareOnly,
    /// Any adapter, software ones (Mesa's lavapipe) included. `--backend gpu` and the tests use this.
    Any,
}

/// An opened device with its queue and what we know of the adapter. A clone shares the device,
/// its queue and its error sink: an engine rebuilt at the same step (a coupled run changing which
/// platelets run fine) reuses the device instead of opening another.
///
/// ```no_run
/// use hemoscale_kernels::gpu::{AdapterChoice, GpuContext};
///
/// // `Any` accepts software adapters (Mesa's lavapipe) too: what the tests use.
/// let ctx = GpuContext::new(AdapterChoice::Any)?;
/// println!("running on {}", ctx.adapter_name());
/// // Every adapter allows at least 8 storage buffers per shader stage (WebGPU's minimum).
/// assert!(ctx.limits.max_storage_buffers_per_shader_stage >= 8);
/// // Nothing submitted yet, so no device error to report.
/// ctx.sync()?;
/// // A clone opens nothing: it shares the device.
/// assert_eq!(ctx.clone().adapter_name(), ctx.adapter_name());
/// # Ok::<(), hemoscale_kernels::KernelError>(())
/// ```
#[derive(Clone)]
pub struct GpuContext {
    /// The device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// Adapter description (name, backend, device type).
    pub info: wgpu::AdapterInfo,
    /// Limits the device was opened with (the adapter's own).
    pub limits: wgpu::Limits,
    errors: Arc<Mutex<Vec<String>>>,
}

impl GpuContext {
    /// Opens the best adapter: discrete before integrated before virtual before software.
    pub fn new(choice: AdapterChoice) -> Result<Self> {
        Self::nth(choice, 0)
    }

    /// As [`GpuContext::new`], taking the `nth` (modulo their count) of the adapters that are
    /// equally best, in the order the instance lists them: rank r of a node with several GPUs
    /// takes GPU r, one rank per GPU.
    pub fn nth(choice: AdapterChoice, nth: usize) -> Result<Self> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
        let rank = |t: wgpu::DeviceType| match t {
            wgpu::DeviceType::DiscreteGpu => 0,
            wgpu::DeviceType::IntegratedGpu => 1,
            wgpu::DeviceType::VirtualGpu => 2,
            wgpu::DeviceType::Other => 3,
            wgpu::DeviceType::Cpu => 4,
        };
        let mut found: Vec<String> = Vec::new();
        // Vulkan before GL on the same kind of device.
        let key = |x: &wgpu::AdapterInfo| (rank(x.device_type), x.backend != wgpu::Backend::Vulkan);
        let mut best: Vec<wgpu::Adapter> = Vec::new();
        for a in adapters {
            let info = a.get_info();
            found.push(format!("{} ({:?}, {:?})", info.name, info.backend, info.device_type));
            let software = info.device_type == wgpu::DeviceType::Cpu;
            if software && choice == AdapterChoice::HardwareOnly {
                continue;
            }
            match best.first().map(|b| key(&info).cmp(&key(&b.get_info()))) {
                None | Some(std::cmp::Ordering::Less) => best = vec![a],
                Some(std::cmp::Ordering::Equal) => best.push(a),
                Some(std::cmp::Ordering::Greater) => {}
            }
        }
        let count = best.len().max(1);
        let adapter = best.into_iter().nth(nth % count).ok_or_else(|| {
            KernelError::NoAdapter(if found.is_empty() {
                "no adapter at all (install a Vulkan driver, e.g. mesa-vulkan-drivers)".into()
            } else {
                format!("only software adapters: {}", found.join(", "))
            })
        })?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("hemoscale"),
            // Timestamps where the adapter has them: the platelet levels time themselves on the
            // device with them (`gpu::mts`); nothing else depends on them.
            required_features: adapter.features() & wgpu::Features::TIMESTAMP_QUERY,
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| KernelError::Gpu(format!("cannot open {}: {e}", info.name)))?;
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = errors.clone();
        let name = info.name.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let what = match &e {
                wgpu::Error::OutOfMemory { .. } => {
                    format!("{name} ran out of device memory ({e}): run fewer particles, or on a GPU with more memory")
                }
                _ => e.to_string(),
            };
            if let Ok(mut v) = sink.lock() {
                v.push(what);
            }
        }));
        let (lost, name) = (errors.clone(), info.name.clone());
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut v) = lost.lock() {
                v.push(format!("the GPU device was lost ({name}, {reason:?}): {message}"));
            }
        });
        Ok(Self { device, queue, info, limits, errors })
    }

    /// "name (backend)" for logs and summaries.
    pub fn adapter_name(&self) -> String {
        format!("{} ({:?}, {:?})", self.info.name, self.info.backend, self.info.device_type)
    }

    /// Waits for all submitted work and turns any device error reported meanwhile into an error.
    pub fn sync(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| KernelError::Gpu(format!("device poll failed: {e}")))?;
        self.take_errors()
    }

    /// Returns the first device error reported since the last call, if any.
    pub fn take_errors(&self) -> Result<()> {
        let mut v = self.errors.lock().map_err(|_| KernelError::Gpu("error sink poisoned".into()))?;
        if v.is_empty() {
            Ok(())
        } else {
            let all = v.join("; ");
            v.clear();
            Err(KernelError::Gpu(all))
        }
    }
}
