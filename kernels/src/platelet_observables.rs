//! What is measured on each platelet at a sample: centre of mass and its velocity, orientation
//! (the principal axes of the gyration tensor; the disc's normal is the axis of least extent),
//! angular velocity, enclosed volume of the outer membrane, the membrane's stress tensor and a
//! scalar stress.
//!
//! **Membrane stress.** The virial stress of the membrane shell,
//! `sigma = -(1/V_m) sum_i m (v_i - V)(v_i - V) - (1/V_m) sum_bonds r_ij (x) f_ij`, over the particles
//! and springs of both membrane layers (`V` the platelet's velocity, `V_m` the shell volume: outer
//! volume minus the volume inside the inner layer). The interface forces act on the shell from
//! outside and enter through the springs they load: at (quasi-)equilibrium the average internal
//! stress of a body equals `(1/V) sum x (x) F_ext` of the tractions on it (the virial theorem), so
//! summing both would count the load twice. The traction stresslet, `(1/V) sum (x_m - X) (x) F_m`
//! over the interface forces, is reported beside it ([`PlateletSample::traction_stress`]).
//!
//! **Scalar stress.** Bludszuweit's (1995) von Mises-like scalar used throughout the platelet
//! activation literature: `sigma = sqrt( (1/6) sum_(i<j) (s_ii - s_jj)^2 + s_xy^2 + s_xz^2 + s_yz^2 )`,
//! which equals `tau` for a pure shear `tau` and ignores pressure.
//!
//! ```
//! use hemoscale_kernels::platelet::{PlateletSpec, PlateletTemplate, Stiffness};
//! use hemoscale_kernels::platelet_observables::{scalar_stress, Sampler};
//! use hemoscale_kernels::platelet_set::PlateletState;
//!
//! // The scalar stress of a pure shear is the shear; a pressure does not count.
//! assert_eq!(scalar_stress(&[0.0, 0.0, 0.0, 2.5, 0.0, 0.0]), 2.5);
//! assert_eq!(scalar_stress(&[-24.0, -24.0, -24.0, 0.0, 0.0, 0.0]), 0.0);
//!
//! // A platelet at rest in its own frame: a disc normal to z, with the template's volume and
//! // no membrane stress.
//! let spec = PlateletSpec {
//!     diameter: 6.0,
//!     aspect_ratio: 0.25,
//!     resolution: 400,
//!     mass: 85.0,
//!     stiffness: Stiffness::DEFAULT,
//! };
//! let t = PlateletTemplate::build(&spec)?;
//! let still = vec![[0.0; 3]; t.len()];
//! let state = PlateletState { pos: t.pos.clone(), vel: still.clone(), interface_force: still, ..Default::default() };
//! let s = Sampler::new(&t).sample(&state, 0);
//! assert!(s.normal[2].abs() > 0.999 && s.shape_ratio() < 0.5);
//! assert!((s.volume / f64::from(t.volume) - 1.0).abs() < 1e-5);
//! assert!(s.scalar_stress() < 1e-2, "{}", s.scalar_stress());
//! # Ok::<(), hemoscale_kernels::KernelError>(())
//! ```

use glam::{DMat3, DVec3};

use crate::platelet::{enclosed_volume, PlateletTemplate, Zone};
use crate::platelet_set::PlateletState;

/// Measurements of one platelet at one instant (DPD units).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlateletSample {
    /// Centre of mass (unwrapped).
    pub center: [f64; 3],
    /// Velocity of the centre of mass.
    pub velocity: [f64; 3],
    /// Unit normal of the disc (gyration axis of least extent), sign arbitrary.
    pub normal: [f64; 3],
    /// Gyration radii along the principal axes, largest first.
    pub gyration: [f64; 3],
    /// Angular velocity.
    pub omega: [f64; 3],
    /// Volume enclosed by the outer membrane.
    pub volume: f64,
    /// Membrane virial stress at this instant (xx, yy, zz, xy, xz, yz): dominated by thermal
    /// noise (stiff springs at temperature kT); see `mean_membrane_stress`.
    pub membrane_stress: [f64; 6],
    /// Membrane stress averaged over every step since the previous sample (the engines
    /// accumulate it each plasma step), which averages the thermal noise down; equal to the
    /// instantaneous value when no average is available.
    pub mean_membrane_stress: [f64; 6],
    /// Traction stresslet averaged like `mean_membrane_stress`.
    pub mean_traction_stress: [f64; 6],
    /// Traction stresslet of the interface forces over the platelet volume.
    pub traction_stress: [f64; 6],
}

