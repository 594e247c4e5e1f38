//! Bonded forces inside platelets: harmonic springs, cosine-harmonic angles, Kantor–Nelson
//! dihedrals ([`crate::platelet`] builds them) and the volume term of each platelet's outer
//! membrane, `U = k_v (V - V0)^2 / (2 V0)` (Fedosov et al. 2010; Mirheo's membrane volume energy),
//! whose force on a vertex is the gradient of the enclosed volume times `-k_v (V - V0) / V0`: a
//! uniform internal pressure on the membrane. Volumes are summed per platelet first (one pass),
//! then every particle gathers its forces (second pass). The WGSL twin (`shaders/bonded.wgsl`,
//! wrapped by [`crate::gpu::bonded`]) uploads this gather layout as it is.
//!
//! Forces are *gathered*: each particle walks the terms it takes part in (a CSR list built once,
//! [`Topology`]) and sums the force each term puts on it. On the GPU a term is evaluated once per
//! member (twice per spring, four times per dihedral), which costs a little arithmetic and buys
//! what a scatter with atomics cannot: no float atomics (WGSL has none), and a fixed order of
//! sums, so the CPU and GPU add the same terms in the same order. The CPU evaluates each angle and
//! dihedral once into a buffer before the gather: the same bits, in 0.43 to 0.68 of the time
//! (`BENCHMARKS.md`).
//!
//! Platelet positions are kept unwrapped (a platelet never straddles the periodic boundary in its
//! own coordinates), so bonded terms need no minimum image.
//!
//! ```
//! use glam::Vec3;
//! use hemoscale_kernels::bonded::{bond_force, bonded_forces, energy, Topology};
//! use hemoscale_kernels::platelet::{Bond, BondKind};
//!
//! // A spring of rest length 1 stretched to 1.2 pulls back with k (r - r0) = 2.
//! let spring = Bond { i: 0, j: 1, r0: 1.0, k: 10.0, kind: BondKind::Filament };
//! let f = bond_force(Vec3::new(1.2, 0.0, 0.0), Vec3::ZERO, &spring);
//! assert!((f.x + 2.0).abs() < 1e-5);
//! // Gathered per particle, the two ends feel equal and opposite forces.
//! let topology = Topology::new(2, vec![spring], Vec::new(), Vec::new());
//! let pos = [[0.0; 4], [1.2, 0.0, 0.0, 0.0]];
//! let mut out = [[0.0f32; 4]; 2];
//! bonded_forces(&topology, &pos, &mut out);
//! assert!((out[0][0] - 2.0).abs() < 1e-5 && out[1][0] == -out[0][0]);
//! assert!((energy(&topology, &pos) - 0.2).abs() < 1e-6); // k/2 (r - r0)^2
//! ```

use glam::Vec3;
use rayon::prelude::*;

use crate::platelet::{Angle, Bond, Dihedral};

/// Term kinds in the packed CSR entries (top two bits).
const KIND_BOND: u32 = 0;
const KIND_ANGLE: u32 = 1;
const KIND_DIHEDRAL: u32 = 2;
const KIND_TRIANGLE: u32 = 3;
const KIND_SHIFT: u32 = 30;
const INDEX_MASK: u32 = (1 << KIND_SHIFT) - 1;

/// All bonded terms of a set of particles, with each particle's list of the terms it is in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Topology {
    /// Springs (particle indices into the platelet arrays).
    pub bonds: Vec<Bond>,
    /// Angles.
    pub angles: Vec<Angle>,
    /// Dihedrals.
    pub dihedrals: Vec<Dihedral>,
    /// Triangles of every platelet's outer membrane (outward), for the volume term.
    pub triangles: Vec<[u32; 3]>,
    /// Volume term of each platelet: its triangles `tri_offsets[p]..tri_offsets[p + 1]`.
    pub tri_offsets: Vec<u32>,
    /// Rest volume of each platelet.
    pub v0: Vec<f32>,
    /// Volume stiffness of each platelet.
    pub kv: Vec<f32>,
    /// Platelet of each triangle.
    pub tri_platelet: Vec<u32>,
    /// `terms[offsets[p]..offsets[p + 1]]` are particle p's terms, packed as `kind << 30 | index`.
    pub offsets: Vec<u32>,
    /// Packed term references.
    pub terms: Vec<u32>,
}

