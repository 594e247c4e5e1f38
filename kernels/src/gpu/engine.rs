//! The GPU engine: records many steps into one submission, keeps the step counter on the device
//! and reads back only samples of the observables (reduced on the device) and, on request, the
//! particle state.
//!
//! With platelets ([`GpuEngine::with_platelets`]) a plasma step is the composition of
//! [`crate::mts`], `K0(h/2) Dp(h/2) B(h) Dp(h/2) K0(h/2)`: the integrate kernel with half-step
//! coefficients, the plasma cell list at the mid-step positions, the platelet levels of
//! [`super::mts`], the drift-only integrate variant, then the cell list and forces as usual. Each
//! plasma step is submitted on its own and the small platelet arrays are read back after it
//! (health check, stress average, Verlet-list decisions); the plasma stays on the device.

use super::buffers::{Buffers, MAX_SAMPLES, REDUCE_GROUPS};
use super::cell_list::CellListKernels;
use super::context::{AdapterChoice, GpuContext};
use super::dpd::Dpd;
use super::integrate::Integrate;
use super::kernel::{dispatch, read_back};
use super::mts::PlateletGpu;
use super::observables::Reduce;
use super::scan::{Scan, ScanWorkspace};
use crate::cell_list::CellGrid;
use crate::dpd::pair_coeffs;
use crate::engine::{BackendKind, Engine, Pass};
use crate::error::{KernelError, Result};
use crate::gpu::buffers::Params;
use crate::observables::{from_sums, Observables, SUM_WORDS};
use crate::platelet_set::{PlateletSet, PlateletState};
use crate::state::ParticleState;
use crate::system::DpdSystem;
use crate::walls::WallCounts;
use crate::Driving;

/// Steps recorded into one command buffer before it is submitted (the host does not wait).
const STEPS_PER_SUBMIT: u32 = 200;

/// Every compiled kernel, built once per device.
pub struct Pipelines {
    integrate: Integrate,
    cells: CellListKernels,
    scan: Scan,
    dpd: Dpd,
    reduce: Reduce,
}

impl Pipelines {
    /// Compiles all kernels.
    pub fn new(device: &wgpu::Device) -> Self {
        Self {
            integrate: Integrate::new(device),
            cells: CellListKernels::new(device),
            scan: Scan::new(device),
            dpd: Dpd::new(device),
            reduce: Reduce::new(device),
        }
    }
}

struct Groups {
    integrate: wgpu::BindGroup,
    cells: wgpu::BindGroup,
    dpd: wgpu::BindGroup,
    reduce: wgpu::BindGroup,
    scan: ScanWorkspace,
}

/// DPD on a wgpu device.
///
/// ```no_run
/// use hemoscale_kernels::gpu::AdapterChoice;
/// use hemoscale_kernels::{init, BackendKind, DpdSystem, Engine, GpuEngine, SimBox};
///
/// let system = DpdSystem::standard(SimBox::cubic(6.0), 1);
/// let state = init::random_fluid(&system, 648);
/// let mut engine = GpuEngine::new(&system, &state, 0, AdapterChoice::Any)?;
/// assert_eq!(engine.backend(), BackendKind::Gpu);
/// engine.compute_forces()?;
/// // 100 steps in one submission; the observables of every 25th are reduced on the device and
/// // read back once, at the end.
/// let samples = engine.run(100, 25)?;
/// assert_eq!(samples.iter().map(|o| o.step).collect::<Vec<_>>(), [25, 50, 75, 100]);
/// assert!(samples.iter().all(|o| o.is_finite() && o.momentum_per_particle() < 1e-4));
/// // Random positions overlap: the energy released heats the fluid at first, and the
/// // thermostat cools it back towards kT = 1.
/// assert!(samples[0].temperature() > samples[3].temperature());
/// # Ok::<(), hemoscale_kernels::KernelError>(())
/// ```
pub struct GpuEngine {
    ctx: GpuContext,
    system: DpdSystem,
    k: Pipelines,
    b: Buffers,
    g: Groups,
    step: u64,
    max_dim: u32,
    /// Counters already read off the device.
    wall_counts: WallCounts,
    /// Platelets and their inner time-step levels ([`crate::mts`]), if any.
    platelets: Option<PlateletGpu>,
}

