//! Multiple time stepping for platelets in plasma (after Zhang, Zhang, Deng & Bluestein 2015,
//! J. Comput. Phys. 284:668): four nested r-RESPA levels, from the plasma step `dt` down to the
//! platelet's bonded step `dt / (n1 n2 n3)`.
//!
//! One plasma step of length `h` is the symmetric composition
//!
//! ```text
//! K0(h/2) · Dp(h/2) · B(h) · Dp(h/2) · K0(h/2)
//! ```
//!
//! where `K0` kicks the plasma with its own DPD forces (and the body and near-wall forces), `Dp`
//! drifts the plasma (with bounce-back), and `B` advances the platelets with the plasma standing
//! at its mid-step positions:
//!
//! ```text
//! B(h)  = [ K1(h1/2) · C2(h1) · K1(h1/2) ]^n1,          h1 = h / n1
//! C2(s) = [ K2(h2/2) · C3(h2) · K2(h2/2) ]^n2,           h2 = h1 / n2
//! C3(s) = [ K3(h3/2) · Dq(h3) · K3(h3/2) ]^n3,           h3 = h2 / n3
//! ```
//!
//! `K1` kicks both sides of the membrane–plasma interface (the plasma's velocities take the
//! reaction, its positions wait for the second `Dp`), `K2` and `K3` kick platelet particles with
//! the non-bonded and bonded forces, `Dq` drifts them. Each force is re-evaluated after the drift
//! it depends on, so a level needs one evaluation per sub-step (the last one is reused as the
//! first of the next, as in velocity-Verlet); the interface force is evaluated once more at the
//! start of `B` because the plasma moved. With all jump factors 1 this is velocity-Verlet with a
//! Strang split between plasma and platelets; the inner levels cost nothing per plasma particle.
//!
//! Both engines run this composition. [`PlateletCpu`] is the reference; the GPU engine
//! ([`crate::gpu::mts`]) records the same levels as dispatches over platelet particles only (the
//! interface gathers the plasma from the plasma cell list built at the mid-step positions), with the
//! same noise counters; the health check and the stress average below are shared by both.
//!
//! One platelet in a periodic box of plasma, two plasma steps with 2 interface and 2 x 4 bonded
//! sub-steps each. The interface moves momentum between plasma and platelet but creates none.
//!
//! ```
//! use glam::{DVec3, Quat};
//! use hemoscale_kernels::platelet::{PlateletSpec, PlateletTemplate, Stiffness};
//! use hemoscale_kernels::platelet_set::{MtsLevels, Placement, PlateletParams, PlateletSet};
//! use hemoscale_kernels::{init, CpuEngine, DpdSystem, Engine, SimBox};
//!
//! let mut system = DpdSystem::standard(SimBox::cubic(9.0), 4);
//! system.kt = 0.1;
//! let spec = PlateletSpec {
//!     diameter: 6.0,
//!     aspect_ratio: 0.25,
//!     resolution: 400,
//!     mass: 85.0,
//!     stiffness: Stiffness::DEFAULT,
//! };
//! let params = PlateletParams { mts: MtsLevels { interface: 2, nonbonded: 1, bonded: 4 }, ..PlateletParams::DEFAULT };
//! let at = Placement { center: [4.5; 3], rotation: Quat::IDENTITY, velocity: [0.0; 3] };
//! let set = PlateletSet::place(PlateletTemplate::build(&spec)?, params, &[at], 1_000_000)?;
//! // The plasma the platelet displaces is removed first.
//! let (plasma, removed) = set.carve(&init::random_fluid(&system, 2187), &system, 0.3);
//! assert!(removed > 0);
//! let mut engine = CpuEngine::with_platelets(&system, &plasma, 0, &set)?;
//! engine.compute_forces()?;
//! let total = |e: &mut CpuEngine| -> hemoscale_kernels::Result<DVec3> {
//!     let platelet = e.platelet_levels().expect("platelets").momentum();
//!     Ok(DVec3::from(e.observables()?.momentum) + DVec3::from(platelet))
//! };
//! let before = total(&mut engine)?;
//! engine.run(2, 0)?;
//! assert!((total(&mut engine)? - before).length() < 1e-3);
//! let levels = engine.platelet_levels().expect("platelets");
//! assert!(levels.max_stretch() < set.params.max_stretch, "the platelet holds together");
//! # Ok::<(), hemoscale_kernels::KernelError>(())
//! ```

use glam::Vec3;
use rayon::prelude::*;

use crate::adhesion::{AdhesionCounts, AdhesionState};
use crate::bonded::{bonded_forces_where, Topology};
use crate::dpd::PairCoeffs;
use crate::error::{KernelError, Result};
use crate::interface::{interface_forces, InterfaceInput, InterfaceList};
use crate::nonbonded::{lj_forces_where, min_image_any, Exclusions, LennardJones, NeighborList};
use crate::platelet_observables::Sampler;
use crate::platelet_set::{MtsLevels, PlateletSet, PlateletState};
use crate::walls::{Bounce, Walls};

