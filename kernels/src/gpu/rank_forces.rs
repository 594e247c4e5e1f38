//! GPU ranks: the DPD pair forces of one rank's brick on a wgpu device, for a domain-decomposed
//! run ([`crate::domain`]).
//!
//! Why this split. Over MPI the halo and the migrants travel through host memory anyway (the
//! buffers are staged through the host), so the host engine ([`crate::CpuEngine::decomposed`])
//! keeps what is cheap and communicates: integration, bounce-back, migration, the halo exchange
//! and the platelets. The device does what is dear, the pair forces: the sum over every
//! particle's neighbours, where nearly all of a step's arithmetic lies. Each step the
//! host uploads the owned particles and ghosts in the frame of the rank's cell grid
//! (`RankDomain::local_positions`: ghosts from across the periodic boundary sit beside the
//! brick), the device builds the cell list of the region and gathers each owned particle's force
//! with the kernel of `dpd.wgsl`, and the host reads back the owned particles' forces (their
//! virials only when an observable is sampled), then adds the body and near-wall forces and
//! kicks, as on the CPU.
//!
//! Along cut axes the region ends at the halo, which is not periodic. The kernel wraps cell
//! neighbours and takes the minimum image with `Params::box_len`; here `box_len` along cut axes
//! is four times the region's extent, which turns the minimum image off, and cells that the
//! wrap joins across the region's two ends lie at least one cell edge (>= the cut-off) apart
//! when an axis has three cells or more (with fewer, every cell is visited once anyway), so
//! their pairs fail the cut-off. The body force and the walls are left out of the uniform
//! (zero body force, no distance field): the host adds them, in the global frame.
//!
//! The pair noise is keyed by the two tags and the step, so whoever computes a pair draws the
//! same numbers ([`crate::rng`]). A rank's forces agree with the CPU sweep's up to the order of
//! the sums, as the single-GPU engine's do.
//!
//! The halo exchange overlaps the forces of the brick's interior: [`RankForces::begin`] takes the
//! owned particles, those farther than the halo width from every cut face first
//! (`RankDomain::interior`: all their neighbours are owned), builds their cell list and submits
//! the interior's forces without waiting; the host exchanges the halo meanwhile; then
//! [`RankForces::finish`] appends the ghosts, rebuilds the cell list and computes the boundary
//! layer (`dpd.wgsl` starts that dispatch at the particle `sim[3]`). A particle's force is a
//! gather over its cell neighbours in ascending index order, and ghosts beyond the cut-off add
//! nothing, so an interior force is the same bits in either pass.
//!
//! Not built yet (`docs/scaling.md`): keeping the particles on the device between steps, so
//! that only the halo and the migrants cross PCIe.

use super::buffers::{Buffers, Params};
use super::cell_list::CellListKernels;
use super::context::GpuContext;
use super::dpd::Dpd;
use super::kernel::{dispatch, read_back};
use super::scan::{Scan, ScanWorkspace};
use crate::cell_list::CellGrid;
use crate::dpd::pair_coeffs;
use crate::error::{KernelError, Result};
use crate::state::ParticleState;
use crate::system::DpdSystem;

/// Bytes read back per owned particle and step: the force (one vec4). The per-particle virials
/// (two vec4) stay on the device until an observable needs them ([`RankForces::virial`]).
const READ_BYTES: u64 = 16;

/// Device buffers for a number of particles, grown by a quarter when a step needs more.
struct Sized {
    capacity: usize,
    b: Buffers,
    cells: wgpu::BindGroup,
    dpd: wgpu::BindGroup,
    scan: ScanWorkspace,
    staging: wgpu::Buffer,
}

/// A rank's particles as the host holds them: owned ones, then ghosts; positions in the frame
/// of the rank's cell grid.
pub struct Particles<'a> {
    /// Positions.
    pub pos: &'a [[f32; 4]],
    /// Predicted velocities.
    pub vpred: &'a [[f32; 4]],
    /// Types.
    pub type_id: &'a [u32],
    /// Tags (the noise key).
    pub tag: &'a [u32],
}

