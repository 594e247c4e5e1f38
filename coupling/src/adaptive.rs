//! AI-enhanced adaptive time stepping (after Han et al. 2021, `physics.md` 2.1): a recurrent
//! encoder reads a window of a fine platelet's recent state, and two heads say how coarse its
//! integration may be over the next segment and for how many segments that holds (the "step
//! jump"), so the fine model spends sub-steps only where the dynamics need them.
//!
//! What is adapted: the platelet's interface level of multiple time stepping
//! ([`hemoscale_kernels::mts`]), between the scenario's jump factor (the reference, `fine`) and a
//! coarser one (`coarse`). Nothing below the interface level is free to coarsen in the platelet
//! scenarios (their inner levels are already 1), and the coarse factor must stay stable: in
//! `shear-flip` an interface factor of 2 breaks a membrane spring within two steps whatever the
//! platelet does, 4 runs, 8 is the scenario's default.
//!
//! Labels come from trials, not from a rule: at a segment's start the fine run's state is copied
//! twice and each copy runs the segment without thermal noise, one at the fine factor and one at
//! the coarse factor. With the noise off both copies follow the same deterministic dynamics, so
//! their difference is the integration error of coarsening alone (with noise on, the two copies
//! would draw different interface noise and the difference would be dominated by it). The error
//! ([`segment_error`]) is the larger of the orientation error, relative to the rotation over the
//! segment, and the membrane-stress error, relative to a stress scale, each over its tolerance:
//! at most 1 means the coarse factor was good enough there.
//!
//! A harvest row ([`AtsHarvest`]) is the window of features that led into a segment (inputs,
//! `window * FEATURES` columns, oldest first, as a `gru:H@window` network reads them) and two
//! targets: `ln` of the error (clamped to [`LN_ERROR_CLAMP`]) and the step jump, the number of
//! consecutive segments from this one on whose error stays on the same side of 1 (at most
//! `max_jump`). `hemoscale train` fits them; [`AtsDecider`] applies the network.
//!
//! ```
//! use glam::DVec3;
//! use hemoscale_coupling::adaptive::{jump_labels, segment_error, ErrorTolerance, SegmentTrack, Window, FEATURES};
//!
//! // A window of three samples fills up, then keeps the newest three, oldest first.
//! let mut w = Window::new(3);
//! for k in 0..3 {
//!     assert!(!w.is_full());
//!     w.push([f64::from(k); FEATURES]);
//! }
//! w.push([3.0; FEATURES]);
//! assert!(w.is_full());
//! let row = w.flat(); // the input row of a `gru:H@3` network
//! assert_eq!((row.len(), row[0], row[2 * FEATURES]), (3 * FEATURES, 1.0, 3.0));
//!
//! // The coarse copy's normal ends 1 % of a 0.5 rad turn away from the reference's: a third of
//! // the 3 % tolerance, so the coarse factor would have done here.
//! let turned = |a: f64| SegmentTrack {
//!     start: DVec3::X,
//!     end: DVec3::new(a.cos(), 0.0, a.sin()),
//!     stress: [1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
//! };
//! let e = segment_error(&turned(0.5), &turned(0.505), 1.0, &ErrorTolerance::DEFAULT);
//! assert!((e - 1.0 / 3.0).abs() < 1e-6);
//! // Step jumps: how many segments from each one on keep its verdict (error at most 1 or not).
//! assert_eq!(jump_labels(&[0.5, 0.2, 3.0, 4.0, 5.0, 0.1], 8), [2, 1, 3, 2, 1, 1]);
//! ```

use std::collections::VecDeque;

use glam::DVec3;
use hemoscale_kernels::platelet_observables::{scalar_stress, PlateletSample};
use hemoscale_surrogates::dataset::Dataset;
use hemoscale_surrogates::model::Model;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::model_file::ModelKey;

/// Features per platelet sample.
pub const FEATURES: usize = 6;
/// Their names, in column order.
pub const FEATURE_NAMES: [&str; FEATURES] =
    ["omega_dt", "normal_x_sq", "normal_z_sq", "membrane_stress", "shape_ratio", "velocity_variance"];
/// `ln` of the segment error is clamped to this range in the targets: errors a thousand times
/// under or over the tolerance carry no more information for the decision.
pub const LN_ERROR_CLAMP: f64 = 7.0;
const KIND: &str = "hemoscale adaptive-stepping harvest";