impl GpuEngine {
    /// Builds an engine at step `step` from `state` on a newly opened device (`choice` says whether
    /// software adapters are acceptable). Forces are taken from `state`.
    pub fn new(system: &DpdSystem, state: &ParticleState, step: u64, choice: AdapterChoice) -> Result<Self> {
        // Refuse a bad system before opening a device.
        system.validate()?;
        Self::with_context(GpuContext::new(choice)?, system, state, step)
    }

    /// As [`GpuEngine::new`] on an already opened device.
    pub fn with_context(ctx: GpuContext, system: &DpdSystem, state: &ParticleState, step: u64) -> Result<Self> {
        system.validate()?;
        state.check(system)?;
        let d = &ctx.device;
        let k = Pipelines::new(d);
        let b = Buffers::new(&ctx, system, state, step)?;
        let g = Groups {
            integrate: k.integrate.bind(d, &b),
            cells: k.cells.bind(d, &b),
            dpd: k.dpd.bind(d, &b),
            reduce: k.reduce.bind(d, &b),
            scan: k.scan.workspace(d, &ctx.queue, &b.counts, &b.start, b.n_cells + 1),
        };
        ctx.sync()?;
        let max_dim = ctx.limits.max_compute_workgroups_per_dimension;
        Ok(Self {
            ctx,
            system: system.clone(),
            k,
            b,
            g,
            step,
            max_dim,
            wall_counts: WallCounts::default(),
            platelets: None,
        })
    }

    /// An engine with platelets in the plasma on an opened device, advanced by multiple time
    /// stepping as [`crate::CpuEngine::with_platelets`] (same checks, same composition and noise;
    /// see [`super::mts`] for what runs where), adhesion included.
    pub fn with_platelets(
        ctx: GpuContext,
        system: &DpdSystem,
        state: &ParticleState,
        step: u64,
        platelets: &PlateletSet,
    ) -> Result<Self> {
        platelets.check_for_engine(system, state)?;
        let mut e = Self::with_context(ctx, system, state, step)?;
        e.platelets = Some(PlateletGpu::new(&e.ctx, system, platelets, &e.b, &e.k.integrate)?);
        e.ctx.sync()?;
        Ok(e)
    }

    /// The platelet levels (None without platelets).
    pub fn platelet_levels(&self) -> Option<&PlateletGpu> {
        self.platelets.as_ref()
    }