/// A step between [`RankForces::begin`] and [`RankForces::finish`].
#[derive(Clone, Copy, Debug)]
struct Pending {
    owned: usize,
    interior: usize,
    /// Owned particles and ghosts (the ghosts are known at `finish`).
    total: usize,
    step: u64,
}

/// The pair forces of one rank's particles on a device. Built by
/// [`crate::CpuEngine::with_gpu_forces`]; see the module documentation for the split.
pub struct RankForces {
    ctx: GpuContext,
    cells: CellListKernels,
    scan: Scan,
    dpd: Dpd,
    system: DpdSystem,
    grid: CellGrid,
    /// `box_len` of the uniform: the box along uncut axes, four region extents along cut ones.
    len: [f32; 3],
    sized: Option<Sized>,
    max_dim: u32,
    /// The step begun and not yet finished.
    pending: Option<Pending>,
    /// The last finished step (whose virials the device holds).
    done: Option<Pending>,
    /// The owned particles' host indices in device order (interior first).
    order: Vec<u32>,
    // Upload scratch: positions with type bits in `w`, predicted velocities with tag bits.
    up_pos: Vec<[f32; 4]>,
    up_vel: Vec<[f32; 4]>,
}

impl RankForces {
    /// Compiles the kernels on `ctx` for `system` on the cell grid `grid` of a rank's region of
    /// edges `extent`; `cut` marks the axes the decomposition cuts.
    pub fn new(ctx: GpuContext, system: &DpdSystem, grid: CellGrid, extent: [f32; 3], cut: [bool; 3]) -> Result<Self> {
        let d = &ctx.device;
        let (cells, scan, dpd) = (CellListKernels::new(d), Scan::new(d), Dpd::new(d));
        let max_dim = ctx.limits.max_compute_workgroups_per_dimension;
        let len = std::array::from_fn(|k| if cut[k] { 4.0 * extent[k] } else { system.sim_box.len[k] });
        ctx.sync()?;
        Ok(Self {
            ctx,
            cells,
            scan,
            dpd,
            system: system.clone(),
            grid,
            len,
            sized: None,
            max_dim,
            pending: None,
            done: None,
            order: Vec::new(),
            up_pos: Vec::new(),
            up_vel: Vec::new(),
        })
    }

    /// The device.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// Takes new pair coefficients (a variant changed the thermostat or the conservative force).
    pub fn set_system(&mut self, system: &DpdSystem) {
        self.system = system.clone();
        if let Some(s) = &self.sized {
            self.ctx.queue.write_buffer(&s.b.pairs, 0, bytemuck::cast_slice(&pair_coeffs(system)));
        }
    }

    /// The uniform for `n` particles: the system's, with the region's cells and lengths, and
    /// neither body force nor walls (the host adds those).
    fn params(&self, n: usize) -> Params {
        let mut p = Params::new(&self.system, &self.grid, n as u32);
        for k in 0..3 {
            p.box_len[k] = self.len[k];
            p.inv_len[k] = 1.0 / self.len[k];
        }
        p.body_force = [0.0; 4];
        p.sdf_dims[3] = 0;
        p.wall[3] = 0.0;
        p
    }

    /// Buffers for at least `n` particles.
    fn ensure(&mut self, n: usize) -> Result<()> {
        if self.sized.as_ref().is_some_and(|s| s.capacity >= n) {
            return Ok(());
        }
        let capacity = (n + n / 4).max(64);
        // The buffers' contents are uploaded at every call; the zero state only sizes them.
        let zeros = ParticleState {
            pos: vec![[0.0; 3]; capacity],
            vel: vec![[0.0; 3]; capacity],
            force: vec![[0.0; 3]; capacity],
            type_id: vec![0; capacity],
            tag: vec![0; capacity],
            n_local: capacity,
        };
        let mut plain = self.system.clone();
        plain.walls = None; // the host's: no distance field on the device
        let b = Buffers::for_grid(&self.ctx, &plain, &self.grid, &zeros, 0)?;
        let d = &self.ctx.device;
        let staging = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("rank forces read back"),
            size: READ_BYTES * capacity as u64,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.sized = Some(Sized {
            capacity,
            cells: self.cells.bind(d, &b),
            dpd: self.dpd.bind(d, &b),
            scan: self.scan.workspace(d, &self.ctx.queue, &b.counts, &b.start, b.n_cells + 1),
            staging,
            b,
        });
        Ok(())
    }

