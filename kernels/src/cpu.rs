//! The native CPU backend: the reference the GPU is tested against, and the engine for machines
//! without a GPU. f32 throughout (as the GPU), rayon for threads. Results do not depend on the
//! number of threads: the work is cut into pieces that depend on the grid only, and every sum over
//! pieces is taken in a fixed order (what bit-for-bit restarts on another machine need).

use glam::Vec3A;
use rayon::prelude::*;

use crate::cell_list::{CellGrid, CellList};
use crate::domain::{Columns, Decomposition, DomainComm, HaloTraffic, RankDomain};
use crate::dpd::{pair_coeffs, sweep, PairCoeffs, SweepInput};
use crate::engine::{BackendKind, Engine, Pass};
use crate::error::{KernelError, Result};
use crate::gpu::rank_forces::Particles;
use crate::integrate::{first_half, second_half, wrap, StepCoeffs};
use crate::mts::{PlasmaView, PlateletCpu};
use crate::observables::Observables;
use crate::platelet_set::{PlateletSet, PlateletState};
use crate::rng::seed_key;
use crate::state::ParticleState;
use crate::system::DpdSystem;
use crate::walls::{Bounce, WallCounts};
use crate::Driving;

/// Raw pointer that may cross threads; users prove disjointness of accesses.
struct SyncPtr<T>(*mut T);
// SAFETY: only used for writes to disjoint index sets, as documented at each use.
unsafe impl<T> Send for SyncPtr<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for SyncPtr<T> {}
impl<T> Clone for SyncPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for SyncPtr<T> {}
impl<T> SyncPtr<T> {
    /// Method access, so closures capture the whole (Sync) wrapper rather than the raw field.
    fn get(self) -> *mut T {
        self.0
    }
}

/// Words (u32) of one particle in a gathered state: position, velocity, force, type, tag.
const STATE_WORDS: usize = 11;

/// DPD on the CPU.
///
/// A run gives the same bits on any number of threads: the noise is keyed by tags and step, and
/// every sum is taken over pieces fixed by the cell grid, in a fixed order.
///
/// ```
/// use hemoscale_kernels::{init, CpuEngine, DpdSystem, Engine, ParticleState, SimBox};
///
/// let system = DpdSystem::standard(SimBox::cubic(4.0), 9);
/// let state = init::random_fluid(&system, 192);
/// let run = || -> hemoscale_kernels::Result<ParticleState> {
///     let mut engine = CpuEngine::new(&system, &state, 0)?;
///     engine.compute_forces()?;
///     engine.run(10, 0)?;
///     Ok(engine.state()?.sorted_by_tag())
/// };
/// let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("thread pool");
/// assert_eq!(one_thread.install(run)?, run()?);
/// # Ok::<(), hemoscale_kernels::KernelError>(())
/// ```
pub struct CpuEngine {
    system: DpdSystem,
    grid: CellGrid,
    coeffs: Vec<PairCoeffs>,
    stencil: (Vec<u32>, Vec<[u32; 2]>),
    /// Slab boundaries in z layers for the parallel sweep (empty: sequential sweep).
    slabs: Vec<u32>,
    step: u64,
    /// Per type: 1/m, 0 for frozen types (kicks leave them alone).
    inv_mass: Vec<f32>,
    /// Per type: m, 0 for frozen types (they take no part in momentum and temperature).
    mass: Vec<f32>,
    /// Per type: false for frozen types.
    mobile: Vec<bool>,
    n_mobile: usize,
    wall_counts: WallCounts,
    coeff: StepCoeffs,
    // Particle arrays in memory order; `w` unused except where noted.
    pos: Vec<[f32; 4]>,
    vel: Vec<[f32; 4]>,
    vpred: Vec<[f32; 4]>,
    force: Vec<[f32; 4]>,
    type_id: Vec<u32>,
    tag: Vec<u32>,
    cells: CellList,
    // Scratch in cell order: positions, predicted velocities, types, tags, forces.
    sorted_x: Vec<f32>,
    sorted_y: Vec<f32>,
    sorted_z: Vec<f32>,
    sorted_vel: Vec<Vec3A>,
    sorted_type: Vec<u32>,
    sorted_tag: Vec<u32>,
    sorted_force: Vec<Vec3A>,
    /// Sorted virial weights (decomposed runs only: 1/2 owned, 0 ghost; see [`SweepInput::weight`]).
    sorted_weight: Vec<f32>,
    virial: [f64; 6],
    /// Platelets and their inner time-step levels ([`crate::mts`]), if any.
    platelets: Option<PlateletCpu>,
    /// Wall-clock seconds spent in the platelet levels (`B(h)` of [`crate::mts`]).
    platelet_seconds: f64,
    /// Platelet-steps this rank advanced (decomposed runs divide the platelets among ranks).
    platelet_steps: u64,
    /// This rank's brick of a domain-decomposed run (None: the whole box). With it the arrays
    /// hold the owned particles first and the ghosts of the halo after them.
    domain: Option<Box<RankDomain>>,
    /// Positions in the frame of the rank's cell grid (decomposed runs only).
    local_pos: Vec<[f32; 4]>,
    /// The plasma gathered around the platelets of a decomposed run, kept between steps.
    gathered: Gathered,
    /// GPU ranks: the pair forces on a device ([`Self::with_gpu_forces`]).
    gpu: Option<Box<crate::gpu::rank_forces::RankForces>>,
    /// The owned particles' pair forces as the device returned them.
    device_force: Vec<[f32; 4]>,
    /// The owned particles in the order the device takes them (interior first).
    device_order: Vec<u32>,
    /// Whether each owned particle lies in the interior (`RankDomain::interior`).
    interior_flags: Vec<bool>,
    /// The last forces' virial is still on the device: [`Self::sums`] reads it when it needs it.
    virial_on_device: bool,
    /// Where this rank's steps spent their time (decomposed runs; [`Engine::domain_report`]).
    seconds: crate::domain::StepSeconds,
}

/// A stopwatch handing out the seconds since its previous lap (the step timings).
struct Clock(std::time::Instant);

impl Clock {
    fn start() -> Self {
        Self(std::time::Instant::now())
    }

    fn lap(&mut self) -> f64 {
        let now = std::time::Instant::now();
        let t = now.duration_since(self.0).as_secs_f64();
        self.0 = now;
        t
    }
}

/// Whether `p` lies within `r` of `c` (minimum image in the box `len`).
fn within(p: &[f32; 4], c: &[f32; 3], r: f32, len: [f32; 3]) -> bool {
    let d = glam::Vec3::new(p[0] - c[0], p[1] - c[1], p[2] - c[2]);
    crate::nonbonded::min_image_any(d, glam::Vec3::from(len)).length_squared() < r * r
}

