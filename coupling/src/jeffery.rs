//! The generalised Jeffery equation of a platelet's orientation, learned online.
//!
//! Jeffery (1922) gives the rotation of a rigid spheroid's symmetry axis `n` in a linear flow of
//! rate of strain `E` and vorticity tensor `W`: `dn/dt = W n + lambda (E n - (n.E.n) n)`, with
//! Bretherton's `lambda = (r^2 - 1)/(r^2 + 1)` for aspect ratio `r` (a disc's normal: `r < 1`,
//! `lambda < 0`). A deformable platelet in a thermal, finite-size plasma does not follow it
//! exactly: its orbit is shortened by Brownian rotation and its effective shape differs from the
//! template's (`docs/platelets.md`). Zhang et al. (2022) therefore fit a generalised equation
//! online to the fine-scale simulation and let it replace the fine platelet. Here the
//! generalisation is a free coefficient on each term,
//!
//! `dn/dt = a W n + b (E n - (n.E.n) n)`,
//!
//! so that both the orbit's period and its shape are learned. In simple shear `u_x = rate * z`
//! with `n = (sin phi, 0, cos phi)` this is `dphi/dt = rate/2 (a + b cos 2 phi)`, whose period
//! (phi through 2 pi) is `4 pi / (rate sqrt(a^2 - b^2))`: Jeffery's `2 pi (r + 1/r) / rate` for
//! `a = 1`, `b = lambda`.
//!
//! The coefficients are linear in the rows, so they are fitted by least squares to central
//! differences of the fine track; a block bootstrap over the track gives an ensemble whose spread
//! is the model's uncertainty ([`JefferyEnsemble`]).
//!
//! ```
//! use glam::DVec3;
//! use hemoscale_coupling::{GeneralizedJeffery, LocalFlow};
//!
//! // A disc of aspect ratio 0.25 in simple shear u_x = 0.06 z: Jeffery's coefficients and period.
//! let (r, rate) = (0.25, 0.06);
//! let m = GeneralizedJeffery::jeffery(r);
//! assert_eq!((m.a, m.b), (1.0, (r * r - 1.0) / (r * r + 1.0)));
//! let period = 2.0 * std::f64::consts::PI * (r + 1.0 / r) / rate;
//! assert!((m.period(rate) / period - 1.0).abs() < 1e-12);
//! assert!((m.effective_aspect_ratio() - r).abs() < 1e-12);
//! // Integrated from the gradient axis: dphi/dt is the same at phi and pi - phi, so a quarter
//! // period turns the normal into the flow direction, half a period reverses it and a whole one
//! // brings it back.
//! let flow = LocalFlow::simple_shear(rate);
//! let quarter = m.advance(DVec3::Z, &flow, period / 4.0);
//! let half = m.advance(quarter, &flow, period / 4.0);
//! let whole = m.advance(half, &flow, period / 2.0);
//! assert!((quarter - DVec3::X).length() < 1e-6);
//! assert!((half + DVec3::Z).length() < 1e-6);
//! assert!((whole - DVec3::Z).length() < 1e-6);
//! ```

use glam::{DMat3, DVec3};
use hemoscale_surrogates::linear::LeastSquares;
use serde::{Deserialize, Serialize};

use crate::bootstrap::{mean_and_std, resample, splitmix};
use crate::local_flow::LocalFlow;

/// `dn/dt = a W n + b (E n - (n.E.n) n)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GeneralizedJeffery {
    /// Coefficient of the vorticity term (1 for Jeffery).
    pub a: f64,
    /// Coefficient of the strain term (Bretherton's lambda for Jeffery).
    pub b: f64,
}

/// Largest rotation (rad) of one internal sub-step of [`GeneralizedJeffery::advance`].
const MAX_SUBSTEP_ROTATION: f64 = 0.01;

impl GeneralizedJeffery {
    /// Jeffery's equation for a rigid spheroid of aspect ratio `r` (symmetry axis over
    /// equatorial diameter).
    pub fn jeffery(r: f64) -> Self {
        Self { a: 1.0, b: (r * r - 1.0) / (r * r + 1.0) }
    }