    /// Starts a step's pair forces: uploads the owned particles of `parts` (`order`: their
    /// indices, the `interior` ones first), builds their cell list and submits the interior
    /// particles' forces, without waiting. The noise key is `step`.
    pub fn begin(&mut self, parts: &Particles<'_>, order: &[u32], interior: usize, step: u64) -> Result<()> {
        // Room for last step's ghosts too, so that the boundary pass rarely reallocates.
        let room = order.len() + self.done.map_or(0, |p| p.total.saturating_sub(p.owned));
        self.ensure(room)?;
        self.up_pos.clear();
        self.up_vel.clear();
        for &i in order {
            self.pack(parts, i as usize);
        }
        self.order.clear();
        self.order.extend_from_slice(order);
        let owned = order.len();
        self.pending = Some(Pending { owned, interior, total: owned, step });
        let s = self.sized()?;
        let q = &self.ctx.queue;
        q.write_buffer(&s.b.pos, 0, bytemuck::cast_slice(&self.up_pos));
        q.write_buffer(&s.b.vpred, 0, bytemuck::cast_slice(&self.up_vel));
        self.submit_pass(owned, 0, interior, step, None)
    }

    /// Appends particle `i` of `parts` to the upload: type bits in the position's `w`, tag bits
    /// in the velocity's (as `dpd.wgsl` reads them).
    fn pack(&mut self, parts: &Particles<'_>, i: usize) {
        let (x, v) = (parts.pos[i], parts.vpred[i]);
        self.up_pos.push([x[0], x[1], x[2], f32::from_bits(parts.type_id[i])]);
        self.up_vel.push([v[0], v[1], v[2], f32::from_bits(parts.tag[i])]);
    }

    /// Ends the step [`Self::begin`] started: uploads the ghosts (the entries of `parts` after
    /// the owned ones, in their order), builds the cell list of the owned particles and ghosts,
    /// computes the boundary particles' forces and waits. Writes the owned particles' pair forces
    /// to `force` in the host's order (the `order` given to `begin`). Returns the seconds spent
    /// waiting for the device.
    pub fn finish(&mut self, parts: &Particles<'_>, force: &mut Vec<[f32; 4]>) -> Result<f64> {
        let Some(mut p) = self.pending.take() else {
            return Err(KernelError::InconsistentState("GPU rank forces finished without a start".into()));
        };
        p.total = parts.pos.len();
        let (owned, step) = (p.owned, p.step);
        self.up_pos.truncate(owned);
        self.up_vel.truncate(owned);
        for i in owned..p.total {
            self.pack(parts, i);
        }
        // More ghosts than room: new buffers, so the interior's forces are gone; the boundary
        // pass then computes every owned particle.
        let first = if self.sized.as_ref().is_some_and(|s| s.capacity >= p.total) { p.interior } else { 0 };
        self.ensure(p.total)?;
        let from = if first == 0 { 0 } else { owned };
        let s = self.sized()?;
        let q = &self.ctx.queue;
        q.write_buffer(&s.b.pos, 16 * from as u64, bytemuck::cast_slice(&self.up_pos[from..]));
        q.write_buffer(&s.b.vpred, 16 * from as u64, bytemuck::cast_slice(&self.up_vel[from..]));
        self.submit_pass(p.total, first, owned, step, Some(owned))?;
        self.done = Some(p);
        self.read_forces(owned, force)
    }

