//! The flow a platelet sees: the plasma's velocity and velocity gradient around it, fitted by
//! least squares to the plasma particles within a sphere (`u(x) = v + G (x - c)`), and smoothed in
//! time. Every reduced model takes this as its input, so a reduced platelet follows the flow the
//! simulation has, not one assumed from the scenario.
//!
//! ```
//! use glam::{DMat3, DVec3};
//! use hemoscale_coupling::LocalFlow;
//!
//! // Plasma particles on a 5^3 lattice around the centre, moving with u = v + G d: shear
//! // du_x/dz = 0.06 and a weak extension along y (`G_ij = du_i/dx_j`; glam stores columns).
//! let v = DVec3::new(0.1, 0.0, -0.02);
//! let g = DMat3::from_cols(DVec3::ZERO, DVec3::new(0.0, 0.01, 0.0), DVec3::new(0.06, 0.0, -0.01));
//! let plasma = (0..125).map(|k| {
//!     let d = DVec3::new(f64::from(k % 5), f64::from(k / 5 % 5), f64::from(k / 25)) - DVec3::splat(2.0);
//!     (d, v + g * d)
//! });
//! let flow = LocalFlow::fit(plasma).unwrap();
//! assert_eq!(flow.samples, 125);
//! assert!((flow.velocity - v).length() < 1e-12);
//! assert!(flow.gradient.abs_diff_eq(g, 1e-12));
//! assert!((flow.velocity_at(DVec3::new(0.0, 0.0, 1.0)) - DVec3::new(0.16, 0.0, -0.03)).length() < 1e-12);
//! // Points in a plane do not determine the gradient across it: no fit.
//! let flat = (0..50).map(|k| (DVec3::new(f64::from(k % 7), f64::from(k / 7), 0.0), DVec3::ZERO));
//! assert!(LocalFlow::fit(flat).is_none());
//! ```

use glam::{DMat3, DVec3};
use hemoscale_surrogates::linear::LeastSquares;
use serde::{Deserialize, Serialize};

/// Velocity and velocity gradient at a point.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LocalFlow {
    /// Velocity at the centre.
    pub velocity: DVec3,
    /// Velocity gradient, `gradient * d = G d` with `G_ij = du_i/dx_j`.
    pub gradient: DMat3,
    /// Particles the fit used.
    pub samples: usize,
}

impl LocalFlow {
    /// Uniform flow with gradient `g`.
    pub fn linear(velocity: DVec3, gradient: DMat3) -> Self {
        Self { velocity, gradient, samples: 0 }
    }

    /// Plane Couette (simple shear) flow `u_x = rate * z`.
    pub fn simple_shear(rate: f64) -> Self {
        Self::linear(DVec3::ZERO, DMat3::from_cols(DVec3::ZERO, DVec3::ZERO, DVec3::new(rate, 0.0, 0.0)))
    }

    /// Rate-of-strain tensor `E = (G + G^T) / 2`.
    pub fn strain(&self) -> DMat3 {
        0.5 * (self.gradient + self.gradient.transpose())
    }

    /// Vorticity tensor `W = (G - G^T) / 2`.
    pub fn rotation(&self) -> DMat3 {
        0.5 * (self.gradient - self.gradient.transpose())
    }

    /// Scalar shear rate `sqrt(2 E:E)`: the shear rate of simple shear.
    pub fn shear_rate(&self) -> f64 {
        let e = self.strain();
        let ee: f64 = (0..3).map(|c| e.col(c).length_squared()).sum();
        (2.0 * ee).sqrt()
    }

    /// Velocity at offset `d` from the centre.
    pub fn velocity_at(&self, d: DVec3) -> DVec3 {
        self.velocity + self.gradient * d
    }

    /// Fits `u = v + G d` to `(offset, velocity)` pairs of plasma particles. None with fewer than
    /// 12 particles or when their offsets do not span three dimensions.
    pub fn fit(points: impl IntoIterator<Item = (DVec3, DVec3)>) -> Option<Self> {
        Self::fit_model(points, false)
    }