/// The features of one fine platelet at one sample (DPD units): rotation per plasma step, the
/// squares of the normal's flow and gradient components (the phase of the orbit; a model is
/// trained for one scenario's frame, [`ModelKey`]), the membrane stress scalar, the shape ratio
/// and the variance of the particle velocities about the platelet's mean velocity (a kinetic
/// temperature, with the platelet's rotation in it).
pub fn features(s: &PlateletSample, dt: f64, velocity_variance: f64) -> [f64; FEATURES] {
    let omega = DVec3::from(s.omega).length();
    [
        omega * dt,
        s.normal[0] * s.normal[0],
        s.normal[2] * s.normal[2],
        scalar_stress(&s.mean_membrane_stress),
        s.shape_ratio(),
        velocity_variance,
    ]
}

/// Variance of particle velocities about their mean (one platelet's particles).
pub fn velocity_variance(vel: &[[f32; 3]]) -> f64 {
    if vel.is_empty() {
        return 0.0;
    }
    let n = vel.len() as f64;
    let mean = vel.iter().fold(DVec3::ZERO, |a, v| a + DVec3::from(v.map(f64::from))) / n;
    vel.iter().map(|v| (DVec3::from(v.map(f64::from)) - mean).length_squared()).sum::<f64>() / (3.0 * n)
}

/// The last `len` feature rows of one platelet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Window {
    len: usize,
    rows: VecDeque<[f64; FEATURES]>,
}

impl Window {
    /// An empty window of `len` samples.
    pub fn new(len: usize) -> Self {
        Self { len: len.max(1), rows: VecDeque::with_capacity(len.max(1)) }
    }
    /// Adds a sample, dropping the oldest when full.
    pub fn push(&mut self, row: [f64; FEATURES]) {
        if self.rows.len() == self.len {
            self.rows.pop_front();
        }
        self.rows.push_back(row);
    }
    /// Whether `len` samples are in.
    pub fn is_full(&self) -> bool {
        self.rows.len() == self.len
    }
    /// Forgets everything (a platelet re-created or re-started).
    pub fn clear(&mut self) {
        self.rows.clear();
    }
    /// The samples, oldest first, as one row of `len * FEATURES` numbers.
    pub fn flat(&self) -> Vec<f64> {
        self.rows.iter().flat_map(|r| r.iter().copied()).collect()
    }
}

/// What one platelet did over a trial segment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SegmentTrack {
    /// Unit normal at the segment's start.
    pub start: DVec3,
    /// Unit normal at its end.
    pub end: DVec3,
    /// Membrane stress tensor averaged over the segment (Voigt order).
    pub stress: [f64; 6],
}

/// Tolerances of the segment error.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorTolerance {
    /// Largest orientation error relative to the rotation over the segment (a rate error: it is
    /// what changes the orbit period).
    pub rotation: f64,
    /// Rotations smaller than this (rad) count as this much, so that a platelet lying still
    /// does not turn a tiny absolute error into a large relative one.
    pub rotation_floor: f64,
    /// Largest membrane-stress error (Bludszuweit scalar of the difference) relative to the
    /// stress scale.
    pub stress: f64,
}

impl ErrorTolerance {
    /// The issue's 3 % for both, with a 0.01 rad floor.
    pub const DEFAULT: Self = Self { rotation: 0.03, rotation_floor: 0.01, stress: 0.03 };
}

/// Angle between two normals, sign-blind (a disc's normal has no direction).
pub fn axis_angle(a: DVec3, b: DVec3) -> f64 {
    let c = (a.normalize_or_zero().dot(b.normalize_or_zero())).abs().min(1.0);
    c.acos()
}

/// The error of `coarse` against `reference` over one segment, in units of the tolerances (see
/// the module documentation); `stress_scale` is the stress the error is relative to (DPD units,
/// positive).
pub fn segment_error(reference: &SegmentTrack, coarse: &SegmentTrack, stress_scale: f64, tol: &ErrorTolerance) -> f64 {
    let turned = axis_angle(reference.start, reference.end).max(tol.rotation_floor);
    let rotation = axis_angle(reference.end, coarse.end) / (tol.rotation * turned);
    let mut diff = [0.0; 6];
    for (d, (a, b)) in diff.iter_mut().zip(reference.stress.iter().zip(&coarse.stress)) {
        *d = a - b;
    }
    let stress = scalar_stress(&diff) / (tol.stress * stress_scale.max(f64::MIN_POSITIVE));
    rotation.max(stress)
}

