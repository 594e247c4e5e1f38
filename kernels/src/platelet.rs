//! The coarse-grained platelet (after the Stony Brook DPD–CGMD model: Zhang et al. 2014, 2017;
//! Pothapragada et al. 2015): an oblate discoid built from particles in three zones.
//!
//! - **Membrane** (peripheral zone): a two-layer elastic shell. The outer layer is a triangulated
//!   oblate spheroid (a geodesic icosphere of frequency f, 10 f^2 + 2 vertices, mapped onto the
//!   spheroid with equal arc lengths along its meridians); the inner layer is the same mesh on the spheroid
//!   shrunk by the layer gap. Springs join neighbours within each layer, each vertex to its partner
//!   in the other layer, and each vertex to its partner's neighbours (the diagonals that make the
//!   shell resist shear); dihedral bending acts across every edge of both layers.
//! - **Cytoskeleton** (structural zone): the marginal band, a ring of particles just inside the rim
//!   with springs and bending along it (what holds a resting platelet's discoid shape), and a
//!   filamentous core: straight filaments from the centre to the band in the mid-plane, each of
//!   their particles anchored by springs to the inner membrane above and below.
//! - **Cytoplasm** (organelle zone): particles on a cubic lattice filling the rest of the interior,
//!   held only by the non-bonded Lennard-Jones forces ([`crate::nonbonded`]).
//!
//! The model is *stress-free*: every rest length, rest angle and rest dihedral is taken from the
//! built shape, so the platelet at rest feels no bonded force, and the Lennard-Jones diameter is
//! set below the closest non-bonded distance of the rest shape, so it only acts on compression.
//! Resolution is one number, the particle spacing `h`, chosen from the requested particle count
//! (from a few hundred for tests up to the published ~140,000).
//!
//! ```
//! use hemoscale_kernels::platelet::{PlateletSpec, PlateletTemplate, Stiffness, Zone};
//!
//! let spec = PlateletSpec {
//!     diameter: 6.0,
//!     aspect_ratio: 0.25,
//!     resolution: 400,
//!     mass: 85.0,
//!     stiffness: Stiffness::DEFAULT,
//! };
//! let t = PlateletTemplate::build(&spec)?;
//! assert!((300..500).contains(&t.len()), "about the requested count: {}", t.len());
//! assert!(Zone::ALL.iter().all(|&z| t.count(z) > 0));
//! // Both membrane layers are one icosphere mesh of 10 f^2 + 2 vertices and 20 f^2 triangles.
//! let nv = t.outer_vertices();
//! assert_eq!(t.count(Zone::MembraneInner), nv);
//! assert_eq!(t.triangles.len(), 2 * (nv - 2));
//! // Stress-free: every spring is at its rest length in the built shape.
//! let length = |b: &hemoscale_kernels::platelet::Bond| {
//!     let (p, q) = (t.pos[b.i as usize], t.pos[b.j as usize]);
//!     ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt()
//! };
//! assert!(t.bonds.iter().all(|b| (length(b) - b.r0).abs() < 1e-5));
//! // Too few particles cannot close the membrane.
//! let coarse = PlateletSpec { resolution: 60, ..spec };
//! assert!(PlateletTemplate::build(&coarse).unwrap_err().to_string().contains("platelet.resolution"));
//! # Ok::<(), hemoscale_kernels::KernelError>(())
//! ```

use std::collections::HashMap;

use glam::DVec3;

use crate::error::{KernelError, Result};

/// What a platelet particle is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Zone {
    /// Outer membrane layer (the only one that meets the plasma).
    MembraneOuter,
    /// Inner membrane layer.
    MembraneInner,
    /// Cytoskeleton: marginal band and core filaments.
    Cytoskeleton,
    /// Cytoplasm.
    Cytoplasm,
}

impl Zone {
    /// All zones, in particle-type order.
    pub const ALL: [Zone; 4] = [Zone::MembraneOuter, Zone::MembraneInner, Zone::Cytoskeleton, Zone::Cytoplasm];
    /// Name used in outputs.
    pub fn name(self) -> &'static str {
        match self {
            Zone::MembraneOuter => "membrane_outer",
            Zone::MembraneInner => "membrane_inner",
            Zone::Cytoskeleton => "cytoskeleton",
            Zone::Cytoplasm => "cytoplasm",
        }
    }
    /// Index in [`Zone::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
    /// True for both membrane layers.
    pub fn is_membrane(self) -> bool {
        matches!(self, Zone::MembraneOuter | Zone::MembraneInner)
    }
}

