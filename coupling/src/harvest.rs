//! The training samples a run harvests from its fine platelets, and what the reduced models are
//! fitted to: online by the [`crate::Controller`], or offline from the harvests of several runs
//! (`hemoscale coupling fit`, which made the shipped default model).
//!
//! One sample per fine platelet and coarse step: the platelet's normal (sign continuous within a
//! segment) and the velocity gradient it saw, for the orientation model; the flow-induced stresses
//! averaged over the step, for the stress map. A segment is a stretch of one platelet's fine track
//! without a gap: a fall-back starts a new one, and nothing is differenced across two.
//!
//! On disk a harvest is a dataset file (`surrogates::dataset`, checksummed), one row per sample:
//! inputs `platelet, segment, time, n_x, n_y, n_z, G_xx, G_xy, ..., G_zz` (15 columns, `G` row
//! major), targets `membrane (6), traction (6), weight` (13 columns, stresses in DPD units, Voigt
//! order xx yy zz xy xz yz). The description is JSON naming the platelet it was harvested from
//! ([`ModelKey`]), so harvests of different platelets are never merged.
//!
//! ```
//! use glam::DVec3;
//! use hemoscale_coupling::{Harvest, HarvestSample, LocalFlow, ModelKey};
//!
//! let gradient = LocalFlow::simple_shear(0.06).gradient;
//! let sample = |platelet: u32, segment: u32, time: f64| HarvestSample {
//!     platelet,
//!     segment,
//!     time,
//!     normal: DVec3::new(time.sin(), 0.0, time.cos()),
//!     gradient,
//!     membrane: [0.0; 6],
//!     traction: [0.0; 6],
//!     weight: 20.0,
//! };
//! // Two platelets' samples interleaved; platelet 0 fell back between 0.4 and 0.8.
//! let mut h = Harvest::default();
//! for (p, seg, t) in [(0, 0, 0.2), (1, 0, 0.2), (0, 0, 0.4), (1, 0, 0.4), (0, 1, 0.8), (0, 1, 1.0)] {
//!     h.push(sample(p, seg, t));
//! }
//! let times: Vec<Vec<f64>> = h.segments().iter().map(|s| s.iter().map(|o| o.time).collect()).collect();
//! assert_eq!(times, [vec![0.2, 0.4], vec![0.8, 1.0], vec![0.2, 0.4]]);
//! let (lo, hi) = h.range.unwrap();
//! assert!((lo - 0.06).abs() < 1e-12 && (hi - 0.06).abs() < 1e-12);
//! // Through a dataset file and back, with the platelet it came from.
//! let key = ModelKey { aspect_ratio: 0.25, resolution: 373, stiffness: 1.0, kt: 0.1, interface_gamma: 80.0 };
//! let (back, back_key, runs) = Harvest::from_dataset(&h.to_dataset(&key, &["run a".into()])).unwrap();
//! assert_eq!((&back, back_key, runs), (&h, key, vec!["run a".to_string()]));
//! // Merged with another run, its tracks stay apart.
//! let mut merged = back;
//! merged.merge(&h);
//! assert_eq!((merged.len(), merged.segment_count()), (12, 6));
//! ```

use glam::{DMat3, DVec3};
use hemoscale_surrogates::dataset::Dataset;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::controller::ControllerConfig;
use crate::jeffery::{JefferyEnsemble, OrientationSample};
use crate::local_flow::LocalFlow;
use crate::model_file::ModelKey;
use crate::stress_map::{StressEnsemble, StressSample};

/// Input columns of a harvest dataset.
pub const INPUTS: usize = 15;
/// Target columns of a harvest dataset.
pub const TARGETS: usize = 13;
const KIND: &str = "hemoscale coupling harvest";

/// One fine sample.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HarvestSample {
    /// Platelet (in its run; merged harvests renumber).
    pub platelet: u32,
    /// Segment of that platelet's track.
    pub segment: u32,
    /// Time at the end of the coarse step.
    pub time: f64,
    /// Unit normal, sign continuous within the segment.
    pub normal: DVec3,
    /// Local velocity gradient.
    pub gradient: DMat3,
    /// Flow-induced membrane stress averaged over the step.
    pub membrane: [f64; 6],
    /// Flow-induced traction stresslet.
    pub traction: [f64; 6],
    /// Steps averaged.
    pub weight: f64,
}