    /// The two terms at `n` for flow `g` (velocity gradient): `(W n, E n - (n.E.n) n)`.
    pub fn terms(n: DVec3, g: &DMat3) -> (DVec3, DVec3) {
        let e = 0.5 * (*g + g.transpose());
        let w = 0.5 * (*g - g.transpose());
        let en = e * n;
        (w * n, en - n.dot(en) * n)
    }

    /// `dn/dt` at `n`.
    pub fn rate(&self, n: DVec3, flow: &LocalFlow) -> DVec3 {
        let (wn, en) = Self::terms(n, &flow.gradient);
        self.a * wn + self.b * en
    }

    /// `n` advanced by `dt` in `flow` (classical Runge–Kutta in sub-steps of at most 0.01 rad,
    /// renormalised after each).
    pub fn advance(&self, n: DVec3, flow: &LocalFlow, dt: f64) -> DVec3 {
        let bound = 0.5 * flow.shear_rate() * (self.a.abs() + self.b.abs()) + 1e-300;
        let sub = ((bound * dt.abs() / MAX_SUBSTEP_ROTATION).ceil() as usize).clamp(1, 1_000_000);
        let h = dt / sub as f64;
        let mut x = n.normalize_or(DVec3::Z);
        for _ in 0..sub {
            let k1 = self.rate(x, flow);
            let k2 = self.rate(x + 0.5 * h * k1, flow);
            let k3 = self.rate(x + 0.5 * h * k2, flow);
            let k4 = self.rate(x + h * k3, flow);
            x = (x + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)).normalize_or(x);
        }
        x
    }

    /// Period of the orbit (the normal's angle through 2 pi) in simple shear of rate `rate`;
    /// infinite when the equation has fixed points (`|b| >= |a|`).
    pub fn period(&self, rate: f64) -> f64 {
        let d = self.a * self.a - self.b * self.b;
        if d <= 0.0 {
            return f64::INFINITY;
        }
        4.0 * std::f64::consts::PI / (rate.abs() * d.sqrt())
    }

    /// Aspect ratio of the rigid spheroid whose Jeffery orbit has this shape: from `b / a`.
    pub fn effective_aspect_ratio(&self) -> f64 {
        let l = (self.b / self.a).clamp(-0.999_999, 0.999_999);
        ((1.0 + l) / (1.0 - l)).sqrt()
    }
}

/// One point of a platelet's fine track: its normal (sign kept continuous) and the velocity
/// gradient it saw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OrientationSample {
    /// Time.
    pub time: f64,
    /// Unit normal.
    pub normal: DVec3,
    /// Local velocity gradient.
    pub gradient: DMat3,
}

/// Least-squares rows of the generalised equation from central differences over `lag` samples:
/// `(n(t + lag) - n(t)) / dt` against the two terms at the normalised mean normal, with the mean
/// gradient. Returns one system per starting sample, in order (for block resampling).
fn rows(track: &[OrientationSample], lag: usize) -> Vec<LeastSquares> {
    let lag = lag.max(1);
    (0..track.len().saturating_sub(lag))
        .map(|k| {
            let (s0, s1) = (track[k], track[k + lag]);
            let mut ls = LeastSquares::new(2);
            let dt = s1.time - s0.time;
            let n1 = if s0.normal.dot(s1.normal) < 0.0 { -s1.normal } else { s1.normal };
            let nm = (s0.normal + n1).normalize_or(s0.normal);
            if dt > 0.0 {
                let y = (n1 - s0.normal) / dt;
                let g = 0.5 * (s0.gradient + s1.gradient);
                let (wn, en) = GeneralizedJeffery::terms(nm, &g);
                for i in 0..3 {
                    let _finite = ls.add(&[wn[i], en[i]], y[i], 1.0);
                }
            }
            ls
        })
        .collect()
}

