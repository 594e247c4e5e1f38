//! Adhesion and aggregation: αIIbβ3–fibrinogen-style bonds between activated platelets and
//! between activated platelets and adhesive wall patches, after the hybrid force field of Gupta,
//! Zhang, Sheriff, Bluestein & Deng (2019, Cell. Mol. Bioeng. 12:327): a Morse attraction acts
//! between receptor sites that are not bonded yet, a Hooke spring holds a bond once it formed, and
//! a bond pulled harder than a rupture force breaks.
//!
//! **Sites.** Every outer-membrane particle is a receptor site; a site holds at most one bond.
//!
//! **Who adheres.** A pair of sites on two platelets is adhesive when at least one of the two
//! platelets is activated: an activated platelet recruits resting ones through fibrinogen bridges
//! (the recruitment aggregation of `physics.md` 1.6). A site and a wall patch are adhesive when
//! the site's platelet is activated and the site lies inside the patch's box.
//!
//! **Events.** Bonds form and break once per plasma step ([`AdhesionState::update`]), in a fixed
//! order, so runs are deterministic: an unbonded adhesive pair closer than `capture` bonds (the
//! closest candidates first, each site once), and a bond whose spring force exceeds `rupture`
//! breaks. With thermal forces on the sites the threshold acts like Bell's force-dependent
//! off-rate: bonds near the threshold break by fluctuation, well below it they hold.
//!
//! **Walls.** A wall bond is anchored at the wall point nearest the site at formation (along the
//! distance field's gradient); the anchor moves with the wall's velocity, so patches on the
//! sliding walls of plane Couette flow stay attached to their wall.
//!
//! The published parameters (fitted to contact area and detaching force) are not in our
//! reference; [`AdhesionParams::DEFAULT`] states the values used and why.
//!
//! GPU twin of the forces: `shaders/adhesion.wgsl` ([`crate::gpu::adhesion`]) over the terms
//! [`AdhesionState::gpu_lists`] packs; bond events stay on the host (they happen between plasma
//! steps and touch few sites).
//!
//! ```
//! use hemoscale_kernels::adhesion::{Adhesion, AdhesionCounts, AdhesionParams, AdhesionState};
//!
//! // Two platelets of one particle each, both particles receptor sites, 0.5 rc apart.
//! let adhesion = Adhesion { params: AdhesionParams::DEFAULT, patches: Vec::new() };
//! let mut state = AdhesionState::new(adhesion, vec![0, 1], 1, 2, 0.3)?;
//! let (pos, len) = ([[5.0, 5.0, 5.0, 0.0], [5.5, 5.0, 5.0, 0.0]], [10.0; 3]);
//! // Resting platelets do not bond ...
//! assert!(!state.update(&pos, &[false, false], len, None, 0.01));
//! // ... an activated one recruits the other: closer than the capture distance, they bond.
//! assert!(state.update(&pos, &[true, false], len, None, 0.01));
//! assert_eq!(state.counts(), AdhesionCounts { formed: 1, platelet_bonds: 1, ..Default::default() });
//! // The bond is a spring of rest length 0.6: at 0.5 it pushes the sites apart by 10 x 0.1.
//! let mut f = [[0.0f32; 4]; 2];
//! state.add_forces(&pos, &[true, false], len, None, &mut f);
//! assert!((f[0][0] + 1.0).abs() < 1e-5 && f[1][0] == -f[0][0]);
//! # Ok::<(), hemoscale_kernels::KernelError>(())
//! ```

use glam::Vec3;

use crate::error::{KernelError, Result};
use crate::nonbonded::{min_image_any, PairGrid};
use crate::system::Morse;
use crate::walls::Walls;

/// Force-field constants of adhesion (DPD units).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdhesionParams {
    /// Morse attraction between unbonded adhesive sites, and between a site and a patch (distance
    /// to the wall surface).
    pub morse: Morse,
    /// Range of the Morse attraction.
    pub cutoff: f32,
    /// An unbonded adhesive pair closer than this forms a bond.
    pub capture: f32,
    /// Hooke constant of a bond.
    pub spring: f32,
    /// Rest length of a bond.
    pub rest: f32,
    /// A bond whose spring force exceeds this breaks.
    pub rupture: f32,
}