/// The samples of one run or of several merged.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Harvest {
    /// Samples in the order they were taken.
    pub samples: Vec<HarvestSample>,
    /// Lowest and highest local shear rate of the samples (DPD units).
    pub range: Option<(f64, f64)>,
}

#[derive(Serialize, Deserialize)]
struct Description {
    kind: String,
    key: ModelKey,
    runs: Vec<String>,
}

impl Harvest {
    /// Adds a sample.
    pub fn push(&mut self, s: HarvestSample) {
        let rate = LocalFlow::linear(DVec3::ZERO, s.gradient).shear_rate();
        if rate.is_finite() {
            self.range = Some(match self.range {
                None => (rate, rate),
                Some((lo, hi)) => (lo.min(rate), hi.max(rate)),
            });
        }
        self.samples.push(s);
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True without samples.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The orientation tracks, one per (platelet, segment) in that order.
    pub fn segments(&self) -> Vec<Vec<OrientationSample>> {
        let mut keyed: Vec<(u32, u32, OrientationSample)> = self
            .samples
            .iter()
            .map(|s| {
                (s.platelet, s.segment, OrientationSample { time: s.time, normal: s.normal, gradient: s.gradient })
            })
            .collect();
        // Stable: each segment keeps its time order.
        keyed.sort_by_key(|&(p, seg, _)| (p, seg));
        let mut out: Vec<Vec<OrientationSample>> = Vec::new();
        let mut current = None;
        for (p, seg, o) in keyed {
            if current != Some((p, seg)) {
                out.push(Vec::new());
                current = Some((p, seg));
            }
            out.last_mut().expect("just pushed").push(o);
        }
        out
    }

    /// How many segments [`Self::segments`] would give, without building them.
    pub fn segment_count(&self) -> usize {
        self.samples.iter().map(|s| (s.platelet, s.segment)).collect::<std::collections::BTreeSet<_>>().len()
    }

    /// The stress samples, in the order taken.
    pub fn stress(&self) -> Vec<StressSample> {
        self.samples
            .iter()
            .map(|s| StressSample {
                normal: s.normal,
                gradient: s.gradient,
                membrane: s.membrane,
                traction: s.traction,
                weight: s.weight,
            })
            .collect()
    }

    /// Fits the orientation and stress ensembles with the settings of `cfg` (None when the
    /// samples are too few).
    pub fn fit(&self, cfg: &ControllerConfig) -> Option<(JefferyEnsemble, StressEnsemble)> {
        let segments = self.segments();
        let jeffery = JefferyEnsemble::fit(
            segments.iter().map(|s| &s[..]),
            cfg.lag,
            cfg.horizon,
            cfg.members,
            cfg.blocks,
            cfg.seed,
        )?;
        let stress = StressEnsemble::fit(&self.stress(), cfg.members, cfg.blocks, cfg.seed ^ 0x5EED)?;
        Some((jeffery, stress))
    }

    /// Appends `other`'s samples as platelets of their own (a merged harvest never joins two
    /// runs' tracks into one segment).
    pub fn merge(&mut self, other: &Harvest) {
        let offset = self.samples.iter().map(|s| s.platelet + 1).max().unwrap_or(0);
        for s in &other.samples {
            self.push(HarvestSample { platelet: s.platelet + offset, ..*s });
        }
    }

    /// The dataset file's contents; `runs` says where the samples came from.
    pub fn to_dataset(&self, key: &ModelKey, runs: &[String]) -> Dataset {
        let n = self.samples.len();
        let mut x = Array2::zeros((n, INPUTS));
        let mut t = Array2::zeros((n, TARGETS));
        for (r, s) in self.samples.iter().enumerate() {
            let g = s.gradient.transpose().to_cols_array(); // row major
            let head = [f64::from(s.platelet), f64::from(s.segment), s.time, s.normal.x, s.normal.y, s.normal.z];
            for (c, v) in head.iter().chain(&g).enumerate() {
                x[[r, c]] = *v;
            }
            for (c, v) in s.membrane.iter().chain(&s.traction).chain([&s.weight]).enumerate() {
                t[[r, c]] = *v;
            }
        }
        let d = Description { kind: KIND.into(), key: key.clone(), runs: runs.to_vec() };
        let description = serde_json::to_string(&d).expect("plain data serialises");
        Dataset::new(x, t, description).expect("matching rows")
    }

    /// A harvest and the platelet it was taken from, read from a dataset file's contents; the
    /// sources it names in `runs`. Refuses datasets that are not harvests.
    pub fn from_dataset(d: &Dataset) -> Result<(Self, ModelKey, Vec<String>), String> {
        let desc: Description = serde_json::from_str(&d.description)
            .ok()
            .filter(|x: &Description| x.kind == KIND)
            .ok_or_else(|| "not a coupling harvest (its description does not name one)".to_string())?;
        if d.inputs.ncols() != INPUTS || d.targets.ncols() != TARGETS {
            return Err(format!(
                "a harvest has {INPUTS} inputs and {TARGETS} targets per sample, this one {} and {}",
                d.inputs.ncols(),
                d.targets.ncols()
            ));
        }
        let mut h = Harvest::default();
        for (x, t) in d.inputs.rows().into_iter().zip(d.targets.rows()) {
            let id = |v: f64, what: &str| {
                (v >= 0.0 && v.fract() == 0.0 && v <= f64::from(u32::MAX))
                    .then_some(v as u32)
                    .ok_or_else(|| format!("{what} {v} is not an index"))
            };
            if x.iter().chain(t.iter()).any(|v| !v.is_finite()) {
                return Err("a sample holds a non-finite value".into());
            }
            let normal = DVec3::new(x[3], x[4], x[5]);
            if (normal.length() - 1.0).abs() > 1e-6 || t[12] <= 0.0 {
                return Err(format!("sample with normal {normal} and weight {} is not a harvest sample", t[12]));
            }
            let g: Vec<f64> = x.iter().skip(6).copied().collect();
            let m: Vec<f64> = t.iter().copied().collect();
            h.push(HarvestSample {
                platelet: id(x[0], "platelet")?,
                segment: id(x[1], "segment")?,
                time: x[2],
                normal,
                gradient: DMat3::from_cols_slice(&g).transpose(),
                membrane: m[0..6].try_into().expect("6 values"),
                traction: m[6..12].try_into().expect("6 values"),
                weight: t[12],
            });
        }
        Ok((h, desc.key, desc.runs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(platelet: u32, segment: u32, time: f64) -> HarvestSample {
        HarvestSample {
            platelet,
            segment,
            time,
            normal: DVec3::new(time.sin(), 0.0, time.cos()),
            gradient: DMat3::from_cols_array(&[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.06 + time * 1e-3, 0.0, 0.0]),
            membrane: [time, 1.0, 2.0, 3.0, 4.0, 5.0],
            traction: [6.0, 7.0, 8.0, 9.0, 10.0, time],
            weight: 20.0,
        }
    }

    fn key() -> ModelKey {
        ModelKey { aspect_ratio: 0.25, resolution: 1000, stiffness: 1.0, kt: 1.0, interface_gamma: 4.5 }
    }

    #[test]
    fn segments_group_by_platelet_then_segment_in_time_order() {
        let mut h = Harvest::default();
        for (p, s, t) in [(1, 0, 0.2), (0, 0, 0.2), (1, 0, 0.4), (0, 1, 0.6), (0, 0, 0.4), (0, 1, 0.8)] {
            h.push(sample(p, s, t));
        }
        let seg = h.segments();
        let times: Vec<Vec<f64>> = seg.iter().map(|s| s.iter().map(|o| o.time).collect()).collect();
        assert_eq!(times, vec![vec![0.2, 0.4], vec![0.6, 0.8], vec![0.2, 0.4]]);
        assert_eq!(h.stress()[0].membrane[0], 0.2);
        let (lo, hi) = h.range.expect("range");
        assert!(lo < hi, "{lo} {hi}");
    }

    #[test]
    fn dataset_round_trip_and_merge_keep_tracks_apart() {
        let mut h = Harvest::default();
        for k in 0..5 {
            h.push(sample(0, k / 3, 0.2 * f64::from(k)));
        }
        let d = h.to_dataset(&key(), &["run a".into()]);
        let (back, k, runs) = Harvest::from_dataset(&d).expect("a harvest");
        assert_eq!((back.clone(), k, runs), (h.clone(), key(), vec!["run a".to_string()]));
        let mut m = back;
        m.merge(&h);
        assert_eq!(m.len(), 10);
        assert_eq!(m.segments().len(), 4, "two runs of two segments each");
        assert_eq!(m.segment_count(), 4);
        // Not a harvest: Friedman's dataset.
        let e = Harvest::from_dataset(&Dataset::friedman1(10, 1)).expect_err("refused");
        assert!(e.contains("not a coupling harvest"), "{e}");
    }
}
