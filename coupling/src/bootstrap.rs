//! Block bootstrap of least-squares fits: the uncertainty estimate of the learned reduced models.
//!
//! The rows of a fine track are correlated in time (neighbouring samples see nearly the same
//! platelet), so resampling single rows would understate the spread. The rows are summed into
//! `blocks` contiguous blocks, and each resample draws that many blocks with replacement
//! (Künsch 1989). The ensemble's first member is the whole track.
//!
//! ```
//! use hemoscale_coupling::bootstrap::{mean_and_std, resample};
//! use hemoscale_surrogates::linear::LeastSquares;
//!
//! // 40 rows fitting one constant to a drifting, alternating signal: a track's rows in time order.
//! let rows: Vec<LeastSquares> = (0..40)
//!     .map(|k| {
//!         let mut row = LeastSquares::new(1);
//!         assert!(row.add(&[1.0], 1.0 + 0.01 * f64::from(k) + 0.1 * f64::from(k % 2), 1.0));
//!         row
//!     })
//!     .collect();
//! // The whole track, then five resamples of 8 blocks (of 5 rows each) drawn with replacement.
//! let systems = resample(&rows, 8, 6, 3).unwrap();
//! assert!(systems.len() == 6 && systems.iter().all(|s| s.rows() == 40));
//! let fits: Vec<f64> = systems.iter().map(|s| s.solve(0.0).unwrap()[0]).collect();
//! assert!((fits[0] - 1.245).abs() < 1e-12, "the whole track's mean");
//! let (_, spread) = mean_and_std(&fits[1..]);
//! assert!(spread > 0.0 && spread < 0.1, "{spread}");
//! // Seeded: the same seed draws the same blocks. Under two rows per block: no ensemble.
//! assert_eq!(resample(&rows, 8, 6, 3), Some(systems));
//! assert!(resample(&rows[..10], 8, 6, 3).is_none());
//! ```

use hemoscale_surrogates::linear::LeastSquares;

/// A SplitMix64 step: the resampling's choices (seeded and reproducible, independent of the
/// simulation's counter-based noise).
pub fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The whole system followed by `members - 1` block resamples of `rows` (one system per row
/// group, in time order). None with fewer than two rows per block.
pub fn resample(rows: &[LeastSquares], blocks: usize, members: usize, seed: u64) -> Option<Vec<LeastSquares>> {
    let m = rows.first()?.coefficients();
    let blocks = blocks.max(1);
    if rows.len() < 2 * blocks {
        return None;
    }
    let size = rows.len() / blocks;
    let sums: Vec<LeastSquares> = (0..blocks)
        .map(|b| {
            let end = if b + 1 == blocks { rows.len() } else { (b + 1) * size };
            let mut s = LeastSquares::new(m);
            for r in &rows[b * size..end] {
                s.merge(r);
            }
            s
        })
        .collect();
    let mut whole = LeastSquares::new(m);
    for s in &sums {
        whole.merge(s);
    }
    let mut state = seed;
    let mut out = vec![whole];
    for _ in 1..members.max(1) {
        let mut s = LeastSquares::new(m);
        for _ in 0..blocks {
            s.merge(&sums[(splitmix(&mut state) % blocks as u64) as usize]);
        }
        out.push(s);
    }
    Some(out)
}

/// Mean and sample standard deviation.
pub fn mean_and_std(x: &[f64]) -> (f64, f64) {
    let n = x.len().max(1) as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resamples_are_reproducible_and_start_with_the_whole() {
        let rows: Vec<LeastSquares> = (0..40)
            .map(|k| {
                let mut l = LeastSquares::new(1);
                l.add(&[1.0], f64::from(k % 7), 1.0);
                l
            })
            .collect();
        let a = resample(&rows, 8, 5, 3).expect("enough rows");
        let b = resample(&rows, 8, 5, 3).expect("enough rows");
        assert_eq!(a, b);
        assert_eq!(a[0].rows(), 40);
        assert!(a.iter().all(|s| s.rows() == 40));
        assert!(a[1..].iter().any(|s| s.solve(0.0) != a[0].solve(0.0)));
        assert!(resample(&rows[..10], 8, 5, 3).is_none());
        assert_eq!(mean_and_std(&[1.0, 3.0]), (2.0, 2f64.sqrt()));
    }
}