/// The plasma as the platelet levels see it: positions fixed, velocities kicked by the interface.
pub struct PlasmaView<'a> {
    /// Positions (engine order, wrapped).
    pub pos: &'a [[f32; 4]],
    /// Velocities (the interface reaction kicks them).
    pub vel: &'a mut [[f32; 4]],
    /// Global ids.
    pub tag: &'a [u32],
    /// Types.
    pub type_id: &'a [u32],
    /// 1/m per type, 0 for frozen types.
    pub inv_mass: &'a [f32],
}

/// Platelet particles and their force levels on the CPU.
pub struct PlateletCpu {
    set: PlateletSet,
    pos: Vec<[f32; 4]>,
    vel: Vec<[f32; 4]>,
    /// Interface force per platelet particle (zero off the outer membrane).
    f1: Vec<[f32; 4]>,
    f2: Vec<[f32; 4]>,
    f3: Vec<[f32; 4]>,
    inv_mass: f32,
    topology: Topology,
    exclusions: Exclusions,
    lj: LennardJones,
    membrane: Vec<u32>,
    nl: NeighborList,
    ilist: InterfaceList,
    coeffs: PairCoeffs,
    mts: MtsLevels,
    dt: f32,
    len: [f32; 3],
    key: [u32; 2],
    walls: Option<Walls>,
    pair_f: Vec<Vec3>,
    membrane_f: Vec<Vec3>,
    plasma_f: Vec<Vec3>,
    /// Pair-list rebuilds (diagnostics).
    pub rebuilds: u64,
    /// Platelet particles put back into the fluid by bounce-back.
    pub bounced: u64,
    stress: StressAverage,
    /// Adhesion bonds (None: platelets do not adhere).
    adhesion: Option<AdhesionState>,
    /// Whether each platelet is activated.
    activated: Vec<bool>,
    /// The platelets these levels advance (all but in a decomposed run: [`Self::advance_only`]).
    active: Vec<bool>,
    /// The outer-membrane particles of the active platelets.
    active_membrane: Vec<u32>,
    /// Counters at the start of the last [`Self::advance_only`]: adhesion bonds formed and
    /// broken, pair-list rebuilds, bounce-backs. What a rank shares is its change of them.
    counted: [u64; 4],
}

/// The force levels of `B(h)`, innermost last.
#[derive(Clone, Copy)]
enum Level {
    Interface,
    Nonbonded,
    Bonded,
}

/// Which platelet particles a force or an update covers (`per` particles to a platelet).
#[derive(Clone, Copy)]
struct Selection<'a> {
    active: &'a [bool],
    per: usize,
    all: bool,
}

impl Selection<'_> {
    fn particle(&self, i: usize) -> bool {
        self.all || self.active[i / self.per]
    }
    fn platelet(&self, p: usize) -> bool {
        self.all || self.active[p]
    }
}

impl PlateletCpu {
    /// Sets up the levels for `set` in a system with time step `dt`, box `len`, temperature `kt`,
    /// Philox key `key` and optional walls.
    pub fn new(
        set: &PlateletSet,
        dt: f32,
        kt: f32,
        len: [f32; 3],
        key: [u32; 2],
        walls: Option<Walls>,
    ) -> Result<Self> {
        let four = |v: &[[f32; 3]]| v.iter().map(|a| [a[0], a[1], a[2], 0.0]).collect::<Vec<_>>();
        let p = set.params.interface;
        let h1 = dt / set.params.mts.interface as f32;
        let coeffs = PairCoeffs::new(&p, kt, h1);
        let n = set.len();
        let adhesion = match &set.adhesion {
            Some(a) => {
                Some(AdhesionState::new(a.clone(), set.outer_membrane(), set.per_platelet(), n, set.params.skin)?)
            }
            None => None,
        };
        Ok(Self {
            pos: four(&set.pos),
            vel: four(&set.vel),
            f1: vec![[0.0; 4]; n],
            f2: vec![[0.0; 4]; n],
            f3: vec![[0.0; 4]; n],
            inv_mass: 1.0 / set.template.particle_mass,
            topology: set.topology(),
            exclusions: set.exclusions(),
            lj: set.lj(),
            membrane: set.outer_membrane(),
            nl: NeighborList::default(),
            ilist: InterfaceList::default(),
            coeffs,
            mts: set.params.mts,
            dt,
            len,
            key,
            walls,
            pair_f: Vec::new(),
            membrane_f: Vec::new(),
            plasma_f: Vec::new(),
            rebuilds: 0,
            bounced: 0,
            stress: StressAverage::new(set),
            adhesion,
            activated: set.activated.clone(),
            active: vec![true; set.count],
            active_membrane: set.outer_membrane(),
            counted: [0; 4],
            set: set.clone(),
        })
    }