impl PlateletSample {
    /// Bludszuweit scalar of the step-averaged membrane stress.
    pub fn scalar_stress(&self) -> f64 {
        scalar_stress(&self.mean_membrane_stress)
    }
    /// Bludszuweit scalar of the step-averaged traction stresslet.
    pub fn scalar_traction_stress(&self) -> f64 {
        scalar_stress(&self.mean_traction_stress)
    }
    /// Effective aspect ratio of the particle cloud: least over largest gyration radius.
    pub fn shape_ratio(&self) -> f64 {
        self.gyration[2] / self.gyration[0]
    }
}

/// Bludszuweit's scalar stress of a symmetric tensor (xx, yy, zz, xy, xz, yz).
pub fn scalar_stress(s: &[f64; 6]) -> f64 {
    let d = (s[0] - s[1]).powi(2) + (s[1] - s[2]).powi(2) + (s[2] - s[0]).powi(2);
    (d / 6.0 + s[3] * s[3] + s[4] * s[4] + s[5] * s[5]).sqrt()
}

/// Precomputed membrane membership for sampling.
#[derive(Clone, Debug)]
pub struct Sampler {
    per: usize,
    mass: f64,
    membrane: Vec<bool>,
    membrane_bonds: Vec<(u32, u32, f64, f64)>,
    triangles: Vec<[u32; 3]>,
    inner_triangles: Vec<[u32; 3]>,
}

impl Sampler {
    /// For platelets built from `template` (bonds of the template's own indices).
    pub fn new(template: &PlateletTemplate) -> Self {
        let nv = template.outer_vertices() as u32;
        let membrane: Vec<bool> = template.zone.iter().map(|z| z.is_membrane()).collect();
        let membrane_bonds = template
            .bonds
            .iter()
            .filter(|b| b.kind.is_membrane())
            .map(|b| (b.i, b.j, f64::from(b.k), f64::from(b.r0)))
            .collect();
        let inner_triangles = template.triangles.iter().map(|t| t.map(|k| k + nv)).collect();
        debug_assert!(template.zone[..nv as usize].iter().all(|&z| z == Zone::MembraneOuter));
        Self {
            per: template.len(),
            mass: f64::from(template.particle_mass),
            membrane,
            membrane_bonds,
            triangles: template.triangles.clone(),
            inner_triangles,
        }
    }

    /// Membrane virial stress of platelet `p` from positions and velocities in the engine's
    /// layout (xx, yy, zz, xy, xz, yz): what the engines accumulate every step.
    pub fn membrane_stress(&self, pos: &[[f32; 4]], vel: &[[f32; 4]], p: usize) -> [f64; 6] {
        let lo = p * self.per;
        let d = |a: &[f32; 4]| DVec3::new(a[0].into(), a[1].into(), a[2].into());
        let x: Vec<DVec3> = pos[lo..lo + self.per].iter().map(d).collect();
        let v: Vec<DVec3> = vel[lo..lo + self.per].iter().map(d).collect();
        let vc = v.iter().sum::<DVec3>() / self.per as f64;
        let volume = enclosed_volume(&x, &self.triangles);
        six(self.virial(&x, &v, vc, volume))
    }

    /// Traction stresslet of platelet `p`: `(1/V) sum (x_m - X) (x) F_m` over the interface forces
    /// `force` (engine layout), V the enclosed volume.
    pub fn traction_stress(&self, pos: &[[f32; 4]], force: &[[f32; 4]], p: usize) -> [f64; 6] {
        let lo = p * self.per;
        let d = |a: &[f32; 4]| DVec3::new(a[0].into(), a[1].into(), a[2].into());
        let x: Vec<DVec3> = pos[lo..lo + self.per].iter().map(d).collect();
        let c = x.iter().sum::<DVec3>() / self.per as f64;
        let volume = enclosed_volume(&x, &self.triangles).max(1e-12);
        let mut t = DMat3::ZERO;
        for (xi, f) in x.iter().zip(&force[lo..lo + self.per]) {
            t += outer(*xi - c, d(f));
        }
        six(t * (1.0 / volume))
    }

