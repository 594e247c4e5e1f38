//! Optimisers on flat parameter vectors: SGD (with optional heavy-ball or Nesterov momentum) and
//! Adam. Their state is flat too, so a checkpoint stores it as it is and a resumed run continues
//! exactly.
//!
//! ```
//! use hemoscale_surrogates::optim::{Optimizer, OptimizerKind};
//!
//! // One plain SGD step on 0.5 |w|^2, whose gradient is w itself; plain SGD keeps no state.
//! let mut sgd = Optimizer::new(OptimizerKind::PLAIN, 2);
//! let mut w = [1.0, -2.0];
//! sgd.step(&mut w, &[1.0, -2.0], 0.25);
//! assert_eq!(w, [0.75, -1.5]);
//! assert!(sgd.m.is_empty());
//! // Nesterov momentum on the badly scaled 0.5 (x^2 + 10 y^2).
//! let f = |w: &[f64; 2]| 0.5 * (w[0] * w[0] + 10.0 * w[1] * w[1]);
//! let mut opt = Optimizer::new(OptimizerKind::parse("nesterov:0.9").expect("a known optimiser"), 2);
//! let mut w = [3.0, -2.0];
//! let start = f(&w);
//! for _ in 0..300 {
//!     let g = [w[0], 10.0 * w[1]];
//!     opt.step(&mut w, &g, 0.05);
//! }
//! assert!(f(&w) < 1e-6 * start, "{w:?}");
//! assert_eq!(opt.t, 300);
//! ```

use serde::{Deserialize, Serialize};

/// Which optimiser, with its hyper-parameters (the step size comes from the schedule).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// `w -= eta g`, or with momentum `m = beta m + g; w -= eta m` (Nesterov: `w -= eta (g + beta m)`).
    Sgd {
        /// Momentum factor beta (0: plain SGD).
        momentum: f64,
        /// Nesterov's look-ahead form.
        nesterov: bool,
    },
    /// Kingma & Ba (2015) with bias correction.
    Adam {
        /// First-moment decay.
        beta1: f64,
        /// Second-moment decay.
        beta2: f64,
        /// Denominator guard.
        eps: f64,
    },
}

impl OptimizerKind {
    /// Plain SGD.
    pub const PLAIN: Self = Self::Sgd { momentum: 0.0, nesterov: false };

    /// Parses `sgd`, `momentum:BETA`, `nesterov:BETA` or `adam`.
    pub fn parse(s: &str) -> Option<Self> {
        let beta = |b: &str| b.parse::<f64>().ok().filter(|b| (0.0..1.0).contains(b));
        match s.split_once(':') {
            None if s == "sgd" => Some(Self::PLAIN),
            None if s == "adam" => Some(Self::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 }),
            Some(("momentum", b)) => beta(b).map(|momentum| Self::Sgd { momentum, nesterov: false }),
            Some(("nesterov", b)) => beta(b).map(|momentum| Self::Sgd { momentum, nesterov: true }),
            _ => None,
        }
    }

    /// Whether this is SGD without momentum (what the model-averaging algorithms step with).
    pub fn is_plain_sgd(self) -> bool {
        self == Self::PLAIN
    }
}

/// An optimiser and its state for `n` parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Optimizer {
    /// Kind and hyper-parameters.
    pub kind: OptimizerKind,
    /// First state vector (momentum buffer, or Adam's first moment; empty for plain SGD).
    pub m: Vec<f64>,
    /// Adam's second moment (empty otherwise).
    pub v: Vec<f64>,
    /// Steps taken.
    pub t: u64,
}

impl Optimizer {
    /// A fresh optimiser for `n` parameters.
    pub fn new(kind: OptimizerKind, n: usize) -> Self {
        let (m, v) = match kind {
            OptimizerKind::Sgd { momentum: 0.0, .. } => (Vec::new(), Vec::new()),
            OptimizerKind::Sgd { .. } => (vec![0.0; n], Vec::new()),
            OptimizerKind::Adam { .. } => (vec![0.0; n], vec![0.0; n]),
        };
        Self { kind, m, v, t: 0 }
    }

    /// One step of size `eta` along the gradient `g`.
    pub fn step(&mut self, w: &mut [f64], g: &[f64], eta: f64) {
        self.t += 1;
        match self.kind {
            OptimizerKind::Sgd { momentum: 0.0, .. } => {
                for (w, g) in w.iter_mut().zip(g) {
                    *w -= eta * g;
                }
            }
            OptimizerKind::Sgd { momentum, nesterov } => {
                for ((w, g), m) in w.iter_mut().zip(g).zip(&mut self.m) {
                    *m = momentum * *m + g;
                    *w -= eta * if nesterov { g + momentum * *m } else { *m };
                }
            }
            OptimizerKind::Adam { beta1, beta2, eps } => {
                let t = self.t as i32;
                let (c1, c2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
                for (((w, g), m), v) in w.iter_mut().zip(g).zip(&mut self.m).zip(&mut self.v) {
                    *m = beta1 * *m + (1.0 - beta1) * g;
                    *v = beta2 * *v + (1.0 - beta2) * g * g;
                    *w -= eta * (*m / c1) / ((*v / c2).sqrt() + eps);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every optimiser minimises a badly scaled quadratic `0.5 (x^2 + 10 y^2)`.
    #[test]
    fn optimisers_minimise_a_quadratic() {
        for s in ["sgd", "momentum:0.9", "nesterov:0.9", "adam"] {
            let kind = OptimizerKind::parse(s).expect("kind");
            let mut o = Optimizer::new(kind, 2);
            let mut w = [3.0, -2.0];
            let eta = 0.05;
            for _ in 0..2000 {
                let g = [w[0], 10.0 * w[1]];
                o.step(&mut w, &g, eta);
            }
            assert!(w[0].abs() < 1e-3 && w[1].abs() < 1e-3, "{s}: {w:?}");
        }
        assert!(OptimizerKind::parse("momentum:1.5").is_none());
    }
}
