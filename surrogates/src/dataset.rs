//! Datasets of (input, target) pairs: a checked binary file (magic `HSDATA\0\0`, version 1; the
//! header says the sizes and what the data are, the two arrays hold inputs and targets row by
//! row), a held-out validation tail, per-epoch seeded shuffles and sharding by rank.
//!
//! [`Dataset::friedman1`] is the standard non-convex regression problem of Friedman (1991),
//! "Multivariate adaptive regression splines", Ann. Statist. 19, eq. (55), also
//! `sklearn.datasets.make_friedman1`: ten inputs uniform on [0, 1], of which five matter,
//! `y = 10 sin(pi x1 x2) + 20 (x3 - 1/2)^2 + 10 x4 + 5 x5 + noise`, noise N(0, 1).
//!
//! ```
//! use hemoscale_surrogates::dataset::Dataset;
//!
//! let d = Dataset::friedman1(50, 3);
//! assert_eq!((d.len(), d.inputs.ncols(), d.targets.ncols()), (50, 10, 1));
//! let dir = std::env::temp_dir().join(format!("hemoscale-doc-dataset-{}", std::process::id()));
//! let path = dir.join("friedman.hsd");
//! d.save(&path)?;
//! assert_eq!(Dataset::load(&path)?, d);
//! // One flipped bit fails the CRC-32 check before anything is parsed.
//! let mut bytes = std::fs::read(&path).expect("just written");
//! bytes[30] ^= 1;
//! std::fs::write(&path, &bytes).expect("writable");
//! let e = Dataset::load(&path).unwrap_err();
//! assert!(e.to_string().contains("checksum mismatch"), "{e}");
//! std::fs::remove_dir_all(&dir).expect("removable");
//! # Ok::<(), hemoscale_surrogates::SurrogateError>(())
//! ```

use std::path::Path;

use ndarray::{Array2, ArrayView2, Axis};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Normal};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use crate::container;
use crate::error::{Result, SurrogateError};

const MAGIC: &[u8; 8] = b"HSDATA\0\0";
const VERSION: u32 = 1;

/// Input and target rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Inputs, one sample per row.
    pub inputs: Array2<f64>,
    /// Targets, one sample per row.
    pub targets: Array2<f64>,
    /// What the data are (free text, kept in the file).
    pub description: String,
}

#[derive(Serialize, Deserialize)]
struct Header {
    samples: usize,
    inputs: usize,
    outputs: usize,
    description: String,
}

/// A seeded random generator for one purpose (`what`) at one counter value: every random choice
/// of training is a function of (seed, purpose, counter), so a checkpoint needs only the counters.
pub fn stream(seed: u64, what: u64, counter: u64) -> Pcg64Mcg {
    // SplitMix64-style mixing of the three keys.
    let mut z = seed ^ what.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ counter.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    Pcg64Mcg::seed_from_u64(z ^ (z >> 31))
}

impl Dataset {
    /// Wraps rows, checking that inputs and targets pair up.
    pub fn new(inputs: Array2<f64>, targets: Array2<f64>, description: impl Into<String>) -> Result<Self> {
        if inputs.nrows() != targets.nrows() {
            return Err(SurrogateError::Shape(format!(
                "{} input rows but {} target rows",
                inputs.nrows(),
                targets.nrows()
            )));
        }
        Ok(Self { inputs, targets, description: description.into() })
    }

    /// `samples` draws of Friedman's problem #1 (see the module docs) from `seed`.
    pub fn friedman1(samples: usize, seed: u64) -> Self {
        let mut rng = stream(seed, 0xf1, 0);
        let noise = Normal::new(0.0, 1.0).expect("unit normal");
        let inputs = Array2::from_shape_fn((samples, 10), |_| rng.random::<f64>());
        let targets = Array2::from_shape_fn((samples, 1), |(i, _)| {
            let x = inputs.row(i);
            10.0 * (std::f64::consts::PI * x[0] * x[1]).sin()
                + 20.0 * (x[2] - 0.5).powi(2)
                + 10.0 * x[3]
                + 5.0 * x[4]
                + noise.sample(&mut rng)
        });
        let description = format!(
            "Friedman #1 (Friedman 1991; sklearn make_friedman1): x ~ U[0,1]^10, y = 10 sin(pi x1 x2) + \
             20 (x3 - 0.5)^2 + 10 x4 + 5 x5 + N(0,1); {samples} samples, seed {seed}"
        );
        Self { inputs, targets, description }
    }