/// Step-jump labels of one platelet's consecutive segment errors: for each segment, how many
/// segments from it on keep its verdict (error at most 1 or not), capped at `max_jump`.
pub fn jump_labels(errors: &[f64], max_jump: u32) -> Vec<u32> {
    let ok = |e: f64| e <= 1.0;
    let mut out = vec![1u32; errors.len()];
    for i in (0..errors.len()).rev() {
        if i + 1 < errors.len() && ok(errors[i]) == ok(errors[i + 1]) {
            out[i] = (out[i + 1] + 1).min(max_jump);
        }
    }
    out
}

/// Describes an adaptive-stepping harvest (the dataset's JSON description).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AtsDescription {
    /// Always "hemoscale adaptive-stepping harvest".
    pub kind: String,
    /// The scenario (the features' frame is its flow and gradient axes).
    pub scenario: String,
    /// The platelet and plasma.
    pub key: ModelKey,
    /// Samples per window.
    pub window: usize,
    /// Feature names.
    pub features: Vec<String>,
    /// Interface jump factor of the reference.
    pub fine: u32,
    /// Interface jump factor tried.
    pub coarse: u32,
    /// Plasma steps per segment.
    pub segment_steps: u64,
    /// Tolerances of the error.
    pub tolerance: ErrorTolerance,
    /// Cap of the step jump.
    pub max_jump: u32,
}

/// Rows harvested by trials: per platelet, the windows and errors of its consecutive segments.
#[derive(Clone, Debug, PartialEq)]
pub struct AtsHarvest {
    /// What the rows are.
    pub description: AtsDescription,
    /// Per track (a platelet's run of consecutive segments): (window, error) in order.
    pub tracks: Vec<Vec<(Vec<f64>, f64)>>,
}

impl AtsHarvest {
    /// An empty harvest.
    pub fn new(description: AtsDescription) -> Self {
        Self { description, tracks: Vec::new() }
    }
    /// Rows of all tracks.
    pub fn len(&self) -> usize {
        self.tracks.iter().map(Vec::len).sum()
    }
    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Fraction of rows whose error is at most 1 (where the coarse factor would have done).
    pub fn coarse_fraction(&self) -> f64 {
        let ok = self.tracks.iter().flatten().filter(|r| r.1 <= 1.0).count();
        ok as f64 / self.len().max(1) as f64
    }
    /// The dataset: inputs the windows, targets `[ln error (clamped), step jump]`.
    pub fn to_dataset(&self) -> Dataset {
        let width = self.description.window * FEATURES;
        let rows = self.len();
        let mut x = Array2::zeros((rows, width));
        let mut y = Array2::zeros((rows, 2));
        let mut r = 0;
        for track in &self.tracks {
            let errors: Vec<f64> = track.iter().map(|t| t.1).collect();
            let jumps = jump_labels(&errors, self.description.max_jump);
            for ((w, e), j) in track.iter().zip(jumps) {
                for (c, v) in w.iter().enumerate() {
                    x[[r, c]] = *v;
                }
                y[[r, 0]] = e.max(f64::MIN_POSITIVE).ln().clamp(-LN_ERROR_CLAMP, LN_ERROR_CLAMP);
                y[[r, 1]] = f64::from(j);
                r += 1;
            }
        }
        let text = serde_json::to_string(&self.description).expect("a description serialises");
        Dataset::new(x, y, text).expect("rows pair up")
    }
}

/// Reads an adaptive-stepping harvest's description, refusing other datasets.
pub fn describe(data: &Dataset) -> Result<AtsDescription, String> {
    let d: AtsDescription = serde_json::from_str(&data.description)
        .map_err(|_| "not an adaptive-stepping harvest (its description is not one)".to_string())?;
    if d.kind != KIND {
        return Err(format!("not an adaptive-stepping harvest (kind `{}`)", d.kind));
    }
    Ok(d)
}

/// A new description of an adaptive-stepping harvest (its kind: "hemoscale adaptive-stepping harvest").
#[allow(clippy::too_many_arguments)]
pub fn description(
    scenario: &str,
    key: ModelKey,
    window: usize,
    fine: u32,
    coarse: u32,
    segment_steps: u64,
    tolerance: ErrorTolerance,
    max_jump: u32,
) -> AtsDescription {
    AtsDescription {
        kind: KIND.into(),
        scenario: scenario.into(),
        key,
        window,
        features: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
        fine,
        coarse,
        segment_steps,
        tolerance,
        max_jump,
    }
}

/// One decision of the network for one platelet.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AtsDecision {
    /// Run the next segments at the coarse factor.
    pub coarse: bool,
    /// For this many segments before asking again.
    pub jump: u32,
    /// The predicted `ln` error.
    pub ln_error: f64,
}