/// What [`CpuEngine::advance_platelets_gathered`] works on each step, kept so a step allocates
/// only the received messages.
#[derive(Default)]
struct Gathered {
    /// Each platelet's reach: centre and radius.
    reach: Vec<([f32; 3], f32)>,
    /// This rank's plasma within reach, and its records.
    mine: Vec<usize>,
    words: Vec<u32>,
    // The gathered plasma of all ranks, in rank order.
    pos: Vec<[f32; 4]>,
    vel: Vec<[f32; 4]>,
    tag: Vec<u32>,
    type_id: Vec<u32>,
    /// The platelet particles' positions before the step (the displacement check).
    before: Vec<[f32; 4]>,
    /// The platelets this rank advances this step.
    active: Vec<bool>,
    /// The gathered plasma's velocities before `B(h)`.
    vel_before: Vec<[f32; 4]>,
}

/// The rest of an owned particle's force after the pair sum: the body force (reversed above
/// `flip_z`) and the near-wall force for mobile particles, then the second half-kick when `kick`.
/// One definition for the CPU sweep and the device's pair forces alike.
struct ForceTail<'a> {
    body_force: [f32; 3],
    coeff: StepCoeffs,
    inv_mass: &'a [f32],
    mobile: &'a [bool],
    wall_force: Option<&'a crate::walls::Walls>,
    flip_z: f32,
    kick: bool,
}

impl<'a> ForceTail<'a> {
    fn new(system: &'a DpdSystem, coeff: StepCoeffs, inv_mass: &'a [f32], mobile: &'a [bool], kick: bool) -> Self {
        Self {
            body_force: system.body_force,
            coeff,
            inv_mass,
            mobile,
            wall_force: system.walls.as_ref().filter(|w| w.force.amplitude != 0.0),
            flip_z: if system.body_force_reversed { 0.5 * system.sim_box.len[2] } else { f32::INFINITY },
            kick,
        }
    }

    #[inline]
    fn finish(&self, pos: &[f32; 4], t: u32, pair: [f32; 3], f: &mut [f32; 4], v: &mut [f32; 4]) {
        let t = t as usize;
        *f = [pair[0], pair[1], pair[2], 0.0];
        if self.mobile[t] {
            let fw = self.wall_force.map_or([0.0; 3], |w| w.near_wall_force([pos[0], pos[1], pos[2]]));
            let sign = if pos[2] >= self.flip_z { -1.0 } else { 1.0 };
            for k in 0..3 {
                f[k] += sign * self.body_force[k] + fw[k];
            }
        }
        if self.kick {
            second_half(v, f, self.inv_mass[t], &self.coeff);
        }
    }
}

impl CpuEngine {
    /// Builds an engine at step `step` from `state`, whose forces are taken as they are (call
    /// [`Engine::compute_forces`] for fresh initial conditions).
    pub fn new(system: &DpdSystem, state: &ParticleState, step: u64) -> Result<Self> {
        system.validate()?;
        state.check(system)?;
        Ok(Self::assemble(system, state, step))
    }

    /// One rank of a domain-decomposed run ([`crate::domain`]): every rank passes the whole
    /// `state` and keeps the particles its brick owns.
    ///
    /// Through [`Engine`] the engine is the whole system on every rank: the construction and
    /// every call that steps, observes, reads or writes particles is collective (every rank must
    /// make the same calls in the same order), [`Engine::state`] gathers all particles in rank
    /// order, and [`Engine::overwrite`] takes such a state. With platelets, see
    /// [`Self::decomposed_with_platelets`].
    pub fn decomposed(
        system: &DpdSystem,
        state: &ParticleState,
        step: u64,
        decomposition: Decomposition,
        comm: Box<dyn DomainComm>,
    ) -> Result<Self> {
        system.validate()?;
        state.check(system)?;
        if decomposition.box_len != system.sim_box.len {
            return Err(KernelError::InconsistentState(format!(
                "the decomposition is for a box of {:?}, the system's is {:?}",
                decomposition.box_len, system.sim_box.len
            )));
        }
        let rc = system.pairs.max_rc();
        if decomposition.halo < rc {
            return Err(KernelError::invalid(
                "halo",
                decomposition.halo,
                format!("must be >= the largest cut-off {rc}"),
            ));
        }
        let mut domain = RankDomain::new(decomposition, comm)?;
        let mine: Vec<usize> =
            (0..state.len()).filter(|&i| domain.decomposition.owner(state.pos[i]) == domain.rank).collect();
        let local = ParticleState { n_local: mine.len(), ..state.permuted(&mine) };
        let mut e = Self::assemble(system, &local, step);
        e.grid = domain.cell_grid(rc);
        e.stencil = e.grid.half_stencil_runs();
        e.slabs = Self::slab_bounds(&e.grid);
        let mut counts = [e.n_mobile as f64, mine.len() as f64];
        domain.sum(&mut counts)?;
        e.n_mobile = counts[0] as usize;
        domain.n_total = counts[1] as usize;
        domain.n_local = mine.len();
        e.domain = Some(Box::new(domain));
        Ok(e)
    }

    /// GPU ranks: this rank's pair forces run on `ctx` ([`crate::gpu::rank_forces`]), while
    /// integration, migration, the halo exchange and the platelets stay on the host. For a
    /// decomposed engine only: one GPU holding the whole box runs [`crate::GpuEngine`], which
    /// keeps every particle on the device.
    pub fn with_gpu_forces(mut self, ctx: crate::gpu::GpuContext) -> Result<Self> {
        let Some(d) = self.domain.as_ref() else {
            return Err(KernelError::invalid(
                "backend",
                "gpu",
                "GPU pair forces serve a rank of a decomposed run; one GPU runs the GPU engine",
            ));
        };
        let (_, extent) = d.decomposition.region(d.rank);
        let cut = std::array::from_fn(|k| d.decomposition.is_cut(k));
        let forces = crate::gpu::rank_forces::RankForces::new(ctx, &self.system, self.grid, extent, cut)?;
        self.gpu = Some(Box::new(forces));
        Ok(self)
    }