    fn selection(active: &[bool], per: usize) -> Selection<'_> {
        Selection { active, per, all: active.iter().all(|&a| a) }
    }

    /// Follows a change of the driving (variants): the interface's dissipative–random pair takes
    /// its noise amplitude from `kt`, and bounce-back off moving walls the walls' velocity from
    /// `motion`. The platelets' internal forces do not depend on either.
    pub fn set_driving(&mut self, kt: f32, motion: Option<crate::walls::WallMotion>) {
        let h1 = self.dt / self.mts.interface as f32;
        self.coeffs = PairCoeffs::new(&self.set.params.interface, kt, h1);
        if let (Some(w), Some(m)) = (self.walls.as_mut(), motion) {
            w.motion = m;
        }
    }

    /// Marks platelets activated (`true` entries; activation is not undone).
    pub fn activate(&mut self, activated: &[bool]) -> Result<()> {
        if activated.len() != self.activated.len() {
            return Err(KernelError::invalid(
                "activated",
                activated.len(),
                format!("needs one flag per platelet ({})", self.activated.len()),
            ));
        }
        for (a, &b) in self.activated.iter_mut().zip(activated) {
            *a |= b;
        }
        Ok(())
    }

    /// Whether each platelet is activated.
    pub fn activated(&self) -> &[bool] {
        &self.activated
    }

    /// Adhesion events and bonds (None without adhesion).
    pub fn adhesion_counts(&self) -> Option<AdhesionCounts> {
        self.adhesion.as_ref().map(AdhesionState::counts)
    }

    /// The adhesion bonds held now (empty without adhesion).
    pub fn adhesion_bonds(&self) -> &[crate::adhesion::AdhesionBond] {
        self.adhesion.as_ref().map_or(&[], |a| &a.bonds)
    }

    /// Non-bonded forces: Lennard-Jones among platelet particles plus adhesion.
    fn nonbonded_forces(&mut self) {
        let sel = Self::selection(&self.active, self.set.per_platelet());
        lj_forces_where(&self.nl, &self.pos, &self.lj, self.len, &|i| sel.particle(i), &mut self.f2);
        if let Some(a) = self.adhesion.as_mut() {
            a.add_forces(&self.pos, &self.activated, self.len, self.walls.as_ref(), &mut self.f2);
        }
    }

    /// The set this was built from (positions as at construction).
    pub fn set(&self) -> &PlateletSet {
        &self.set
    }

    fn reach(&self) -> f32 {
        self.lj.rcut + self.set.params.skin
    }

    /// Platelet forces that do not involve the plasma (non-bonded and bonded), from scratch.
    pub fn compute_internal_forces(&mut self) {
        self.rebuild_pairs();
        self.nonbonded_forces();
        self.bonded_forces();
    }

    /// Rebuilds the non-bonded pair list (of the active platelets' particles).
    fn rebuild_pairs(&mut self) {
        let sel = Self::selection(&self.active, self.set.per_platelet());
        self.nl = NeighborList::build_where(&self.pos, self.len, self.reach(), &self.exclusions, &|i| sel.particle(i));
        self.rebuilds += 1;
    }

    fn bonded_forces(&mut self) {
        let sel = Self::selection(&self.active, self.set.per_platelet());
        bonded_forces_where(&self.topology, &self.pos, &|i| sel.particle(i), &|p| sel.platelet(p), &mut self.f3);
    }

    fn eval_interface(&mut self, plasma: &PlasmaView<'_>, counter: u64, fresh: bool) {
        if fresh || self.ilist.is_stale(&self.pos, self.set.params.skin) {
            self.ilist = InterfaceList::build(
                &self.active_membrane,
                &self.pos,
                plasma.pos,
                self.len,
                self.coeffs.rc2.sqrt() + self.set.params.skin,
            );
            self.rebuilds += 1;
        }
        let inp = InterfaceInput {
            plat_pos: &self.pos,
            plat_vel: &self.vel,
            plat_tag: &self.set.tag,
            plasma_pos: plasma.pos,
            plasma_vel: plasma.vel,
            plasma_tag: plasma.tag,
            coeffs: &self.coeffs,
            len: self.len,
            key: self.key,
            counter,
        };
        interface_forces(&self.ilist, &inp, &mut self.pair_f, &mut self.membrane_f, &mut self.plasma_f);
        for (k, &m) in self.ilist.membrane.iter().enumerate() {
            let f = self.membrane_f[k];
            self.f1[m as usize] = [f.x, f.y, f.z, 0.0];
        }
    }

    /// Kicks the active platelets' velocities by `h` times the forces of `level`.
    fn kick(&mut self, level: Level, h: f32) {
        let f = match level {
            Level::Interface => &self.f1,
            Level::Nonbonded => &self.f2,
            Level::Bonded => &self.f3,
        };
        let sel = Self::selection(&self.active, self.set.per_platelet());
        Self::kick_with(&mut self.vel, f, h * self.inv_mass, sel);
    }

    fn kick_with(vel: &mut [[f32; 4]], f: &[[f32; 4]], c: f32, sel: Selection<'_>) {
        vel.par_iter_mut().zip(f.par_iter()).enumerate().with_min_len(4096).for_each(|(i, (v, f))| {
            if sel.particle(i) {
                for k in 0..3 {
                    v[k] += c * f[k];
                }
            }
        });
    }

    fn kick_plasma(&self, plasma: &mut PlasmaView<'_>, half: f32) {
        for (t, &j) in self.ilist.touched.iter().enumerate() {
            let j = j as usize;
            let c = half * plasma.inv_mass[plasma.type_id[j] as usize];
            let f = self.plasma_f[t];
            plasma.vel[j][0] += c * f.x;
            plasma.vel[j][1] += c * f.y;
            plasma.vel[j][2] += c * f.z;
        }
    }

    fn drift(&mut self, h: f32) {
        let walls = self.walls.as_ref();
        let sel = Self::selection(&self.active, self.set.per_platelet());
        let bounced: u64 = self
            .pos
            .par_iter_mut()
            .zip(self.vel.par_iter_mut())
            .enumerate()
            .with_min_len(4096)
            .map(|(i, (p, v))| {
                if !sel.particle(i) {
                    return 0;
                }
                let x0 = [p[0], p[1], p[2]];
                let x1 = [x0[0] + h * v[0], x0[1] + h * v[1], x0[2] + h * v[2]];
                let mut vv = [v[0], v[1], v[2]];
                let (x, b) = walls.map_or((x1, Bounce::None), |w| w.bounce(x0, x1, &mut vv));
                *p = [x[0], x[1], x[2], 0.0];
                *v = [vv[0], vv[1], vv[2], 0.0];
                u64::from(b != Bounce::None)
            })
            .sum();
        self.bounced += bounced;
    }

    /// `B(h)` of the module docs for plasma step `step` (the interface noise counter runs
    /// `step * n1 .. step * n1 + n1`).
    pub fn advance(&mut self, plasma: &mut PlasmaView<'_>, step: u64) -> Result<()> {
        let all = vec![true; self.active.len()];
        self.advance_only(plasma, step, &all)
    }

    /// `B(h)` for the platelets `active` marks (one flag per platelet); the others stand still
    /// and keep their state. A rank of a decomposed run advances the platelets it owns this way
    /// (`crate::platelet_division`); the platelets left out must neither share plasma with the
    /// ones advanced nor come within reach of their non-bonded or adhesion forces. The advanced
    /// platelets follow the same bits as in [`Self::advance`]: every force is summed per
    /// particle from sorted pair lists whose terms check their cut-off, so lists built at other
    /// times or over fewer particles give the same sums. What changed is then sent with
    /// [`Self::share`] and taken by every rank with [`Self::take_shared`].
    pub fn advance_only(&mut self, plasma: &mut PlasmaView<'_>, step: u64, active: &[bool]) -> Result<()> {
        if active.len() != self.active.len() {
            return Err(KernelError::invalid(
                "active",
                active.len(),
                format!("needs one flag per platelet ({})", self.active.len()),
            ));
        }
        if self.active != active {
            // Lists of the old selection may lack pairs of platelets new to this rank.
            self.active = active.to_vec();
            let per = self.set.per_platelet();
            self.active_membrane = self.membrane.iter().copied().filter(|&m| active[m as usize / per]).collect();
            self.nl = NeighborList::default();
            if let Some(a) = self.adhesion.as_mut() {
                a.only(active);
            }
        }
        let (formed, broken) = self.adhesion.as_ref().map_or((0, 0), AdhesionState::events);
        self.counted = [formed, broken, self.rebuilds, self.bounced];
        let m = self.mts;
        let h1 = self.dt / m.interface as f32;
        let h2 = h1 / m.nonbonded as f32;
        let h3 = h2 / m.bonded as f32;
        // The plasma moved since the last evaluation: rebuild the pairs and evaluate afresh.
        self.eval_interface(plasma, step * u64::from(m.interface), true);
        for k1 in 0..m.interface {
            self.kick(Level::Interface, 0.5 * h1);
            self.kick_plasma(plasma, 0.5 * h1);
            for _ in 0..m.nonbonded {
                self.kick(Level::Nonbonded, 0.5 * h2);
                for _ in 0..m.bonded {
                    self.kick(Level::Bonded, 0.5 * h3);
                    self.drift(h3);
                    self.bonded_forces();
                    self.kick(Level::Bonded, 0.5 * h3);
                }
                if self.nl.is_stale(&self.pos, self.set.params.skin) {
                    self.rebuild_pairs();
                }
                self.nonbonded_forces();
                self.kick(Level::Nonbonded, 0.5 * h2);
            }
            self.eval_interface(plasma, step * u64::from(m.interface) + u64::from(k1) + 1, false);
            self.kick(Level::Interface, 0.5 * h1);
            self.kick_plasma(plasma, 0.5 * h1);
        }
        if let Some(a) = self.adhesion.as_mut() {
            // Bonds form and break between steps; the forces of the next step see the new set.
            if a.update(&self.pos, &self.activated, self.len, self.walls.as_ref(), self.dt) {
                self.nonbonded_forces();
            }
        }
        self.check_health(step)?;
        self.accumulate_stress();
        Ok(())
    }

    /// Adds every platelet's membrane stress at the end of a plasma step to the running average.
    fn accumulate_stress(&mut self) {
        self.stress.accumulate(&self.pos, &self.vel, &self.f1, Some(&self.active));
    }

    /// The membrane stress and traction stresslet averaged since the previous call, and the
    /// steps they cover; resets.
    pub fn take_mean_stress(&mut self) -> (Vec<[f64; 6]>, Vec<[f64; 6]>, u64) {
        self.stress.take()
    }

    /// Stops the run when a platelet blew up or broke: a non-finite position or velocity, or a
    /// spring stretched beyond `max_stretch` times its rest length.
    fn check_health(&self, step: u64) -> Result<()> {
        check_health(&self.set, &self.topology, &self.pos, &self.vel, step, Some(&self.active))
    }

    /// Largest spring length over rest length (1 at rest).
    pub fn max_stretch(&self) -> f32 {
        self.topology
            .bonds
            .iter()
            .map(|b| {
                let (a, c) = (self.pos[b.i as usize], self.pos[b.j as usize]);
                Vec3::new(a[0] - c[0], a[1] - c[1], a[2] - c[2]).length() / b.r0
            })
            .fold(0.0, f32::max)
    }

    /// Where plasma can enter the interface during the next `B(h)`: per platelet, a centre and a
    /// radius, written to `out`. The radius is the platelet's extent from its centre (minimum
    /// image, so a platelet across the periodic boundary stays whole), plus the interface cut-off
    /// and pair-list skin, plus `margin` for the platelet particles' own motion during `B(h)`. A decomposed engine
    /// gathers the plasma inside these spheres from every rank ([`crate::CpuEngine`]).
    pub fn plasma_reach(&self, margin: f32, out: &mut Vec<([f32; 3], f32)>) {
        let n = self.set.per_platelet();
        let extra = self.coeffs.rc2.sqrt() + self.set.params.skin + margin;
        out.clear();
        out.extend(self.pos.chunks_exact(n).map(|p| {
            let mean = p.iter().map(|x| self.min_image(*x, p[0])).sum::<Vec3>() / n as f32;
            let r = p.iter().map(|x| (self.min_image(*x, p[0]) - mean).length()).fold(0.0, f32::max);
            let c = Vec3::new(p[0][0], p[0][1], p[0][2]) + mean;
            ([c.x, c.y, c.z], r + extra)
        }));
    }

    /// Pairs `(p, q)`, `p < q`, of platelets that may act on each other during the next `B(h)`
    /// if no particle moves farther than `margin` in it; `reach` from [`Self::plasma_reach`]
    /// with the same margin. Two platelets act on each other when they are joined by an
    /// adhesion bond, or when two of their outer-membrane particles lie closer than the larger
    /// of: twice the interface's reach (cut-off, skin and margin: then both could pair with the
    /// same plasma particle), or the range of the forces between platelets (Lennard-Jones,
    /// adhesion) plus the skin and both margins. Centres farther apart than their reaches allow
    /// are ruled out first; only the membranes of platelets left in play are binned.
    pub fn touching(&self, reach: &[([f32; 3], f32)], margin: f32) -> Vec<(usize, usize)> {
        let skin = self.set.params.skin;
        let interface = self.coeffs.rc2.sqrt() + skin + margin;
        let adhesion = self.adhesion.as_ref().map_or(0.0, |a| a.params().cutoff.max(a.params().capture));
        let d = (2.0 * interface).max(self.lj.rcut.max(adhesion) + skin + 2.0 * margin);
        let l = Vec3::from(self.len);
        let centre = |p: usize| Vec3::from(reach[p].0);
        let mut in_play = vec![false; reach.len()];
        for p in 0..reach.len() {
            for q in p + 1..reach.len() {
                // reach = extent + interface, so membranes within d need centres within this.
                if min_image_any(centre(p) - centre(q), l).length() < reach[p].1 + reach[q].1 - 2.0 * interface + d {
                    (in_play[p], in_play[q]) = (true, true);
                }
            }
        }
        let per = self.set.per_platelet();
        let sites: Vec<u32> = self.membrane.iter().copied().filter(|&m| in_play[m as usize / per]).collect();
        let mut pairs = std::collections::BTreeSet::new();
        if !sites.is_empty() {
            let at: Vec<[f32; 4]> = sites.iter().map(|&m| self.pos[m as usize]).collect();
            let grid = crate::nonbonded::PairGrid::new(&at, self.len, d);
            for (a, &m) in sites.iter().enumerate() {
                let (p, x) = (m as usize / per, Vec3::new(at[a][0], at[a][1], at[a][2]));
                grid.for_each_near(&at[a], |b| {
                    let q = sites[b as usize] as usize / per;
                    let y = at[b as usize];
                    if q > p
                        && !pairs.contains(&(p, q))
                        && min_image_any(x - Vec3::new(y[0], y[1], y[2]), l).length() < d
                    {
                        pairs.insert((p, q));
                    }
                });
            }
        }
        for b in self.adhesion_bonds() {
            if let crate::adhesion::Partner::Site(j) = b.partner {
                let (p, q) = (b.site as usize / per, j as usize / per);
                pairs.insert((p.min(q), p.max(q)));
            }
        }
        pairs.into_iter().collect()
    }

    /// `a - b` under the minimum-image convention of the box.
    fn min_image(&self, a: [f32; 4], b: [f32; 4]) -> Vec3 {
        let mut d = [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
        for (x, l) in d.iter_mut().zip(self.len) {
            *x -= l * (*x / l).round();
        }
        Vec3::from(d)
    }

    /// The platelet particles' positions (`[x, y, z, 0]`, platelet by platelet).
    pub fn positions(&self) -> &[[f32; 4]] {
        &self.pos
    }

    /// The largest distance (minimum image) of a platelet particle from its place in `before`.
    pub fn max_displacement(&self, before: &[[f32; 4]]) -> f32 {
        self.pos.iter().zip(before).map(|(a, b)| self.min_image(*a, *b).length()).fold(0.0, f32::max)
    }

    /// Positions, velocities, interface forces and the membrane stress averaged since the
    /// previous call (which resets that average).
    pub fn state(&mut self) -> PlateletState {
        let three = |v: &[[f32; 4]]| v.iter().map(|a| [a[0], a[1], a[2]]).collect();
        let (mean_membrane_stress, mean_traction_stress, stress_steps) = self.take_mean_stress();
        PlateletState {
            pos: three(&self.pos),
            vel: three(&self.vel),
            interface_force: three(&self.f1),
            mean_membrane_stress,
            mean_traction_stress,
            stress_steps,
        }
    }

    /// The dynamic state a checkpoint keeps ([`PlateletSnapshot`]).
    pub fn snapshot(&self) -> PlateletSnapshot {
        PlateletSnapshot {
            pos: self.pos.clone(),
            vel: self.vel.clone(),
            f1: self.f1.clone(),
            f2: self.f2.clone(),
            f3: self.f3.clone(),
            nl_reference: self.nl.reference().to_vec(),
            stress_sum: self.stress.stress_sum.clone(),
            traction_sum: self.stress.traction_sum.clone(),
            stress_steps: self.stress.steps,
            activated: self.activated.clone(),
            rebuilds: self.rebuilds,
            bounced: self.bounced,
            adhesion: self.adhesion.as_ref().map(AdhesionState::snapshot),
        }
    }

    /// Restores a snapshot of levels built from the same platelet set: afterwards the levels
    /// continue exactly as the ones it was taken from (the pair lists are rebuilt from the
    /// positions they were last built at, so they hold the same pairs in the same order).
    pub fn restore(&mut self, s: &PlateletSnapshot) -> Result<()> {
        s.check_fits(self.pos.len(), self.activated.len(), self.adhesion.is_some())?;
        (self.pos, self.vel) = (s.pos.clone(), s.vel.clone());
        (self.f1, self.f2, self.f3) = (s.f1.clone(), s.f2.clone(), s.f3.clone());
        self.nl = if s.nl_reference.is_empty() {
            NeighborList::default()
        } else {
            NeighborList::build(&s.nl_reference, self.len, self.reach(), &self.exclusions)
        };
        (self.stress.stress_sum, self.stress.traction_sum) = (s.stress_sum.clone(), s.traction_sum.clone());
        self.stress.steps = s.stress_steps;
        self.activated = s.activated.clone();
        (self.rebuilds, self.bounced) = (s.rebuilds, s.bounced);
        if let (Some(a), Some(snap)) = (self.adhesion.as_mut(), s.adhesion.as_ref()) {
            a.restore(snap, &self.pos, self.len, self.walls.as_ref())?;
        }
        Ok(())
    }

    /// What the last [`Self::advance_only`] changed, as words for the other ranks: for each
    /// active platelet its index, its particles' positions, velocities and three force levels
    /// (20 words a particle) and its stress sums (24 words); the adhesion bonds its sites hold
    /// (5 words a bond); and the change of the counters (formed and broken bonds, pair-list
    /// rebuilds, bounce-backs; two words each).
    pub fn share(&self, out: &mut Vec<u32>) {
        let per = self.set.per_platelet();
        let active: Vec<usize> = (0..self.active.len()).filter(|&p| self.active[p]).collect();
        out.push(active.len() as u32);
        for &p in &active {
            out.push(p as u32);
            for i in p * per..(p + 1) * per {
                for v in [&self.pos[i], &self.vel[i], &self.f1[i], &self.f2[i], &self.f3[i]] {
                    out.extend_from_slice(bytemuck::cast_slice(v));
                }
            }
            out.extend_from_slice(bytemuck::cast_slice(&self.stress.stress_sum[p]));
            out.extend_from_slice(bytemuck::cast_slice(&self.stress.traction_sum[p]));
        }
        let bonds: Vec<&crate::adhesion::AdhesionBond> =
            self.adhesion.iter().flat_map(AdhesionState::selected_bonds).collect();
        out.push(bonds.len() as u32);
        for b in bonds {
            out.push(b.site);
            match b.partner {
                crate::adhesion::Partner::Site(j) => out.extend([0, j, 0, 0]),
                crate::adhesion::Partner::Wall(a) => {
                    out.push(1);
                    out.extend(a.map(f32::to_bits));
                }
            }
        }
        let (formed, broken) = self.adhesion.as_ref().map_or((0, 0), AdhesionState::events);
        let now = [formed, broken, self.rebuilds, self.bounced];
        for (n, c) in now.iter().zip(self.counted) {
            out.extend_from_slice(bytemuck::cast_slice(&[n - c]));
        }
    }

    /// Takes what every rank [`Self::share`]d after advancing its platelets (one block per rank,
    /// in rank order, this rank's included), so that every rank holds every platelet as the
    /// ranks that advanced them left it. Every platelet must come from exactly one rank.
    pub fn take_shared(&mut self, blocks: &[&[u32]]) -> Result<()> {
        let per = self.set.per_platelet();
        let bad = |what: &str| Err(KernelError::InconsistentState(format!("shared platelet state: {what}")));
        let mut seen = vec![false; self.active.len()];
        let mut bonds = Vec::new();
        let mut counts = self.counted;
        for block in blocks {
            let mut w = Words(block);
            for _ in 0..w.one()? {
                let p = w.one()? as usize;
                if p >= seen.len() || seen[p] {
                    return bad("a platelet is missing, repeated or out of range");
                }
                seen[p] = true;
                for i in p * per..(p + 1) * per {
                    for v in [&mut self.pos[i], &mut self.vel[i], &mut self.f1[i], &mut self.f2[i], &mut self.f3[i]] {
                        v.copy_from_slice(bytemuck::cast_slice(w.take(4)?));
                    }
                }
                self.stress.stress_sum[p] = bytemuck::pod_read_unaligned(bytemuck::cast_slice(w.take(12)?));
                self.stress.traction_sum[p] = bytemuck::pod_read_unaligned(bytemuck::cast_slice(w.take(12)?));
            }
            for _ in 0..w.one()? {
                let site = w.one()?;
                let [kind, a, b, c] = [w.one()?, w.one()?, w.one()?, w.one()?];
                let partner = match kind {
                    0 => crate::adhesion::Partner::Site(a),
                    _ => crate::adhesion::Partner::Wall([a, b, c].map(f32::from_bits)),
                };
                bonds.push(crate::adhesion::AdhesionBond { site, partner });
            }
            for c in &mut counts {
                let d: [u32; 2] = w.take(2)?.try_into().unwrap_or_default();
                *c += bytemuck::cast::<[u32; 2], u64>(d);
            }
            if !w.0.is_empty() {
                return bad("a block is longer than its contents");
            }
        }
        if seen.iter().any(|&s| !s) {
            return bad("a platelet is missing, repeated or out of range");
        }
        let [formed, broken, rebuilds, bounced] = counts;
        (self.rebuilds, self.bounced) = (rebuilds, bounced);
        if let Some(a) = self.adhesion.as_mut() {
            a.replace_bonds(bonds, formed, broken)?;
        }
        Ok(())
    }

    /// Momentum of the platelet particles (f64).
    pub fn momentum(&self) -> [f64; 3] {
        let m = f64::from(self.set.template.particle_mass);
        let mut p = [0.0f64; 3];
        for v in &self.vel {
            for k in 0..3 {
                p[k] += m * f64::from(v[k]);
            }
        }
        p
    }
}

