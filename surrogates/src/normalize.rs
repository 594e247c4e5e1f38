//! Per-feature standardisation `(x - mean) / std` of inputs and targets, fitted on the training
//! data and stored in the model file so that a loaded model takes and returns physical values.
//!
//! ```
//! use hemoscale_surrogates::normalize::Standardizer;
//! use ndarray::array;
//!
//! // The second column is constant: its std is taken as 1, so nothing divides by zero.
//! let x = array![[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]];
//! let s = Standardizer::fit(x.view());
//! assert_eq!(s.mean, [3.0, 5.0]);
//! assert_eq!(s.std[1], 1.0);
//! let z = s.apply(x.view());
//! assert!((z[[2, 0]] - 1.5f64.sqrt()).abs() < 1e-12); // (5 - 3) / sqrt(8/3)
//! assert_eq!(z.column(1).sum(), 0.0);
//! // invert undoes apply.
//! let back = s.invert(z.view());
//! assert!(back.iter().zip(&x).all(|(a, b)| (a - b).abs() < 1e-12));
//! ```

use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

/// Means and standard deviations of each column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Column means.
    pub mean: Vec<f64>,
    /// Column standard deviations (1 where a column is constant).
    pub std: Vec<f64>,
}

impl Standardizer {
    /// The identity for `n` columns.
    pub fn identity(n: usize) -> Self {
        Self { mean: vec![0.0; n], std: vec![1.0; n] }
    }

    /// Fitted to the rows of `x`.
    pub fn fit(x: ArrayView2<f64>) -> Self {
        let n = x.nrows().max(1) as f64;
        let mean = x.sum_axis(Axis(0)) / n;
        let var = (&x - &mean).mapv(|d| d * d).sum_axis(Axis(0)) / n;
        let std = var.mapv(|v| if v > 1e-24 { v.sqrt() } else { 1.0 });
        Self { mean: mean.to_vec(), std: std.to_vec() }
    }

    /// `(x - mean) / std`, row by row.
    pub fn apply(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let mut y = x.to_owned();
        for mut r in y.rows_mut() {
            for (k, v) in r.iter_mut().enumerate() {
                *v = (*v - self.mean[k]) / self.std[k];
            }
        }
        y
    }

    /// `y std + mean`, row by row (the inverse of [`Standardizer::apply`]).
    pub fn invert(&self, y: ArrayView2<f64>) -> Array2<f64> {
        let mut x = y.to_owned();
        for mut r in x.rows_mut() {
            for (k, v) in r.iter_mut().enumerate() {
                *v = *v * self.std[k] + self.mean[k];
            }
        }
        x
    }
}