    /// The engine's arrays for `state`, unchecked.
    fn assemble(system: &DpdSystem, state: &ParticleState, step: u64) -> Self {
        let grid = CellGrid::new(system);
        let slabs = Self::slab_bounds(&grid);
        let l = system.sim_box.len;
        let four = |v: &[[f32; 3]]| v.iter().map(|a| [a[0], a[1], a[2], 0.0]).collect::<Vec<_>>();
        let n = state.len();
        Self {
            grid,
            coeffs: pair_coeffs(system),
            stencil: grid.half_stencil_runs(),
            slabs,
            step,
            inv_mass: system.types.iter().map(|t| if t.frozen { 0.0 } else { 1.0 / t.mass }).collect(),
            mass: system.types.iter().map(|t| if t.frozen { 0.0 } else { t.mass }).collect(),
            mobile: system.types.iter().map(|t| !t.frozen).collect(),
            n_mobile: crate::walls::mobile_count(system, state),
            wall_counts: WallCounts::default(),
            coeff: StepCoeffs {
                dt: system.dt,
                half_dt: 0.5 * system.dt,
                lambda_shift: (system.lambda - 0.5) * system.dt,
                len: l,
                inv_len: l.map(|x| 1.0 / x),
            },
            pos: four(&state.pos),
            vel: four(&state.vel),
            vpred: four(&state.vel),
            force: four(&state.force),
            type_id: state.type_id.clone(),
            tag: state.tag.clone(),
            cells: CellList::default(),
            sorted_x: vec![0.0; n],
            sorted_y: vec![0.0; n],
            sorted_z: vec![0.0; n],
            sorted_vel: vec![Vec3A::ZERO; n],
            sorted_type: vec![0; n],
            sorted_tag: vec![0; n],
            sorted_force: vec![Vec3A::ZERO; n],
            sorted_weight: Vec::new(),
            virial: [0.0; 6],
            platelets: None,
            platelet_seconds: 0.0,
            platelet_steps: 0,
            domain: None,
            local_pos: Vec::new(),
            gathered: Gathered::default(),
            gpu: None,
            device_force: Vec::new(),
            device_order: Vec::new(),
            interior_flags: Vec::new(),
            virial_on_device: false,
            seconds: crate::domain::StepSeconds::default(),
            system: system.clone(),
        }
    }

    /// Owned particles: all of them, or this rank's in a decomposed run (ghosts follow them in
    /// the arrays).
    fn n_local(&self) -> usize {
        self.domain.as_ref().map_or(self.pos.len(), |d| d.n_local)
    }