impl Topology {
    /// Builds the per-particle lists for `n` particles.
    pub fn new(n: usize, bonds: Vec<Bond>, angles: Vec<Angle>, dihedrals: Vec<Dihedral>) -> Self {
        Self::with_volumes(n, bonds, angles, dihedrals, Vec::new(), vec![0], Vec::new(), Vec::new())
    }

    /// With volume terms: platelet p's triangles are `triangles[tri_offsets[p]..tri_offsets[p + 1]]`,
    /// with rest volume `v0[p]` and stiffness `kv[p]`.
    #[allow(clippy::too_many_arguments)]
    pub fn with_volumes(
        n: usize,
        bonds: Vec<Bond>,
        angles: Vec<Angle>,
        dihedrals: Vec<Dihedral>,
        triangles: Vec<[u32; 3]>,
        tri_offsets: Vec<u32>,
        v0: Vec<f32>,
        kv: Vec<f32>,
    ) -> Self {
        let mut lists: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (t, b) in bonds.iter().enumerate() {
            for p in [b.i, b.j] {
                lists[p as usize].push(KIND_BOND << KIND_SHIFT | t as u32);
            }
        }
        for (t, a) in angles.iter().enumerate() {
            for p in [a.i, a.j, a.k] {
                lists[p as usize].push(KIND_ANGLE << KIND_SHIFT | t as u32);
            }
        }
        for (t, d) in dihedrals.iter().enumerate() {
            for p in [d.i, d.j, d.k, d.l] {
                lists[p as usize].push(KIND_DIHEDRAL << KIND_SHIFT | t as u32);
            }
        }
        let mut tri_platelet = vec![0u32; triangles.len()];
        for p in 0..tri_offsets.len().saturating_sub(1) {
            for t in tri_offsets[p]..tri_offsets[p + 1] {
                tri_platelet[t as usize] = p as u32;
                for q in triangles[t as usize] {
                    lists[q as usize].push(KIND_TRIANGLE << KIND_SHIFT | t);
                }
            }
        }
        let mut offsets = Vec::with_capacity(n + 1);
        let mut terms = Vec::new();
        offsets.push(0);
        for l in lists {
            terms.extend(l);
            offsets.push(terms.len() as u32);
        }
        Self { bonds, angles, dihedrals, triangles, tri_offsets, v0, kv, tri_platelet, offsets, terms }
    }