    fn encoder(&self, label: &str) -> wgpu::CommandEncoder {
        self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) })
    }

    /// Cell list from `cell_of`/`rank` already counted: scan, scatter, sort, and optionally the
    /// reorder gather (the copy back is recorded by the caller, outside the pass).
    fn record_cell_list_tail(&self, pass: &mut wgpu::ComputePass<'_>, reorder: bool) {
        let (n, nc, m) = (self.b.n, self.b.n_cells, self.max_dim);
        self.k.scan.record(pass, &self.g.scan, m);
        dispatch(pass, &self.k.cells.scatter, &self.g.cells, n, 64, m);
        dispatch(pass, &self.k.cells.sort, &self.g.cells, nc, 64, m);
        if reorder {
            dispatch(pass, &self.k.cells.reorder, &self.g.cells, n, 64, m);
        }
    }

    fn copy_back_reordered(&self, enc: &mut wgpu::CommandEncoder) {
        let n = u64::from(self.b.n);
        enc.copy_buffer_to_buffer(&self.b.pos2, 0, &self.b.pos, 0, 16 * n);
        enc.copy_buffer_to_buffer(&self.b.vel2, 0, &self.b.vel, 0, 16 * n);
        enc.copy_buffer_to_buffer(&self.b.vpred2, 0, &self.b.vpred, 0, 16 * n);
        enc.copy_buffer_to_buffer(&self.b.cell2, 0, &self.b.cell_of, 0, 4 * n);
    }

    fn begin<'e>(enc: &'e mut wgpu::CommandEncoder, label: &str) -> wgpu::ComputePass<'e> {
        enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some(label), timestamp_writes: None })
    }

    /// Records one whole step (the step counter on the device advances with it).
    fn record_step(&self, enc: &mut wgpu::CommandEncoder, new_step: u64, sample: bool) {
        let (n, m) = (self.b.n, self.max_dim);
        let every = u64::from(self.system.reorder_every);
        let reorder = every > 0 && new_step % every == 0;
        enc.clear_buffer(&self.b.counts, 0, None);
        if let Some(p) = &self.platelets {
            // K0(h/2) Dp(h/2), the cell list at the mid-step positions, B(h), Dp(h/2).
            {
                let mut pass = Self::begin(enc, "plasma half step");
                dispatch(&mut pass, &self.k.integrate.first, &p.half_integrate, n, 64, m);
                self.record_cell_list_tail(&mut pass, false);
            }
            p.record_advance(enc);
            enc.clear_buffer(&self.b.counts, 0, None);
            let mut pass = Self::begin(enc, "plasma half drift");
            dispatch(&mut pass, &self.k.integrate.drift, &p.half_integrate, n, 64, m);
            dispatch(&mut pass, &self.k.integrate.advance, &self.g.integrate, 1, 1, m);
        } else {
            let mut pass = Self::begin(enc, "integrate");
            dispatch(&mut pass, &self.k.integrate.first, &self.g.integrate, n, 64, m);
            dispatch(&mut pass, &self.k.integrate.advance, &self.g.integrate, 1, 1, m);
        }
        {
            let mut pass = Self::begin(enc, "cell list");
            self.record_cell_list_tail(&mut pass, reorder);
        }
        if reorder {
            self.copy_back_reordered(enc);
        }
        {
            let mut pass = Self::begin(enc, "dpd forces");
            dispatch(&mut pass, &self.k.dpd.forces_kick, &self.g.dpd, n, 64, m);
        }
        if sample {
            self.record_sample(enc);
        }
    }

    fn record_sample(&self, enc: &mut wgpu::CommandEncoder) {
        let mut pass = Self::begin(enc, "observables");
        let r = &self.k.reduce;
        dispatch(&mut pass, &r.reduce, &self.g.reduce, REDUCE_GROUPS * 128, 128, self.max_dim);
        dispatch(&mut pass, &r.advance_sample, &self.g.reduce, 1, 1, self.max_dim);
    }

    /// Reads the first `steps.len()` sample slots and resets the slot counter.
    fn read_samples(&self, steps: &[u64]) -> Result<Vec<Observables>> {
        let words = steps.len() * REDUCE_GROUPS as usize * SUM_WORDS;
        let raw: Vec<f32> = bytemuck::pod_collect_to_vec(&read_back(
            &self.ctx.device,
            &self.ctx.queue,
            &self.b.partials,
            4 * words as u64,
        )?);
        self.ctx.queue.write_buffer(&self.b.sim, 8, bytemuck::bytes_of(&0u32));
        let volume = self.system.sim_box.volume();
        Ok(steps
            .iter()
            .enumerate()
            .map(|(s, &step)| {
                let mut sums = [0.0f64; SUM_WORDS];
                for g in 0..REDUCE_GROUPS as usize {
                    let rec = &raw[(s * REDUCE_GROUPS as usize + g) * SUM_WORDS..][..SUM_WORDS];
                    for (acc, &x) in sums.iter_mut().zip(rec) {
                        *acc += f64::from(x);
                    }
                }
                from_sums(step, self.b.n_mobile, volume, &sums)
            })
            .collect())
    }

    /// The adapter this engine runs on.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }
}