    /// Fits the undisturbed flow around a force-free, torque-free particle: `u = v + G d + u_S`,
    /// where `u_S(d) = d (d.S.d) / |d|^5` is the far field of a stresslet `S` (symmetric,
    /// traceless: five unknowns) centred on the particle.
    ///
    /// Why: a platelet in a linear flow disturbs it, and at leading order the disturbance is its
    /// stresslet's field (Batchelor 1970). A plain linear fit over a shell around the platelet
    /// picks part of that field up as gradient (by 3 to 4 % of the shear rate in `shear-flip`),
    /// so a model trained on fine platelets would see a different flow from the one measured
    /// around a reduced platelet, which has no disturbance. Fitting the stresslet's field
    /// alongside separates the two, and the same estimator serves both models.
    pub fn fit_undisturbed(points: impl IntoIterator<Item = (DVec3, DVec3)>) -> Option<Self> {
        Self::fit_model(points, true)
    }

    fn fit_model(points: impl IntoIterator<Item = (DVec3, DVec3)>, stresslet: bool) -> Option<Self> {
        // Unknowns: v (3), G (9, row-major), then optionally S_xx, S_yy, S_xy, S_xz, S_yz.
        let m = if stresslet { 17 } else { 12 };
        let mut ls = LeastSquares::new(m);
        let mut n = 0usize;
        let k = if stresslet { 9 } else { 4 };
        let (mut idx, mut val) = ([0usize; 9], [0.0f64; 9]);
        for (d, u) in points {
            let r2 = d.length_squared();
            let sb = if stresslet && r2 > 0.0 {
                let r5 = r2 * r2 * r2.sqrt();
                [
                    (d.x * d.x - d.z * d.z) / r5,
                    (d.y * d.y - d.z * d.z) / r5,
                    2.0 * d.x * d.y / r5,
                    2.0 * d.x * d.z / r5,
                    2.0 * d.y * d.z / r5,
                ]
            } else {
                [0.0; 5]
            };
            for i in 0..3 {
                // Component i: v_i, row i of G, and the stresslet's five modes times d_i.
                idx[..4].copy_from_slice(&[i, 3 + 3 * i, 4 + 3 * i, 5 + 3 * i]);
                val[..4].copy_from_slice(&[1.0, d.x, d.y, d.z]);
                for (j, b) in sb.iter().enumerate().take(k - 4) {
                    idx[4 + j] = 12 + j;
                    val[4 + j] = d[i] * b;
                }
                let _finite = ls.add_sparse(&idx[..k], &val[..k], u[i], 1.0);
            }
            n += 1;
        }
        if n < 12 + if stresslet { 5 } else { 0 } {
            return None;
        }
        let c = ls.solve(0.0)?;
        // Row i of G is c[3 + 3i ..]; glam stores columns.
        let col = |j: usize| DVec3::new(c[3 + j], c[6 + j], c[9 + j]);
        Some(Self {
            velocity: DVec3::new(c[0], c[1], c[2]),
            gradient: DMat3::from_cols(col(0), col(1), col(2)),
            samples: n,
        })
    }

    /// The flow around `center` from the plasma particles `pos`/`vel` (positions wrapped into a
    /// box of edges `box_len`, minimum-image offsets) in the spherical shell between `inner` and
    /// `outer`, skipping those for which `skip(i)` holds (frozen wall particles). With
    /// `inner > 0` (around a platelet) it is the undisturbed flow ([`Self::fit_undisturbed`]):
    /// the plasma right at the membrane moves with it, and there the disturbance is more than a
    /// stresslet; with `inner = 0`, a plain linear fit ([`Self::fit`]).
    pub fn around_shell(
        center: DVec3,
        inner: f64,
        outer: f64,
        box_len: [f64; 3],
        pos: &[[f32; 3]],
        vel: &[[f32; 3]],
        skip: impl Fn(usize) -> bool,
    ) -> Option<Self> {
        let (r0, r1) = (inner * inner, outer * outer);
        let min_image = |x: f64, l: f64| x - l * (x / l).round();
        let pts = (0..pos.len()).filter(|&i| !skip(i)).filter_map(|i| {
            let p = pos[i];
            let d = DVec3::new(
                min_image(f64::from(p[0]) - center.x, box_len[0]),
                min_image(f64::from(p[1]) - center.y, box_len[1]),
                min_image(f64::from(p[2]) - center.z, box_len[2]),
            );
            let r2 = d.length_squared();
            (r2 >= r0 && r2 < r1).then(|| (d, DVec3::new(vel[i][0].into(), vel[i][1].into(), vel[i][2].into())))
        });
        if inner > 0.0 {
            Self::fit_undisturbed(pts)
        } else {
            Self::fit(pts)
        }
    }
}