/// A cursor over received words.
struct Words<'a>(&'a [u32]);

impl<'a> Words<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u32]> {
        if self.0.len() < n {
            return Err(KernelError::InconsistentState("shared platelet state: a block ends early".into()));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn one(&mut self) -> Result<u32> {
        Ok(self.take(1)?[0])
    }
}

/// The dynamic state of the platelet levels: what a checkpoint holds so that a run continues bit
/// for bit. Positions, velocities and the forces of every level (the integrator's next kicks
/// use them); the positions the non-bonded pair list was last built at (it is rebuilt from them,
/// so the same pairs are summed in the same order and rebuilt at the same steps); the stress
/// sums since the last read; activation, adhesion bonds and counters. Everything else follows
/// from the platelet set.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlateletSnapshot {
    /// Positions (unwrapped).
    pub pos: Vec<[f32; 4]>,
    /// Velocities.
    pub vel: Vec<[f32; 4]>,
    /// Interface forces.
    pub f1: Vec<[f32; 4]>,
    /// Non-bonded forces (with adhesion).
    pub f2: Vec<[f32; 4]>,
    /// Bonded forces.
    pub f3: Vec<[f32; 4]>,
    /// Positions at the last build of the non-bonded pair list (empty: never built).
    pub nl_reference: Vec<[f32; 4]>,
    /// Membrane stress summed since the last read, per platelet.
    pub stress_sum: Vec<[f64; 6]>,
    /// Traction stresslet summed the same way.
    pub traction_sum: Vec<[f64; 6]>,
    /// Plasma steps in those sums.
    pub stress_steps: u64,
    /// Whether each platelet is activated.
    pub activated: Vec<bool>,
    /// Pair-list rebuilds so far.
    pub rebuilds: u64,
    /// Bounce-backs so far.
    pub bounced: u64,
    /// Adhesion bonds and lists (None without adhesion).
    pub adhesion: Option<crate::adhesion::AdhesionSnapshot>,
}