/// Which structure a spring belongs to (spring constants are set per kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BondKind {
    /// Along an edge of either membrane layer.
    MembraneEdge,
    /// Between the layers (partner and diagonals).
    Interlayer,
    /// Along the marginal band or a core filament.
    Filament,
    /// Cytoskeleton to inner membrane.
    Anchor,
    /// The cytoplasm's gel network (to its neighbours in every zone but the outer membrane).
    Cytoplasm,
}

impl BondKind {
    /// True for the springs of the membrane shell (its stress is the membrane stress).
    pub fn is_membrane(self) -> bool {
        matches!(self, BondKind::MembraneEdge | BondKind::Interlayer)
    }
}

/// A harmonic spring `U = k/2 (r - r0)^2`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bond {
    /// Particles (template indices).
    pub i: u32,
    /// Second particle.
    pub j: u32,
    /// Rest length.
    pub r0: f32,
    /// Spring constant.
    pub k: f32,
    /// Structure it belongs to.
    pub kind: BondKind,
}

/// A bending term over three particles, harmonic in the cosine of the angle at `j`:
/// `U = k (cos theta - cos theta0)^2` (no singularity at straight rest angles).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Angle {
    /// End particle.
    pub i: u32,
    /// Apex.
    pub j: u32,
    /// Other end.
    pub k: u32,
    /// Rest cosine.
    pub cos0: f32,
    /// Stiffness.
    pub kb: f32,
}

/// Membrane bending across the edge `j–k` shared by the triangles `(i, j, k)` and `(j, k, l)`:
/// `U = kb [1 - cos(phi - phi0)]` (Kantor–Nelson), `phi` the signed dihedral angle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dihedral {
    /// Wing particle of the first triangle.
    pub i: u32,
    /// First particle of the shared edge.
    pub j: u32,
    /// Second particle of the shared edge.
    pub k: u32,
    /// Wing particle of the second triangle.
    pub l: u32,
    /// Rest dihedral angle.
    pub phi0: f32,
    /// Bending stiffness.
    pub kb: f32,
}

/// Spring and bending constants (DPD units: kT/rc^2 for springs, kT for bending).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stiffness {
    /// Springs along membrane edges.
    pub membrane: f32,
    /// Springs between the two membrane layers.
    pub interlayer: f32,
    /// Springs along the marginal band and the core filaments.
    pub filament: f32,
    /// Springs anchoring the cytoskeleton to the membrane.
    pub anchor: f32,
    /// Springs of the cytoplasm's gel network.
    pub cytoplasm: f32,
    /// Dihedral bending of the membrane layers.
    pub membrane_bending: f32,
    /// Bending along the band and filaments.
    pub filament_bending: f32,
    /// Volume stiffness `k_v` of `U = k_v (V - V0)^2 / (2 V0)` over the outer membrane (a
    /// pressure, kT/rc^3). The soft DPD plasma presses on the membrane with its pressure (about
    /// 24 at density 3); the platelet's cytoplasm resists that in nature, and this term stands in
    /// for it: the platelet loses `p / k_v` of its volume (1 % at the default). Not scaled by
    /// [`Stiffness::scaled`], which changes the platelet's deformability, not the plasma's push.
    pub volume: f32,
}

impl Stiffness {
    /// The defaults, for a platelet that keeps its shape within a few per cent in shear flows of
    /// the plasma at stresses of order 1 (DPD units).
    pub const DEFAULT: Self = Self {
        membrane: 2500.0,
        interlayer: 2500.0,
        filament: 5000.0,
        anchor: 2500.0,
        cytoplasm: 1000.0,
        membrane_bending: 100.0,
        filament_bending: 500.0,
        volume: 5000.0,
    };
    /// Every constant multiplied by `f` (the `stiffness` key of scenarios scales them together).
    pub fn scaled(self, f: f32) -> Self {
        Self {
            membrane: self.membrane * f,
            interlayer: self.interlayer * f,
            filament: self.filament * f,
            anchor: self.anchor * f,
            cytoplasm: self.cytoplasm * f,
            membrane_bending: self.membrane_bending * f,
            filament_bending: self.filament_bending * f,
            volume: self.volume,
        }
    }
}

/// What to build.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlateletSpec {
    /// Diameter (rc).
    pub diameter: f32,
    /// Thickness over diameter.
    pub aspect_ratio: f32,
    /// Requested number of particles (the built platelet has about this many).
    pub resolution: u32,
    /// Mass of the whole platelet (DPD units; the plasma's density times the volume makes it
    /// neutrally buoyant).
    pub mass: f32,
    /// Springs and bending.
    pub stiffness: Stiffness,
}

