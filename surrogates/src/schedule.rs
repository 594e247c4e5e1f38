//! Schedules: the step size `eta_n = eta_0 / n^p` (p = 0: constant), rescaled when the number of
//! learners changes, and the elastic schedule of active learners by epoch.
//!
//! ```
//! use hemoscale_surrogates::schedule::{Elastic, LrScaling, LrSchedule};
//!
//! let lr = LrSchedule { eta0: 0.1, decay: 0.5, scaling: LrScaling::Linear };
//! // Update 4 with the first phase's 2 learners: 0.1 / sqrt(4).
//! assert_eq!(lr.eta(4, 2, 2), 0.05);
//! // Twice the learners, twice the step (the linear rule).
//! assert_eq!(lr.eta(4, 4, 2), 0.1);
//! // Two learners, four from epoch 5 on.
//! let e = Elastic::parse("0:2,5:4")?;
//! assert_eq!([e.learners(0), e.learners(4), e.learners(5), e.learners(99)], [2, 2, 4, 4]);
//! assert_eq!(e.max_learners(), 4);
//! // The first phase must start at epoch 0.
//! assert!(Elastic::parse("3:2").is_err());
//! # Ok::<(), hemoscale_surrogates::SurrogateError>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Result, SurrogateError};

/// How the base step size follows the number of active learners P (relative to the first
/// phase's P0), recomputed at every change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LrScaling {
    /// eta_0 whatever P.
    None,
    /// eta_0 P / P0 (Goyal et al.'s linear rule).
    Linear,
    /// eta_0 sqrt(P / P0).
    Sqrt,
}

/// Step sizes `eta_n = eta_0 scale / n^p`, n = 1, 2, ... counting updates of the shared model
/// (steps for hard-sync and ASGD, averaging rounds for KAVG and MAVG).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    /// eta_0.
    pub eta0: f64,
    /// Decay exponent p (0: constant).
    pub decay: f64,
    /// Rule at a change of P.
    pub scaling: LrScaling,
}

impl LrSchedule {
    /// The step size of update `n` (from 1) with `p` learners, the first phase having `p0`.
    pub fn eta(&self, n: u64, p: usize, p0: usize) -> f64 {
        let ratio = p as f64 / p0.max(1) as f64;
        let scale = match self.scaling {
            LrScaling::None => 1.0,
            LrScaling::Linear => ratio,
            LrScaling::Sqrt => ratio.sqrt(),
        };
        if self.decay == 0.0 {
            self.eta0 * scale
        } else {
            self.eta0 * scale / (n.max(1) as f64).powf(self.decay)
        }
    }
}

/// Active learners from an epoch on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phase {
    /// First epoch of the phase (0-based).
    pub from_epoch: u64,
    /// Learners active in it.
    pub learners: usize,
}

/// The elastic schedule: phases in epoch order, the first from epoch 0.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Elastic {
    /// The phases.
    pub phases: Vec<Phase>,
}

impl Elastic {
    /// A constant number of learners.
    pub fn constant(learners: usize) -> Self {
        Self { phases: vec![Phase { from_epoch: 0, learners }] }
    }

    /// Parses `EPOCH:P,EPOCH:P,...` (for example `0:2,5:4`: two learners, four from epoch 5).
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |why: String| SurrogateError::Spec(format!("schedule `{s}`: {why} (expected EPOCH:P,...)"));
        let mut phases = Vec::new();
        for part in s.split(',') {
            let (e, p) = part.split_once(':').ok_or_else(|| bad(format!("`{part}` is not EPOCH:P")))?;
            let from_epoch = e.trim().parse().map_err(|_| bad(format!("epoch `{e}`")))?;
            let learners = p.trim().parse().ok().filter(|&p| p > 0).ok_or_else(|| bad(format!("learners `{p}`")))?;
            phases.push(Phase { from_epoch, learners });
        }
        let e = Self { phases };
        e.check().map_err(|x| bad(x.to_string()))?;
        Ok(e)
    }

    /// Phases must start at epoch 0 and increase.
    pub fn check(&self) -> Result<()> {
        let ok = self.phases.first().is_some_and(|p| p.from_epoch == 0)
            && self.phases.windows(2).all(|w| w[0].from_epoch < w[1].from_epoch)
            && self.phases.iter().all(|p| p.learners > 0);
        if ok {
            Ok(())
        } else {
            Err(SurrogateError::Spec("phases must start at epoch 0, increase, and have learners".into()))
        }
    }

    /// Index of the phase epoch `e` belongs to.
    pub fn phase_of(&self, e: u64) -> usize {
        self.phases.iter().rposition(|p| p.from_epoch <= e).unwrap_or(0)
    }

    /// Learners in epoch `e`.
    pub fn learners(&self, e: u64) -> usize {
        self.phases[self.phase_of(e)].learners
    }

    /// Most learners at any time.
    pub fn max_learners(&self) -> usize {
        self.phases.iter().map(|p| p.learners).max().unwrap_or(1)
    }
}