impl AdhesionParams {
    /// Defaults for the platelet scenarios (kT = 0.1, platelet particles about 0.4 rc apart),
    /// chosen, not fitted. The soft membrane–plasma repulsion keeps a film of plasma between two
    /// surfaces: in `aggregation` the sites closest to the wall stayed 0.56 to 0.60 rc from it
    /// and sites of neighbouring platelets 0.9 rc apart. A bond therefore spans that film: capture
    /// at 0.7 rc, rest length 0.6 rc, a Morse well of 2 kT at 0.5 rc reaching to 1.2 rc that pulls
    /// sites into capture range. The spring (10) and rupture force (3, three times the thermal
    /// force scale `sqrt(k kT)` = 1 of a free spring; a site tied into the membrane fluctuates
    /// less) make bonds hold at rest and break under load. In the platelet scenarios' units
    /// (force unit about 200 pN) the rupture force is about 600 pN per site; a site stands for
    /// many αIIbβ3 receptors.
    pub const DEFAULT: Self = Self {
        morse: Morse { d0: 0.2, alpha: 4.0, r0: 0.5 },
        cutoff: 1.2,
        capture: 0.7,
        spring: 10.0,
        rest: 0.6,
        rupture: 3.0,
    };

    /// Refuses non-finite or inconsistent constants (field names `adhesion.*`).
    pub fn validate(&self) -> Result<()> {
        let m = self.morse;
        for (name, v) in [
            ("adhesion.morse_d0", m.d0),
            ("adhesion.morse_alpha", m.alpha),
            ("adhesion.morse_r0", m.r0),
            ("adhesion.spring", self.spring),
            ("adhesion.rest", self.rest),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(KernelError::invalid(name, v, "must be finite and >= 0"));
            }
        }
        if !(self.cutoff.is_finite() && self.cutoff > 0.0 && self.cutoff <= 2.0) {
            return Err(KernelError::invalid("adhesion.cutoff", self.cutoff, "must lie in (0, 2] rc"));
        }
        if !(self.capture.is_finite() && self.capture > 0.0 && self.capture <= self.cutoff) {
            return Err(KernelError::invalid(
                "adhesion.capture",
                self.capture,
                format!("must lie in (0, cutoff = {}] rc", self.cutoff),
            ));
        }
        if !(self.rupture.is_finite() && self.rupture > 0.0) {
            return Err(KernelError::invalid("adhesion.rupture", self.rupture, "must be finite and > 0"));
        }
        Ok(())
    }
}

/// An adhesive region of the wall: sites inside this box (wrapped into the periodic box) may bond
/// to the wall.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Patch {
    /// Lower corner (rc).
    pub min: [f32; 3],
    /// Upper corner (rc).
    pub max: [f32; 3],
}

impl Patch {
    fn contains(&self, p: [f32; 3], len: [f32; 3]) -> bool {
        (0..3).all(|k| {
            let x = p[k] - len[k] * (p[k] / len[k]).floor();
            x >= self.min[k] && x <= self.max[k]
        })
    }
}

/// Adhesion of a platelet set: the force field and the adhesive wall patches.
#[derive(Clone, Debug, PartialEq)]
pub struct Adhesion {
    /// Constants.
    pub params: AdhesionParams,
    /// Adhesive wall patches (none: platelet–platelet aggregation only).
    pub patches: Vec<Patch>,
}

/// What a site is bonded to.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Partner {
    /// Another platelet's site (platelet-particle index).
    Site(u32),
    /// A wall anchor (unwrapped position, moving with the wall).
    Wall([f32; 3]),
}

/// One adhesion bond.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdhesionBond {
    /// The site (platelet-particle index) holding the bond.
    pub site: u32,
    /// Its partner.
    pub partner: Partner,
}

/// Counts of adhesion events and of bonds now held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AdhesionCounts {
    /// Bonds formed since the start.
    pub formed: u64,
    /// Bonds broken since the start.
    pub broken: u64,
    /// Platelet–platelet bonds held now.
    pub platelet_bonds: u64,
    /// Platelet–wall bonds held now.
    pub wall_bonds: u64,
    /// Platelets holding at least one wall bond now.
    pub adhered_platelets: u64,
}

