//! Which model advances a platelet over the next coarse step: the fine particles or the reduced
//! model, decided per platelet from what the reduced model was trained on and how close the
//! platelet is to anything the reduced model does not know (walls, other platelets, adhesion
//! sites). Every fall-back is counted by its reason.
//!
//! ```
//! use hemoscale_coupling::{Decision, Fallback, Policy, Situation};
//!
//! let policy = Policy {
//!     range_margin: 0.2,
//!     wall_clearance: 5.0,
//!     platelet_clearance: 8.0,
//!     adhesion_clearance: 4.0,
//!     period_tolerance: 0.03,
//!     stress_tolerance: 0.05,
//! };
//! // Alone in the flow, at a shear rate the model was trained on, the model confident.
//! let far = f64::INFINITY;
//! let alone = Situation {
//!     shear_rate: 0.06,
//!     wall_distance: far,
//!     platelet_distance: far,
//!     adhesion_distance: far,
//!     period_spread: 0.01,
//!     stress_spread: 0.01,
//! };
//! let trained = Some((0.05, 0.07));
//! assert_eq!(policy.decide(&alone, trained), Decision::Reduced);
//! assert_eq!(policy.decide(&alone, None), Decision::Fine(Fallback::NotTrained));
//! // 3 rc from a wall: the reduced model knows only unbounded flow.
//! let near_wall = Situation { wall_distance: 3.0, ..alone };
//! assert_eq!(policy.decide(&near_wall, trained), Decision::Fine(Fallback::NearWall));
//! // The first check that fails names the fall-back: the shear rate comes before the wall.
//! let fast_near_wall = Situation { shear_rate: 0.2, ..near_wall };
//! assert_eq!(policy.decide(&fast_near_wall, trained), Decision::Fine(Fallback::OutOfRange));
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a platelet runs fine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// No reduced model yet (still harvesting).
    NotTrained,
    /// The local shear rate is outside the range the model was trained on.
    OutOfRange,
    /// Closer to a wall than the clearance: the reduced model knows only unbounded linear flow.
    NearWall,
    /// Closer to another platelet than the clearance.
    NearPlatelet,
    /// Closer to an adhesive site (wall patch or activated platelet) than the clearance.
    NearAdhesionSite,
    /// The ensemble's spread exceeds the tolerance.
    Uncertain,
    /// A scheduled fine segment that checks the reduced model against the particles.
    Verification,
}

impl Fallback {
    /// Every reason, in a fixed order.
    pub const ALL: [Self; 7] = [
        Self::NotTrained,
        Self::OutOfRange,
        Self::NearWall,
        Self::NearPlatelet,
        Self::NearAdhesionSite,
        Self::Uncertain,
        Self::Verification,
    ];

    /// Snake-case name used in logs and summaries.
    pub fn name(self) -> &'static str {
        match self {
            Self::NotTrained => "not_trained",
            Self::OutOfRange => "out_of_range",
            Self::NearWall => "near_wall",
            Self::NearPlatelet => "near_platelet",
            Self::NearAdhesionSite => "near_adhesion_site",
            Self::Uncertain => "uncertain",
            Self::Verification => "verification",
        }
    }
}

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A platelet's situation at a decision (DPD units).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Situation {
    /// Local shear rate (smoothed).
    pub shear_rate: f64,
    /// Distance from the platelet's centre to the nearest wall (infinite without walls).
    pub wall_distance: f64,
    /// Distance to the nearest other platelet's centre (infinite when alone).
    pub platelet_distance: f64,
    /// Distance to the nearest adhesive site (infinite without adhesion).
    pub adhesion_distance: f64,
    /// Relative spread of the orientation ensemble's orbit period.
    pub period_spread: f64,
    /// Spread of the stress ensemble here, relative to the typical stress.
    pub stress_spread: f64,
}

/// The decision for one platelet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Advance with the reduced model.
    Reduced,
    /// Advance with the particles, for this reason.
    Fine(Fallback),
}

/// Thresholds of the policy (lengths in rc).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// The trained shear-rate range is widened by this fraction on each side.
    pub range_margin: f64,
    /// Smallest distance from a wall to the platelet's centre for the reduced model.
    pub wall_clearance: f64,
    /// Smallest centre-to-centre distance to another platelet.
    pub platelet_clearance: f64,
    /// Smallest distance to an adhesive site.
    pub adhesion_clearance: f64,
    /// Largest relative spread of the orbit period accepted: the accuracy asked of the
    /// orientation (the flip period).
    pub period_tolerance: f64,
    /// Largest relative spread of the stress accepted: the accuracy asked of stress
    /// accumulation.
    pub stress_tolerance: f64,
}

impl Policy {
    /// Decides for a platelet in `s` with a model trained on shear rates `range` (None: no model
    /// yet). The checks run in a fixed order and the first that fails names the fall-back.
    pub fn decide(&self, s: &Situation, range: Option<(f64, f64)>) -> Decision {
        let Some((lo, hi)) = range else { return Decision::Fine(Fallback::NotTrained) };
        let (lo, hi) = (lo * (1.0 - self.range_margin), hi * (1.0 + self.range_margin));
        if !(s.shear_rate >= lo && s.shear_rate <= hi) {
            return Decision::Fine(Fallback::OutOfRange);
        }
        if s.wall_distance < self.wall_clearance {
            return Decision::Fine(Fallback::NearWall);
        }
        if s.platelet_distance < self.platelet_clearance {
            return Decision::Fine(Fallback::NearPlatelet);
        }
        if s.adhesion_distance < self.adhesion_clearance {
            return Decision::Fine(Fallback::NearAdhesionSite);
        }
        // A NaN spread counts as too uncertain.
        let over = |spread: f64, tol: f64| spread.is_nan() || spread > tol;
        if over(s.period_spread, self.period_tolerance) || over(s.stress_spread, self.stress_tolerance) {
            return Decision::Fine(Fallback::Uncertain);
        }
        Decision::Reduced
    }
}