/// Fewest outer-membrane vertices that still close a shell against the plasma: an icosphere of
/// frequency 2 (42 vertices).
pub const MIN_FREQUENCY: u32 = 2;

/// A built platelet in its own frame (centre at the origin, symmetry axis along z).
#[derive(Clone, Debug, PartialEq)]
pub struct PlateletTemplate {
    /// The spec it was built from.
    pub spec: PlateletSpec,
    /// Particle spacing h (rc).
    pub spacing: f32,
    /// Positions relative to the centre.
    pub pos: Vec<[f32; 3]>,
    /// Zone of each particle.
    pub zone: Vec<Zone>,
    /// Mass of each particle.
    pub particle_mass: f32,
    /// Springs.
    pub bonds: Vec<Bond>,
    /// Three-body bending.
    pub angles: Vec<Angle>,
    /// Membrane bending.
    pub dihedrals: Vec<Dihedral>,
    /// Triangles of the outer membrane, counter-clockwise seen from outside (for volume, area and
    /// mesh output).
    pub triangles: Vec<[u32; 3]>,
    /// Lennard-Jones diameter sigma for non-bonded pairs.
    pub lj_sigma: f32,
    /// Enclosed volume of the outer membrane at rest.
    pub volume: f32,
}

impl PlateletTemplate {
    /// Builds the platelet of `spec`, refusing specs that cannot make a closed, stable shell.
    pub fn build(spec: &PlateletSpec) -> Result<Self> {
        check_spec(spec)?;
        // Particle count falls as the spacing grows: bisect the spacing on the count.
        let (mut lo, mut hi) = (0.02 * spec.diameter, spec.diameter);
        for _ in 0..30 {
            let mid = 0.5 * (lo + hi);
            let n = Self::with_spacing(spec, mid)?.pos.len() as u32;
            if n > spec.resolution {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let t = Self::with_spacing(spec, hi)?;
        let f = frequency_for(spec, hi);
        if f < MIN_FREQUENCY {
            return Err(KernelError::invalid(
                "platelet.resolution",
                spec.resolution,
                format!(
                    "is too low to close the membrane: at least about {} particles are needed for a diameter of {} and aspect ratio {}",
                    Self::with_spacing(spec, spacing_for_frequency(spec, MIN_FREQUENCY))?.pos.len(),
                    spec.diameter,
                    spec.aspect_ratio
                ),
            ));
        }
        Ok(t)
    }

    /// Builds with spacing `h`.
    fn with_spacing(spec: &PlateletSpec, h: f32) -> Result<Self> {
        let a = 0.5 * f64::from(spec.diameter);
        let c = a * f64::from(spec.aspect_ratio);
        let h64 = f64::from(h);
        let gap = (0.5 * h64).min(0.45 * c);
        let f = frequency_for(spec, h).max(1);
        let (unit, triangles) = icosphere(f);
        let outer = map_to_spheroid(&unit, a, c);
        // Parametric coordinates of the outer vertices, reused for the inner layer.
        let param: Vec<DVec3> = outer.iter().map(|p| DVec3::new(p.x / a, p.y / a, p.z / c).normalize()).collect();
        let (ai, ci) = (a - gap, c - gap);
        let inner: Vec<DVec3> = param.iter().map(|u| DVec3::new(ai * u.x, ai * u.y, ci * u.z)).collect();
        let nv = outer.len() as u32;
        let mut pos: Vec<DVec3> = outer.clone();
        pos.extend(&inner);
        let mut zone = vec![Zone::MembraneOuter; nv as usize];
        zone.extend(vec![Zone::MembraneInner; nv as usize]);
        let s = spec.stiffness;
        let mut bonds = Vec::new();
        let edges = mesh_edges(&triangles);
        let dist = |p: &[DVec3], i: u32, j: u32| (p[i as usize] - p[j as usize]).length() as f32;
        let mut bond = |p: &[DVec3], i: u32, j: u32, k: f32, kind: BondKind| {
            bonds.push(Bond { i, j, r0: dist(p, i, j), k, kind });
        };
        for &(i, j) in edges.keys() {
            bond(&pos, i, j, s.membrane, BondKind::MembraneEdge);
            bond(&pos, i + nv, j + nv, s.membrane, BondKind::MembraneEdge);
            bond(&pos, i, j + nv, s.interlayer, BondKind::Interlayer);
            bond(&pos, j, i + nv, s.interlayer, BondKind::Interlayer);
        }
        for i in 0..nv {
            bond(&pos, i, i + nv, s.interlayer, BondKind::Interlayer);
        }
        let mut dihedrals = Vec::new();
        for (&(j, k), wings) in &edges {
            if let [i, l] = wings[..] {
                for off in [0, nv] {
                    let q = [i + off, j + off, k + off, l + off];
                    let phi0 =
                        dihedral_angle(pos[q[0] as usize], pos[q[1] as usize], pos[q[2] as usize], pos[q[3] as usize]);
                    dihedrals.push(Dihedral {
                        i: q[0],
                        j: q[1],
                        k: q[2],
                        l: q[3],
                        phi0: phi0 as f32,
                        kb: s.membrane_bending,
                    });
                }
            }
        }
        // Cytoskeleton: marginal band in the mid-plane just inside the inner layer's rim.
        let mut angles = Vec::new();
        let band_r = ai - h64;
        let first_cyto = pos.len() as u32;
        let mut band = Vec::new();
        if band_r > h64 {
            let nb = ((std::f64::consts::TAU * band_r / h64).round() as u32).max(6);
            for q in 0..nb {
                let t = std::f64::consts::TAU * f64::from(q) / f64::from(nb);
                band.push(pos.len() as u32);
                pos.push(DVec3::new(band_r * t.cos(), band_r * t.sin(), 0.0));
                zone.push(Zone::Cytoskeleton);
            }
            for q in 0..nb as usize {
                let (p, n, nn) = (band[q], band[(q + 1) % band.len()], band[(q + 2) % band.len()]);
                bond(&pos, p, n, s.filament, BondKind::Filament);
                angles.push(angle_term(&pos, p, n, nn, s.filament_bending));
            }
            // Core filaments: spokes from a centre particle to the band.
            let centre = pos.len() as u32;
            pos.push(DVec3::ZERO);
            zone.push(Zone::Cytoskeleton);
            let spokes = (band.len() / 6).clamp(3, 12);
            for sp in 0..spokes {
                let tip = band[sp * band.len() / spokes];
                let dir = pos[tip as usize].normalize();
                let mut chain = vec![centre];
                let mut r = h64;
                while r < band_r - 0.75 * h64 {
                    chain.push(pos.len() as u32);
                    pos.push(dir * r);
                    zone.push(Zone::Cytoskeleton);
                    r += h64;
                }
                chain.push(tip);
                for w in chain.windows(2) {
                    bond(&pos, w[0], w[1], s.filament, BondKind::Filament);
                }
                for w in chain.windows(3) {
                    angles.push(angle_term(&pos, w[0], w[1], w[2], s.filament_bending));
                }
            }
        }
        // Anchors: every cytoskeleton particle to the nearest inner vertex above and below it
        // (the band's particles to the nearest one on the rim side as well).
        let last_cyto = pos.len() as u32;
        let inner_grid = PointGrid::new(&pos[nv as usize..2 * nv as usize], h64);
        let nearest = |x: DVec3, keep: &dyn Fn(DVec3) -> bool| -> Option<u32> {
            let mut r = h64;
            loop {
                let best = inner_grid.within(x, r).filter(|&v| keep(pos[(v + nv) as usize])).min_by(|&u, &v| {
                    let du = (pos[(u + nv) as usize] - x).length_squared();
                    let dv = (pos[(v + nv) as usize] - x).length_squared();
                    du.total_cmp(&dv)
                });
                if best.is_some() || r > 4.0 * a {
                    return best.map(|v| v + nv);
                }
                r *= 2.0;
            }
        };
        for p in first_cyto..last_cyto {
            let x = pos[p as usize];
            let mut picks: Vec<u32> = Vec::new();
            picks.extend(nearest(x, &|q| q.z > x.z));
            picks.extend(nearest(x, &|q| q.z < x.z));
            if band.contains(&p) {
                picks.extend(nearest(x, &|_| true));
            }
            picks.sort_unstable();
            picks.dedup();
            for v in picks {
                bond(&pos, p, v, s.anchor, BondKind::Anchor);
            }
        }
        // Cytoplasm: a cubic lattice inside the inner layer, clear of the cytoskeleton.
        let margin = 0.6 * h64;
        let (ae, ce) = (ai - margin, ci - margin);
        if ae > 0.0 && ce > 0.0 {
            let nxy = (ae / h64).floor() as i64;
            let nz = (ce / h64).floor() as i64;
            let cyto: Vec<DVec3> = pos[first_cyto as usize..].to_vec();
            let cyto_grid = PointGrid::new(&cyto, h64);
            for ix in -nxy..=nxy {
                for iy in -nxy..=nxy {
                    for iz in -nz..=nz {
                        // Offset by half a spacing in the plane so the lattice avoids the filaments.
                        let p = DVec3::new((ix as f64 + 0.5) * h64, (iy as f64 + 0.5) * h64, iz as f64 * h64);
                        let inside = (p.x * p.x + p.y * p.y) / (ae * ae) + p.z * p.z / (ce * ce) <= 1.0;
                        if inside && cyto_grid.within(p, 0.7 * h64).next().is_none() {
                            pos.push(p);
                            zone.push(Zone::Cytoplasm);
                        }
                    }
                }
            }
        }
        // The cytoplasm is a gel: each of its particles is tied to every particle within 1.5 h
        // except the outer membrane. Free particles would be hot (the plasma thermostat reaches
        // them through the shell) and leak out between membrane vertices.
        let first_plasm = zone.iter().position(|&z| z == Zone::Cytoplasm).unwrap_or(pos.len());
        let all_grid = PointGrid::new(&pos, 1.5 * h64);
        for p in first_plasm..pos.len() {
            let mut near: Vec<u32> = all_grid
                .within(pos[p], 1.5 * h64)
                .filter(|&q| q as usize != p && zone[q as usize] != Zone::MembraneOuter)
                .filter(|&q| zone[q as usize] != Zone::Cytoplasm || (q as usize) < p)
                .collect();
            near.sort_unstable();
            for q in near {
                bond(&pos, p as u32, q, s.cytoplasm, BondKind::Cytoplasm);
            }
        }
        // Lennard-Jones diameter: below the closest non-bonded distance, so the rest shape feels
        // nothing (the cut-off is 2^(1/6) sigma).
        let bonded: std::collections::HashSet<(u32, u32)> =
            bonds.iter().map(|b| (b.i.min(b.j), b.i.max(b.j))).collect();
        let grid = PointGrid::new(&pos, h64);
        let mut closest = f64::INFINITY;
        for (i, p) in pos.iter().enumerate() {
            for j in grid.within(*p, h64) {
                if j as usize > i && !bonded.contains(&(i as u32, j)) {
                    closest = closest.min((*p - pos[j as usize]).length());
                }
            }
        }
        let lj_sigma = (0.95 * closest.min(h64) / 2f64.powf(1.0 / 6.0)) as f32;
        let volume = enclosed_volume(&outer, &triangles) as f32;
        let n = pos.len();
        Ok(Self {
            spec: *spec,
            spacing: h,
            pos: pos.iter().map(|p| [p.x as f32, p.y as f32, p.z as f32]).collect(),
            zone,
            particle_mass: spec.mass / n as f32,
            bonds,
            angles,
            dihedrals,
            triangles,
            lj_sigma,
            volume,
        })
    }

    /// Number of particles.
    pub fn len(&self) -> usize {
        self.pos.len()
    }
    /// True for an empty template (never built).
    pub fn is_empty(&self) -> bool {
        self.pos.is_empty()
    }
    /// Particles in `zone`.
    pub fn count(&self, zone: Zone) -> usize {
        self.zone.iter().filter(|&&z| z == zone).count()
    }
    /// Outer-membrane vertex count (the outer layer is particles `[0, n)`).
    pub fn outer_vertices(&self) -> usize {
        self.count(Zone::MembraneOuter)
    }
}

fn check_spec(spec: &PlateletSpec) -> Result<()> {
    if !(spec.diameter.is_finite() && spec.diameter > 0.0) {
        return Err(KernelError::invalid("platelet.diameter", spec.diameter, "must be > 0"));
    }
    if !(spec.aspect_ratio.is_finite() && spec.aspect_ratio > 0.05 && spec.aspect_ratio <= 1.0) {
        return Err(KernelError::invalid("platelet.aspect_ratio", spec.aspect_ratio, "must lie in (0.05, 1]"));
    }
    if !(spec.mass.is_finite() && spec.mass > 0.0) {
        return Err(KernelError::invalid("platelet.mass", spec.mass, "must be > 0"));
    }
    if spec.resolution > 2_000_000 {
        return Err(KernelError::invalid("platelet.resolution", spec.resolution, "must be <= 2,000,000"));
    }
    let s = spec.stiffness;
    for (name, v) in [
        ("membrane", s.membrane),
        ("interlayer", s.interlayer),
        ("filament", s.filament),
        ("anchor", s.anchor),
        ("cytoplasm", s.cytoplasm),
        ("membrane_bending", s.membrane_bending),
        ("filament_bending", s.filament_bending),
        ("volume", s.volume),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            return Err(KernelError::invalid(format!("platelet.stiffness.{name}"), v, "must be finite and >= 0"));
        }
    }
    Ok(())
}

/// Surface area of the oblate spheroid with semi-axes a, a, c (c <= a).
fn spheroid_area(a: f64, c: f64) -> f64 {
    if (a - c).abs() < 1e-9 * a {
        return 4.0 * std::f64::consts::PI * a * a;
    }
    let e = (1.0 - c * c / (a * a)).sqrt();
    2.0 * std::f64::consts::PI * a * a * (1.0 + (1.0 - e * e) / e * e.atanh())
}

/// Icosphere frequency whose mesh has edges of about `h` on the spheroid of `spec`.
fn frequency_for(spec: &PlateletSpec, h: f32) -> u32 {
    let a = 0.5 * f64::from(spec.diameter);
    let area = spheroid_area(a, a * f64::from(spec.aspect_ratio));
    // A mesh of equilateral triangles of edge h has area sqrt(3)/2 h^2 per vertex.
    let vertices = area / (0.866 * f64::from(h).powi(2));
    (((vertices - 2.0) / 10.0).max(0.0).sqrt().round() as u32).max(1)
}

/// The spacing [`frequency_for`] maps to frequency `f`.
fn spacing_for_frequency(spec: &PlateletSpec, f: u32) -> f32 {
    let a = 0.5 * f64::from(spec.diameter);
    let area = spheroid_area(a, a * f64::from(spec.aspect_ratio));
    let vertices = 10.0 * f64::from(f * f) + 2.0;
    (area / (0.866 * vertices)).sqrt() as f32
}

/// Geodesic icosphere of frequency `f` on the unit sphere: `10 f^2 + 2` vertices and `20 f^2`
/// triangles, counter-clockwise seen from outside.
pub fn icosphere(f: u32) -> (Vec<DVec3>, Vec<[u32; 3]>) {
    let t = (1.0 + 5f64.sqrt()) / 2.0;
    let base = [
        DVec3::new(-1.0, t, 0.0),
        DVec3::new(1.0, t, 0.0),
        DVec3::new(-1.0, -t, 0.0),
        DVec3::new(1.0, -t, 0.0),
        DVec3::new(0.0, -1.0, t),
        DVec3::new(0.0, 1.0, t),
        DVec3::new(0.0, -1.0, -t),
        DVec3::new(0.0, 1.0, -t),
        DVec3::new(t, 0.0, -1.0),
        DVec3::new(t, 0.0, 1.0),
        DVec3::new(-t, 0.0, -1.0),
        DVec3::new(-t, 0.0, 1.0),
    ];
    let faces: [[usize; 3]; 20] = [
        [0, 11, 5],
        [0, 5, 1],
        [0, 1, 7],
        [0, 7, 10],
        [0, 10, 11],
        [1, 5, 9],
        [5, 11, 4],
        [11, 10, 2],
        [10, 7, 6],
        [7, 1, 8],
        [3, 9, 4],
        [3, 4, 2],
        [3, 2, 6],
        [3, 6, 8],
        [3, 8, 9],
        [4, 9, 5],
        [2, 4, 11],
        [6, 2, 10],
        [8, 6, 7],
        [9, 8, 1],
    ];
    let mut verts: Vec<DVec3> = Vec::new();
    let mut index: HashMap<[i64; 3], u32> = HashMap::new();
    let mut id = |p: DVec3, verts: &mut Vec<DVec3>| -> u32 {
        let u = p.normalize();
        let key = [(u.x * 1e9).round() as i64, (u.y * 1e9).round() as i64, (u.z * 1e9).round() as i64];
        *index.entry(key).or_insert_with(|| {
            verts.push(u);
            (verts.len() - 1) as u32
        })
    };
    let mut tris = Vec::new();
    let ff = f64::from(f);
    for face in faces {
        let [a, b, c] = face.map(|k| base[k]);
        let point = |i: u32, j: u32| a + (b - a) * (f64::from(i) / ff) + (c - a) * (f64::from(j) / ff);
        let mut grid = vec![vec![0u32; (f + 1) as usize]; (f + 1) as usize];
        for i in 0..=f {
            for j in 0..=f - i {
                grid[i as usize][j as usize] = id(point(i, j), &mut verts);
            }
        }
        for i in 0..f {
            for j in 0..f - i {
                let (i, j) = (i as usize, j as usize);
                tris.push([grid[i][j], grid[i + 1][j], grid[i][j + 1]]);
                if i + j + 1 < f as usize {
                    tris.push([grid[i + 1][j], grid[i + 1][j + 1], grid[i][j + 1]]);
                }
            }
        }
    }
    // Orient every triangle outward.
    for t in &mut tris {
        let [p, q, r] = t.map(|k| verts[k as usize]);
        if (q - p).cross(r - p).dot(p + q + r) < 0.0 {
            t.swap(1, 2);
        }
    }
    (verts, tris)
}

/// Maps unit-sphere vertices onto the spheroid (a, a, c) so that equal polar angles on the
/// sphere become equal arc lengths along the spheroid's meridian: a plain scaling would crowd the
/// vertices at the rim, where the meridian turns sharply (edges 7:1 at aspect ratio 0.25), this
/// keeps them within 2:1. (Umbrella smoothing was tried and slides vertices off the rim ridge.)
fn map_to_spheroid(unit: &[DVec3], a: f64, c: f64) -> Vec<DVec3> {
    // Arc length along the meridian as a function of the parametric polar angle.
    const STEPS: usize = 4096;
    let dt = std::f64::consts::PI / STEPS as f64;
    let mut arc = vec![0.0f64; STEPS + 1];
    for q in 0..STEPS {
        let t = (q as f64 + 0.5) * dt;
        arc[q + 1] = arc[q] + (a * a * t.cos().powi(2) + c * c * t.sin().powi(2)).sqrt() * dt;
    }
    let total = arc[STEPS];
    let param_angle = |theta: f64| {
        let target = total * theta / std::f64::consts::PI;
        let q = arc.partition_point(|&s| s < target).clamp(1, STEPS);
        let w = (target - arc[q - 1]) / (arc[q] - arc[q - 1]).max(1e-300);
        ((q - 1) as f64 + w) * dt
    };
    let p: Vec<DVec3> = unit
        .iter()
        .map(|u| {
            let theta = u.z.clamp(-1.0, 1.0).acos();
            let t = param_angle(theta);
            let phi = u.y.atan2(u.x);
            DVec3::new(a * t.sin() * phi.cos(), a * t.sin() * phi.sin(), c * t.cos())
        })
        .collect();
    p
}

/// Edges of a closed mesh with the wing vertices of the two triangles on either side:
/// key `(j, k)` with `j < k`, value `[i, l]`, where `(i, j, k)`... oriented so the dihedral
/// `(i, j, k, l)` is measured consistently.
fn mesh_edges(tris: &[[u32; 3]]) -> std::collections::BTreeMap<(u32, u32), Vec<u32>> {
    let mut m: std::collections::BTreeMap<(u32, u32), Vec<u32>> = std::collections::BTreeMap::new();
    for t in tris {
        for e in 0..3 {
            let (j, k, w) = (t[e], t[(e + 1) % 3], t[(e + 2) % 3]);
            let key = (j.min(k), j.max(k));
            let wings = m.entry(key).or_default();
            // The triangle that runs j -> k (with j < k) gives the first wing.
            if j < k {
                wings.insert(0, w);
            } else {
                wings.push(w);
            }
        }
    }
    m
}

/// Signed dihedral angle of `(i, j, k, l)` about the axis `j -> k`, in the convention of
/// [`crate::bonded`] (GROMACS): the angle between `m = r_ij x r_kj` and `n = r_kj x r_kl`.
pub fn dihedral_angle(xi: DVec3, xj: DVec3, xk: DVec3, xl: DVec3) -> f64 {
    let (rij, rkj, rkl) = (xi - xj, xk - xj, xk - xl);
    let m = rij.cross(rkj);
    let n = rkj.cross(rkl);
    let phi = m.angle_between(n);
    if rij.dot(n) < 0.0 {
        -phi
    } else {
        phi
    }
}

fn angle_term(pos: &[DVec3], i: u32, j: u32, k: u32, kb: f32) -> Angle {
    let (a, b) = (pos[i as usize] - pos[j as usize], pos[k as usize] - pos[j as usize]);
    Angle { i, j, k, cos0: (a.dot(b) / (a.length() * b.length())) as f32, kb }
}

/// Points binned in cubes of edge `cell`, for neighbour queries while building large platelets.
struct PointGrid<'a> {
    pos: &'a [DVec3],
    cell: f64,
    bins: HashMap<[i64; 3], Vec<u32>>,
}

