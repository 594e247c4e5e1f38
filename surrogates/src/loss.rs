//! Regression losses, averaged over every element of a batch of predictions.

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

/// A regression loss.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Loss {
    /// Mean squared error.
    Mse,
    /// Huber loss: quadratic within `delta` of the target, linear beyond (robust to outliers).
    Huber {
        /// Where quadratic turns linear.
        delta: f64,
    },
}

impl Loss {
    /// Parses `mse` or `huber[:DELTA]` (delta 1 by default).
    pub fn parse(s: &str) -> Option<Self> {
        match s.split_once(':') {
            None if s == "mse" => Some(Self::Mse),
            None if s == "huber" => Some(Self::Huber { delta: 1.0 }),
            Some(("huber", d)) => d.parse().ok().filter(|d: &f64| *d > 0.0).map(|delta| Self::Huber { delta }),
            _ => None,
        }
    }

    /// Mean loss of predictions `y` against targets `t`, and its gradient with respect to `y`.
    pub fn value_and_grad(self, y: ArrayView2<f64>, t: ArrayView2<f64>) -> (f64, Array2<f64>) {
        let n = y.len().max(1) as f64;
        let mut g = Array2::zeros(y.raw_dim());
        let mut total = 0.0;
        ndarray::Zip::from(&mut g).and(y).and(t).for_each(|g, &y, &t| {
            let e = y - t;
            let (l, d) = match self {
                Self::Mse => (e * e, 2.0 * e),
                Self::Huber { delta } => {
                    if e.abs() <= delta {
                        (0.5 * e * e, e)
                    } else {
                        (delta * (e.abs() - 0.5 * delta), delta * e.signum())
                    }
                }
            };
            total += l;
            *g = d / n;
        });
        (total / n, g)
    }

    /// Mean loss only.
    pub fn value(self, y: ArrayView2<f64>, t: ArrayView2<f64>) -> f64 {
        self.value_and_grad(y, t).0
    }
}
