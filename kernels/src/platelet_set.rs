//! Platelets placed in a system: copies of one [`PlateletTemplate`] at given centres, orientations
//! and velocities, with the interactions they feel and the multiple-time-stepping levels that
//! advance them ([`crate::mts`]).
//!
//! Platelet particles live in their own arrays, apart from the plasma: they never enter the plasma
//! pair sweep (the interface force couples them, [`crate::interface`]), and the inner time-step
//! levels touch them alone. Particle `k` of platelet `p` is entry `p * n + k` (n particles per
//! platelet); its global id is `first_tag + p * n + k`, above every plasma id, so the pair noise of
//! the interface never shares a counter with plasma pairs. Positions are unwrapped.
//!
//! ```
//! use glam::Quat;
//! use hemoscale_kernels::platelet::{PlateletSpec, PlateletTemplate, Stiffness};
//! use hemoscale_kernels::platelet_set::{MtsLevels, Placement, PlateletParams, PlateletSet};
//! use hemoscale_kernels::{DpdSystem, SimBox};
//!
//! let spec = PlateletSpec {
//!     diameter: 6.0,
//!     aspect_ratio: 0.25,
//!     resolution: 400,
//!     mass: 85.0,
//!     stiffness: Stiffness::DEFAULT,
//! };
//! let template = PlateletTemplate::build(&spec)?;
//! let n = template.len();
//! let at = |x: f32| Placement { center: [x, 10.0, 10.0], rotation: Quat::IDENTITY, velocity: [0.0; 3] };
//! let params = PlateletParams { mts: "4:1:2".parse::<MtsLevels>()?, ..PlateletParams::DEFAULT };
//! // Two platelets side by side, ids from 1,000,000 up (above the plasma's).
//! let set = PlateletSet::place(template, params, &[at(5.0), at(13.0)], 1_000_000)?;
//! assert_eq!((set.count, set.len()), (2, 2 * n));
//! assert_eq!(set.tag[n], 1_000_000 + n as u32); // first particle of the second platelet
//! assert_eq!(set.params.mts.innermost(), 8); // bonded sub-steps per plasma step
//! set.check(&DpdSystem::standard(SimBox::cubic(20.0), 1))?;
//! // Two platelets in the same place are refused.
//! let overlapping = PlateletSet::place(set.template.clone(), params, &[at(5.0), at(5.0)], 1_000_000)?;
//! assert!(overlapping.check(&DpdSystem::standard(SimBox::cubic(20.0), 1)).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use glam::{Quat, Vec3};

use crate::adhesion::Adhesion;
use crate::bonded::Topology;
use crate::error::{KernelError, Result};
use crate::nonbonded::{min_image_any, Exclusions, LennardJones, NeighborList};
use crate::platelet::{Angle, Bond, Dihedral, PlateletTemplate, Zone};
use crate::state::ParticleState;
use crate::system::{DpdPair, DpdSystem};

/// Jump factors between the four time-step levels of Zhang et al. 2015: plasma (the system's
/// `dt`), fluid–platelet interface (`dt / interface`), platelet non-bonded
/// (`dt / (interface nonbonded)`), platelet bonded (`dt / (interface nonbonded bonded)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MtsLevels {
    /// Interface sub-steps per plasma step.
    pub interface: u32,
    /// Non-bonded sub-steps per interface step.
    pub nonbonded: u32,
    /// Bonded sub-steps per non-bonded step.
    pub bonded: u32,
}

impl MtsLevels {
    /// One step size for everything.
    pub const SINGLE: Self = Self { interface: 1, nonbonded: 1, bonded: 1 };
    /// Bonded sub-steps per plasma step.
    pub fn innermost(&self) -> u32 {
        self.interface * self.nonbonded * self.bonded
    }
    /// Refuses a jump factor of 0 (or an absurd one).
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [("interface", self.interface), ("nonbonded", self.nonbonded), ("bonded", self.bonded)] {
            if !(1..=1000).contains(&v) {
                return Err(KernelError::invalid(
                    format!("mts.{name}"),
                    v,
                    "jump factors must lie in [1, 1000]: each level takes a whole number of sub-steps of the one above",
                ));
            }
        }
        Ok(())
    }
}

impl std::fmt::Display for MtsLevels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.interface, self.nonbonded, self.bonded)
    }
}