/// The adhesion terms acting on each platelet particle, in CSR form for the GPU twin
/// ([`AdhesionState::gpu_lists`]): `entries[offsets[i]..offsets[i + 1]]` are `[kind, index]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AdhesionLists {
    /// Per-particle offsets (one more than particles).
    pub offsets: Vec<u32>,
    /// `[kind, index]`: the partner particle (pairs) or the anchor (wall bonds).
    pub entries: Vec<[u32; 2]>,
    /// Wall anchors of wall bonds (`vec4`, w unused).
    pub anchors: Vec<[f32; 4]>,
}

impl AdhesionLists {
    /// Morse attraction to another site.
    pub const MORSE: u32 = 0;
    /// Hooke bond to another site.
    pub const HOOKE: u32 = 1;
    /// Morse attraction to the wall.
    pub const WALL_MORSE: u32 = 2;
    /// Hooke bond to a wall anchor.
    pub const WALL_HOOKE: u32 = 3;
}

/// Adhesion bonds and the candidate lists that find new ones.
#[derive(Clone, Debug)]
pub struct AdhesionState {
    adhesion: Adhesion,
    /// Site indices (platelet-particle indices of the outer membrane).
    sites: Vec<u32>,
    per_platelet: u32,
    /// Whether each platelet particle holds a bond.
    bonded: Vec<bool>,
    /// Bonds held, in formation order.
    pub bonds: Vec<AdhesionBond>,
    /// Candidate site pairs of different platelets (platelet-particle indices, i < j).
    pairs: Vec<(u32, u32)>,
    /// Candidate sites near an adhesive patch.
    wall_sites: Vec<u32>,
    /// Site positions at the last list build.
    reference: Vec<[f32; 4]>,
    skin: f32,
    formed: u64,
    broken: u64,
    /// The platelets whose sites take part ([`Self::only`]; all by default).
    active: Vec<bool>,
}

/// What a checkpoint keeps of an [`AdhesionState`]: the bonds, the site positions the
/// candidate lists were last built from (the lists are rebuilt from them, so they come back the
/// same), and the event counters.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdhesionSnapshot {
    /// Bonds held, in formation order.
    pub bonds: Vec<AdhesionBond>,
    /// Site positions at the last list build (empty: never built).
    pub reference: Vec<[f32; 4]>,
    /// Bonds formed so far.
    pub formed: u64,
    /// Bonds broken so far.
    pub broken: u64,
}

impl AdhesionState {
    /// The state a checkpoint keeps.
    pub fn snapshot(&self) -> AdhesionSnapshot {
        AdhesionSnapshot {
            bonds: self.bonds.clone(),
            reference: self.reference.clone(),
            formed: self.formed,
            broken: self.broken,
        }
    }

    /// Restores `s` into adhesion over the same sites; `pos` are the platelet particles' current
    /// positions (only the sites' reference positions enter the rebuilt lists).
    pub fn restore(
        &mut self,
        s: &AdhesionSnapshot,
        pos: &[[f32; 4]],
        len: [f32; 3],
        walls: Option<&Walls>,
    ) -> Result<()> {
        let n = self.bonded.len() as u32;
        let bad = |what: &str| Err(KernelError::InconsistentState(format!("adhesion snapshot: {what}")));
        if !s.reference.is_empty() && s.reference.len() != self.sites.len() {
            return bad("its reference positions do not match the adhesive sites");
        }
        let Some(bonded) = bonded_flags(&s.bonds, n as usize) else {
            return bad("a bond names a particle beyond the platelets");
        };
        self.reference.clear();
        (self.pairs, self.wall_sites) = (Vec::new(), Vec::new());
        if !s.reference.is_empty() {
            let mut at_build = pos.to_vec();
            for (&i, r) in self.sites.iter().zip(&s.reference) {
                at_build[i as usize] = *r;
            }
            self.refresh(&at_build, len, walls);
        }
        (self.bonds, self.bonded, self.formed, self.broken) = (s.bonds.clone(), bonded, s.formed, s.broken);
        Ok(())
    }

