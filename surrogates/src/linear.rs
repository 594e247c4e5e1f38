//! Linear least squares: the smallest learner, for models that are linear in their parameters
//! (polynomial fits of flow profiles, the generalised Jeffery equation and the stress map of the
//! coupling layer). Rows are accumulated into the normal equations, so a fit over a long run
//! keeps an `m x m` matrix, not the data; a small ridge term keeps nearly collinear features
//! solvable.
//!
//! ```
//! use hemoscale_surrogates::linear::LeastSquares;
//!
//! // Fit y = 1 + 2x from rows [1, x], one by one.
//! let mut ls = LeastSquares::new(2);
//! for i in 0..10 {
//!     let x = f64::from(i) * 0.5;
//!     assert!(ls.add(&[1.0, x], 1.0 + 2.0 * x, 1.0));
//! }
//! // A row with a NaN is skipped, not folded into the sums.
//! assert!(!ls.add(&[1.0, f64::NAN], 0.0, 1.0));
//! assert_eq!(ls.rows(), 10);
//! let c = ls.solve(0.0).expect("two distinct x determine a line");
//! assert!((c[0] - 1.0).abs() < 1e-10 && (c[1] - 2.0).abs() < 1e-10, "{c:?}");
//! assert!(ls.mean_squared_residual(&c) < 1e-18);
//! ```

/// Normal equations `A^T W A c = A^T W y` accumulated row by row.
#[derive(Clone, Debug, PartialEq)]
pub struct LeastSquares {
    m: usize,
    ata: Vec<f64>,
    aty: Vec<f64>,
    yty: f64,
    weight: f64,
    rows: usize,
}

impl LeastSquares {
    /// An empty system for `m` coefficients.
    pub fn new(m: usize) -> Self {
        Self { m, ata: vec![0.0; m * m], aty: vec![0.0; m], yty: 0.0, weight: 0.0, rows: 0 }
    }

    /// Number of coefficients.
    pub fn coefficients(&self) -> usize {
        self.m
    }

    /// Rows added so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Adds the row `x . c = y` with weight `w` (rows with a non-finite entry are skipped and
    /// reported as `false`).
    ///
    /// # Panics
    /// When `x` does not have one entry per coefficient (a programming error).
    pub fn add(&mut self, x: &[f64], y: f64, w: f64) -> bool {
        assert_eq!(x.len(), self.m, "row length must equal the number of coefficients");
        self.accumulate(|k| k, x, y, w)
    }

    /// Adds a sparse row: the entries `vals` at columns `idx` (the others zero). Equivalent to
    /// [`Self::add`] with the dense row, in time proportional to the square of the non-zeros.
    ///
    /// # Panics
    /// When `idx` and `vals` differ in length or a column is out of range (programming errors).
    pub fn add_sparse(&mut self, idx: &[usize], vals: &[f64], y: f64, w: f64) -> bool {
        assert_eq!(idx.len(), vals.len(), "one value per column index");
        assert!(idx.iter().all(|&c| c < self.m), "column index out of range");
        self.accumulate(|k| idx[k], vals, y, w)
    }

    /// Adds the row whose entry `vals[k]` sits in column `col(k)`.
    fn accumulate(&mut self, col: impl Fn(usize) -> usize, vals: &[f64], y: f64, w: f64) -> bool {
        if !(y.is_finite() && w.is_finite() && vals.iter().all(|v| v.is_finite())) {
            return false;
        }
        for (r, &vr) in vals.iter().enumerate() {
            let ir = col(r);
            for (c, &vc) in vals.iter().enumerate() {
                self.ata[ir * self.m + col(c)] += w * vr * vc;
            }
            self.aty[ir] += w * vr * y;
        }
        self.yty += w * y * y;
        self.weight += w;
        self.rows += 1;
        true
    }

    /// Adds every row of `other` (same number of coefficients).
    pub fn merge(&mut self, other: &Self) {
        assert_eq!(self.m, other.m, "merged systems must have the same number of coefficients");
        for (a, b) in self.ata.iter_mut().zip(&other.ata) {
            *a += b;
        }
        for (a, b) in self.aty.iter_mut().zip(&other.aty) {
            *a += b;
        }
        self.yty += other.yty;
        self.weight += other.weight;
        self.rows += other.rows;
    }

    /// The least-squares coefficients, with `ridge` times the mean diagonal added to the
    /// diagonal (0: plain least squares). None when the rows do not determine them.
    pub fn solve(&self, ridge: f64) -> Option<Vec<f64>> {
        if self.rows == 0 {
            return None;
        }
        let m = self.m;
        let scale = (0..m).map(|k| self.ata[k * m + k]).sum::<f64>() / m as f64;
        let a: Vec<Vec<f64>> = (0..m)
            .map(|r| {
                let mut row: Vec<f64> = self.ata[r * m..(r + 1) * m].to_vec();
                row[r] += ridge * scale;
                row.push(self.aty[r]);
                row
            })
            .collect();
        solve_augmented(a)
    }