impl std::str::FromStr for MtsLevels {
    type Err = String;
    /// `"4:1:2"` (interface, non-bonded, bonded jump factors).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let bad = || format!("mts = {s:?}: expected three jump factors like 4:1:2 (interface:nonbonded:bonded)");
        if parts.len() != 3 {
            return Err(bad());
        }
        let n: Vec<u32> =
            parts.iter().map(|p| p.trim().parse::<u32>()).collect::<std::result::Result<_, _>>().map_err(|_| bad())?;
        let l = Self { interface: n[0], nonbonded: n[1], bonded: n[2] };
        l.validate().map_err(|e| e.to_string())?;
        Ok(l)
    }
}

/// How platelets interact and are integrated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlateletParams {
    /// Lennard-Jones well depth among platelet particles (kT).
    pub lj_epsilon: f32,
    /// Membrane–plasma pair force (DPD with an optional Morse term).
    pub interface: DpdPair,
    /// Time-step levels.
    pub mts: MtsLevels,
    /// Verlet skin of the platelet pair lists (rc).
    pub skin: f32,
    /// A spring longer than this multiple of its rest length means the platelet broke: the run
    /// stops with a diagnostic.
    pub max_stretch: f32,
}

impl PlateletParams {
    /// Defaults: LJ eps 1; interface a 40, gamma 4.5, rc 1 (harder than the plasma's 25 so plasma
    /// stays out of the shell) with a Morse well of depth 0.5 at 0.6 rc; no multiple time
    /// stepping; skin 0.3; maximum stretch 1.5.
    pub const DEFAULT: Self = Self {
        lj_epsilon: 1.0,
        interface: DpdPair {
            a: 40.0,
            gamma: 4.5,
            rc: 1.0,
            s: 2.0,
            morse: crate::system::Morse { d0: 0.5, alpha: 4.0, r0: 0.6 },
        },
        mts: MtsLevels::SINGLE,
        skin: 0.3,
        max_stretch: 1.5,
    };
}

/// One platelet's placement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placement {
    /// Centre (rc).
    pub center: [f32; 3],
    /// Rotation of the template (whose symmetry axis is z).
    pub rotation: Quat,
    /// Initial velocity of every particle.
    pub velocity: [f32; 3],
}

/// Platelets in a system.
#[derive(Clone, Debug, PartialEq)]
pub struct PlateletSet {
    /// What each platelet is built like.
    pub template: PlateletTemplate,
    /// Interactions and integration.
    pub params: PlateletParams,
    /// Number of platelets.
    pub count: usize,
    /// Positions (unwrapped).
    pub pos: Vec<[f32; 3]>,
    /// Velocities.
    pub vel: Vec<[f32; 3]>,
    /// Global ids.
    pub tag: Vec<u32>,
    /// Where each platelet was placed.
    pub placements: Vec<Placement>,
    /// Adhesion force field and wall patches (None: platelets do not adhere).
    pub adhesion: Option<Adhesion>,
    /// Whether each platelet starts activated (by an agonist; stress activates others during a
    /// run through [`crate::Engine::activate_platelets`]).
    pub activated: Vec<bool>,
}

impl PlateletSet {
    /// Places copies of `template`.
    pub fn place(template: PlateletTemplate, params: PlateletParams, at: &[Placement], first_tag: u32) -> Result<Self> {
        params.mts.validate()?;
        let n = template.len();
        let mut pos = Vec::with_capacity(n * at.len());
        let mut vel = Vec::with_capacity(n * at.len());
        for p in at {
            for x in &template.pos {
                let r = p.rotation * Vec3::from(*x) + Vec3::from(p.center);
                pos.push(r.into());
                vel.push(p.velocity);
            }
        }
        let total = (n * at.len()) as u64;
        if u64::from(first_tag) + total > u64::from(u32::MAX) {
            return Err(KernelError::invalid("platelets", at.len(), "too many particles for 32-bit ids"));
        }
        let tag = (0..total as u32).map(|k| first_tag + k).collect();
        Ok(Self {
            template,
            params,
            count: at.len(),
            pos,
            vel,
            tag,
            placements: at.to_vec(),
            adhesion: None,
            activated: vec![false; at.len()],
        })
    }

    /// Particles per platelet.
    pub fn per_platelet(&self) -> usize {
        self.template.len()
    }
    /// All particles.
    pub fn len(&self) -> usize {
        self.pos.len()
    }
    /// True without platelets.
    pub fn is_empty(&self) -> bool {
        self.pos.is_empty()
    }

