//! Least-squares fits used by the flow observables: polynomials in one variable (parabolas of
//! Poiseuille profiles, lines of Couette profiles), with the coefficient of determination.
//!
//! ```
//! use hemoscale::fit::polyfit;
//!
//! // A parabola, as a Poiseuille profile is, recovered by least squares.
//! let points: Vec<(f64, f64)> = (0..20).map(|i| { let x = i as f64 * 0.5; (x, 3.0 - 0.2 * x * x) }).collect();
//! let fit = polyfit(&points, 2).unwrap();
//! assert!((fit.coeffs[0] - 3.0).abs() < 1e-9 && (fit.coeffs[2] + 0.2).abs() < 1e-9);
//! assert!((fit.eval(2.0) - 2.2).abs() < 1e-9);
//! ```

use hemoscale_surrogates::linear::LeastSquares;

/// A fitted polynomial `c[0] + c[1] x + c[2] x^2 + ...` and its R^2 on the fitted data.
#[derive(Clone, Debug, PartialEq)]
pub struct PolyFit {
    /// Coefficients, constant first.
    pub coeffs: Vec<f64>,
    /// Coefficient of determination, 1 - SS_res / SS_tot.
    pub r2: f64,
}

impl PolyFit {
    /// Value at `x`.
    pub fn eval(&self, x: f64) -> f64 {
        self.coeffs.iter().rev().fold(0.0, |acc, c| acc * x + c)
    }
}

/// Fits `y = sum_k c_k x^p_k` over the given powers `powers` (e.g. `[0, 2]` for an even parabola)
/// by least squares ([`LeastSquares`]: normal equations, Gaussian elimination with partial
/// pivoting; the systems here are 2x2 or 3x3 on centred data). None when the points do not
/// determine the fit.
pub fn fit_powers(points: &[(f64, f64)], powers: &[i32]) -> Option<(Vec<f64>, f64)> {
    let m = powers.len();
    if points.len() < m || m == 0 {
        return None;
    }
    let mut ls = LeastSquares::new(m);
    for &(x, y) in points {
        let basis: Vec<f64> = powers.iter().map(|&p| x.powi(p)).collect();
        let _finite = ls.add(&basis, y, 1.0);
    }
    let coeffs = ls.solve(0.0)?;
    let model = |x: f64| powers.iter().zip(&coeffs).map(|(&p, c)| c * x.powi(p)).sum::<f64>();
    let mean = points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64;
    let ss_tot: f64 = points.iter().map(|p| (p.1 - mean).powi(2)).sum();
    let ss_res: f64 = points.iter().map(|p| (p.1 - model(p.0)).powi(2)).sum();
    let r2 = if ss_tot > 0.0 { 1.0 - ss_res / ss_tot } else { f64::NAN };
    Some((coeffs, r2))
}

/// Full polynomial of degree `degree`.
pub fn polyfit(points: &[(f64, f64)], degree: usize) -> Option<PolyFit> {
    let powers: Vec<i32> = (0..=degree as i32).collect();
    fit_powers(points, &powers).map(|(coeffs, r2)| PolyFit { coeffs, r2 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_an_exact_parabola() {
        let pts: Vec<(f64, f64)> =
            (0..20).map(|i| f64::from(i) * 0.5).map(|x| (x, 1.5 - 0.3 * x + 0.07 * x * x)).collect();
        let f = polyfit(&pts, 2).expect("fit");
        assert!((f.coeffs[0] - 1.5).abs() < 1e-9 && (f.coeffs[1] + 0.3).abs() < 1e-9);
        assert!((f.coeffs[2] - 0.07).abs() < 1e-9 && (f.r2 - 1.0).abs() < 1e-12);
        assert!((f.eval(2.0) - (1.5 - 0.6 + 0.28)).abs() < 1e-9);
    }

    #[test]
    fn even_parabola_and_underdetermined_input() {
        let pts: Vec<(f64, f64)> =
            (0..10).map(|i| f64::from(i) * 0.3).map(|r| (r, 2.0 * (1.0 - r * r / 9.0))).collect();
        let (c, r2) = fit_powers(&pts, &[0, 2]).expect("fit");
        assert!((c[0] - 2.0).abs() < 1e-9 && (c[1] + 2.0 / 9.0).abs() < 1e-9 && r2 > 0.999_999);
        assert!(polyfit(&[(1.0, 2.0)], 2).is_none());
    }
}