    /// The particle columns, for the domain's migration and halo exchange.
    fn columns(&mut self) -> Columns<'_> {
        Columns {
            pos: &mut self.pos,
            vel: &mut self.vel,
            vpred: &mut self.vpred,
            force: &mut self.force,
            type_id: &mut self.type_id,
            tag: &mut self.tag,
        }
    }

    /// Drops the ghosts of the last step (decomposed runs; nothing otherwise).
    fn drop_ghosts(&mut self) {
        let n = self.n_local();
        self.columns().truncate(n);
    }

    /// Receives this step's ghosts (decomposed runs; nothing otherwise).
    fn exchange_halo(&mut self) -> Result<()> {
        if let Some(mut d) = self.domain.take() {
            let r = d.exchange_halo(&mut self.columns());
            self.domain = Some(d);
            r?;
        }
        Ok(())
    }

    /// Sends owned particles that left the brick to their new owners (decomposed runs; nothing
    /// otherwise). The arrays must hold no ghosts.
    fn migrate(&mut self) -> Result<()> {
        if let Some(mut d) = self.domain.take() {
            let r = d.migrate(&mut self.columns());
            self.domain = Some(d);
            r?;
        }
        Ok(())
    }

    /// The rank's halo and migration traffic (None for a single domain).
    pub fn halo_traffic(&self) -> Option<HaloTraffic> {
        self.domain.as_ref().map(|d| d.traffic)
    }

    /// The rank grid and this rank (None for a single domain).
    pub fn decomposition(&self) -> Option<(&Decomposition, usize)> {
        self.domain.as_ref().map(|d| (&d.decomposition, d.rank))
    }

    /// The owned particles (all of them for a single domain), in memory order.
    fn local_state(&self) -> ParticleState {
        let n = self.n_local();
        let three = |v: &[[f32; 4]]| v[..n].iter().map(|a| [a[0], a[1], a[2]]).collect::<Vec<_>>();
        ParticleState {
            pos: three(&self.pos),
            vel: three(&self.vel),
            force: three(&self.force),
            type_id: self.type_id[..n].to_vec(),
            tag: self.tag[..n].to_vec(),
            n_local: n,
        }
    }

    /// Every rank's owned particles, concatenated in rank order, on every rank (collective).
    fn gathered_state(&mut self) -> Result<ParticleState> {
        let mine = self.local_state();
        let d = self.domain.as_mut().expect("called for decomposed engines");
        let mut words = Vec::with_capacity(mine.len() * STATE_WORDS);
        for i in 0..mine.len() {
            for v in [&mine.pos[i], &mine.vel[i], &mine.force[i]] {
                words.extend(v.iter().map(|x| x.to_bits()));
            }
            words.push(mine.type_id[i]);
            words.push(mine.tag[i]);
        }
        let mut all = ParticleState::default();
        for bytes in d.all_gather(bytemuck::cast_slice(&words))? {
            for r in crate::domain::words_of(&bytes, STATE_WORDS)?.chunks_exact(STATE_WORDS) {
                let f = |k: usize| [f32::from_bits(r[k]), f32::from_bits(r[k + 1]), f32::from_bits(r[k + 2])];
                all.pos.push(f(0));
                all.vel.push(f(3));
                all.force.push(f(6));
                all.type_id.push(r[9]);
                all.tag.push(r[10]);
            }
        }
        all.n_local = all.pos.len();
        Ok(all)
    }

    /// An engine with platelets in the plasma, advanced by multiple time stepping
    /// ([`crate::mts`]). Needs `lambda = 0.5` (the plasma/platelet split is velocity-Verlet's).
    pub fn with_platelets(
        system: &DpdSystem,
        state: &ParticleState,
        step: u64,
        platelets: &PlateletSet,
    ) -> Result<Self> {
        platelets.check_for_engine(system, state)?;
        Self::new(system, state, step)?.carrying(platelets)
    }

    /// A decomposed engine ([`Self::decomposed`]) with platelets; `state` is the whole plasma,
    /// as there. Every rank holds every platelet; each step a rank advances the clusters whose
    /// centre its brick holds, on the plasma gathered from all ranks within the platelets'
    /// reach, and shares what changed (see `advance_platelets_gathered` and
    /// [`crate::platelet_division`]). So the platelets need no ghosts and no migration, and the
    /// trajectory does not depend on the rank count beyond summation order. The platelet state
    /// is replicated and shared with every rank each step, which suits tens of platelets, not
    /// hundreds (`docs/scaling.md`).
    pub fn decomposed_with_platelets(
        system: &DpdSystem,
        state: &ParticleState,
        step: u64,
        decomposition: Decomposition,
        comm: Box<dyn DomainComm>,
        platelets: &PlateletSet,
    ) -> Result<Self> {
        platelets.check_for_engine(system, state)?;
        Self::decomposed(system, state, step, decomposition, comm)?.carrying(platelets)
    }

    /// This engine with `platelets` added (checked by the caller against the whole plasma).
    fn carrying(mut self, platelets: &PlateletSet) -> Result<Self> {
        let system = &self.system;
        self.platelets = Some(PlateletCpu::new(
            platelets,
            system.dt,
            system.kt,
            system.sim_box.len,
            seed_key(system.seed),
            system.walls.clone(),
        )?);
        Ok(self)
    }

    /// The platelet levels (None without platelets).
    pub fn platelet_levels(&self) -> Option<&PlateletCpu> {
        self.platelets.as_ref()
    }

    /// Slabs of two z layers (the last pair may take a third), an even number of them, for the
    /// parallel sweep; empty (one sequential sweep) when the box is too small for two slabs or
    /// aliases neighbour cells. Fixed by the grid, not by the thread count, so the order in which
    /// forces are summed is the same on every machine.
    fn slab_bounds(grid: &CellGrid) -> Vec<u32> {
        let nz = grid.dims[2];
        let mut n = nz / 2;
        n -= n % 2;
        if !grid.has_distinct_neighbours() || n < 2 {
            return Vec::new();
        }
        (0..=n).map(|k| k * nz / n).collect()
    }

    /// Half-kick (when `kick`) and drift by `c.dt` with bounce-back, for every particle.
    fn integrate_first(&mut self, c: StepCoeffs, kick: bool) {
        let (inv_mass, mass, mobile, walls) = (&self.inv_mass, &self.mass, &self.mobile, self.system.walls.as_ref());
        let center = walls.map_or(0.0, |w| w.motion.center);
        let (bounced, leaked, below, above) = self
            .pos
            .par_iter_mut()
            .zip(self.vel.par_iter_mut())
            .zip(self.vpred.par_iter_mut())
            .zip(self.force.par_iter())
            .zip(self.type_id.par_iter())
            .with_min_len(4096)
            .map(|((((p, v), vp), f), &t)| {
                let f = if kick { f } else { &[0.0f32; 4] };
                if !mobile[t as usize] {
                    // Frozen particles move rigidly with the wall velocity at their position, read
                    // from the walls each step so a changed wall speed (a variant) moves them too;
                    // still walls stay put bit for bit.
                    if let Some(w) = walls {
                        let u = w.motion.velocity([p[0], p[1], p[2]]);
                        v[..3].copy_from_slice(&u);
                    }
                    for k in 0..3 {
                        p[k] = wrap(p[k] + c.dt * v[k], c.len[k], c.inv_len[k]);
                    }
                    *vp = *v;
                    return (0u64, 0u64, 0i64, 0i64);
                }
                let (x0, vx0) = (p[2], v[0]);
                // The impulse is booked from the half-kicked velocity the reflection reversed.
                let vh = vx0 + c.half_dt * (f[0] * inv_mass[t as usize]);
                match first_half(p, v, vp, f, inv_mass[t as usize], &c, walls) {
                    Bounce::None => (0, 0, 0, 0),
                    Bounce::Reflected => {
                        let imp = i64::from(crate::walls::impulse_fixed(mass[t as usize], vh, v[0]));
                        if x0 >= center {
                            (1, 0, 0, imp)
                        } else {
                            (1, 0, imp, 0)
                        }
                    }
                    Bounce::Leaked => (0, 1, 0, 0),
                }
            })
            .reduce(|| (0, 0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2, a.3 + b.3));
        self.wall_counts.bounced += bounced;
        self.wall_counts.leaked += leaked;
        self.wall_counts.impulse[0] += below;
        self.wall_counts.impulse[1] += above;
    }

    fn build_cells(&mut self) {
        match self.domain.as_ref() {
            Some(d) => {
                d.local_positions(&self.pos, &mut self.local_pos);
                self.cells.build(&self.grid, &self.local_pos);
            }
            None => self.cells.build(&self.grid, &self.pos),
        }
    }

    /// Puts the particle arrays in cell order (locality); the tags go along.
    fn reorder(&mut self) {
        let e = &self.cells.entries;
        let perm = |v: &mut Vec<[f32; 4]>| *v = e.iter().map(|&i| v[i as usize]).collect();
        perm(&mut self.pos);
        perm(&mut self.vel);
        perm(&mut self.vpred);
        perm(&mut self.force);
        self.type_id = e.iter().map(|&i| self.type_id[i as usize]).collect();
        self.tag = e.iter().map(|&i| self.tag[i as usize]).collect();
        self.cells.cell_of = e.iter().map(|&i| self.cells.cell_of[i as usize]).collect();
        for (k, slot) in self.cells.entries.iter_mut().enumerate() {
            *slot = k as u32;
        }
    }

    /// Forces at the current positions and predicted velocities (plus the body force); with
    /// `kick`, also the second half-kick.
    fn forces(&mut self, kick: bool) -> Result<()> {
        let n = self.pos.len();
        if self.sorted_x.len() != n {
            // A decomposed run's count of owned particles and ghosts changes from step to step.
            for v in [&mut self.sorted_x, &mut self.sorted_y, &mut self.sorted_z] {
                v.resize(n, 0.0);
            }
            self.sorted_vel.resize(n, Vec3A::ZERO);
            self.sorted_type.resize(n, 0);
            self.sorted_tag.resize(n, 0);
            self.sorted_force.resize(n, Vec3A::ZERO);
        }
        let n_local = self.n_local();
        let weighted = self.domain.is_some();
        let entries = &self.cells.entries;
        if weighted {
            self.sorted_weight.clear();
            self.sorted_weight.extend(entries.iter().map(|&i| if (i as usize) < n_local { 0.5f32 } else { 0.0 }));
        }
        // Decomposed runs sweep positions in the rank's grid frame (ghosts beside the brick).
        let pos = if weighted { &self.local_pos } else { &self.pos };
        let (vpred, type_id, tag) = (&self.vpred, &self.type_id, &self.tag);
        self.sorted_x
            .par_iter_mut()
            .zip(self.sorted_y.par_iter_mut())
            .zip(self.sorted_z.par_iter_mut())
            .zip(self.sorted_vel.par_iter_mut())
            .zip(self.sorted_type.par_iter_mut())
            .zip(self.sorted_tag.par_iter_mut())
            .zip(self.sorted_force.par_iter_mut())
            .zip(entries.par_iter())
            .with_min_len(4096)
            .for_each(|(((((((sx, sy), sz), sv), st), sg), sf), &i)| {
                let i = i as usize;
                let (p, v) = (pos[i], vpred[i]);
                (*sx, *sy, *sz) = (p[0], p[1], p[2]);
                *sv = Vec3A::new(v[0], v[1], v[2]);
                *st = type_id[i];
                *sg = tag[i];
                *sf = Vec3A::ZERO;
            });
        let input = SweepInput {
            x: &self.sorted_x,
            y: &self.sorted_y,
            z: &self.sorted_z,
            vel: &self.sorted_vel,
            type_id: &self.sorted_type,
            tag: &self.sorted_tag,
            start: &self.cells.start,
            stencil_offsets: &self.stencil.0,
            stencil_runs: &self.stencil.1,
            coeffs: &self.coeffs,
            n_types: self.system.types.len(),
            len: self.system.sim_box.len.into(),
            max_rc2: self.system.pairs.max_rc().powi(2),
            key: seed_key(self.system.seed),
            step: self.step,
            weight: &self.sorted_weight,
        };
        let force = SyncPtr(self.sorted_force.as_mut_ptr());
        let layer = self.grid.dims[0] * self.grid.dims[1];
        let mut virial = [0.0f64; 6];
        if self.slabs.is_empty() {
            // SAFETY: a single sweep owns the whole force array.
            let cells = 0..self.grid.n_cells() as u32;
            virial = unsafe {
                if weighted {
                    sweep::<true>(&input, cells, force.get())
                } else {
                    sweep::<false>(&input, cells, force.get())
                }
            };
        } else {
            let n_slabs = self.slabs.len() - 1;
            for parity in 0..2 {
                let parts: Vec<[f64; 6]> = (parity..n_slabs)
                    .step_by(2)
                    .collect::<Vec<_>>()
                    .into_par_iter()
                    .map(|s| {
                        let cells = self.slabs[s] * layer..self.slabs[s + 1] * layer;
                        // SAFETY: slab s writes its own particles and, through the forward stencil
                        // (dz in {0, +1}), those of the first layer of slab s + 1 (slab 0 for the
                        // last one). Slabs of equal parity are at least one slab apart and the slab
                        // count is even, so concurrent sweeps write disjoint particle ranges.
                        unsafe {
                            if weighted {
                                sweep::<true>(&input, cells, force.get())
                            } else {
                                sweep::<false>(&input, cells, force.get())
                            }
                        }
                    })
                    .collect();
                for p in parts {
                    for k in 0..6 {
                        virial[k] += p[k];
                    }
                }
            }
        }
        self.virial = virial;
        // Scatter back to memory order, add the body force and the near-wall force (mobile
        // particles only), kick.
        let out = SyncPtr(self.force.as_mut_ptr());
        let vel = SyncPtr(self.vel.as_mut_ptr());
        let tail = ForceTail::new(&self.system, self.coeff, &self.inv_mass, &self.mobile, kick);
        let (type_id, pos) = (&self.type_id, &self.pos);
        self.sorted_force.par_iter().zip(entries.par_iter()).with_min_len(4096).for_each(|(sf, &i)| {
            let i = i as usize;
            if i >= n_local {
                return; // a ghost: its owner computes its force
            }
            // SAFETY: `entries` is a permutation, so each i is written by exactly one iteration.
            let (f, v) = unsafe { (&mut *out.get().add(i), &mut *vel.get().add(i)) };
            tail.finish(&pos[i], type_id[i], [sf.x, sf.y, sf.z], f, v);
        });
        Ok(())
    }

    /// GPU ranks' forces ([`crate::gpu::rank_forces`]), with the halo exchange they overlap:
    /// the interior particles' forces go to the device, the ghosts are exchanged meanwhile,
    /// then the device adds the boundary layer and returns the owned particles' pair forces, and
    /// the host finishes them as the CPU path does. `self` holds no ghosts on entry. `clock`
    /// times the parts (forces, halo, device wait) into the step timings.
    fn forces_on_device(&mut self, kick: bool, clock: &mut Clock) -> Result<()> {
        let (Some(gpu), Some(d)) = (self.gpu.as_mut(), self.domain.as_ref()) else {
            return Err(KernelError::InconsistentState("GPU rank forces without a device or a domain".into()));
        };
        let owned = d.n_local;
        let pos = &self.pos[..owned];
        let flags = &mut self.interior_flags;
        flags.clear();
        flags.extend(pos.iter().map(d.interior()));
        self.device_order.clear();
        self.device_order.extend((0..owned as u32).filter(|&i| flags[i as usize]));
        let interior = self.device_order.len();
        self.device_order.extend((0..owned as u32).filter(|&i| !flags[i as usize]));
        d.local_positions(pos, &mut self.local_pos);
        let parts = Particles { pos: &self.local_pos, vpred: &self.vpred, type_id: &self.type_id, tag: &self.tag };
        gpu.begin(&parts, &self.device_order, interior, self.step)?;
        self.seconds.forces += clock.lap();
        self.exchange_halo()?;
        self.seconds.halo += clock.lap();
        let (Some(gpu), Some(d)) = (self.gpu.as_mut(), self.domain.as_ref()) else {
            return Err(KernelError::InconsistentState("GPU rank forces without a device or a domain".into()));
        };
        d.append_local_positions(&self.pos[owned..], &mut self.local_pos);
        let parts = Particles { pos: &self.local_pos, vpred: &self.vpred, type_id: &self.type_id, tag: &self.tag };
        self.seconds.device_wait += gpu.finish(&parts, &mut self.device_force)?;
        self.virial_on_device = true;
        let tail = ForceTail::new(&self.system, self.coeff, &self.inv_mass, &self.mobile, kick);
        let (type_id, pos, pair) = (&self.type_id, &self.pos, &self.device_force);
        self.force[..owned]
            .par_iter_mut()
            .zip(self.vel[..owned].par_iter_mut())
            .enumerate()
            .with_min_len(4096)
            .for_each(|(i, (f, v))| tail.finish(&pos[i], type_id[i], [pair[i][0], pair[i][1], pair[i][2]], f, v));
        self.seconds.forces += clock.lap();
        Ok(())
    }

    fn one_step(&mut self) -> Result<()> {
        self.drop_ghosts();
        let mut clock = Clock::start();
        if self.platelets.is_some() {
            // K0(h/2) Dp(h/2) B(h) Dp(h/2) ... K0(h/2) (crate::mts).
            let c = self.coeff;
            let half = StepCoeffs { dt: c.half_dt, lambda_shift: 0.0, ..c };
            self.integrate_first(half, true);
            self.seconds.integrate += clock.lap();
            if self.domain.is_some() {
                self.advance_platelets_gathered()?;
            } else if let Some(plat) = self.platelets.as_mut() {
                let mut view = PlasmaView {
                    pos: &self.pos,
                    vel: &mut self.vel,
                    tag: &self.tag,
                    type_id: &self.type_id,
                    inv_mass: &self.inv_mass,
                };
                plat.advance(&mut view, self.step)?;
            }
            let t = clock.lap();
            self.platelet_seconds += t;
            self.seconds.platelets += t;
            self.integrate_first(half, false);
        } else {
            self.integrate_first(self.coeff, true);
        }
        self.seconds.integrate += clock.lap();
        self.seconds.steps += 1;
        self.step += 1;
        let every = u64::from(self.system.reorder_every);
        let reorder = every > 0 && self.step % every == 0;
        if self.domain.is_some() {
            self.migrate()?;
            if reorder {
                // Owned particles only, before the ghosts arrive.
                self.build_cells();
                self.reorder();
            }
            self.seconds.migrate += clock.lap();
            if self.gpu.is_some() {
                return self.forces_on_device(true, &mut clock);
            }
            self.exchange_halo()?;
            self.seconds.halo += clock.lap();
            self.build_cells();
        } else {
            self.build_cells();
            if reorder {
                self.reorder();
            }
        }
        self.forces(true)?;
        self.seconds.forces += clock.lap();
        Ok(())
    }

    /// `B(h)` of a decomposed run. Every rank holds every platelet; each advances the clusters
    /// of platelets whose centre its brick holds ([`crate::platelet_division`]).
    ///
    /// 1. Each rank sends the owned plasma inside the platelets' reach
    ///    ([`PlateletCpu::plasma_reach`], with one skin of margin for the platelets' motion) to
    ///    every rank, so every rank holds the same gathered plasma in the same order.
    /// 2. Each rank advances its platelets on it ([`PlateletCpu::advance_only`]).
    /// 3. Each rank sends what it changed to every rank: its platelets' state
    ///    ([`PlateletCpu::share`]) and the velocities of the gathered plasma that the
    ///    interface's reaction kicked (those that changed in `B(h)`; no other rank's platelets
    ///    reach them). Every rank takes the platelets and the velocities of its own plasma, so
    ///    the platelets stay the same bits on every rank.
    ///
    /// A rank whose platelets fail the health check still takes part in step 3 and sends the
    /// error instead, so every rank stops with it. A platelet particle that moved farther than
    /// the margin during `B(h)` may have missed plasma, so it stops the run.
    fn advance_platelets_gathered(&mut self) -> Result<()> {
        const WORDS: usize = crate::domain::HALO_WORDS; // position, velocity, type, tag
        let (Some(plat), Some(domain)) = (self.platelets.as_mut(), self.domain.as_mut()) else {
            return Ok(());
        };
        let g = &mut self.gathered;
        let margin = plat.set().params.skin;
        plat.plasma_reach(margin, &mut g.reach);
        let len = self.coeff.len;
        let touching = plat.touching(&g.reach, margin);
        let cluster = crate::platelet_division::clusters(g.reach.len(), touching.into_iter());
        let owners = crate::platelet_division::owners(&g.reach, &cluster, len, |c| domain.decomposition.owner(c));
        g.active.clear();
        g.active.extend(owners.iter().map(|&o| o == domain.rank));
        let (pos, reach) = (&self.pos, &g.reach);
        let near = |i: &usize| reach.iter().any(|(c, r)| within(&pos[*i], c, *r, len));
        g.mine.clear();
        g.mine.par_extend((0..domain.n_local).into_par_iter().filter(near));
        g.words.clear();
        for &i in &g.mine {
            crate::domain::push_view_record(&mut g.words, &self.pos[i], &self.vel[i], self.type_id[i], self.tag[i]);
        }
        domain.traffic.platelet_bytes += 4 * g.words.len() as u64;
        let blocks = domain.all_gather(bytemuck::cast_slice(&g.words))?;
        for v in [&mut g.pos, &mut g.vel] {
            v.clear();
        }
        g.tag.clear();
        g.type_id.clear();
        let mut offset = 0;
        for (r, bytes) in blocks.iter().enumerate() {
            if r == domain.rank {
                offset = g.tag.len();
            }
            for w in crate::domain::words_of(bytes, WORDS)?.chunks_exact(WORDS) {
                let (p, v, t, tag) = crate::domain::view_record(w);
                g.pos.push(p);
                g.vel.push(v);
                g.type_id.push(t);
                g.tag.push(tag);
            }
        }
        g.before.clear();
        g.before.extend_from_slice(plat.positions());
        g.vel_before.clone_from(&g.vel);
        let mut view =
            PlasmaView { pos: &g.pos, vel: &mut g.vel, tag: &g.tag, type_id: &g.type_id, inv_mass: &self.inv_mass };
        let advanced = plat.advance_only(&mut view, self.step, &g.active);
        // What this rank changed: [error?, platelet words, kicked plasma].
        g.words.clear();
        match &advanced {
            Err(e) => {
                // The health check's diagnostic, sent whole so that every rank stops with it.
                let text = match e {
                    KernelError::InconsistentState(m) => m.clone(),
                    other => other.to_string(),
                };
                g.words.push(1);
                g.words.extend(text.bytes().map(u32::from));
            }
            Ok(()) => {
                g.words.push(0);
                let at = g.words.len();
                g.words.push(0);
                plat.share(&mut g.words);
                g.words[at] = (g.words.len() - at - 1) as u32;
                // The plasma this rank's platelets kicked: no other rank's platelets reach it.
                for (j, (v, v0)) in g.vel.iter().zip(&g.vel_before).enumerate() {
                    if v.map(f32::to_bits) != v0.map(f32::to_bits) {
                        g.words.extend([j as u32, v[0].to_bits(), v[1].to_bits(), v[2].to_bits()]);
                    }
                }
            }
        }
        self.platelet_steps += g.active.iter().filter(|&&a| a).count() as u64;
        domain.traffic.platelet_bytes += 4 * g.words.len() as u64;
        let blocks = domain.all_gather(bytemuck::cast_slice(&g.words))?;
        let owned = blocks.iter().map(|b| crate::domain::words_of(b, 1)).collect::<Result<Vec<_>>>()?;
        let blocks: Vec<&[u32]> = owned.iter().map(|b| b.as_ref()).collect();
        if let Some(b) = blocks.iter().find(|b| b.first() != Some(&0)) {
            let bytes: Vec<u8> = b.iter().skip(1).map(|&c| c as u8).collect();
            return Err(KernelError::InconsistentState(String::from_utf8_lossy(&bytes).into_owned()));
        }
        let mut platelet_words = Vec::with_capacity(blocks.len());
        for b in &blocks {
            let n = *b.get(1).unwrap_or(&0) as usize;
            let rest = b.get(2..).unwrap_or_default();
            let (head, plasma) = rest.split_at(n.min(rest.len()));
            platelet_words.push(head);
            for w in plasma.chunks_exact(4) {
                let j = w[0] as usize;
                if (offset..offset + g.mine.len()).contains(&j) {
                    let v = &mut self.vel[g.mine[j - offset]];
                    for k in 0..3 {
                        v[k] = f32::from_bits(w[k + 1]);
                    }
                }
            }
        }
        plat.take_shared(&platelet_words)?;
        let moved = plat.max_displacement(&g.before);
        if moved >= margin {
            return Err(KernelError::InconsistentState(format!(
                "step {}: a platelet particle moved {moved} in one plasma step, more than the {margin} margin within which a decomposed run gathers the plasma around platelets; lower dt",
                self.step
            )));
        }
        Ok(())
    }

    /// Momentum, kinetic tensor and virial of the owned particles, summed over ranks in a
    /// decomposed run (collective there).
    fn sums(&mut self) -> Result<Observables> {
        let n_local = self.n_local();
        let mass = &self.mass;
        // Fixed chunks summed in order: the same bits whatever the thread count.
        let parts: Vec<([f64; 3], [f64; 6])> = self.vel[..n_local]
            .par_chunks(4096)
            .zip(self.type_id[..n_local].par_chunks(4096))
            .map(|(vs, ts)| {
                let (mut p, mut k) = ([0.0f64; 3], [0.0f64; 6]);
                for (v, &t) in vs.iter().zip(ts) {
                    let m = f64::from(mass[t as usize]);
                    let v = [f64::from(v[0]), f64::from(v[1]), f64::from(v[2])];
                    for a in 0..3 {
                        p[a] += m * v[a];
                    }
                    let prods = [v[0] * v[0], v[1] * v[1], v[2] * v[2], v[0] * v[1], v[0] * v[2], v[1] * v[2]];
                    for a in 0..6 {
                        k[a] += m * prods[a];
                    }
                }
                (p, k)
            })
            .collect();
        let (mut p, mut k) = ([0.0f64; 3], [0.0f64; 6]);
        for (q, l) in parts {
            for a in 0..3 {
                p[a] += q[a];
            }
            for a in 0..6 {
                k[a] += l[a];
            }
        }
        if let Some(gpu) = self.gpu.as_ref().filter(|_| self.virial_on_device) {
            self.virial = gpu.virial()?;
            self.virial_on_device = false;
        }
        let mut virial = self.virial;
        if let Some(d) = self.domain.as_mut() {
            let mut all = [0.0f64; 15];
            all[..3].copy_from_slice(&p);
            all[3..9].copy_from_slice(&k);
            all[9..].copy_from_slice(&virial);
            d.sum(&mut all)?;
            p.copy_from_slice(&all[..3]);
            k.copy_from_slice(&all[3..9]);
            virial.copy_from_slice(&all[9..]);
        }
        Ok(Observables {
            step: self.step,
            n: self.n_mobile,
            volume: self.system.sim_box.volume(),
            momentum: p,
            kinetic: k,
            virial,
        })
    }
}