impl Engine for GpuEngine {
    fn backend(&self) -> BackendKind {
        BackendKind::Gpu
    }
    fn device_name(&self) -> String {
        self.ctx.adapter_name()
    }
    fn system(&self) -> &DpdSystem {
        &self.system
    }
    fn n_particles(&self) -> usize {
        self.b.n as usize
    }
    fn step(&self) -> u64 {
        self.step
    }
    fn compute_forces(&mut self) -> Result<()> {
        let (n, m) = (self.b.n, self.max_dim);
        let mut enc = self.encoder("compute forces");
        enc.copy_buffer_to_buffer(&self.b.vel, 0, &self.b.vpred, 0, 16 * u64::from(n));
        enc.clear_buffer(&self.b.counts, 0, None);
        {
            let mut pass = Self::begin(&mut enc, "cell list");
            dispatch(&mut pass, &self.k.cells.assign, &self.g.cells, n, 64, m);
            self.record_cell_list_tail(&mut pass, false);
        }
        {
            let mut pass = Self::begin(&mut enc, "dpd forces");
            dispatch(&mut pass, &self.k.dpd.forces_only, &self.g.dpd, n, 64, m);
        }
        let _index = self.ctx.queue.submit([enc.finish()]);
        if let Some(p) = self.platelets.as_mut() {
            p.compute_internal_forces(&self.ctx);
        }
        self.ctx.sync()
    }
    fn run(&mut self, steps: u64, sample_every: u64) -> Result<Vec<Observables>> {
        let mut out = Vec::new();
        let mut pending: Vec<u64> = Vec::new();
        let mut enc = self.encoder("steps");
        let mut recorded = 0u32;
        for _ in 0..steps {
            if let Some(p) = self.platelets.as_mut() {
                p.prepare_step(&self.ctx, self.step);
            }
            self.step += 1;
            let sample = sample_every > 0 && self.step % sample_every == 0;
            self.record_step(&mut enc, self.step, sample);
            recorded += 1;
            if sample {
                pending.push(self.step);
            }
            let full = pending.len() == MAX_SAMPLES as usize;
            if self.platelets.is_some() {
                // One submission per plasma step: the platelet state is read back after each.
                let done = std::mem::replace(&mut enc, self.encoder("steps"));
                let _index = self.ctx.queue.submit([done.finish()]);
                recorded = 0;
                let step = self.step - 1;
                if let Some(p) = self.platelets.as_mut() {
                    p.finish_step(&self.ctx, step)?;
                }
            } else if recorded == STEPS_PER_SUBMIT || full {
                let done = std::mem::replace(&mut enc, self.encoder("steps"));
                let _index = self.ctx.queue.submit([done.finish()]);
                recorded = 0;
            }
            if full {
                out.extend(self.read_samples(&pending)?);
                pending.clear();
            }
        }
        let _index = self.ctx.queue.submit([enc.finish()]);
        if !pending.is_empty() {
            out.extend(self.read_samples(&pending)?);
        }
        // Waiting here keeps timings honest and surfaces device errors at the call that caused them.
        self.ctx.sync()?;
        Ok(out)
    }
    fn observables(&mut self) -> Result<Observables> {
        let mut enc = self.encoder("observables");
        self.record_sample(&mut enc);
        let _index = self.ctx.queue.submit([enc.finish()]);
        let mut v = self.read_samples(&[self.step])?;
        self.ctx.take_errors()?;
        Ok(v.remove(0))
    }
    fn wall_counts(&mut self) -> Result<WallCounts> {
        let (d, q) = (&self.ctx.device, &self.ctx.queue);
        // 32-bit device counters, read and cleared at every output step.
        let c: Vec<i32> = bytemuck::pod_collect_to_vec(&read_back(d, q, &self.b.wall_counts, 16)?);
        q.write_buffer(&self.b.wall_counts, 0, bytemuck::cast_slice(&[0i32; 4]));
        self.ctx.take_errors()?;
        self.wall_counts.bounced += u64::from(c[0] as u32);
        self.wall_counts.leaked += u64::from(c[1] as u32);
        self.wall_counts.impulse[0] += i64::from(c[2]);
        self.wall_counts.impulse[1] += i64::from(c[3]);
        Ok(self.wall_counts)
    }
    fn add_wall_counts(&mut self, earlier: WallCounts) {
        self.wall_counts = self.wall_counts.plus(earlier);
    }
    fn state(&mut self) -> Result<ParticleState> {
        let n = u64::from(self.b.n);
        let (d, q) = (&self.ctx.device, &self.ctx.queue);
        let pos: Vec<[f32; 4]> = bytemuck::pod_collect_to_vec(&read_back(d, q, &self.b.pos, 16 * n)?);
        let vel: Vec<[f32; 4]> = bytemuck::pod_collect_to_vec(&read_back(d, q, &self.b.vel, 16 * n)?);
        let force: Vec<[f32; 4]> = bytemuck::pod_collect_to_vec(&read_back(d, q, &self.b.force, 16 * n)?);
        self.ctx.take_errors()?;
        Ok(ParticleState {
            pos: pos.iter().map(|p| [p[0], p[1], p[2]]).collect(),
            vel: vel.iter().map(|v| [v[0], v[1], v[2]]).collect(),
            force: force.iter().map(|f| [f[0], f[1], f[2]]).collect(),
            type_id: pos.iter().map(|p| p[3].to_bits()).collect(),
            tag: vel.iter().map(|v| v[3].to_bits()).collect(),
            n_local: n as usize,
        })
    }
    fn overwrite(&mut self, state: &ParticleState) -> Result<()> {
        self.state()?.check_same_particles(state)?;
        // The w lanes carry the type (positions) and tag (velocities) bits, as uploaded.
        let pack = |v: &[[f32; 3]], w: &dyn Fn(usize) -> f32| -> Vec<[f32; 4]> {
            v.iter().enumerate().map(|(i, a)| [a[0], a[1], a[2], w(i)]).collect()
        };
        let pos = pack(&state.pos, &|i| f32::from_bits(state.type_id[i]));
        let vel = pack(&state.vel, &|i| f32::from_bits(state.tag[i]));
        let force = pack(&state.force, &|_| 0.0);
        let q = &self.ctx.queue;
        q.write_buffer(&self.b.pos, 0, bytemuck::cast_slice(&pos));
        q.write_buffer(&self.b.vel, 0, bytemuck::cast_slice(&vel));
        q.write_buffer(&self.b.force, 0, bytemuck::cast_slice(&force));
        self.ctx.sync()
    }
    fn set_driving(&mut self, driving: Driving) -> Result<()> {
        self.system = driving.applied_to(&self.system)?;
        let params = Params::new(&self.system, &CellGrid::new(&self.system), self.b.n);
        let q = &self.ctx.queue;
        q.write_buffer(&self.b.params, 0, bytemuck::bytes_of(&params));
        q.write_buffer(&self.b.pairs, 0, bytemuck::cast_slice(&pair_coeffs(&self.system)));
        if let Some(p) = self.platelets.as_mut() {
            p.set_driving(&self.ctx, &self.system, self.b.n);
        }
        self.ctx.sync()
    }
    fn platelet_snapshot(&mut self) -> Result<Option<crate::mts::PlateletSnapshot>> {
        self.platelets.as_ref().map(|p| p.snapshot(&self.ctx)).transpose()
    }
    fn restore_platelets(&mut self, snapshot: &crate::mts::PlateletSnapshot) -> Result<()> {
        match self.platelets.as_mut() {
            Some(p) => p.restore(&self.ctx, snapshot),
            None => Err(KernelError::invalid("platelets", 0, "this engine has no platelets to restore")),
        }
    }
    fn platelet_state(&mut self) -> Result<Option<PlateletState>> {
        Ok(self.platelets.as_mut().map(PlateletGpu::state))
    }
    fn activate_platelets(&mut self, activated: &[bool]) -> Result<()> {
        match self.platelets.as_mut() {
            Some(p) => p.activate(activated),
            None => Err(KernelError::invalid("platelets", 0, "this engine has no platelets to activate")),
        }
    }
    fn adhesion_counts(&self) -> Option<crate::adhesion::AdhesionCounts> {
        self.platelets.as_ref().and_then(PlateletGpu::adhesion_counts)
    }
    /// Not measured: the device runs the platelet levels asynchronously between the plasma's
    /// passes, so host clocks cannot split them (NaN, reported as null).
    fn gpu_context(&self) -> Option<GpuContext> {
        Some(self.ctx.clone())
    }
    fn platelet_seconds(&self) -> f64 {
        self.platelets.as_ref().map_or(0.0, PlateletGpu::seconds)
    }
    fn bench_pass(&mut self, pass: Pass, repeats: u32) -> Result<()> {
        let (n, m) = (self.b.n, self.max_dim);
        let mut enc = self.encoder("bench");
        for _ in 0..repeats {
            match pass {
                Pass::CellList => {
                    enc.clear_buffer(&self.b.counts, 0, None);
                    let mut p = Self::begin(&mut enc, "cell list");
                    dispatch(&mut p, &self.k.cells.assign, &self.g.cells, n, 64, m);
                    self.record_cell_list_tail(&mut p, false);
                }
                Pass::Forces => {
                    let mut p = Self::begin(&mut enc, "dpd forces");
                    dispatch(&mut p, &self.k.dpd.forces_only, &self.g.dpd, n, 64, m);
                }
                Pass::Integrate => {
                    enc.clear_buffer(&self.b.counts, 0, None);
                    let mut p = Self::begin(&mut enc, "integrate");
                    dispatch(&mut p, &self.k.integrate.first, &self.g.integrate, n, 64, m);
                }
                Pass::Step if self.platelets.is_some() => {
                    let _samples = self.run(1, 0)?;
                }
                Pass::Step => {
                    self.step += 1;
                    self.record_step(&mut enc, self.step, false);
                }
                // One GPU holds the whole box: there is nothing to exchange.
                Pass::Halo | Pass::Migrate => {}
            }
        }
        let _index = self.ctx.queue.submit([enc.finish()]);
        self.ctx.sync()
    }
}