impl PlateletSnapshot {
    /// Refuses a snapshot that does not fit levels of `n` particles, `platelets` platelets and
    /// adhesion on or off.
    pub fn check_fits(&self, n: usize, platelets: usize, adhesion: bool) -> Result<()> {
        let lens = [self.pos.len(), self.vel.len(), self.f1.len(), self.f2.len(), self.f3.len()];
        if lens.iter().any(|&l| l != n)
            || [self.activated.len(), self.stress_sum.len(), self.traction_sum.len()].iter().any(|&l| l != platelets)
            || (!self.nl_reference.is_empty() && self.nl_reference.len() != n)
            || self.adhesion.is_some() != adhesion
        {
            let with = |a: bool| if a { " with adhesion" } else { "" };
            return Err(KernelError::InconsistentState(format!(
                "platelet snapshot of {} particles and {} platelets{} does not fit these levels ({n} particles, {platelets} platelets{})",
                self.pos.len(),
                self.activated.len(),
                with(self.adhesion.is_some()),
                with(adhesion),
            )));
        }
        Ok(())
    }
}

/// Every platelet's membrane stress and traction stresslet summed over the plasma steps since the
/// last read (both engines add one term at the end of each plasma step).
pub(crate) struct StressAverage {
    sampler: Sampler,
    pub(crate) count: usize,
    pub(crate) stress_sum: Vec<[f64; 6]>,
    pub(crate) traction_sum: Vec<[f64; 6]>,
    pub(crate) steps: u64,
}