impl Engine for CpuEngine {
    fn backend(&self) -> BackendKind {
        if self.gpu.is_some() {
            BackendKind::Gpu
        } else {
            BackendKind::Cpu
        }
    }
    fn device_name(&self) -> String {
        let threads = rayon::current_num_threads();
        let host = match self.decomposition() {
            Some((d, rank)) => format!("native CPU, {threads} threads, rank {rank} of {}", d.size()),
            None => format!("native CPU, {threads} threads"),
        };
        match &self.gpu {
            Some(g) => {
                format!("{} (pair forces; the host integrates and communicates: {host})", g.context().adapter_name())
            }
            None => host,
        }
    }
    fn system(&self) -> &DpdSystem {
        &self.system
    }
    fn n_particles(&self) -> usize {
        self.domain.as_ref().map_or(self.pos.len(), |d| d.n_total)
    }
    fn step(&self) -> u64 {
        self.step
    }
    fn compute_forces(&mut self) -> Result<()> {
        self.drop_ghosts();
        self.vpred.clone_from(&self.vel);
        if self.gpu.is_some() {
            // Not a step's: left out of the step timings.
            let keep = self.seconds;
            self.forces_on_device(false, &mut Clock::start())?;
            self.seconds = keep;
        } else {
            self.exchange_halo()?;
            self.build_cells();
            self.forces(false)?;
        }
        if let Some(p) = self.platelets.as_mut() {
            p.compute_internal_forces();
        }
        Ok(())
    }
    fn run(&mut self, steps: u64, sample_every: u64) -> Result<Vec<Observables>> {
        let mut out = Vec::new();
        for _ in 0..steps {
            self.one_step()?;
            if sample_every > 0 && self.step % sample_every == 0 {
                out.push(self.sums()?);
            }
        }
        Ok(out)
    }
    fn observables(&mut self) -> Result<Observables> {
        self.sums()
    }
    fn wall_counts(&mut self) -> Result<WallCounts> {
        let mut w = self.wall_counts;
        if let Some(d) = self.domain.as_mut() {
            // Counts and fixed-point impulses stay far below 2^53, so f64 sums are exact.
            let mut all = [w.bounced as f64, w.leaked as f64, w.impulse[0] as f64, w.impulse[1] as f64];
            d.sum(&mut all)?;
            w = WallCounts { bounced: all[0] as u64, leaked: all[1] as u64, impulse: [all[2] as i64, all[3] as i64] };
        }
        Ok(w)
    }
    fn add_wall_counts(&mut self, earlier: WallCounts) {
        self.wall_counts = self.wall_counts.plus(earlier);
    }
    fn state(&mut self) -> Result<ParticleState> {
        match self.domain {
            Some(_) => self.gathered_state(),
            None => Ok(self.local_state()),
        }
    }
    fn overwrite(&mut self, state: &ParticleState) -> Result<()> {
        let part = match self.domain.as_mut() {
            // The whole system in rank order, as `state` gathers it: this rank's part follows
            // the parts of the ranks before it.
            Some(d) => {
                let counts = d.all_gather(&(d.n_local as u64).to_le_bytes())?;
                let count = |b: &Vec<u8>| b.as_slice().try_into().map_or(0, u64::from_le_bytes) as usize;
                let first: usize = counts[..d.rank].iter().map(count).sum();
                let end = (first + d.n_local).min(state.len());
                let part: Vec<usize> = (first.min(end)..end).collect();
                Some(ParticleState { n_local: part.len(), ..state.permuted(&part) })
            }
            None => None,
        };
        let mine = part.as_ref().unwrap_or(state);
        self.local_state().check_same_particles(mine)?;
        self.drop_ghosts();
        let four = |v: &[[f32; 3]]| v.iter().map(|a| [a[0], a[1], a[2], 0.0]).collect::<Vec<_>>();
        (self.pos, self.vel, self.force) = (four(&mine.pos), four(&mine.vel), four(&mine.force));
        Ok(())
    }
    fn set_driving(&mut self, driving: Driving) -> Result<()> {
        self.system = driving.applied_to(&self.system)?;
        self.coeffs = pair_coeffs(&self.system);
        if let Some(g) = self.gpu.as_mut() {
            g.set_system(&self.system);
        }
        if let Some(p) = self.platelets.as_mut() {
            p.set_driving(self.system.kt, self.system.walls.as_ref().map(|w| w.motion));
        }
        Ok(())
    }
    fn platelet_snapshot(&mut self) -> Result<Option<crate::mts::PlateletSnapshot>> {
        Ok(self.platelets.as_ref().map(PlateletCpu::snapshot))
    }
    fn restore_platelets(&mut self, snapshot: &crate::mts::PlateletSnapshot) -> Result<()> {
        match self.platelets.as_mut() {
            Some(p) => p.restore(snapshot),
            None => Err(KernelError::invalid("platelets", 0, "this engine has no platelets to restore")),
        }
    }
    fn platelet_state(&mut self) -> Result<Option<PlateletState>> {
        Ok(self.platelets.as_mut().map(PlateletCpu::state))
    }
    fn activate_platelets(&mut self, activated: &[bool]) -> Result<()> {
        match self.platelets.as_mut() {
            Some(p) => p.activate(activated),
            None => Err(KernelError::invalid("platelets", 0, "this engine has no platelets to activate")),
        }
    }
    fn platelet_seconds(&self) -> f64 {
        self.platelet_seconds
    }
    fn gpu_context(&self) -> Option<crate::gpu::GpuContext> {
        self.gpu.as_ref().map(|g| g.context().clone())
    }
    fn domain_report(&mut self) -> Result<Option<crate::domain::DomainReport>> {
        let Some(d) = self.domain.as_mut() else { return Ok(None) };
        let t = d.traffic;
        let mut all = [
            t.halo_messages,
            t.migration_messages,
            t.halo_bytes,
            t.migration_bytes,
            t.ghosts,
            t.migrated,
            t.platelet_bytes,
        ]
        .map(|x| x as f64);
        d.sum(&mut all)?;
        let [halo_messages, migration_messages, halo_bytes, migration_bytes, ghosts, migrated, platelet_bytes] =
            all.map(|x| x as u64);
        let traffic = HaloTraffic {
            exchanges: t.exchanges,
            migrations: t.migrations,
            halo_messages,
            migration_messages,
            halo_bytes,
            migration_bytes,
            ghosts,
            migrated,
            platelet_bytes,
        };
        // The mean over ranks of where the time went.
        let mut parts = self.seconds.parts();
        d.sum(&mut parts)?;
        let p = d.decomposition.size() as f64;
        let seconds = crate::domain::StepSeconds::from_parts(self.seconds.steps, parts.map(|x| x / p));
        let platelet_steps = match self.platelets {
            Some(_) => d
                .all_gather(&self.platelet_steps.to_le_bytes())?
                .iter()
                .map(|b| b.as_slice().try_into().map(u64::from_le_bytes))
                .collect::<std::result::Result<Vec<u64>, _>>()
                .map_err(|_| KernelError::InconsistentState("a rank's platelet-step count is not 8 bytes".into()))?,
            None => Vec::new(),
        };
        Ok(Some(crate::domain::DomainReport {
            decomposition: d.decomposition.clone(),
            traffic,
            seconds,
            platelet_steps,
        }))
    }
    fn adhesion_counts(&self) -> Option<crate::adhesion::AdhesionCounts> {
        self.platelets.as_ref().and_then(PlateletCpu::adhesion_counts)
    }
    fn bench_pass(&mut self, pass: Pass, repeats: u32) -> Result<()> {
        for _ in 0..repeats {
            match pass {
                Pass::CellList => self.build_cells(),
                // GPU ranks overlap the halo exchange with the forces: the pass holds both.
                Pass::Forces if self.gpu.is_some() => {
                    self.drop_ghosts();
                    self.forces_on_device(false, &mut Clock::start())?;
                }
                Pass::Forces => self.forces(false)?,
                Pass::Integrate => self.integrate_first(self.coeff, true),
                Pass::Step => self.one_step()?,
                Pass::Halo => {
                    self.drop_ghosts();
                    self.exchange_halo()?;
                }
                Pass::Migrate => {
                    self.drop_ghosts();
                    self.migrate()?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::random_fluid;
    use crate::system::SimBox;

    fn run_with_threads(threads: usize) -> (ParticleState, Observables) {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
        pool.install(|| {
            let mut system = DpdSystem::standard(SimBox::cubic(9.0), 4);
            system.reorder_every = 5;
            let state = random_fluid(&system, 2187);
            let mut e = CpuEngine::new(&system, &state, 0).expect("engine");
            e.compute_forces().expect("forces");
            let _ = e.run(30, 0).expect("run");
            (e.state().expect("state"), e.observables().expect("observables"))
        })
    }

    /// The trajectory and the observables are the same bits on 1, 2 and 3 threads.
    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let (s1, o1) = run_with_threads(1);
        for t in [2, 3] {
            let (s, o) = run_with_threads(t);
            assert!(s == s1, "state differs between 1 and {t} threads");
            assert!(o == o1, "observables differ between 1 and {t} threads");
        }
    }
}