    /// Samples.
    pub fn len(&self) -> usize {
        self.inputs.nrows()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Splits off the last `fraction` of the samples as a validation set (the file's order is
    /// already random for generated data; shuffle before saving otherwise).
    pub fn split_validation(&self, fraction: f64) -> (Self, Self) {
        let n = self.len();
        let nv = ((n as f64) * fraction.clamp(0.0, 1.0)).round() as usize;
        let cut = n - nv.min(n);
        let part = |a: &Array2<f64>, r: std::ops::Range<usize>| a.slice(ndarray::s![r, ..]).to_owned();
        let mk = |r: std::ops::Range<usize>| Self {
            inputs: part(&self.inputs, r.clone()),
            targets: part(&self.targets, r),
            description: self.description.clone(),
        };
        (mk(0..cut), mk(cut..n))
    }

    /// The rows learner `rank` of `size` processes in `epoch`: a permutation of all samples drawn
    /// from (seed, epoch), dealt round-robin, each learner getting `len / size` rows (the few left
    /// over are skipped this epoch, so every learner takes the same number of steps).
    ///
    /// ```
    /// use hemoscale_surrogates::dataset::Dataset;
    ///
    /// // 10 rows over 3 learners: 3 each, and one row sits this epoch out.
    /// let d = Dataset::friedman1(10, 1);
    /// let mut rows: Vec<usize> = (0..3).flat_map(|rank| d.shard(7, 0, rank, 3)).collect();
    /// assert_eq!(rows.len(), 9);
    /// rows.sort_unstable();
    /// rows.dedup();
    /// assert_eq!(rows.len(), 9, "no row goes to two learners");
    /// // The same (seed, epoch) gives the same shards; the next epoch shuffles anew.
    /// assert_eq!(d.shard(7, 0, 1, 3), d.shard(7, 0, 1, 3));
    /// assert_ne!(d.shard(7, 0, 1, 3), d.shard(7, 1, 1, 3));
    /// ```
    pub fn shard(&self, seed: u64, epoch: u64, rank: usize, size: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(&mut stream(seed, 0x5a4d, epoch));
        let per = self.len() / size.max(1);
        order.into_iter().skip(rank).step_by(size.max(1)).take(per).collect()
    }

    /// The rows `idx` as a batch (inputs, targets).
    pub fn batch(&self, idx: &[usize]) -> (Array2<f64>, Array2<f64>) {
        (self.inputs.select(Axis(0), idx), self.targets.select(Axis(0), idx))
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let h = Header {
            samples: self.len(),
            inputs: self.inputs.ncols(),
            outputs: self.targets.ncols(),
            description: self.description.clone(),
        };
        let (x, t) = (self.inputs.as_standard_layout(), self.targets.as_standard_layout());
        container::encode(MAGIC, VERSION, &h, &[x.as_slice().expect("standard"), t.as_slice().expect("standard")])
    }

    /// Parses a dataset file's bytes.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let (h, mut a): (Header, _) = container::decode(bytes, MAGIC, VERSION, "dataset file", path)?;
        let bad = |why: &str| SurrogateError::Corrupt { path: path.display().to_string(), why: why.into() };
        if a.len() != 2 {
            return Err(bad("expected two arrays (inputs, targets)"));
        }
        let t = a.pop().expect("two");
        let x = a.pop().expect("two");
        let inputs =
            Array2::from_shape_vec((h.samples, h.inputs), x).map_err(|_| bad("inputs do not match the header"))?;
        let targets =
            Array2::from_shape_vec((h.samples, h.outputs), t).map_err(|_| bad("targets do not match the header"))?;
        Ok(Self { inputs, targets, description: h.description })
    }

    /// Writes the dataset atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        container::write_atomic(path, &self.to_bytes())
    }

    /// Reads and checks a dataset file.
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_bytes(&container::read(path)?, path)
    }

    /// Sizes and per-column statistics (what `hemoscale dataset inspect` prints).
    pub fn describe(&self) -> serde_json::Value {
        let stats = |a: ArrayView2<f64>| {
            let s = crate::normalize::Standardizer::fit(a);
            let min: Vec<f64> = a.columns().into_iter().map(|c| c.fold(f64::INFINITY, |m, &v| m.min(v))).collect();
            let max: Vec<f64> = a.columns().into_iter().map(|c| c.fold(f64::NEG_INFINITY, |m, &v| m.max(v))).collect();
            serde_json::json!({"mean": s.mean, "std": s.std, "min": min, "max": max})
        };
        serde_json::json!({
            "samples": self.len(),
            "inputs": self.inputs.ncols(),
            "outputs": self.targets.ncols(),
            "description": self.description,
            "input_stats": stats(self.inputs.view()),
            "target_stats": stats(self.targets.view()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_an_epoch_and_change_with_it() {
        let d = Dataset::friedman1(103, 1);
        let mut all: Vec<usize> = (0..4).flat_map(|r| d.shard(7, 0, r, 4)).collect();
        assert_eq!(all.len(), 100);
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 100, "shards overlap");
        assert_ne!(d.shard(7, 0, 0, 4), d.shard(7, 1, 0, 4));
        assert_eq!(d.shard(7, 3, 2, 4), d.shard(7, 3, 2, 4));
    }

    #[test]
    fn friedman1_has_its_known_statistics() {
        // E[y] = 10 E[sin(pi x1 x2)] + 20/12 + 5 + 2.5 = 14.413 (the integral E sin = 0.5895).
        let d = Dataset::friedman1(200_000, 2);
        let mean = d.targets.mean().expect("mean");
        assert!((mean - 14.41).abs() < 0.05, "mean {mean}");
        let back = Dataset::from_bytes(&d.to_bytes(), Path::new("d")).expect("round trip");
        assert_eq!(back, d);
    }
}