    /// The bonded terms of all platelets (template terms repeated with index offsets).
    pub fn topology(&self) -> Topology {
        let n = self.per_platelet() as u32;
        let t = &self.template;
        let mut bonds = Vec::new();
        let mut angles = Vec::new();
        let mut dihedrals = Vec::new();
        let mut triangles = Vec::new();
        let mut tri_offsets = vec![0u32];
        for p in 0..self.count as u32 {
            let o = p * n;
            triangles.extend(t.triangles.iter().map(|tr| tr.map(|q| q + o)));
            tri_offsets.push(triangles.len() as u32);
            bonds.extend(t.bonds.iter().map(|b| Bond { i: b.i + o, j: b.j + o, ..*b }));
            angles.extend(t.angles.iter().map(|a| Angle { i: a.i + o, j: a.j + o, k: a.k + o, ..*a }));
            dihedrals.extend(t.dihedrals.iter().map(|d| Dihedral {
                i: d.i + o,
                j: d.j + o,
                k: d.k + o,
                l: d.l + o,
                ..*d
            }));
        }
        Topology::with_volumes(
            self.len(),
            bonds,
            angles,
            dihedrals,
            triangles,
            tri_offsets,
            vec![t.volume; self.count],
            vec![t.spec.stiffness.volume; self.count],
        )
    }

    /// Spring partners, excluded from the non-bonded force.
    pub fn exclusions(&self) -> Exclusions {
        let n = self.per_platelet() as u32;
        let t = &self.template;
        Exclusions::new(
            self.len(),
            (0..self.count as u32).flat_map(|p| t.bonds.iter().map(move |b| (b.i + p * n, b.j + p * n))),
        )
    }

    /// The non-bonded force among platelet particles.
    pub fn lj(&self) -> LennardJones {
        LennardJones::wca(self.params.lj_epsilon, self.template.lj_sigma)
    }

    /// Indices of outer-membrane particles (the ones that meet the plasma).
    pub fn outer_membrane(&self) -> Vec<u32> {
        let n = self.per_platelet();
        (0..self.len() as u32).filter(|&i| self.template.zone[i as usize % n] == Zone::MembraneOuter).collect()
    }

    /// What every engine checks before taking these platelets into `system` beside the plasma
    /// `state`: the split velocity-Verlet of multiple time stepping (`lambda` 0.5), ids above
    /// every plasma id (the pair-noise keys), and [`PlateletSet::check`].
    pub fn check_for_engine(&self, system: &DpdSystem, state: &ParticleState) -> Result<()> {
        if system.lambda != 0.5 {
            return Err(KernelError::invalid(
                "lambda",
                system.lambda,
                "must be 0.5 with platelets (multiple time stepping splits velocity-Verlet)",
            ));
        }
        self.check(system)?;
        let max_tag = state.tag.iter().copied().max().unwrap_or(0);
        if self.tag.iter().any(|&t| t <= max_tag) {
            return Err(KernelError::InconsistentState(format!(
                "platelet ids must lie above every plasma id (largest {max_tag})"
            )));
        }
        Ok(())
    }