    /// Number of particles.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }
    /// True without particles.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[inline(always)]
fn v(p: &[f32; 4]) -> Vec3 {
    Vec3::new(p[0], p[1], p[2])
}

/// Force of spring `b` on its first particle `i` (the second feels the opposite).
#[inline(always)]
pub fn bond_force(xi: Vec3, xj: Vec3, b: &Bond) -> Vec3 {
    let d = xi - xj;
    let r = d.length();
    if r == 0.0 {
        return Vec3::ZERO;
    }
    d * (-b.k * (r - b.r0) / r)
}

/// Forces of angle `a` on `(i, j, k)`.
#[inline(always)]
pub fn angle_forces(xi: Vec3, xj: Vec3, xk: Vec3, a: &Angle) -> [Vec3; 3] {
    let (u, w) = (xi - xj, xk - xj);
    let (lu, lw) = (u.length(), w.length());
    if lu == 0.0 || lw == 0.0 {
        return [Vec3::ZERO; 3];
    }
    let c = u.dot(w) / (lu * lw);
    let du = 2.0 * a.kb * (c - a.cos0);
    let dci = w / (lu * lw) - u * (c / (lu * lu));
    let dck = u / (lu * lw) - w * (c / (lw * lw));
    let fi = dci * -du;
    let fk = dck * -du;
    [fi, -(fi + fk), fk]
}

/// Forces of dihedral `d` on `(i, j, k, l)` (GROMACS's formulation, `U = kb [1 - cos(phi - phi0)]`).
#[inline(always)]
pub fn dihedral_forces(xi: Vec3, xj: Vec3, xk: Vec3, xl: Vec3, d: &Dihedral) -> [Vec3; 4] {
    let (rij, rkj, rkl) = (xi - xj, xk - xj, xk - xl);
    let m = rij.cross(rkj);
    let n = rkj.cross(rkl);
    let (m2, n2, rkj2) = (m.length_squared(), n.length_squared(), rkj.length_squared());
    if m2 == 0.0 || n2 == 0.0 || rkj2 == 0.0 {
        return [Vec3::ZERO; 4];
    }
    // sin(phi - phi0) from cos and sin of phi (no inverse trigonometry): cos phi = m.n/(|m||n|),
    // sin phi = |r_kj| (r_ij . n) / (|m||n|) (GROMACS's sign convention).
    let inv = 1.0 / (m2 * n2).sqrt();
    let cos = m.dot(n) * inv;
    let sin = rkj2.sqrt() * rij.dot(n) * inv;
    let (s0, c0) = d.phi0.sin_cos();
    let ddphi = d.kb * (sin * c0 - cos * s0);
    let nrkj = rkj2.sqrt();
    let fi = m * (-ddphi * nrkj / m2);
    let fl = n * (ddphi * nrkj / n2);
    let p = rij.dot(rkj) / rkj2;
    let q = rkl.dot(rkj) / rkj2;
    let s = fi * p - fl * q;
    let fj = fi - s;
    let fk = fl + s;
    [fi, -fj, -fk, fl]
}

/// Enclosed volume of platelet `p`'s outer membrane, summed in triangle order with coordinates
/// relative to its first triangle's first vertex (unwrapped positions far from the origin would
/// otherwise lose digits).
pub fn platelet_volume(topo: &Topology, pos: &[[f32; 4]], p: usize) -> f32 {
    let (lo, hi) = (topo.tri_offsets[p] as usize, topo.tri_offsets[p + 1] as usize);
    if lo == hi {
        return 0.0;
    }
    let o = v(&pos[topo.triangles[lo][0] as usize]);
    let mut vol = 0.0f32;
    for t in &topo.triangles[lo..hi] {
        let [a, b, c] = t.map(|q| v(&pos[q as usize]) - o);
        vol += a.dot(b.cross(c));
    }
    vol / 6.0
}

/// `-dU/dV = -k_v (V - V0) / V0` of every platelet: the internal pressure the volume term applies.
pub fn volume_pressures(topo: &Topology, pos: &[[f32; 4]]) -> Vec<f32> {
    (0..topo.v0.len()).into_par_iter().map(|p| volume_pressure(topo, pos, p)).collect()
}

/// `-dU/dV` of platelet `p` alone ([`volume_pressures`]).
fn volume_pressure(topo: &Topology, pos: &[[f32; 4]], p: usize) -> f32 {
    let vol = platelet_volume(topo, pos, p);
    -topo.kv[p] * (vol - topo.v0[p]) / topo.v0[p]
}

/// Bonded force on particle `p` (gathered over its terms, in list order); `pressure` from
/// [`volume_pressures`]. Evaluates each of `p`'s angles and dihedrals on the spot, as the GPU's
/// one thread per particle does; [`bonded_forces_where`] evaluates them once per term instead and
/// gathers the same bits.
#[inline]
pub fn force_on(topo: &Topology, pos: &[[f32; 4]], pressure: &[f32], p: usize) -> Vec3 {
    let x = |q: u32| v(&pos[q as usize]);
    gather(
        topo,
        pos,
        pressure,
        p,
        |_, a| angle_forces(x(a.i), x(a.j), x(a.k), a),
        |_, d| dihedral_forces(x(d.i), x(d.j), x(d.k), x(d.l), d),
    )
}

/// The sum over `p`'s terms in list order, with the forces of an angle or dihedral on all its
/// members from `angle(index, term)` and `dihedral(index, term)` (computed there or looked up:
/// the same bits either way).
#[inline(always)]
fn gather(
    topo: &Topology,
    pos: &[[f32; 4]],
    pressure: &[f32],
    p: usize,
    angle: impl Fn(usize, &Angle) -> [Vec3; 3],
    dihedral: impl Fn(usize, &Dihedral) -> [Vec3; 4],
) -> Vec3 {
    let mut f = Vec3::ZERO;
    let x = |q: u32| v(&pos[q as usize]);
    let p32 = p as u32;
    for &t in &topo.terms[topo.offsets[p] as usize..topo.offsets[p + 1] as usize] {
        let idx = (t & INDEX_MASK) as usize;
        match t >> KIND_SHIFT {
            KIND_BOND => {
                let b = &topo.bonds[idx];
                let other = if b.i == p32 { b.j } else { b.i };
                f += bond_force(x(p32), x(other), b);
            }
            KIND_ANGLE => {
                let a = &topo.angles[idx];
                f += angle(idx, a)[[a.i, a.j, a.k].iter().position(|&q| q == p32).unwrap_or(0)];
            }
            KIND_DIHEDRAL => {
                let d = &topo.dihedrals[idx];
                f += dihedral(idx, d)[[d.i, d.j, d.k, d.l].iter().position(|&q| q == p32).unwrap_or(0)];
            }
            _ => {
                // dV/dx_a of a triangle (a, b, c) is (b x c) / 6, cyclically; translation
                // invariant, so take coordinates relative to p itself.
                let t = topo.triangles[idx];
                let k = t.iter().position(|&q| q == p32).unwrap_or(0);
                let (b, c) = (x(t[(k + 1) % 3]) - x(p32), x(t[(k + 2) % 3]) - x(p32));
                f += b.cross(c) * (pressure[topo.tri_platelet[idx] as usize] / 6.0);
            }
        }
    }
    f
}

/// Bonded forces on every particle, written to `out` (overwriting).
pub fn bonded_forces(topo: &Topology, pos: &[[f32; 4]], out: &mut [[f32; 4]]) {
    bonded_forces_where(topo, pos, &|_| true, &|_| true, out);
}

/// Bonded forces on the particles `particle(i)` accepts, written to `out` (the others keep
/// theirs). `platelet(p)` says which platelets' volume terms to evaluate; it must accept every
/// platelet with an accepted particle. A rank that advances some platelets of a replicated set
/// uses this (`crate::platelet_division`); the forces it computes are the same bits as
/// [`bonded_forces`] gives them.
///
/// Angles and dihedrals are evaluated once per term (those with an accepted member) into a
/// buffer and gathered from it: the same bits as [`force_on`], which evaluates a dihedral once
/// for each of its four members. Bonded forces run at every interface sub-step: evaluated per
/// member they took a quarter of the rest-stress calibration's time (perf).
pub fn bonded_forces_where(
    topo: &Topology,
    pos: &[[f32; 4]],
    particle: &(dyn Fn(usize) -> bool + Sync),
    platelet: &(dyn Fn(usize) -> bool + Sync),
    out: &mut [[f32; 4]],
) {
    let x = |q: u32| v(&pos[q as usize]);
    let any = |q: &[u32]| q.iter().any(|&q| particle(q as usize));
    let pressure: Vec<f32> = (0..topo.v0.len())
        .into_par_iter()
        .map(|p| if platelet(p) { volume_pressure(topo, pos, p) } else { 0.0 })
        .collect();
    let angles: Vec<[Vec3; 3]> = topo
        .angles
        .par_iter()
        .with_min_len(1024)
        .map(|a| if any(&[a.i, a.j, a.k]) { angle_forces(x(a.i), x(a.j), x(a.k), a) } else { [Vec3::ZERO; 3] })
        .collect();
    let dihedrals: Vec<[Vec3; 4]> = topo
        .dihedrals
        .par_iter()
        .with_min_len(1024)
        .map(|d| {
            if any(&[d.i, d.j, d.k, d.l]) {
                dihedral_forces(x(d.i), x(d.j), x(d.k), x(d.l), d)
            } else {
                [Vec3::ZERO; 4]
            }
        })
        .collect();
    out.par_iter_mut().with_min_len(2048).enumerate().for_each(|(p, o)| {
        if particle(p) {
            let f = gather(topo, pos, &pressure, p, |k, _| angles[k], |k, _| dihedrals[k]);
            *o = [f.x, f.y, f.z, 0.0];
        }
    });
}

/// Total bonded energy (f64; for tests and diagnostics).
pub fn energy(topo: &Topology, pos: &[[f32; 4]]) -> f64 {
    let x = |q: u32| {
        let p = pos[q as usize];
        glam::DVec3::new(f64::from(p[0]), f64::from(p[1]), f64::from(p[2]))
    };
    let mut e = 0.0;
    for b in &topo.bonds {
        let r = (x(b.i) - x(b.j)).length();
        e += 0.5 * f64::from(b.k) * (r - f64::from(b.r0)).powi(2);
    }
    for a in &topo.angles {
        let (u, w) = (x(a.i) - x(a.j), x(a.k) - x(a.j));
        let c = u.dot(w) / (u.length() * w.length());
        e += f64::from(a.kb) * (c - f64::from(a.cos0)).powi(2);
    }
    for d in &topo.dihedrals {
        let phi = crate::platelet::dihedral_angle(x(d.i), x(d.j), x(d.k), x(d.l));
        e += f64::from(d.kb) * (1.0 - (phi - f64::from(d.phi0)).cos());
    }
    for p in 0..topo.v0.len() {
        let (lo, hi) = (topo.tri_offsets[p] as usize, topo.tri_offsets[p + 1] as usize);
        let vol: f64 = topo.triangles[lo..hi]
            .iter()
            .map(|t| {
                let [a, b, c] = t.map(&x);
                a.dot(b.cross(c)) / 6.0
            })
            .sum();
        let v0 = f64::from(topo.v0[p]);
        e += f64::from(topo.kv[p]) * (vol - v0).powi(2) / (2.0 * v0);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platelet::{PlateletSpec, PlateletTemplate, Stiffness};

    fn platelet() -> (Topology, Vec<[f32; 4]>) {
        let spec = PlateletSpec {
            diameter: 6.0,
            aspect_ratio: 0.25,
            resolution: 500,
            mass: 85.0,
            stiffness: Stiffness::DEFAULT,
        };
        let t = PlateletTemplate::build(&spec).expect("platelet");
        let pos = t.pos.iter().map(|p| [p[0], p[1], p[2], 0.0]).collect();
        let v0 = crate::platelet::enclosed_volume(
            &t.pos.iter().map(|p| glam::DVec3::new(p[0].into(), p[1].into(), p[2].into())).collect::<Vec<_>>(),
            &t.triangles,
        ) as f32;
        let nt = t.triangles.len() as u32;
        let topo = Topology::with_volumes(
            t.len(),
            t.bonds,
            t.angles,
            t.dihedrals,
            t.triangles,
            vec![0, nt],
            vec![v0],
            vec![t.spec.stiffness.volume],
        );
        (topo, pos)
    }

    /// A deformation of the rest shape: a shear plus a wobble, a few per cent.
    fn deform(pos: &[[f32; 4]]) -> Vec<[f32; 4]> {
        pos.iter()
            .enumerate()
            .map(|(i, p)| {
                let w = 0.03 * ((i as f32) * 0.7).sin();
                [p[0] + 0.08 * p[2] + w, p[1] * 1.03 - w, p[2] * 0.96 + 0.5 * w, 0.0]
            })
            .collect()
    }

    #[test]
    fn the_rest_shape_is_stress_free() {
        let (topo, pos) = platelet();
        let mut f = vec![[0.0f32; 4]; pos.len()];
        bonded_forces(&topo, &pos, &mut f);
        let max = f.iter().map(|a| v(a).length()).fold(0.0, f32::max);
        assert!(max < 1e-2, "largest rest force {max}");
        assert!(energy(&topo, &pos) < 1e-6);
    }

    /// Forces are minus the gradient of the energy (central differences in f64 energy), for
    /// every particle of a deformed platelet; and they sum to zero (Newton's third law).
    #[test]
    fn forces_are_the_negative_energy_gradient() {
        let (topo, rest) = platelet();
        let pos = deform(&rest);
        let mut f = vec![[0.0f32; 4]; pos.len()];
        bonded_forces(&topo, &pos, &mut f);
        let scale = f.iter().map(|a| v(a).length()).fold(0.0, f32::max);
        assert!(scale > 1.0, "the deformation should load the springs");
        let h = 1e-3f32;
        let mut worst = 0.0f32;
        for p in (0..pos.len()).step_by(7) {
            for k in 0..3 {
                let mut a = pos.clone();
                let mut b = pos.clone();
                a[p][k] += h;
                b[p][k] -= h;
                let g = ((energy(&topo, &a) - energy(&topo, &b)) / f64::from(2.0 * h)) as f32;
                worst = worst.max((f[p][k] + g).abs());
            }
        }
        assert!(worst < 2e-3 * scale, "worst |F + dU/dx| = {worst} (force scale {scale})");
        let total = f.iter().fold(Vec3::ZERO, |s, a| s + v(a));
        assert!(total.length() < 1e-3 * scale, "net force {total}");
    }
}
