//! The map from the flow a platelet sees and its orientation to the flow-induced stress on it,
//! learned from the fine platelet, so that stress accumulation and activation go on while the
//! reduced model stands in for the particles.
//!
//! **Why this form.** At the small Reynolds numbers of a platelet in plasma the stress a linear
//! flow puts on an axisymmetric particle is linear in the velocity gradient, with coefficients
//! that depend only on the orientation `n` (Batchelor 1970; the stresslet of a spheroid). The
//! symmetric tensors that can be built linearly from `E` and `W` with `n` are few:
//!
//! `S = c1 E + c2 (n (E n)^T + (E n) n^T) + c3 (n.E.n) n n^T + c4 (n (W n)^T + (W n) n^T)
//!      + c5 I + c6 n n^T`
//!
//! The last two are flow-independent: `c5` absorbs the isotropic part (the scalar stress ignores
//! it) and `c6` what the rest-stress calibration left over. Fitting the *tensor* (not its scalar)
//! is what makes learning from noisy samples possible: the thermal noise of a single sample is
//! several times the signal (`docs/platelets.md`), but it is zero-mean in each component, so it
//! averages out of a least-squares fit over many samples, where it would bias a fit to scalars.
//! One fit is made for the membrane virial and one for the traction stresslet.
//!
//! ```
//! use glam::DVec3;
//! use hemoscale_coupling::stress_map::{StressEnsemble, StressMap, StressSample};
//! use hemoscale_coupling::LocalFlow;
//! use hemoscale_kernels::platelet_observables::scalar_stress;
//!
//! // Samples of a known map over half an orbit in simple shear, as a fine platelet gives them.
//! let truth =
//!     StressMap { membrane: [3.0, -1.5, 2.0, 0.4, 0.1, 0.05], traction: [5.0, 1.0, -2.5, 0.0, -0.2, 0.02] };
//! let g = LocalFlow::simple_shear(0.06).gradient;
//! let samples: Vec<StressSample> = (0..200)
//!     .map(|k| {
//!         let phi = 0.016 * f64::from(k);
//!         let normal = DVec3::new(phi.sin(), 0.1 * (0.3 * phi).sin(), phi.cos()).normalize();
//!         let (membrane, traction) = truth.predict(normal, &g);
//!         StressSample { normal, gradient: g, membrane, traction, weight: 1.0 }
//!     })
//!     .collect();
//! let fit = StressEnsemble::fit(&samples, 4, 4, 1).unwrap();
//! // The learned map gives the true stress at an orientation it was not shown, to the small bias
//! // of the fit's ridge (with one flow direction some bases are nearly collinear).
//! let n = DVec3::new(0.6, 0.0, 0.8);
//! let (want, got) = (truth.predict(n, &g).0, fit.best().predict(n, &g).0);
//! assert!((scalar_stress(&got) / scalar_stress(&want) - 1.0).abs() < 1e-4);
//! // Noise-free samples leave the members next to nothing to disagree on.
//! assert!(fit.spread(n, &g) < 1e-4);
//! ```

use glam::{DMat3, DVec3};
use hemoscale_kernels::platelet_observables::scalar_stress;
use hemoscale_surrogates::linear::LeastSquares;
use serde::{Deserialize, Serialize};

use crate::bootstrap::{mean_and_std, resample};

/// Coefficients per tensor basis.
pub const BASIS: usize = 6;

/// A symmetric tensor as (xx, yy, zz, xy, xz, yz).
fn components(m: DMat3) -> [f64; 6] {
    let c = m.to_cols_array_2d();
    [c[0][0], c[1][1], c[2][2], 0.5 * (c[1][0] + c[0][1]), 0.5 * (c[2][0] + c[0][2]), 0.5 * (c[2][1] + c[1][2])]
}

fn sym_outer(a: DVec3, b: DVec3) -> DMat3 {
    DMat3::from_cols(a * b.x, a * b.y, a * b.z) + DMat3::from_cols(b * a.x, b * a.y, b * a.z)
}