    /// Weighted mean squared residual of `coeffs` over the rows added.
    pub fn mean_squared_residual(&self, coeffs: &[f64]) -> f64 {
        let m = self.m;
        let mut q = self.yty;
        for r in 0..m {
            q -= 2.0 * coeffs[r] * self.aty[r];
            for c in 0..m {
                q += coeffs[r] * self.ata[r * m + c] * coeffs[c];
            }
        }
        q.max(0.0) / self.weight.max(f64::MIN_POSITIVE)
    }
}

/// Solves the `m x (m+1)` augmented system `[A | b]` by Gaussian elimination with partial
/// pivoting. None when `A` is singular.
pub fn solve_augmented(mut a: Vec<Vec<f64>>) -> Option<Vec<f64>> {
    let m = a.len();
    let largest = a.iter().flat_map(|r| r[..m].iter()).fold(0.0f64, |x, v| x.max(v.abs()));
    for col in 0..m {
        let piv = (col..m).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        // NaN pivots fail too.
        if a[piv][col].abs().partial_cmp(&(1e-13 * largest)) != Some(std::cmp::Ordering::Greater) {
            return None;
        }
        a.swap(col, piv);
        let pivot_row = a[col].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot_row[col];
                for (x, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                    *x -= f * p;
                }
            }
        }
    }
    let c: Vec<f64> = (0..m).map(|r| a[r][m] / a[r][r]).collect();
    c.iter().all(|v| v.is_finite()).then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_exact_coefficients_and_zero_residual() {
        let mut ls = LeastSquares::new(3);
        for i in 0..20 {
            let x = f64::from(i) * 0.3;
            let row = [1.0, x, x * x];
            assert!(ls.add(&row, 2.0 - 0.5 * x + 0.25 * x * x, 1.0));
        }
        let c = ls.solve(0.0).expect("solvable");
        assert!((c[0] - 2.0).abs() < 1e-9 && (c[1] + 0.5).abs() < 1e-9 && (c[2] - 0.25).abs() < 1e-9, "{c:?}");
        assert!(ls.mean_squared_residual(&c) < 1e-12);
    }

    #[test]
    fn merged_halves_equal_the_whole_and_bad_rows_are_skipped() {
        let (mut a, mut b, mut all) = (LeastSquares::new(2), LeastSquares::new(2), LeastSquares::new(2));
        for i in 0..10 {
            let x = f64::from(i);
            let y = 1.0 + 3.0 * x + if i % 2 == 0 { 0.1 } else { -0.1 };
            let half = if i < 5 { &mut a } else { &mut b };
            half.add(&[1.0, x], y, 1.0);
            all.add(&[1.0, x], y, 1.0);
        }
        assert!(!all.add(&[f64::NAN, 1.0], 1.0, 1.0));
        a.merge(&b);
        let (x, y) = (a.solve(0.0).expect("solvable"), all.solve(0.0).expect("solvable"));
        // Equal up to the order of the sums.
        assert!(x.iter().zip(&y).all(|(p, q)| (p - q).abs() < 1e-12), "{x:?} {y:?}");
        assert_eq!(a.rows(), all.rows());
    }

    #[test]
    fn sparse_rows_equal_dense_rows() {
        let (mut dense, mut sparse) = (LeastSquares::new(4), LeastSquares::new(4));
        for i in 0..12 {
            let x = f64::from(i);
            dense.add(&[1.0, 0.0, x, 0.0], 2.0 * x + 1.0, 1.0);
            sparse.add_sparse(&[0, 2], &[1.0, x], 2.0 * x + 1.0, 1.0);
            dense.add(&[0.0, x * x, 0.0, 1.0], x, 0.5);
            sparse.add_sparse(&[1, 3], &[x * x, 1.0], x, 0.5);
        }
        assert_eq!(dense, sparse);
    }

    #[test]
    fn collinear_rows_are_refused_unless_regularised() {
        let mut ls = LeastSquares::new(2);
        for i in 0..5 {
            let x = f64::from(i);
            ls.add(&[x, 2.0 * x], x, 1.0);
        }
        assert!(ls.solve(0.0).is_none());
        let c = ls.solve(1e-6).expect("ridge makes it solvable");
        assert!((c[0] + 2.0 * c[1] - 1.0).abs() < 1e-4, "{c:?}");
    }
}