/// The normal observed `horizon` samples after `start` in `segment`, against the one the model
/// integrates to from the normal observed at `start` (with the observed gradients).
fn shoot(m: &GeneralizedJeffery, segment: &[OrientationSample], start: usize, horizon: usize) -> DVec3 {
    let mut n = segment[start].normal;
    for w in segment[start..=start + horizon].windows(2) {
        let flow = LocalFlow::linear(DVec3::ZERO, 0.5 * (w[0].gradient + w[1].gradient));
        n = m.advance(n, &flow, w[1].time - w[0].time);
    }
    n - segment[start + horizon].normal
}

/// Gauss–Newton on the shooting residuals of `starts`, from `guess` (six iterations at most;
/// the guess itself when a step fails).
fn refine(
    segments: &[&[OrientationSample]],
    starts: &[(usize, usize)],
    horizon: usize,
    guess: GeneralizedJeffery,
) -> GeneralizedJeffery {
    let residuals = |m: &GeneralizedJeffery| -> Vec<DVec3> {
        starts.iter().map(|&(j, k)| shoot(m, segments[j], k, horizon)).collect()
    };
    let mut m = guess;
    for _ in 0..6 {
        let r = residuals(&m);
        let h = 1e-5 * m.a.abs().max(1.0);
        let ra = residuals(&GeneralizedJeffery { a: m.a + h, ..m });
        let rb = residuals(&GeneralizedJeffery { b: m.b + h, ..m });
        let mut ls = LeastSquares::new(2);
        for k in 0..r.len() {
            let (da, db) = ((ra[k] - r[k]) / h, (rb[k] - r[k]) / h);
            for i in 0..3 {
                let _finite = ls.add(&[da[i], db[i]], -r[k][i], 1.0);
            }
        }
        let Some(step) = ls.solve(1e-9) else { break };
        m = GeneralizedJeffery { a: m.a + step[0], b: m.b + step[1] };
        if step[0].abs().max(step[1].abs()) < 1e-7 {
            break;
        }
    }
    if m.a.is_finite() && m.b.is_finite() {
        m
    } else {
        guess
    }
}

fn solve(ls: &LeastSquares) -> Option<GeneralizedJeffery> {
    let c = ls.solve(1e-9)?;
    Some(GeneralizedJeffery { a: c[0], b: c[1] })
}

/// Block-bootstrap ensemble of generalised Jeffery fits: the first member is the fit to the whole
/// track, each other one a fit to `blocks` contiguous blocks drawn with replacement. Blocks
/// (rather than single rows) keep the correlation of neighbouring rows, so the spread is an
/// honest estimate of how well the track determines the coefficients.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JefferyEnsemble {
    /// The members, the whole-track fit first.
    pub members: Vec<GeneralizedJeffery>,
    /// Rows (sample pairs) the fit used.
    pub rows: usize,
    /// Root-mean-square residual of the whole-track fit (1/time).
    pub rms_residual: f64,
}