    /// Adhesion among the platelet particles `sites` (outer membrane), `per_platelet` particles
    /// to a platelet, `n` platelet particles in all, lists with Verlet skin `skin`.
    pub fn new(adhesion: Adhesion, sites: Vec<u32>, per_platelet: usize, n: usize, skin: f32) -> Result<Self> {
        adhesion.params.validate()?;
        for (k, p) in adhesion.patches.iter().enumerate() {
            if (0..3).any(|a| !(p.min[a].is_finite() && p.max[a].is_finite() && p.min[a] < p.max[a])) {
                return Err(KernelError::invalid(
                    format!("adhesion.patches[{k}]"),
                    format!("{:?}..{:?}", p.min, p.max),
                    "each corner must be finite with min < max on every axis",
                ));
            }
        }
        Ok(Self {
            adhesion,
            sites,
            per_platelet: per_platelet as u32,
            bonded: vec![false; n],
            bonds: Vec::new(),
            pairs: Vec::new(),
            wall_sites: Vec::new(),
            reference: Vec::new(),
            skin,
            formed: 0,
            broken: 0,
            active: vec![true; n / per_platelet.max(1)],
        })
    }

    /// Restricts the forces, bond events and candidate lists to the sites of the platelets
    /// `active` marks (one flag per platelet): a rank that advances some platelets of a set that
    /// every rank holds (`crate::platelet_division`). The platelets left out must not interact
    /// with the ones kept. A change of the selection drops the candidate lists, which hold the
    /// old selection's sites. The lists are sorted and every term checks its cut-off, so they
    /// give the same forces and events whenever they are rebuilt.
    pub fn only(&mut self, active: &[bool]) {
        if self.active != active {
            self.active = active.to_vec();
            self.reference.clear();
        }
    }

    /// The bonds held by the selected platelets' sites ([`Self::only`]), to send to ranks that
    /// do not advance them.
    pub fn selected_bonds(&self) -> impl Iterator<Item = &AdhesionBond> {
        self.bonds.iter().filter(|b| self.active[self.platelet(b.site)])
    }

    /// Events so far: (formed, broken).
    pub fn events(&self) -> (u64, u64) {
        (self.formed, self.broken)
    }

    /// Takes the bonds and event counts that the ranks advancing each platelet agreed on: the
    /// bonds sorted by site (each site holds at most one), so the order does not depend on how
    /// the platelets were divided.
    pub fn replace_bonds(&mut self, mut bonds: Vec<AdhesionBond>, formed: u64, broken: u64) -> Result<()> {
        bonds.sort_by_key(|b| b.site);
        self.bonded = bonded_flags(&bonds, self.bonded.len()).ok_or_else(|| {
            KernelError::InconsistentState("shared adhesion bonds name a particle beyond the platelets".into())
        })?;
        (self.bonds, self.formed, self.broken) = (bonds, formed, broken);
        Ok(())
    }

    /// The force field.
    pub fn params(&self) -> &AdhesionParams {
        &self.adhesion.params
    }

    fn platelet(&self, i: u32) -> usize {
        (i / self.per_platelet) as usize
    }

    fn reach(&self) -> f32 {
        self.adhesion.params.cutoff + self.skin
    }

    fn stale(&self, pos: &[[f32; 4]]) -> bool {
        let lim = 0.25 * self.skin * self.skin;
        self.reference.len() != self.sites.len()
            || self.sites.iter().zip(&self.reference).any(|(&i, r)| {
                let a = pos[i as usize];
                Vec3::new(a[0] - r[0], a[1] - r[1], a[2] - r[2]).length_squared() > lim
            })
    }