    /// The pair virial (xx, yy, zz, xy, xz, yz) of the owned particles at the last finished
    /// step, each pair counted half per side as [`crate::dpd`]'s weighted sweep does; read from
    /// the device on demand (waits), summed in device order.
    pub fn virial(&self) -> Result<[f64; 6]> {
        let mut virial = [0.0f64; 6];
        let (Some(p), Some(s)) = (self.done, self.sized.as_ref()) else { return Ok(virial) };
        if p.owned == 0 {
            return Ok(virial);
        }
        let bytes = read_back(&self.ctx.device, &self.ctx.queue, &s.b.virial, 32 * p.owned as u64)?;
        self.ctx.take_errors()?;
        let words: &[[f32; 4]] = bytemuck::cast_slice(&bytes);
        for r in words.chunks_exact(2) {
            let v = [r[0][0], r[0][1], r[0][2], r[0][3], r[1][0], r[1][1]];
            for k in 0..6 {
                virial[k] += f64::from(v[k]);
            }
        }
        Ok(virial)
    }

    fn sized(&self) -> Result<&Sized> {
        self.sized.as_ref().ok_or_else(|| KernelError::Gpu("GPU rank force buffers missing".into()))
    }

    /// One submission: the cell list of the first `n` particles, then the forces of particles
    /// `first..end` (the kernel's offset `sim[3]`), and with `copy`, the copy of that many owned
    /// particles' forces to the read-back buffer.
    fn submit_pass(&self, n: usize, first: usize, end: usize, step: u64, copy: Option<usize>) -> Result<()> {
        let s = self.sized()?;
        let q = &self.ctx.queue;
        q.write_buffer(&s.b.params, 0, bytemuck::bytes_of(&self.params(n)));
        q.write_buffer(&s.b.sim, 0, bytemuck::cast_slice(&[step as u32, (step >> 32) as u32, 0, first as u32]));
        let m = self.max_dim;
        let mut enc =
            self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("rank forces") });
        enc.clear_buffer(&s.b.counts, 0, None);
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("rank forces"),
                timestamp_writes: None,
            });
            dispatch(&mut pass, &self.cells.assign, &s.cells, n as u32, 64, m);
            self.scan.record(&mut pass, &s.scan, m);
            dispatch(&mut pass, &self.cells.scatter, &s.cells, n as u32, 64, m);
            dispatch(&mut pass, &self.cells.sort, &s.cells, s.b.n_cells, 64, m);
            if end > first {
                dispatch(&mut pass, &self.dpd.forces_only, &s.dpd, (end - first) as u32, 64, m);
            }
        }
        if let Some(owned) = copy {
            let owned = owned as u64;
            enc.copy_buffer_to_buffer(&s.b.force, 0, &s.staging, 0, 16 * owned);
        }
        let _index = q.submit([enc.finish()]);
        Ok(())
    }

    /// Waits for the device and reads the owned particles' forces, scattered to the host's
    /// order; returns the seconds waited.
    fn read_forces(&self, owned: usize, force: &mut Vec<[f32; 4]>) -> Result<f64> {
        let s = self.sized()?;
        force.clear();
        force.resize(owned, [0.0; 4]);
        let t0 = std::time::Instant::now();
        if owned == 0 {
            self.ctx.sync()?;
            return Ok(t0.elapsed().as_secs_f64());
        }
        let bytes = READ_BYTES * owned as u64;
        let (tx, rx) = std::sync::mpsc::channel();
        s.staging.map_async(wgpu::MapMode::Read, ..bytes, move |r| {
            // The receiver lives until `recv` below; a send error cannot happen.
            let _ignored = tx.send(r);
        });
        self.ctx.sync()?;
        rx.recv()
            .map_err(|_| KernelError::Gpu("read-back callback dropped".into()))?
            .map_err(|e| KernelError::Gpu(format!("mapping for read-back failed: {e}")))?;
        let waited = t0.elapsed().as_secs_f64();
        {
            let view =
                s.staging.get_mapped_range(..bytes).map_err(|e| KernelError::Gpu(format!("mapped range: {e}")))?;
            let f: &[[f32; 4]] = bytemuck::cast_slice(&view);
            for (&i, f) in self.order.iter().zip(f) {
                force[i as usize] = *f;
            }
        }
        s.staging.unmap();
        Ok(waited)
    }
}
