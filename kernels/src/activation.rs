//! Flow-induced platelet activation along a trajectory, from the scalar stress a platelet feels
//! (in dyn/cm^2) and the time it feels it (in s).
//!
//! **Power law** (Blackshear form; constants of Nobili et al. 2008, ASAIO J. 54:64, as quoted in
//! `physics.md` 1.7 and not yet checked against the paper): `D = C tau^alpha t^beta` at constant
//! stress, with `C = 1.4854e-7`, `alpha = 1.4234`, `beta = 1.3198`. Under a varying stress the
//! damage accumulates as `D(t) = C [ integral_0^t tau(s)^(alpha/beta) ds ]^beta`, the form that
//! follows from `dD/dt = beta C^(1/beta) tau^(alpha/beta) D^((beta-1)/beta)` (Grigioni et al.
//! 2005) and reduces to the power law at constant stress. `D` is the platelet activation state
//! (0: resting, 1: fully activated).
//!
//! **History-dependent model** (after Soares, Sheriff & Bluestein 2013, Biomech. Model.
//! Mechanobiol. 12:1127, *in the reduced form implemented here*): the rate of the power law is
//! multiplied by a sensitisation factor `1 + S`, where `S` grows with the stress history,
//! `dS/dt = k_s tau^(alpha/beta) (1 - S/S_max)`: platelets that saw high stress activate faster
//! under later, lower stress (the published observation). With `k_s = 0` it is the power law.
//! The published model also includes a loading-rate term and its own fitted constants, which are
//! not reproduced here (the paper's body was not available to this work).
//!
//! **Stress accumulation** `SA = integral tau dt` (dyn s/cm^2), the linear measure of the device
//! thrombogenicity literature, is kept alongside.
//!
//! ```
//! use hemoscale_kernels::activation::{Activation, ActivationModel};
//!
//! // 0.1 s at 100 dyn/cm^2 in steps of 1 ms: at constant stress the accumulated form is the
//! // power law, whatever the step.
//! let model = ActivationModel::NOBILI;
//! let mut a = Activation::default();
//! for _ in 0..100 {
//!     a.advance(&model, 100.0, 1e-3);
//! }
//! let power_law = 1.4854e-7 * 100f64.powf(1.4234) * 0.1f64.powf(1.3198);
//! assert!((a.level(&model) / power_law - 1.0).abs() < 1e-9);
//! assert!((a.stress_accumulation - 10.0).abs() < 1e-9); // dyn s/cm^2
//! assert_eq!(a.max_stress, 100.0);
//! ```

/// Which activation model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ActivationModel {
    /// `D = C tau^alpha t^beta`.
    PowerLaw {
        /// C.
        c: f64,
        /// alpha (stress exponent).
        alpha: f64,
        /// beta (time exponent).
        beta: f64,
    },
    /// The power law with history-dependent sensitisation (reduced Soares et al. 2013).
    History {
        /// C.
        c: f64,
        /// alpha.
        alpha: f64,
        /// beta.
        beta: f64,
        /// Sensitisation rate per unit of `tau^(alpha/beta) t`.
        k_s: f64,
        /// Largest sensitisation.
        s_max: f64,
    },
}

impl ActivationModel {
    /// Nobili et al. 2008 constants.
    pub const NOBILI: Self = Self::PowerLaw { c: 1.4854e-7, alpha: 1.4234, beta: 1.3198 };
    /// The history-dependent option with Nobili's constants, `k_s = 1e-3` per
    /// `(dyn/cm^2)^(alpha/beta) s` and `S_max = 1` (at most a doubled rate). These two constants
    /// are illustrative, not fitted.
    pub const HISTORY: Self = Self::History { c: 1.4854e-7, alpha: 1.4234, beta: 1.3198, k_s: 1e-3, s_max: 1.0 };
}

/// The activation state of one platelet along its trajectory.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Activation {
    /// `integral tau^(alpha/beta) (1 + S) dt`.
    pub dose: f64,
    /// Sensitisation S (history model).
    pub sensitisation: f64,
    /// Stress accumulation `integral tau dt` (dyn s/cm^2).
    pub stress_accumulation: f64,
    /// Exposure time (s).
    pub time: f64,
    /// Largest scalar stress seen (dyn/cm^2).
    pub max_stress: f64,
}

impl Activation {
    /// Advances by `dt` seconds at scalar stress `tau` dyn/cm^2 (negative or non-finite values
    /// count as 0).
    pub fn advance(&mut self, model: &ActivationModel, tau: f64, dt: f64) {
        let tau = if tau.is_finite() { tau.max(0.0) } else { 0.0 };
        let (alpha, beta) = match *model {
            ActivationModel::PowerLaw { alpha, beta, .. } | ActivationModel::History { alpha, beta, .. } => {
                (alpha, beta)
            }
        };
        let rate = tau.powf(alpha / beta);
        let gain = 1.0 + self.sensitisation;
        self.dose += rate * gain * dt;
        if let ActivationModel::History { k_s, s_max, .. } = *model {
            self.sensitisation += k_s * rate * (1.0 - self.sensitisation / s_max) * dt;
        }
        self.stress_accumulation += tau * dt;
        self.time += dt;
        self.max_stress = self.max_stress.max(tau);
    }

    /// The activation state D in [0, 1].
    pub fn level(&self, model: &ActivationModel) -> f64 {
        let (c, beta) = match *model {
            ActivationModel::PowerLaw { c, beta, .. } | ActivationModel::History { c, beta, .. } => (c, beta),
        };
        (c * self.dose.powf(beta)).min(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At constant stress the accumulated form is the power law, whatever the step size.
    #[test]
    fn constant_stress_gives_the_power_law() {
        let m = ActivationModel::NOBILI;
        let (tau, t) = (300.0, 0.5);
        let mut a = Activation::default();
        for _ in 0..1000 {
            a.advance(&m, tau, t / 1000.0);
        }
        let want = 1.4854e-7 * f64::powf(tau, 1.4234) * f64::powf(t, 1.3198);
        assert!((a.level(&m) / want - 1.0).abs() < 1e-9, "{} vs {want}", a.level(&m));
        assert!((a.stress_accumulation - tau * t).abs() < 1e-9);
    }

    /// Sensitisation: a high-stress pulse first makes a later low-stress exposure activate more
    /// than the same exposure alone (history model), but not under the power law.
    #[test]
    fn history_model_sensitises() {
        let run = |m: &ActivationModel, pulse: bool| {
            let mut a = Activation::default();
            if pulse {
                for _ in 0..100 {
                    a.advance(m, 2000.0, 1e-3);
                }
            }
            let before = a.level(m);
            for _ in 0..1000 {
                a.advance(m, 100.0, 1e-2);
            }
            a.level(m) - before
        };
        let h = ActivationModel::HISTORY;
        assert!(run(&h, true) > run(&h, false) * 1.05);
        let p = ActivationModel::NOBILI;
        // Under the power law the pulse also raises the later increment (D is convex in dose),
        // but by less than under sensitisation.
        assert!(run(&h, true) / run(&h, false) > run(&p, true) / run(&p, false));
    }
}