impl<'a> PointGrid<'a> {
    fn new(pos: &'a [DVec3], cell: f64) -> Self {
        let mut bins: HashMap<[i64; 3], Vec<u32>> = HashMap::new();
        for (i, p) in pos.iter().enumerate() {
            bins.entry(Self::key(*p, cell)).or_default().push(i as u32);
        }
        Self { pos, cell, bins }
    }
    fn key(p: DVec3, cell: f64) -> [i64; 3] {
        [(p.x / cell).floor() as i64, (p.y / cell).floor() as i64, (p.z / cell).floor() as i64]
    }
    /// Indices of the points within distance `r` of `x` (strictly closer), in no fixed order.
    fn within(&self, x: DVec3, r: f64) -> impl Iterator<Item = u32> + '_ {
        let lo = Self::key(x - DVec3::splat(r), self.cell);
        let hi = Self::key(x + DVec3::splat(r), self.cell);
        let keys: Vec<[i64; 3]> = (lo[0]..=hi[0])
            .flat_map(|i| (lo[1]..=hi[1]).flat_map(move |j| (lo[2]..=hi[2]).map(move |k| [i, j, k])))
            .collect();
        keys.into_iter()
            .filter_map(move |k| self.bins.get(&k))
            .flatten()
            .copied()
            .filter(move |&i| (self.pos[i as usize] - x).length() < r)
    }
}

