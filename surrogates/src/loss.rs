//! Regression losses, averaged over every element of a batch of predictions.
//!
//! ```
//! use hemoscale_surrogates::Loss;
//! use ndarray::array;
//!
//! // Errors 0.2 and -1.5: one on each side of delta = 0.5.
//! let loss = Loss::parse("huber:0.5").expect("a known loss");
//! let (y, t) = (array![[1.2, -0.5]], array![[1.0, 1.0]]);
//! let (value, grad) = loss.value_and_grad(y.view(), t.view());
//! // Mean of 0.5 * 0.2^2 and 0.5 * (1.5 - 0.25).
//! assert!((value - (0.02 + 0.625) / 2.0).abs() < 1e-12);
//! // The gradient against a central difference in the first prediction.
//! let h = 1e-6;
//! let (mut up, mut down) = (y.clone(), y.clone());
//! up[[0, 0]] += h;
//! down[[0, 0]] -= h;
//! let fd = (loss.value(up.view(), t.view()) - loss.value(down.view(), t.view())) / (2.0 * h);
//! assert!((grad[[0, 0]] - fd).abs() < 1e-8);
//! // Beyond delta the gradient is the clipped delta, whatever the size of the error.
//! assert_eq!(grad[[0, 1]], -0.5 / 2.0);
//! ```

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