/// Exponential moving average of a platelet's local flow over a time `tau`: a single fit over a
/// few thousand thermal particles carries a few per cent of noise in the gradient; the platelet
/// responds to the flow over its own rotation time, which is much longer than a sample interval.
///
/// ```
/// use hemoscale_coupling::{FlowSmoother, LocalFlow};
///
/// let mut s = FlowSmoother::new(10.0);
/// // The first fit is taken as it is; a fit a time tau later moves the average 1 - 1/e of the way.
/// assert_eq!(s.update(LocalFlow::simple_shear(0.06), 1.0), LocalFlow::simple_shear(0.06));
/// let moved = s.update(LocalFlow::simple_shear(0.08), 10.0).shear_rate();
/// assert!((moved - (0.06 + 0.02 * (1.0 - (-1.0f64).exp()))).abs() < 1e-12);
/// // Fits a tenth of tau apart, scattered by +-0.01 about 0.05: the scatter averages out.
/// let mut last = 0.0;
/// for k in 0..200 {
///     let noisy = if k % 2 == 0 { 0.04 } else { 0.06 };
///     last = s.update(LocalFlow::simple_shear(noisy), 1.0).shear_rate();
/// }
/// assert!((last - 0.05).abs() < 1e-3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlowSmoother {
    /// Averaging time.
    pub tau: f64,
    /// The current average (None before the first fit).
    pub value: Option<LocalFlow>,
}

impl FlowSmoother {
    /// A smoother with time constant `tau` (0: no smoothing).
    pub fn new(tau: f64) -> Self {
        Self { tau, value: None }
    }