impl StressAverage {
    pub(crate) fn new(set: &PlateletSet) -> Self {
        Self {
            sampler: Sampler::new(&set.template),
            count: set.count,
            stress_sum: vec![[0.0; 6]; set.count],
            traction_sum: vec![[0.0; 6]; set.count],
            steps: 0,
        }
    }

    /// Adds the stresses of the state `pos`, `vel` with interface forces `f1`, of the platelets
    /// `active` marks (None: all; the others' sums come from the ranks that advance them).
    pub(crate) fn accumulate(&mut self, pos: &[[f32; 4]], vel: &[[f32; 4]], f1: &[[f32; 4]], active: Option<&[bool]>) {
        let sampler = &self.sampler;
        let now: Vec<Option<([f64; 6], [f64; 6])>> = (0..self.count)
            .into_par_iter()
            .map(|p| {
                active
                    .is_none_or(|a| a[p])
                    .then(|| (sampler.membrane_stress(pos, vel, p), sampler.traction_stress(pos, f1, p)))
            })
            .collect();
        for ((acc, tac), now) in self.stress_sum.iter_mut().zip(self.traction_sum.iter_mut()).zip(now) {
            let Some((s, t)) = now else { continue };
            for k in 0..6 {
                acc[k] += s[k];
                tac[k] += t[k];
            }
        }
        self.steps += 1;
    }