/// Applies a trained network (inputs: a window; outputs: `ln` error, step jump).
#[derive(Clone, Debug)]
pub struct AtsDecider {
    /// The network and its standardisation.
    pub model: Model,
    /// Samples per window the network reads.
    pub window: usize,
    /// Coarsen only where the predicted `ln` error is below `-margin` (a safety margin for the
    /// network's own error; 0 trusts the prediction as it is).
    pub margin: f64,
    /// Cap of the step jump.
    pub max_jump: u32,
}

impl AtsDecider {
    /// Checks that `model` reads windows of `window` samples and gives two outputs.
    pub fn new(model: Model, window: usize, margin: f64, max_jump: u32) -> Result<Self, String> {
        let (inputs, outputs) = (model.inputs.mean.len(), model.outputs.mean.len());
        if inputs != window * FEATURES || outputs != 2 {
            return Err(format!(
                "an adaptive-stepping network reads {} inputs ({window} samples of {FEATURES} features) and gives 2 outputs; this one reads {inputs} and gives {outputs}",
                window * FEATURES
            ));
        }
        Ok(Self { model, window, margin, max_jump: max_jump.max(1) })
    }

    /// Decisions for full windows (one row each).
    pub fn decide(&self, windows: &[Vec<f64>]) -> Vec<AtsDecision> {
        if windows.is_empty() {
            return Vec::new();
        }
        let width = self.window * FEATURES;
        let mut x = Array2::zeros((windows.len(), width));
        for (r, w) in windows.iter().enumerate() {
            for (c, v) in w.iter().take(width).enumerate() {
                x[[r, c]] = *v;
            }
        }
        let y = self.model.predict(x.view());
        (0..windows.len())
            .map(|r| {
                let ln_error = y[[r, 0]];
                // A NaN jump survives the clamp and casts to 0: one segment, then ask again.
                let jump = (y[[r, 1]].round().clamp(1.0, f64::from(self.max_jump)) as u32).max(1);
                // A NaN prediction is not a licence to coarsen (the comparison is false).
                let coarse = ln_error + self.margin <= 0.0;
                AtsDecision { coarse, jump, ln_error }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(end: DVec3, stress: f64) -> SegmentTrack {
        SegmentTrack { start: DVec3::X, end, stress: [stress, 0.0, 0.0, 0.0, 0.0, 0.0] }
    }

    #[test]
    fn segment_error_is_relative_to_the_rotation_and_the_stress_scale() {
        let tol = ErrorTolerance::DEFAULT;
        let turn = |a: f64| DVec3::new(a.cos(), 0.0, a.sin());
        let reference = track(turn(0.5), 1.0);
        // 1 % of the rotation: a third of the tolerance.
        let e = segment_error(&reference, &track(turn(0.505), 1.0), 1.0, &tol);
        assert!((e - 1.0 / 3.0).abs() < 1e-6, "{e}");
        // A difference of 0.06 in xx alone is a Bludszuweit scalar of 0.06 / sqrt(3): 1.155 times
        // the tolerance on a unit scale.
        let e = segment_error(&reference, &track(turn(0.5), 1.06), 1.0, &tol);
        assert!((e - 0.06 / 3f64.sqrt() / 0.03).abs() < 1e-9, "{e}");
        // An isotropic difference (a pressure) changes no scalar stress, so it is no error.
        let mut iso = track(turn(0.5), 1.06);
        iso.stress[1] = 0.06;
        iso.stress[2] = 0.06;
        assert!(segment_error(&reference, &iso, 1.0, &tol) < 1e-6);
        // A platelet lying still: the floor, not the tiny rotation, sets the scale.
        let still = track(turn(1e-6), 1.0);
        let e = segment_error(&still, &track(turn(1e-6 + 1e-4), 1.0), 1.0, &tol);
        assert!((e - 1e-4 / (0.03 * 0.01)).abs() < 1e-6, "{e}");
        // A normal's sign does not matter.
        assert!(segment_error(&reference, &track(-turn(0.5), 1.0), 1.0, &tol) < 1e-6);
    }

    #[test]
    fn jumps_count_the_segments_that_keep_the_verdict() {
        let e = [0.5, 0.2, 3.0, 4.0, 5.0, 0.1];
        assert_eq!(jump_labels(&e, 8), vec![2, 1, 3, 2, 1, 1]);
        assert_eq!(jump_labels(&e, 2), vec![2, 1, 2, 2, 1, 1]);
        assert!(jump_labels(&[], 4).is_empty());
    }

    #[test]
    fn a_window_keeps_the_newest_samples_oldest_first() {
        let mut w = Window::new(2);
        w.push([1.0; FEATURES]);
        assert!(!w.is_full());
        w.push([2.0; FEATURES]);
        w.push([3.0; FEATURES]);
        assert!(w.is_full());
        let f = w.flat();
        assert_eq!(f.len(), 2 * FEATURES);
        assert_eq!((f[0], f[FEATURES]), (2.0, 3.0));
    }

    #[test]
    fn the_dataset_holds_windows_ln_errors_and_jumps_and_names_itself() {
        let key = ModelKey { aspect_ratio: 0.25, resolution: 373, stiffness: 1.0, kt: 0.1, interface_gamma: 80.0 };
        let mut h = AtsHarvest::new(description("shear-flip", key, 1, 8, 4, 100, ErrorTolerance::DEFAULT, 4));
        h.tracks.push(vec![(vec![1.0; FEATURES], 0.5), (vec![2.0; FEATURES], 0.25), (vec![3.0; FEATURES], 1e-9)]);
        h.tracks.push(vec![(vec![4.0; FEATURES], 2.0)]);
        assert_eq!(h.len(), 4);
        assert!((h.coarse_fraction() - 0.75).abs() < 1e-12);
        let d = h.to_dataset();
        assert_eq!((d.inputs.ncols(), d.targets.ncols(), d.len()), (FEATURES, 2, 4));
        assert!((d.targets[[0, 0]] - 0.5f64.ln()).abs() < 1e-12);
        assert_eq!(d.targets[[2, 0]], -LN_ERROR_CLAMP);
        assert_eq!((d.targets[[0, 1]], d.targets[[3, 1]]), (3.0, 1.0));
        assert_eq!(describe(&d).unwrap().coarse, 4);
        let other = Dataset::friedman1(3, 1);
        assert!(describe(&other).is_err());
    }

    /// A network whose outputs are the constants `ln_error` and `jump` whatever it reads: zero
    /// weights, and the output standardisation's means carry the values.
    fn constant(window: usize, ln_error: f64, jump: f64) -> Model {
        use hemoscale_surrogates::network::{Architecture, Network};
        use hemoscale_surrogates::normalize::Standardizer;
        let arch = Architecture::parse("mlp:4:tanh", window * FEATURES, 2).unwrap();
        let n = arch.param_count();
        Model {
            network: Network::from_params(arch, vec![0.0; n]).unwrap(),
            inputs: Standardizer::identity(window * FEATURES),
            outputs: Standardizer { mean: vec![ln_error, jump], std: vec![1.0, 1.0] },
        }
    }

    #[test]
    fn the_decider_coarsens_below_the_margin_and_caps_the_jump() {
        let w = vec![vec![0.0; 2 * FEATURES]];
        let d = AtsDecider::new(constant(2, -1.0, 3.2), 2, 0.5, 8).unwrap();
        assert_eq!(d.decide(&w)[0], AtsDecision { coarse: true, jump: 3, ln_error: -1.0 });
        // Within the margin of the tolerance: stay fine.
        let d = AtsDecider::new(constant(2, -0.4, 3.0), 2, 0.5, 8).unwrap();
        assert!(!d.decide(&w)[0].coarse);
        // Jumps are capped and never below one segment; a NaN never coarsens.
        let d = AtsDecider::new(constant(2, -2.0, 40.0), 2, 0.0, 5).unwrap();
        assert_eq!(d.decide(&w)[0].jump, 5);
        let d = AtsDecider::new(constant(2, -2.0, -3.0), 2, 0.0, 5).unwrap();
        assert_eq!(d.decide(&w)[0].jump, 1);
        let d = AtsDecider::new(constant(2, f64::NAN, f64::NAN), 2, 0.0, 5).unwrap();
        let nan = d.decide(&w)[0];
        assert!(!nan.coarse && nan.jump == 1, "{nan:?}");
        // A network reading other windows, or giving other outputs, is refused.
        assert!(AtsDecider::new(constant(3, 0.0, 1.0), 2, 0.0, 5).unwrap_err().contains("reads 12 inputs"));
    }

    #[test]
    fn velocity_variance_ignores_the_common_motion() {
        let v = [[1.0, 0.0, 0.0], [3.0, 0.0, 0.0]];
        assert!((velocity_variance(&v) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(velocity_variance(&[]), 0.0);
    }
}