/// The six basis tensors at orientation `n` in a flow of gradient `g`, as component arrays.
pub fn basis(n: DVec3, g: &DMat3) -> [[f64; 6]; BASIS] {
    let n = n.normalize_or(DVec3::Z);
    let e = 0.5 * (*g + g.transpose());
    let w = 0.5 * (*g - g.transpose());
    let en = e * n;
    let nn = DMat3::from_cols(n * n.x, n * n.y, n * n.z);
    [
        components(e),
        components(sym_outer(n, en)),
        components(n.dot(en) * nn),
        components(sym_outer(n, w * n)),
        components(DMat3::IDENTITY),
        components(nn),
    ]
}

/// One fine sample: orientation, flow, and the flow-induced stresses (the rest stress already
/// subtracted), averaged over `weight` steps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StressSample {
    /// Unit normal.
    pub normal: DVec3,
    /// Local velocity gradient.
    pub gradient: DMat3,
    /// Membrane virial stress.
    pub membrane: [f64; 6],
    /// Traction stresslet.
    pub traction: [f64; 6],
    /// Steps averaged (the row weight).
    pub weight: f64,
}

/// Fitted coefficients for the membrane and the traction stress.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StressMap {
    /// Membrane coefficients.
    pub membrane: [f64; BASIS],
    /// Traction coefficients.
    pub traction: [f64; BASIS],
}

fn combine(c: &[f64; BASIS], b: &[[f64; 6]; BASIS]) -> [f64; 6] {
    std::array::from_fn(|k| (0..BASIS).map(|j| c[j] * b[j][k]).sum())
}

impl StressMap {
    /// Predicted (membrane, traction) stress tensors.
    pub fn predict(&self, n: DVec3, g: &DMat3) -> ([f64; 6], [f64; 6]) {
        let b = basis(n, g);
        (combine(&self.membrane, &b), combine(&self.traction, &b))
    }
}

/// Rows of one sample for one of the two stresses.
fn rows(s: &StressSample, target: &[f64; 6]) -> LeastSquares {
    let b = basis(s.normal, &s.gradient);
    let mut ls = LeastSquares::new(BASIS);
    for k in 0..6 {
        let x: [f64; BASIS] = std::array::from_fn(|j| b[j][k]);
        let _finite = ls.add(&x, target[k], s.weight);
    }
    ls
}

/// Block-bootstrap ensemble of stress maps ([`crate::bootstrap`]); the first member is the fit to
/// every sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StressEnsemble {
    /// The members, the whole fit first.
    pub members: Vec<StressMap>,
    /// Samples fitted.
    pub samples: usize,
    /// Mean membrane stress scalar the whole fit predicts over its samples: the stress scale
    /// the spread is measured against.
    pub typical: f64,
}

impl StressEnsemble {
    /// Fits `members` maps to `samples` (time order; `blocks` blocks per resample). None when
    /// the samples do not determine the coefficients.
    pub fn fit(samples: &[StressSample], members: usize, blocks: usize, seed: u64) -> Option<Self> {
        let m: Vec<LeastSquares> = samples.iter().map(|s| rows(s, &s.membrane)).collect();
        let t: Vec<LeastSquares> = samples.iter().map(|s| rows(s, &s.traction)).collect();
        let (ms, ts) = (resample(&m, blocks, members, seed)?, resample(&t, blocks, members, seed)?);
        let solve = |l: &LeastSquares| -> Option<[f64; BASIS]> {
            // A little ridge: with one flow direction in the data some bases are nearly collinear.
            let c = l.solve(1e-8)?;
            Some(std::array::from_fn(|j| c[j]))
        };
        let best = StressMap { membrane: solve(&ms[0])?, traction: solve(&ts[0])? };
        let members = ms
            .iter()
            .zip(&ts)
            .map(|(a, b)| match (solve(a), solve(b)) {
                (Some(membrane), Some(traction)) => StressMap { membrane, traction },
                _ => best,
            })
            .collect();
        let typical = samples.iter().map(|s| scalar_stress(&best.predict(s.normal, &s.gradient).0)).sum::<f64>()
            / samples.len().max(1) as f64;
        Some(Self { members, samples: samples.len(), typical })
    }