    /// Refuses platelets that overlap each other or a wall, or that do not fit `system`.
    pub fn check(&self, system: &DpdSystem) -> Result<()> {
        self.params.mts.validate()?;
        let p = &self.params;
        if !(p.skin.is_finite() && p.skin > 0.0 && p.skin <= 1.0) {
            return Err(KernelError::invalid("platelets.skin", p.skin, "must lie in (0, 1] rc"));
        }
        if !(p.max_stretch.is_finite() && p.max_stretch > 1.0) {
            return Err(KernelError::invalid("platelets.max_stretch", p.max_stretch, "must be > 1"));
        }
        if self.activated.len() != self.count {
            return Err(KernelError::invalid(
                "platelets.activated",
                self.activated.len(),
                format!("needs one flag per platelet ({})", self.count),
            ));
        }
        if let Some(a) = &self.adhesion {
            a.params.validate()?;
            if !a.patches.is_empty() && system.walls.is_none() {
                return Err(KernelError::invalid(
                    "adhesion.patches",
                    a.patches.len(),
                    "adhesive wall patches need walls (the system has none)",
                ));
            }
        }
        if !(p.lj_epsilon.is_finite() && p.lj_epsilon >= 0.0) {
            return Err(KernelError::invalid("platelets.lj_epsilon", p.lj_epsilon, "must be >= 0"));
        }
        if !(p.interface.rc > 0.0 && p.interface.a.is_finite() && p.interface.gamma >= 0.0) {
            return Err(KernelError::invalid(
                "platelets.interface",
                p.interface.a,
                "needs rc > 0, finite a, gamma >= 0",
            ));
        }
        let len = Vec3::from(system.sim_box.len);
        let d = self.template.spec.diameter;
        if system.sim_box.len.iter().any(|&l| l < d + 2.0 * p.interface.rc) {
            return Err(KernelError::invalid(
                "box",
                format!("{:?}", system.sim_box.len),
                format!(
                    "every edge must exceed the platelet diameter plus two interface cut-offs ({})",
                    d + 2.0 * p.interface.rc
                ),
            ));
        }
        // Overlap: any two particles of different platelets closer than the LJ diameter.
        let four: Vec<[f32; 4]> = self.pos.iter().map(|x| [x[0], x[1], x[2], 0.0]).collect();
        let n = self.per_platelet();
        let sigma = self.template.lj_sigma;
        let none = Exclusions::new(self.len(), std::iter::empty());
        let nl = NeighborList::build(&four, system.sim_box.len, sigma, &none);
        for i in 0..self.len() {
            for &j in &nl.list[nl.offsets[i] as usize..nl.offsets[i + 1] as usize] {
                if i / n != j as usize / n {
                    let r = min_image_any(Vec3::from(self.pos[i]) - Vec3::from(self.pos[j as usize]), len).length();
                    return Err(KernelError::invalid(
                        "platelets",
                        format!("{} and {}", i / n, j as usize / n),
                        format!("overlap: particles {r:.3} rc apart, closer than the contact diameter {sigma:.3}; place them further apart"),
                    ));
                }
            }
        }
        if let Some(w) = &system.walls {
            let margin = 0.5 * p.interface.rc;
            for (i, x) in self.pos.iter().enumerate() {
                let s = w.sdf.value(*x);
                if s > -margin {
                    return Err(KernelError::invalid(
                        "platelets",
                        format!("platelet {} at {:?}", i / n, self.center(i / n)),
                        format!(
                            "overlaps the wall: a particle lies {:.3} rc from the surface (needs {margin} clear)",
                            -s
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Removes the mobile particles of `state` that lie inside a platelet as placed, or closer
    /// than `margin` to its surface (the spheroid grown by `margin`): the plasma the platelets
    /// displace. Frozen particles stay. Returns the remaining particles and how many were removed.
    pub fn carve(
        &self,
        state: &crate::state::ParticleState,
        system: &DpdSystem,
        margin: f32,
    ) -> (crate::state::ParticleState, usize) {
        let a = 0.5 * self.template.spec.diameter + margin;
        let c = 0.5 * self.template.spec.diameter * self.template.spec.aspect_ratio + margin;
        let len = Vec3::from(system.sim_box.len);
        let inside = |x: [f32; 3]| {
            self.placements.iter().any(|p| {
                let d = min_image_any(Vec3::from(x) - Vec3::from(p.center), len);
                let q = p.rotation.inverse() * d;
                (q.x * q.x + q.y * q.y) / (a * a) + q.z * q.z / (c * c) < 1.0
            })
        };
        let keep: Vec<usize> = (0..state.len())
            .filter(|&i| system.types[state.type_id[i] as usize].frozen || !inside(state.pos[i]))
            .collect();
        let removed = state.len() - keep.len();
        let mut out = state.permuted(&keep);
        out.n_local = out.len();
        (out, removed)
    }

    /// Centre of mass of platelet `p` (all particles have the same mass).
    pub fn center(&self, p: usize) -> [f32; 3] {
        let n = self.per_platelet();
        let s = self.pos[p * n..(p + 1) * n].iter().fold(Vec3::ZERO, |a, x| a + Vec3::from(*x));
        (s / n as f32).into()
    }
}

/// What an engine hands back about its platelets at a sample.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlateletState {
    /// Positions (unwrapped), platelet by platelet.
    pub pos: Vec<[f32; 3]>,
    /// Velocities.
    pub vel: Vec<[f32; 3]>,
    /// Interface force on each particle at the last evaluation (zero off the outer membrane).
    pub interface_force: Vec<[f32; 3]>,
    /// Membrane stress of each platelet averaged over the plasma steps since the previous read
    /// (empty when no step ran since).
    pub mean_membrane_stress: Vec<[f64; 6]>,
    /// Traction stresslet of each platelet averaged the same way.
    pub mean_traction_stress: Vec<[f64; 6]>,
    /// Steps in that average.
    pub stress_steps: u64,
}