    /// The means since the previous call and the steps they cover; resets.
    pub(crate) fn take(&mut self) -> (Vec<[f64; 6]>, Vec<[f64; 6]>, u64) {
        let n = self.steps;
        let mean = |v: &mut Vec<[f64; 6]>| {
            let m = if n == 0 { Vec::new() } else { v.iter().map(|s| s.map(|x| x / n as f64)).collect() };
            v.iter_mut().for_each(|s| *s = [0.0; 6]);
            m
        };
        let (a, b) = (mean(&mut self.stress_sum), mean(&mut self.traction_sum));
        self.steps = 0;
        (a, b, n)
    }
}

/// The platelet health check of both engines: a non-finite position or velocity, or a spring
/// stretched beyond `max_stretch` times its rest length, is an [`KernelError::InconsistentState`]
/// naming the platelet, the particles and the step. `active` limits the check to some platelets
/// (None: all).
pub(crate) fn check_health(
    set: &PlateletSet,
    topology: &Topology,
    pos: &[[f32; 4]],
    vel: &[[f32; 4]],
    step: u64,
    active: Option<&[bool]>,
) -> Result<()> {
    let n = set.per_platelet();
    let checked = |i: usize| active.is_none_or(|a| a[i / n]);
    if let Some(i) = pos
        .iter()
        .zip(vel)
        .enumerate()
        .position(|(i, (p, v))| checked(i) && p.iter().chain(v.iter()).any(|x| !x.is_finite()))
    {
        return Err(KernelError::InconsistentState(format!(
            "platelet {} particle {} (id {}) has a non-finite position or velocity at step {step}: {:?}",
            i / n,
            i % n,
            set.tag[i],
            pos[i]
        )));
    }
    let lim = set.params.max_stretch;
    for b in topology.bonds.iter().filter(|b| checked(b.i as usize)) {
        let (a, c) = (pos[b.i as usize], pos[b.j as usize]);
        let r = Vec3::new(a[0] - c[0], a[1] - c[1], a[2] - c[2]).length();
        if r > lim * b.r0 {
            return Err(KernelError::InconsistentState(format!(
                "platelet {} broke at step {step}: a {:?} spring between particles {} and {} is {:.3} rc long, {:.2} times its rest length (limit {lim})",
                b.i as usize / n,
                b.kind,
                b.i as usize % n,
                b.j as usize % n,
                r,
                r / b.r0
            )));
        }
    }
    Ok(())
}