    /// The map used: the whole fit.
    pub fn best(&self) -> StressMap {
        self.members[0]
    }

    /// Spread (standard deviation) of the members' membrane stress scalar at `n` in flow `g`,
    /// relative to the typical stress of the training samples: the stress map's uncertainty
    /// there. (Relative to the local mean it would blow up where the stress passes through zero
    /// in the course of an orbit, and send a well-trained platelet back for nothing.)
    pub fn spread(&self, n: DVec3, g: &DMat3) -> f64 {
        let s: Vec<f64> = self.members.iter().map(|m| scalar_stress(&m.predict(n, g).0)).collect();
        let (_, std) = mean_and_std(&s);
        if self.typical > 0.0 {
            std / self.typical
        } else {
            f64::INFINITY
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::splitmix;
    use crate::local_flow::LocalFlow;

    fn uniform(state: &mut u64) -> f64 {
        splitmix(state) as f64 / u64::MAX as f64 - 0.5
    }

    #[test]
    fn learns_a_stresslet_through_noise_as_large_as_the_signal() {
        let truth =
            StressMap { membrane: [3.0, -1.5, 2.0, 0.4, 0.1, 0.05], traction: [5.0, 1.0, -2.5, 0.0, -0.2, 0.02] };
        let g = LocalFlow::simple_shear(0.06).gradient;
        let mut state = 11u64;
        let samples: Vec<StressSample> = (0..4000)
            .map(|k| {
                let phi = 0.002 * k as f64;
                let n = DVec3::new(phi.sin(), 0.1 * (0.3 * phi).sin(), phi.cos()).normalize();
                let (m, t) = truth.predict(n, &g);
                // Signal: a scalar of about 0.064; noise of standard deviation 0.064 in each
                // component. The prediction's statistical error is about noise * sqrt(6 / N).
                let noise = |s: &mut u64| -> [f64; 6] { std::array::from_fn(|_| 0.128 * 3f64.sqrt() * uniform(s)) };
                let (nm, nt) = (noise(&mut state), noise(&mut state));
                StressSample {
                    normal: n,
                    gradient: g,
                    membrane: std::array::from_fn(|c| m[c] + nm[c]),
                    traction: std::array::from_fn(|c| t[c] + nt[c]),
                    weight: 1.0,
                }
            })
            .collect();
        let e = StressEnsemble::fit(&samples, 8, 10, 5).expect("fit");
        // Compare the scalar of the time-averaged prediction, what stress accumulation uses.
        let (mut got, mut want) = (0.0, 0.0);
        for s in &samples {
            got += scalar_stress(&e.best().predict(s.normal, &g).0);
            want += scalar_stress(&truth.predict(s.normal, &g).0);
        }
        let rel = (got / want - 1.0).abs();
        assert!(rel < 0.03, "mean membrane scalar off by {rel}");
        let sp = e.spread(DVec3::new(0.6, 0.0, 0.8), &g);
        assert!(sp > 0.0 && sp < 0.2, "spread {sp}");
    }

    #[test]
    fn prediction_is_linear_in_the_gradient_and_even_in_the_normal() {
        let m = StressMap { membrane: [1.0, 2.0, 3.0, 4.0, 0.0, 0.0], traction: [0.5; BASIS] };
        let g = LocalFlow::simple_shear(0.1).gradient;
        let n = DVec3::new(0.3, 0.2, 0.9).normalize();
        let (a, _) = m.predict(n, &g);
        let (b, _) = m.predict(-n, &(2.0 * g));
        for k in 0..6 {
            assert!((2.0 * a[k] - b[k]).abs() < 1e-12);
        }
    }
}