    /// Rebuilds the candidate lists when a site moved more than half the skin.
    fn refresh(&mut self, pos: &[[f32; 4]], len: [f32; 3], walls: Option<&Walls>) {
        if !self.stale(pos) {
            return;
        }
        let reach = self.reach();
        let site_pos: Vec<[f32; 4]> = self.sites.iter().map(|&i| pos[i as usize]).collect();
        let grid = PairGrid::new(&site_pos, len, reach);
        let l = Vec3::from(len);
        let mut pairs = Vec::new();
        let selected = |i: u32| self.active[self.platelet(i)];
        for (a, &i) in self.sites.iter().enumerate() {
            if !selected(i) {
                continue;
            }
            let xi = Vec3::new(site_pos[a][0], site_pos[a][1], site_pos[a][2]);
            grid.for_each_near(&site_pos[a], |b| {
                let j = self.sites[b as usize];
                if j > i && self.platelet(i) != self.platelet(j) && selected(j) {
                    let xj = Vec3::new(site_pos[b as usize][0], site_pos[b as usize][1], site_pos[b as usize][2]);
                    if min_image_any(xi - xj, l).length_squared() < reach * reach {
                        pairs.push((i, j));
                    }
                }
            });
        }
        pairs.sort_unstable();
        self.pairs = pairs;
        self.wall_sites = match walls {
            Some(w) if !self.adhesion.patches.is_empty() => self
                .sites
                .iter()
                .copied()
                .filter(|&i| {
                    if !self.active[self.platelet(i)] {
                        return false;
                    }
                    let p = pos[i as usize];
                    let x = [p[0], p[1], p[2]];
                    self.adhesion.patches.iter().any(|pt| pt.contains(x, len)) && !w.sdf.deeper_than(x, reach)
                })
                .collect(),
            _ => Vec::new(),
        };
        self.reference = site_pos;
    }

    /// Adds the adhesion forces (Morse on unbonded adhesive candidates, Hooke on bonds) to `out`.
    /// `activated[p]` says whether platelet `p` is activated.
    pub fn add_forces(
        &mut self,
        pos: &[[f32; 4]],
        activated: &[bool],
        len: [f32; 3],
        walls: Option<&Walls>,
        out: &mut [[f32; 4]],
    ) {
        self.refresh(pos, len, walls);
        let p = self.adhesion.params;
        let l = Vec3::from(len);
        let v3 = |a: [f32; 4]| Vec3::new(a[0], a[1], a[2]);
        let mut add = |i: u32, f: Vec3| {
            let o = &mut out[i as usize];
            o[0] += f.x;
            o[1] += f.y;
            o[2] += f.z;
        };
        if p.morse.d0 > 0.0 {
            for &(i, j) in &self.pairs {
                if self.bonded[i as usize] || self.bonded[j as usize] {
                    continue;
                }
                if !(activated[self.platelet(i)] || activated[self.platelet(j)]) {
                    continue;
                }
                let d = min_image_any(v3(pos[i as usize]) - v3(pos[j as usize]), l);
                let r = d.length();
                if r >= p.cutoff || r == 0.0 {
                    continue;
                }
                let f = d * (morse_magnitude(&p.morse, r) / r);
                add(i, f);
                add(j, -f);
            }
            if let Some(w) = walls {
                for &i in &self.wall_sites {
                    if self.bonded[i as usize] || !activated[self.platelet(i)] {
                        continue;
                    }
                    let x = v3(pos[i as usize]);
                    let (s, g) = w.sdf.eval(x.into());
                    let g = Vec3::from(g);
                    let dist = -s;
                    if dist >= p.cutoff || g.length_squared() == 0.0 {
                        continue;
                    }
                    // Away from the wall is -grad(sdf).
                    add(i, -g.normalize() * morse_magnitude(&p.morse, dist.max(0.0)));
                }
            }
        }
        for b in self.bonds.iter().filter(|b| self.active[self.platelet(b.site)]) {
            let xi = v3(pos[b.site as usize]);
            match b.partner {
                Partner::Site(j) => {
                    let f = hooke(&p, min_image_any(xi - v3(pos[j as usize]), l));
                    add(b.site, f);
                    add(j, -f);
                }
                Partner::Wall(a) => add(b.site, hooke(&p, xi - Vec3::from(a))),
            }
        }
    }