/// What the coupling did over a run: platelet-steps (plasma steps times platelets) on each model,
/// and the fall-backs (switches from reduced to fine) by reason.
///
/// ```
/// use hemoscale_coupling::{Counters, Fallback};
///
/// let mut counters = Counters { fine_steps: 250, surrogate_steps: 750, ..Counters::default() };
/// counters.fallback(Fallback::NearWall);
/// counters.fallback(Fallback::NearWall);
/// counters.fallback(Fallback::Verification);
/// assert_eq!((counters.total_fallbacks(), counters.fallbacks[&Fallback::NearWall]), (3, 2));
/// assert_eq!(counters.fine_fraction(), 0.25);
/// // Before any step every platelet counts as fine.
/// assert_eq!(Counters::default().fine_fraction(), 1.0);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    /// Platelet-steps advanced by the particles.
    pub fine_steps: u64,
    /// Platelet-steps advanced by the reduced model.
    pub surrogate_steps: u64,
    /// Switches from reduced to fine, by reason.
    pub fallbacks: BTreeMap<Fallback, u64>,
    /// Switches from fine to reduced.
    pub handovers: u64,
    /// Decisions that kept a fine platelet fine, by reason (one per platelet and coarse step):
    /// why the surrogate was not used when it was not.
    pub held_fine: BTreeMap<Fallback, u64>,
}

impl Counters {
    /// All fall-backs.
    pub fn total_fallbacks(&self) -> u64 {
        self.fallbacks.values().sum()
    }

    /// Records a fall-back.
    pub fn fallback(&mut self, why: Fallback) {
        *self.fallbacks.entry(why).or_insert(0) += 1;
    }

    /// Fraction of platelet-steps on the fine model.
    pub fn fine_fraction(&self) -> f64 {
        let all = self.fine_steps + self.surrogate_steps;
        if all == 0 {
            return 1.0;
        }
        self.fine_steps as f64 / all as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Policy = Policy {
        range_margin: 0.2,
        wall_clearance: 5.0,
        platelet_clearance: 8.0,
        adhesion_clearance: 4.0,
        period_tolerance: 0.03,
        stress_tolerance: 0.05,
    };

    fn calm() -> Situation {
        Situation {
            shear_rate: 0.06,
            wall_distance: f64::INFINITY,
            platelet_distance: f64::INFINITY,
            adhesion_distance: f64::INFINITY,
            period_spread: 0.01,
            stress_spread: 0.01,
        }
    }

    #[test]
    fn each_check_names_its_fallback() {
        let r = Some((0.05, 0.07));
        assert_eq!(POLICY.decide(&calm(), r), Decision::Reduced);
        assert_eq!(POLICY.decide(&calm(), None), Decision::Fine(Fallback::NotTrained));
        let case = |f: fn(&mut Situation)| {
            let mut s = calm();
            f(&mut s);
            POLICY.decide(&s, r)
        };
        assert_eq!(case(|s| s.shear_rate = 0.2), Decision::Fine(Fallback::OutOfRange));
        assert_eq!(case(|s| s.shear_rate = 0.03), Decision::Fine(Fallback::OutOfRange));
        assert_eq!(case(|s| s.shear_rate = f64::NAN), Decision::Fine(Fallback::OutOfRange));
        // Inside the margin: 0.07 * 1.2 = 0.084.
        assert_eq!(case(|s| s.shear_rate = 0.08), Decision::Reduced);
        assert_eq!(case(|s| s.wall_distance = 3.0), Decision::Fine(Fallback::NearWall));
        assert_eq!(case(|s| s.platelet_distance = 7.0), Decision::Fine(Fallback::NearPlatelet));
        assert_eq!(case(|s| s.adhesion_distance = 1.0), Decision::Fine(Fallback::NearAdhesionSite));
        assert_eq!(case(|s| s.period_spread = 0.04), Decision::Fine(Fallback::Uncertain));
        assert_eq!(case(|s| s.stress_spread = 0.06), Decision::Fine(Fallback::Uncertain));
        assert_eq!(case(|s| s.stress_spread = 0.04), Decision::Reduced);
        assert_eq!(case(|s| s.period_spread = f64::INFINITY), Decision::Fine(Fallback::Uncertain));
        assert_eq!(case(|s| s.stress_spread = f64::NAN), Decision::Fine(Fallback::Uncertain));
    }

    #[test]
    fn counters_add_up() {
        let mut c = Counters::default();
        c.fallback(Fallback::NearWall);
        c.fallback(Fallback::NearWall);
        c.fallback(Fallback::Verification);
        c.fine_steps = 300;
        c.surrogate_steps = 700;
        assert_eq!(c.total_fallbacks(), 3);
        assert_eq!(c.fallbacks[&Fallback::NearWall], 2);
        assert!((c.fine_fraction() - 0.3).abs() < 1e-12);
        assert_eq!(Fallback::ALL.iter().map(|f| f.name()).collect::<std::collections::BTreeSet<_>>().len(), 7);
    }
}