/// Volume enclosed by a closed, outward-oriented triangle mesh (divergence theorem).
pub fn enclosed_volume(pos: &[DVec3], tris: &[[u32; 3]]) -> f64 {
    tris.iter()
        .map(|t| {
            let [a, b, c] = t.map(|k| pos[k as usize]);
            a.dot(b.cross(c)) / 6.0
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(resolution: u32) -> PlateletSpec {
        PlateletSpec { diameter: 6.0, aspect_ratio: 0.25, resolution, mass: 85.0, stiffness: Stiffness::DEFAULT }
    }

    #[test]
    fn icosphere_is_a_closed_oriented_surface() {
        for f in [1, 2, 3, 5, 8] {
            let (v, t) = icosphere(f);
            assert_eq!(v.len() as u32, 10 * f * f + 2);
            assert_eq!(t.len() as u32, 20 * f * f);
            let edges = mesh_edges(&t);
            // Euler characteristic 2, and every edge between exactly two triangles.
            assert_eq!(v.len() as i64 - edges.len() as i64 + t.len() as i64, 2);
            assert!(edges.values().all(|w| w.len() == 2));
            let vol = enclosed_volume(&v, &t);
            assert!(vol > 0.0 && vol < 4.0 * std::f64::consts::PI / 3.0);
        }
    }

    #[test]
    fn requested_resolution_is_met_and_the_shape_is_a_discoid() {
        for n in [400, 1500, 6000] {
            let t = PlateletTemplate::build(&spec(n)).expect("platelet");
            let got = t.len() as f64;
            assert!((got / f64::from(n) - 1.0).abs() < 0.25, "asked {n}, built {got}");
            let z = t.pos.iter().map(|p| p[2].abs()).fold(0.0, f32::max);
            let r = t.pos.iter().map(|p| (p[0] * p[0] + p[1] * p[1]).sqrt()).fold(0.0, f32::max);
            assert!((r - 3.0).abs() < 1e-3 && (z - 0.75).abs() < 1e-3, "{r} {z}");
            // Spheroid volume 4/3 pi a^2 c = 28.27; the inscribed mesh is a little smaller.
            let exact = 4.0 / 3.0 * std::f32::consts::PI * 9.0 * 0.75;
            assert!(t.volume < exact && t.volume > 0.85 * exact, "{} vs {exact}", t.volume);
            for z in Zone::ALL {
                assert!(t.count(z) > 0, "{n}: no {z:?}");
            }
            // Even outer membrane: edges within a factor 2 of each other.
            let nv = t.outer_vertices() as u32;
            let e: Vec<f32> =
                t.bonds.iter().filter(|b| b.kind == BondKind::MembraneEdge && b.i < nv).map(|b| b.r0).collect();
            let (lo, hi) = (e.iter().cloned().fold(f32::MAX, f32::min), e.iter().cloned().fold(0.0, f32::max));
            assert!(hi / lo < 2.0, "{n}: edges {lo}..{hi}");
        }
    }

    #[test]
    fn too_low_a_resolution_is_refused_with_the_field_named() {
        let e = PlateletTemplate::build(&spec(60)).unwrap_err().to_string();
        assert!(e.contains("platelet.resolution") && e.contains("close the membrane"), "{e}");
    }
}