    /// Once per plasma step of length `dt`: moves wall anchors with their walls, breaks bonds
    /// pulled beyond the rupture force, then forms bonds between unbonded adhesive candidates
    /// closer than the capture distance (closest first, one bond per site). Returns whether any
    /// bond formed or broke (the forces then need re-evaluating).
    pub fn update(
        &mut self,
        pos: &[[f32; 4]],
        activated: &[bool],
        len: [f32; 3],
        walls: Option<&Walls>,
        dt: f32,
    ) -> bool {
        let events = self.formed + self.broken;
        let p = self.adhesion.params;
        let l = Vec3::from(len);
        let v3 = |a: [f32; 4]| Vec3::new(a[0], a[1], a[2]);
        let (active, per) = (&self.active, self.per_platelet);
        if let Some(w) = walls {
            for b in self.bonds.iter_mut().filter(|b| active[(b.site / per) as usize]) {
                if let Partner::Wall(a) = &mut b.partner {
                    let v = w.motion.velocity(*a);
                    for k in 0..3 {
                        a[k] += dt * v[k];
                    }
                }
            }
        }
        let bonded = &mut self.bonded;
        let before = self.bonds.len();
        self.bonds.retain(|b| {
            if !active[(b.site / per) as usize] {
                return true;
            }
            let xi = v3(pos[b.site as usize]);
            let d = match b.partner {
                Partner::Site(j) => min_image_any(xi - v3(pos[j as usize]), l),
                Partner::Wall(a) => xi - Vec3::from(a),
            };
            let keep = hooke(&p, d).length() <= p.rupture;
            if !keep {
                bonded[b.site as usize] = false;
                if let Partner::Site(j) = b.partner {
                    bonded[j as usize] = false;
                }
            }
            keep
        });
        self.broken += (before - self.bonds.len()) as u64;

        self.refresh(pos, len, walls);
        // Candidates: (distance, site, partner), closest first; ties by index for determinism.
        let mut cand: Vec<(f32, u32, Partner)> = Vec::new();
        for &(i, j) in &self.pairs {
            if self.bonded[i as usize] || self.bonded[j as usize] {
                continue;
            }
            if !(activated[self.platelet(i)] || activated[self.platelet(j)]) {
                continue;
            }
            let r = min_image_any(v3(pos[i as usize]) - v3(pos[j as usize]), l).length();
            if r < p.capture {
                cand.push((r, i, Partner::Site(j)));
            }
        }
        if let Some(w) = walls {
            for &i in &self.wall_sites {
                if self.bonded[i as usize] || !activated[self.platelet(i)] {
                    continue;
                }
                let x = pos[i as usize];
                let (s, g) = w.sdf.eval([x[0], x[1], x[2]]);
                let g = Vec3::from(g);
                if -s < p.capture && g.length_squared() > 0.0 {
                    // The nearest wall point: step the distance along the gradient.
                    let anchor = v3(x) - g.normalize() * s;
                    cand.push((-s, i, Partner::Wall(anchor.into())));
                }
            }
        }
        cand.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (_, i, partner) in cand {
            let free = !self.bonded[i as usize] && !matches!(partner, Partner::Site(j) if self.bonded[j as usize]);
            if !free {
                continue;
            }
            self.bonded[i as usize] = true;
            if let Partner::Site(j) = partner {
                self.bonded[j as usize] = true;
            }
            self.bonds.push(AdhesionBond { site: i, partner });
            self.formed += 1;
        }
        self.formed + self.broken != events
    }

    /// The forces [`AdhesionState::add_forces`] would add, as per-particle lists for the GPU twin
    /// (`shaders/adhesion.wgsl`): refreshes the candidate lists first, then keeps only the terms
    /// that act (adhesive unbonded candidates, bonds). Rebuilt on the host whenever bonds, the
    /// activation or the candidate lists change; between those only positions move.
    pub fn gpu_lists(
        &mut self,
        pos: &[[f32; 4]],
        activated: &[bool],
        len: [f32; 3],
        walls: Option<&Walls>,
    ) -> AdhesionLists {
        self.refresh(pos, len, walls);
        let n = self.bonded.len();
        let mut per: Vec<Vec<[u32; 2]>> = vec![Vec::new(); n];
        let mut anchors = Vec::new();
        let m = self.adhesion.params.morse.d0 > 0.0;
        if m {
            for &(i, j) in &self.pairs {
                let adhesive = activated[self.platelet(i)] || activated[self.platelet(j)];
                if adhesive && !self.bonded[i as usize] && !self.bonded[j as usize] {
                    per[i as usize].push([AdhesionLists::MORSE, j]);
                    per[j as usize].push([AdhesionLists::MORSE, i]);
                }
            }
            if walls.is_some() {
                for &i in &self.wall_sites {
                    if !self.bonded[i as usize] && activated[self.platelet(i)] {
                        per[i as usize].push([AdhesionLists::WALL_MORSE, 0]);
                    }
                }
            }
        }
        for b in &self.bonds {
            match b.partner {
                Partner::Site(j) => {
                    per[b.site as usize].push([AdhesionLists::HOOKE, j]);
                    per[j as usize].push([AdhesionLists::HOOKE, b.site]);
                }
                Partner::Wall(a) => {
                    per[b.site as usize].push([AdhesionLists::WALL_HOOKE, anchors.len() as u32]);
                    anchors.push([a[0], a[1], a[2], 0.0]);
                }
            }
        }
        let mut offsets = vec![0u32];
        let mut entries = Vec::new();
        for e in per {
            entries.extend(e);
            offsets.push(entries.len() as u32);
        }
        AdhesionLists { offsets, entries, anchors }
    }