    /// Kinetic part of the shell particles plus the springs of the shell, over the shell volume.
    fn virial(&self, x: &[DVec3], v: &[DVec3], vc: DVec3, volume: f64) -> DMat3 {
        let inner = enclosed_volume(x, &self.inner_triangles);
        let shell = (volume - inner).max(1e-12);
        let mut s = DMat3::ZERO;
        for (k, vi) in v.iter().enumerate() {
            if self.membrane[k] {
                let u = *vi - vc;
                s -= self.mass * outer(u, u);
            }
        }
        for &(i, j, kk, r0) in &self.membrane_bonds {
            let d = x[i as usize] - x[j as usize];
            let r = d.length();
            let f = d * (-kk * (r - r0) / r);
            s -= outer(d, f);
        }
        s * (1.0 / shell)
    }

    /// Samples platelet `p` of `state`.
    pub fn sample(&self, state: &PlateletState, p: usize) -> PlateletSample {
        let lo = p * self.per;
        let x: Vec<DVec3> =
            state.pos[lo..lo + self.per].iter().map(|a| DVec3::new(a[0].into(), a[1].into(), a[2].into())).collect();
        let v: Vec<DVec3> =
            state.vel[lo..lo + self.per].iter().map(|a| DVec3::new(a[0].into(), a[1].into(), a[2].into())).collect();
        let f1: Vec<DVec3> = state.interface_force[lo..lo + self.per]
            .iter()
            .map(|a| DVec3::new(a[0].into(), a[1].into(), a[2].into()))
            .collect();
        let n = self.per as f64;
        let c = x.iter().sum::<DVec3>() / n;
        let vc = v.iter().sum::<DVec3>() / n;
        // Gyration tensor and its principal axes.
        let mut g = DMat3::ZERO;
        let mut l = DVec3::ZERO;
        let mut inertia = DMat3::ZERO;
        for (xi, vi) in x.iter().zip(&v) {
            let r = *xi - c;
            g += outer(r, r);
            l += self.mass * r.cross(*vi - vc);
            inertia += self.mass * (DMat3::from_diagonal(DVec3::splat(r.length_squared())) - outer(r, r));
        }
        g *= 1.0 / n;
        let (vals, vecs) = symmetric_eigen(g);
        let omega = inertia.inverse() * l;
        let volume = enclosed_volume(&x, &self.triangles);
        let s = self.virial(&x, &v, vc, volume);
        let mut t = DMat3::ZERO;
        for (xi, fi) in x.iter().zip(&f1) {
            t += outer(*xi - c, *fi);
        }
        t *= 1.0 / volume.max(1e-12);
        PlateletSample {
            center: c.into(),
            velocity: vc.into(),
            normal: vecs[2].into(),
            gyration: [vals[0].max(0.0).sqrt(), vals[1].max(0.0).sqrt(), vals[2].max(0.0).sqrt()],
            omega: omega.into(),
            volume,
            membrane_stress: six(s),
            mean_membrane_stress: six(s),
            mean_traction_stress: six(t),
            traction_stress: six(t),
        }
    }
}

/// The six independent components of the symmetric part of `m`.
fn six(m: DMat3) -> [f64; 6] {
    let sym = |a: usize, b: usize| 0.5 * (m.col(b)[a] + m.col(a)[b]);
    [m.col(0)[0], m.col(1)[1], m.col(2)[2], sym(0, 1), sym(0, 2), sym(1, 2)]
}

/// `a (x) b` (column j is `a b_j`).
fn outer(a: DVec3, b: DVec3) -> DMat3 {
    DMat3::from_cols(a * b.x, a * b.y, a * b.z)
}