    /// Adds a fit taken `dt` after the previous one and returns the average.
    pub fn update(&mut self, flow: LocalFlow, dt: f64) -> LocalFlow {
        let next = match self.value {
            None => flow,
            Some(old) => {
                let w = if self.tau > 0.0 { 1.0 - (-dt / self.tau).exp() } else { 1.0 };
                LocalFlow {
                    velocity: old.velocity + w * (flow.velocity - old.velocity),
                    gradient: old.gradient + w * (flow.gradient - old.gradient),
                    samples: flow.samples,
                }
            }
        };
        self.value = Some(next);
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_linear_field_from_scattered_points() {
        let g = DMat3::from_cols(DVec3::new(0.1, -0.2, 0.05), DVec3::new(0.3, 0.0, -0.1), DVec3::new(0.07, 0.4, -0.1));
        let v = DVec3::new(1.0, -2.0, 0.5);
        // A deterministic cloud: a lattice with irregular offsets.
        let pts: Vec<(DVec3, DVec3)> = (0..125)
            .map(|k| {
                let d = DVec3::new(f64::from(k % 5), f64::from((k / 5) % 5), f64::from(k / 25)) - DVec3::splat(2.0)
                    + 0.3 * DVec3::new((k as f64 * 1.7).sin(), (k as f64 * 2.3).cos(), (k as f64 * 0.9).sin());
                (d, v + g * d)
            })
            .collect();
        let f = LocalFlow::fit(pts).expect("fit");
        assert!((f.velocity - v).length() < 1e-9);
        assert!((f.gradient - g).to_cols_array().iter().all(|x| x.abs() < 1e-9));
        assert_eq!(f.samples, 125);
    }

    #[test]
    fn separates_a_stresslet_disturbance_from_the_linear_flow() {
        let g = DMat3::from_cols(DVec3::ZERO, DVec3::ZERO, DVec3::new(0.06, 0.0, 0.0));
        // A traceless symmetric stresslet of the size a disc's would have (order 0.06 a^3).
        let sm = DMat3::from_cols(DVec3::new(0.3, 0.1, 0.8), DVec3::new(0.1, -0.5, 0.0), DVec3::new(0.8, 0.0, 0.2));
        let shell: Vec<(DVec3, DVec3)> = (0..3000)
            .map(|k| {
                let t = k as f64;
                let dir = DVec3::new((t * 0.7).sin(), (t * 1.3).cos(), (t * 0.37).sin() * 1.2).normalize();
                let d = dir * (4.5 + 3.0 * ((t * 0.91).sin() * 0.5 + 0.5));
                let r5 = d.length().powi(5);
                (d, g * d + d * d.dot(sm * d) / r5)
            })
            .collect();
        let plain = LocalFlow::fit(shell.iter().copied()).expect("fit");
        let full = LocalFlow::fit_undisturbed(shell.iter().copied()).expect("fit");
        let err = |f: &LocalFlow| (f.gradient - g).to_cols_array().iter().fold(0.0f64, |a, x| a.max(x.abs()));
        assert!(err(&full) < 1e-9, "with the stresslet term: {}", err(&full));
        assert!(err(&plain) > 1e-3, "the plain fit is biased by the disturbance: {}", err(&plain));
    }

    #[test]
    fn simple_shear_invariants() {
        let f = LocalFlow::simple_shear(0.06);
        assert!((f.shear_rate() - 0.06).abs() < 1e-15);
        assert!((f.velocity_at(DVec3::new(0.0, 0.0, 2.0)) - DVec3::new(0.12, 0.0, 0.0)).length() < 1e-15);
        // E_xz = W_xz = rate / 2; W_zx = -rate / 2.
        assert!((f.strain().col(2).x - 0.03).abs() < 1e-15 && (f.rotation().col(0).z + 0.03).abs() < 1e-15);
    }

    #[test]
    fn too_few_or_flat_points_give_no_fit() {
        assert!(LocalFlow::fit((0..5).map(|k| (DVec3::splat(f64::from(k)), DVec3::ZERO))).is_none());
        let flat = (0..50).map(|k| (DVec3::new(f64::from(k % 7), f64::from(k / 7), 0.0), DVec3::ZERO));
        assert!(LocalFlow::fit(flat).is_none());
    }

    #[test]
    fn the_fit_uses_minimum_image_offsets_across_the_box_edge() {
        let g = 0.05;
        let c = DVec3::new(0.2, 5.0, 5.0);
        let mut pos = Vec::new();
        let mut vel = Vec::new();
        for k in 0..400 {
            let d = DVec3::new(f64::from(k % 7) - 3.0, f64::from((k / 7) % 7) - 3.0, f64::from(k / 49) - 4.0) * 0.5;
            let x = c + d;
            let wrapped = [x.x.rem_euclid(10.0), x.y, x.z];
            pos.push([wrapped[0] as f32, wrapped[1] as f32, wrapped[2] as f32]);
            vel.push([(g * d.z) as f32, 0.0, 0.0]);
        }
        let f = LocalFlow::around_shell(c, 0.0, 3.0, [10.0; 3], &pos, &vel, |_| false).expect("fit");
        assert!((f.shear_rate() - g).abs() < 1e-5, "{}", f.shear_rate());
    }

    #[test]
    fn smoother_relaxes_towards_new_fits() {
        let mut s = FlowSmoother::new(1.0);
        let a = s.update(LocalFlow::simple_shear(1.0), 0.1);
        assert_eq!(a.shear_rate(), 1.0);
        let mut last = a;
        for _ in 0..100 {
            last = s.update(LocalFlow::simple_shear(2.0), 0.1);
        }
        assert!((last.shear_rate() - 2.0).abs() < 1e-4);
    }
}