impl JefferyEnsemble {
    /// Fits `members` models to the track `segments` (each a contiguous run of samples;
    /// nothing spans two segments), with `blocks` blocks per resample, bootstrap seeded by
    /// `seed`. None when the track is too short to fit.
    ///
    /// Two stages. First, linear least squares on central differences over `lag` samples: the
    /// local drift of the normal. Then, when `horizon` > `lag`, those coefficients are refined by
    /// Gauss–Newton so that the equation, integrated from each observed normal over `horizon`
    /// samples, lands on the normal observed there ("shooting"). The second stage is what makes
    /// the period right: a Brownian platelet's orbit is shorter than the deterministic orbit of
    /// its local drift (thermal kicks carry it out of the slow, aligned phase; `docs/platelets.md`
    /// measures 0.906 of Jeffery's period), and fitting the drift alone put the reduced period
    /// 7 to 10 % away from the fine one in `shear-flip`. Matching displacements over a horizon
    /// of a tenth of an orbit builds the mean effect of the noise into the coefficients.
    ///
    /// ```
    /// use glam::DVec3;
    /// use hemoscale_coupling::{GeneralizedJeffery, JefferyEnsemble, LocalFlow, OrientationSample};
    ///
    /// // A noise-free track over one orbit of a known equation, a sample every 0.2.
    /// let truth = GeneralizedJeffery { a: 1.05, b: -0.8 };
    /// let flow = LocalFlow::simple_shear(0.06);
    /// let mut n = DVec3::new(0.6, 0.0, 0.8);
    /// let track: Vec<OrientationSample> = (0..1600)
    ///     .map(|k| {
    ///         let s = OrientationSample { time: 0.2 * f64::from(k), normal: n, gradient: flow.gradient };
    ///         n = truth.advance(n, &flow, 0.2);
    ///         s
    ///     })
    ///     .collect();
    /// // First stage only (horizon <= lag): differences over 5 samples, 4 members of 4 blocks.
    /// let fit = JefferyEnsemble::fit([&track[..]], 5, 0, 4, 4, 1).unwrap();
    /// assert!((fit.best().a - truth.a).abs() < 1e-3 && (fit.best().b - truth.b).abs() < 1e-3);
    /// assert!((fit.best().period(0.06) / truth.period(0.06) - 1.0).abs() < 1e-3);
    /// // Without noise the blocks agree, so the members do: the model is certain.
    /// assert!(fit.period_spread() < 1e-3);
    /// // Too short a track is not fitted at all.
    /// assert!(JefferyEnsemble::fit([&track[..10]], 5, 0, 4, 4, 1).is_none());
    /// ```
    pub fn fit<'a>(
        segments: impl IntoIterator<Item = &'a [OrientationSample]>,
        lag: usize,
        horizon: usize,
        members: usize,
        blocks: usize,
        seed: u64,
    ) -> Option<Self> {
        let segments: Vec<&[OrientationSample]> = segments.into_iter().collect();
        let all: Vec<LeastSquares> = segments.iter().flat_map(|s| rows(s, lag)).collect();
        let systems = resample(&all, blocks, members, seed)?;
        let linear = solve(&systems[0])?;
        let rms = systems[0].mean_squared_residual(&[linear.a, linear.b]).sqrt();
        let n_rows = systems[0].rows() / 3;
        if horizon <= lag {
            let members = systems.iter().map(|s| solve(s).unwrap_or(linear)).collect();
            return Some(Self { members, rows: n_rows, rms_residual: rms });
        }
        // Shooting: starts every horizon/5 samples, each with the segment it lies in.
        let stride = (horizon / 5).max(1);
        let starts: Vec<(usize, usize)> = segments
            .iter()
            .enumerate()
            .flat_map(|(j, s)| (0..s.len().saturating_sub(horizon)).step_by(stride).map(move |k| (j, k)))
            .collect();
        let blocks = blocks.max(1);
        if starts.len() < 2 * blocks {
            let members = systems.iter().map(|s| solve(s).unwrap_or(linear)).collect();
            return Some(Self { members, rows: n_rows, rms_residual: rms });
        }
        let size = starts.len() / blocks;
        let block = |b: usize| {
            let end = if b + 1 == blocks { starts.len() } else { (b + 1) * size };
            &starts[b * size..end]
        };
        let best = refine(&segments, &starts, horizon, linear);
        let mut state = seed ^ 0x5405_7EED;
        let mut out = vec![best];
        for _ in 1..members.max(1) {
            let pick: Vec<(usize, usize)> = (0..blocks)
                .flat_map(|_| block((splitmix(&mut state) % blocks as u64) as usize).iter().copied())
                .collect();
            out.push(refine(&segments, &pick, horizon, best));
        }
        Some(Self { members: out, rows: n_rows, rms_residual: rms })
    }

    /// The model used: the whole-track fit.
    pub fn best(&self) -> GeneralizedJeffery {
        self.members[0]
    }

    /// Relative spread (standard deviation over mean) of the members' orbit periods: the
    /// uncertainty of the orientation model. Infinite when a member has no orbit.
    pub fn period_spread(&self) -> f64 {
        let p: Vec<f64> = self.members.iter().map(|m| m.period(1.0)).collect();
        if p.iter().any(|x| !x.is_finite()) {
            return f64::INFINITY;
        }
        let (mean, std) = mean_and_std(&p);
        std / mean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Jeffery's analytic orbit in simple shear: tan(phi) = r tan(rate t / (r + 1/r)) for the
    /// normal's angle from the gradient axis, for a disc of axis ratio r starting flat in the
    /// flow plane (phi = 0, the slow phase).
    #[test]
    fn integrates_jefferys_orbit_against_the_analytic_solution() {
        let (r, rate) = (0.3, 0.06);
        let m = GeneralizedJeffery::jeffery(r);
        let flow = LocalFlow::simple_shear(rate);
        let period = 2.0 * std::f64::consts::PI * (r + 1.0 / r) / rate;
        assert!((m.period(rate) - period).abs() < 1e-9 * period);
        assert!((m.effective_aspect_ratio() - r).abs() < 1e-9);
        let mut n = DVec3::Z;
        let dt = period / 400.0;
        for k in 1..=400 {
            n = m.advance(n, &flow, dt);
            let t = k as f64 * dt;
            // phi = atan2(n_x, n_z); analytic: tan phi = r tan(rate t / (r + 1/r)).
            let th = rate * t / (r + 1.0 / r);
            let expect = (r * th.sin()).atan2(th.cos());
            let got = n.x.atan2(n.z);
            let d = (got - expect + std::f64::consts::PI).rem_euclid(2.0 * std::f64::consts::PI) - std::f64::consts::PI;
            assert!(d.abs() < 1e-6, "step {k}: {got} against {expect}");
        }
        assert!((n - DVec3::Z).length() < 1e-6, "one period returns the normal: {n}");
    }

    fn synthetic_track(m: GeneralizedJeffery, rate: f64, noise: f64, len: usize) -> Vec<OrientationSample> {
        let flow = LocalFlow::simple_shear(rate);
        let dt = 0.2;
        let mut n = DVec3::new(0.93f64.sin(), 0.05, 0.93f64.cos()).normalize();
        let mut state = 7u64;
        let mut out = Vec::new();
        for k in 0..len {
            let jitter = DVec3::new(
                splitmix(&mut state) as f64 / u64::MAX as f64 - 0.5,
                splitmix(&mut state) as f64 / u64::MAX as f64 - 0.5,
                splitmix(&mut state) as f64 / u64::MAX as f64 - 0.5,
            );
            out.push(OrientationSample {
                time: k as f64 * dt,
                normal: (n + noise * jitter).normalize(),
                gradient: flow.gradient,
            });
            n = m.advance(n, &flow, dt);
        }
        out
    }

    #[test]
    fn recovers_the_coefficients_of_a_noisy_track() {
        let truth = GeneralizedJeffery { a: 1.08, b: -0.83 };
        let track = synthetic_track(truth, 0.06, 0.0, 3000);
        let e = JefferyEnsemble::fit([&track[..]], 5, 100, 8, 8, 1).expect("fit");
        let b = e.best();
        assert!((b.a - truth.a).abs() < 2e-3 && (b.b - truth.b).abs() < 2e-3, "{b:?}");
        assert!(e.period_spread() < 1e-3, "{}", e.period_spread());
        // Noise in the normal: still close, and the ensemble says how close.
        let noisy = synthetic_track(truth, 0.06, 0.01, 3000);
        let e = JefferyEnsemble::fit([&noisy[..]], 5, 100, 8, 8, 1).expect("fit");
        let rel = (e.best().period(0.06) / truth.period(0.06) - 1.0).abs();
        assert!(rel < 0.03, "period off by {rel}");
        assert!(e.period_spread() > 0.0 && e.period_spread() < 0.05, "{}", e.period_spread());
    }

    #[test]
    fn a_short_track_is_not_fitted() {
        let track = synthetic_track(GeneralizedJeffery::jeffery(0.3), 0.06, 0.0, 10);
        assert!(JefferyEnsemble::fit([&track[..]], 5, 100, 4, 8, 1).is_none());
    }
}