    /// Events so far and bonds held now.
    pub fn counts(&self) -> AdhesionCounts {
        let mut walled = std::collections::BTreeSet::new();
        let (mut pb, mut wb) = (0, 0);
        for b in &self.bonds {
            match b.partner {
                Partner::Site(_) => pb += 1,
                Partner::Wall(_) => {
                    wb += 1;
                    walled.insert(self.platelet(b.site));
                }
            }
        }
        AdhesionCounts {
            formed: self.formed,
            broken: self.broken,
            platelet_bonds: pb,
            wall_bonds: wb,
            adhered_platelets: walled.len() as u64,
        }
    }
}

/// Morse force magnitude along the separation (positive: repulsive) at distance `r`:
/// `-dU/dr` of `U = D (e^{-2a(r-r0)} - 2 e^{-a(r-r0)})`.
pub fn morse_magnitude(m: &Morse, r: f32) -> f32 {
    let e = (-m.alpha * (r - m.r0)).exp();
    2.0 * m.d0 * m.alpha * (e * e - e)
}

/// Hooke force on the site at separation `d` from its partner.
fn hooke(p: &AdhesionParams, d: Vec3) -> Vec3 {
    let r = d.length();
    if r == 0.0 {
        return Vec3::ZERO;
    }
    d * (-p.spring * (r - p.rest) / r)
}