/// Eigenvalues (descending) and unit eigenvectors of a symmetric 3x3 matrix, by cyclic Jacobi
/// rotations.
pub fn symmetric_eigen(m: DMat3) -> ([f64; 3], [DVec3; 3]) {
    let mut a = [[0.0f64; 3]; 3];
    for (i, row) in a.iter_mut().enumerate() {
        for (j, x) in row.iter_mut().enumerate() {
            *x = m.col(j)[i];
        }
    }
    let mut v = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0f64]];
    for _ in 0..50 {
        let off = a[0][1].abs() + a[0][2].abs() + a[1][2].abs();
        if off < 1e-15 * (a[0][0].abs() + a[1][1].abs() + a[2][2].abs() + 1e-300) {
            break;
        }
        for (p, q) in [(0, 1), (0, 2), (1, 2)] {
            if a[p][q].abs() < 1e-300 {
                continue;
            }
            let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
            let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
            let t = if theta == 0.0 { 1.0 } else { t };
            let c = 1.0 / (t * t + 1.0).sqrt();
            let s = t * c;
            for row in a.iter_mut() {
                let (akp, akq) = (row[p], row[q]);
                row[p] = c * akp - s * akq;
                row[q] = s * akp + c * akq;
            }
            let (rp, rq) = (a[p], a[q]);
            for k in 0..3 {
                a[p][k] = c * rp[k] - s * rq[k];
                a[q][k] = s * rp[k] + c * rq[k];
            }
            for row in &mut v {
                let (vp, vq) = (row[p], row[q]);
                row[p] = c * vp - s * vq;
                row[q] = s * vp + c * vq;
            }
        }
    }
    let mut idx = [0usize, 1, 2];
    idx.sort_by(|&i, &j| a[j][j].total_cmp(&a[i][i]));
    let vals = idx.map(|i| a[i][i]);
    let vecs = idx.map(|i| DVec3::new(v[0][i], v[1][i], v[2][i]).normalize());
    (vals, vecs)
}

/// Platelet samples for every platelet of `state`, with the engine's step-averaged membrane
/// stress where it has one.
pub fn sample_all(sampler: &Sampler, state: &PlateletState) -> Vec<PlateletSample> {
    (0..state.pos.len() / sampler.per.max(1))
        .map(|p| {
            let mut s = sampler.sample(state, p);
            if let Some(m) = state.mean_membrane_stress.get(p) {
                s.mean_membrane_stress = *m;
            }
            if let Some(m) = state.mean_traction_stress.get(p) {
                s.mean_traction_stress = *m;
            }
            s
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platelet::{PlateletSpec, Stiffness};
    use glam::{DQuat, Quat};

    #[test]
    fn eigen_solves_a_rotated_diagonal() {
        let r = DMat3::from_quat(DQuat::from_euler(glam::EulerRot::XYZ, 0.3, -0.7, 1.1));
        let m = r * DMat3::from_diagonal(DVec3::new(5.0, 2.0, 0.5)) * r.transpose();
        let (vals, vecs) = symmetric_eigen(m);
        assert!((vals[0] - 5.0).abs() < 1e-10 && (vals[2] - 0.5).abs() < 1e-10);
        assert!((vecs[2].dot(r.col(2)).abs() - 1.0).abs() < 1e-10);
    }

    /// A rotated platelet at rest: normal along the rotated z axis, volume of the template, no
    /// stress; spinning rigidly about z at omega: measured omega comes back.
    #[test]
    fn rest_and_rigid_rotation_are_measured_right() {
        let spec = PlateletSpec {
            diameter: 6.0,
            aspect_ratio: 0.25,
            resolution: 500,
            mass: 85.0,
            stiffness: Stiffness::DEFAULT,
        };
        let t = PlateletTemplate::build(&spec).expect("platelet");
        let q = Quat::from_rotation_y(0.6);
        let w = 0.05f32;
        let pos: Vec<[f32; 3]> =
            t.pos.iter().map(|p| (q * glam::Vec3::from(*p) + glam::Vec3::splat(10.0)).into()).collect();
        let axis = q * glam::Vec3::Z;
        let vel: Vec<[f32; 3]> =
            pos.iter().map(|p| (axis * w).cross(glam::Vec3::from(*p) - glam::Vec3::splat(10.0)).into()).collect();
        let state = PlateletState { interface_force: vec![[0.0; 3]; pos.len()], pos, vel, ..Default::default() };
        let s = Sampler::new(&t).sample(&state, 0);
        assert!((DVec3::from(s.normal).dot(axis.as_dvec3()).abs() - 1.0).abs() < 1e-4, "{:?}", s.normal);
        assert!((s.volume / f64::from(t.volume) - 1.0).abs() < 1e-4);
        assert!((DVec3::from(s.omega) - (axis * w).as_dvec3()).length() < 1e-5, "{:?}", s.omega);
        assert!(s.shape_ratio() < 0.5);
        // Rigid rotation loads no spring; only the kinetic part of the membrane stress remains,
        // about N_m m w^2 a^2 / V_m = 400 x 0.17 x 0.0025 x 9 / 10, 0.15 at most (0.015 seen).
        assert!(s.scalar_stress() < 0.05, "{}", s.scalar_stress());
    }
}