/// Which of `n` platelet particles `bonds` hold (a site, or a partner site); `None` if a bond
/// names a particle beyond them.
fn bonded_flags(bonds: &[AdhesionBond], n: usize) -> Option<Vec<bool>> {
    let mut bonded = vec![false; n];
    for b in bonds {
        let partner = match b.partner {
            Partner::Site(j) => Some(j as usize),
            Partner::Wall(_) => None,
        };
        if b.site as usize >= n || partner.is_some_and(|j| j >= n) {
            return None;
        }
        bonded[b.site as usize] = true;
        if let Some(j) = partner {
            bonded[j] = true;
        }
    }
    Some(bonded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_sites(activated: [bool; 2], r: f32) -> (AdhesionState, Vec<[f32; 4]>, Vec<bool>) {
        let a = Adhesion { params: AdhesionParams::DEFAULT, patches: Vec::new() };
        // Two "platelets" of one particle each, both particles sites.
        let s = AdhesionState::new(a, vec![0, 1], 1, 2, 0.3).unwrap();
        (s, vec![[5.0, 5.0, 5.0, 0.0], [5.0 + r, 5.0, 5.0, 0.0]], activated.to_vec())
    }

    #[test]
    fn morse_is_minus_the_energy_gradient() {
        let m = AdhesionParams::DEFAULT.morse;
        let u = |r: f32| m.d0 * ((-2.0 * m.alpha * (r - m.r0)).exp() - 2.0 * (-m.alpha * (r - m.r0)).exp());
        for r in [0.3f32, 0.45, 0.6, 0.9] {
            let h = 1e-3;
            let fd = -(u(r + h) - u(r - h)) / (2.0 * h);
            assert!((morse_magnitude(&m, r) - fd).abs() < 1e-3, "r {r}: {} vs {fd}", morse_magnitude(&m, r));
        }
        assert!(morse_magnitude(&m, m.r0).abs() < 1e-6);
    }

    #[test]
    fn resting_pairs_do_not_attract_activated_ones_do_and_bond() {
        let len = [10.0; 3];
        let (mut s, pos, act) = two_sites([false, false], 0.9);
        let mut f = vec![[0.0; 4]; 2];
        s.add_forces(&pos, &act, len, None, &mut f);
        assert_eq!(f, vec![[0.0; 4]; 2], "no activated partner: no adhesion");
        let (mut s, pos, act) = two_sites([true, false], 0.9);
        s.add_forces(&pos, &act, len, None, &mut f);
        assert!(f[0][0] > 0.0 && f[1][0] < 0.0 && (f[0][0] + f[1][0]).abs() < 1e-6, "attraction: {f:?}");
        // Beyond capture: no bond; inside: one bond, counted.
        s.update(&pos, &act, len, None, 0.01);
        assert_eq!(s.counts().formed, 0);
        let close = vec![pos[0], [5.5, 5.0, 5.0, 0.0]];
        s.update(&close, &act, len, None, 0.01);
        assert_eq!(s.counts(), AdhesionCounts { formed: 1, platelet_bonds: 1, ..Default::default() });
        // A bonded pair feels the spring, not the Morse well: at 0.5 (rest 0.6) it pushes site 0
        // towards -x with k (rest - r), where the Morse force would vanish (r0 = 0.5).
        let mut f = vec![[0.0; 4]; 2];
        s.add_forces(&close, &act, len, None, &mut f);
        let want = AdhesionParams::DEFAULT.spring * (0.5 - AdhesionParams::DEFAULT.rest);
        assert!((f[0][0] - want).abs() < 1e-4 && (f[1][0] + want).abs() < 1e-4, "{f:?} vs {want}");
    }

    #[test]
    fn bonds_break_above_the_rupture_force_only() {
        let len = [10.0; 3];
        let p = AdhesionParams::DEFAULT;
        let (mut s, pos, act) = two_sites([true, true], 0.5);
        s.update(&pos, &act, len, None, 0.01);
        assert_eq!(s.counts().platelet_bonds, 1);
        // Just below the rupture stretch: holds; just above: breaks, and the sites are free.
        let at = |r: f32| vec![pos[0], [5.0 + r, 5.0, 5.0, 0.0]];
        let r_break = p.rest + p.rupture / p.spring;
        s.update(&at(r_break - 0.01), &act, len, None, 0.01);
        assert_eq!(s.counts().broken, 0);
        s.update(&at(r_break + 0.01), &act, len, None, 0.01);
        assert_eq!(s.counts(), AdhesionCounts { formed: 1, broken: 1, ..Default::default() });
        s.update(&at(0.5), &act, len, None, 0.01);
        assert_eq!(s.counts().formed, 2, "free sites bond again");
    }

    #[test]
    fn one_bond_per_site_closest_first() {
        let len = [10.0; 3];
        let a = Adhesion { params: AdhesionParams::DEFAULT, patches: Vec::new() };
        // Site 0 of platelet 0 between sites of platelets 1 and 2; platelet 2's is closer.
        let mut s = AdhesionState::new(a, vec![0, 1, 2], 1, 3, 0.3).unwrap();
        let pos = vec![[5.0, 5.0, 5.0, 0.0], [5.45, 5.0, 5.0, 0.0], [4.6, 5.0, 5.0, 0.0]];
        s.update(&pos, &[true, true, true], len, None, 0.01);
        assert_eq!(s.bonds, vec![AdhesionBond { site: 0, partner: Partner::Site(2) }]);
    }

    #[test]
    fn bad_constants_are_refused_by_name() {
        let mut p = AdhesionParams::DEFAULT;
        p.capture = 2.0;
        let e = p.validate().unwrap_err().to_string();
        assert!(e.contains("adhesion.capture"), "{e}");
        let a = Adhesion { params: AdhesionParams::DEFAULT, patches: vec![Patch { min: [1.0; 3], max: [0.0; 3] }] };
        let e = AdhesionState::new(a, vec![], 1, 0, 0.3).unwrap_err().to_string();
        assert!(e.contains("adhesion.patches[0]"), "{e}");
    }
}
