//! Time-varying parameters, as HOOMD-blue's variants: a value that follows the step. A scenario
//! scales its body force, temperature or wall speed by one ([`Driving`](crate::dsl::Scenario)):
//! a ramp to switch a flow on gently, steps for a sudden change of shear rate.
//!
//! Values are piecewise constant: a ramp moves in increments every [`RAMP_INCREMENT`] steps
//! (the engines batch steps, and the GPU records many in one submission), and every value is a
//! function of the step alone, so a run resumed from a checkpoint sees the same values at the
//! same steps.
//!
//! ```
//! use hemoscale::variant::Variant;
//!
//! // From 0 to 1 over steps 1000..3000, then 1.
//! let ramp: Variant = "ramp:0:1:1000:2000".parse().unwrap();
//! assert_eq!((ramp.value(0), ramp.value(2000), ramp.value(5000)), (0.0, 0.5, 1.0));
//! // 1 until step 500, then 2, then 0.5 from step 900 on.
//! let steps: Variant = "steps:1,500=2,900=0.5".parse().unwrap();
//! assert_eq!((steps.value(499), steps.value(500), steps.value(900)), (1.0, 2.0, 0.5));
//! assert_eq!(steps.next_change(500), Some(900));
//! ```

use std::fmt;
use std::str::FromStr;

/// Steps between the increments of a ramp.
pub const RAMP_INCREMENT: u64 = 10;

/// A value that follows the step.
#[derive(Clone, Debug, PartialEq)]
pub enum Variant {
    /// The same value throughout.
    Constant(f64),
    /// `from` until step `start`, then linearly to `to` over `steps` steps (in increments every
    /// [`RAMP_INCREMENT`] steps), then `to`.
    Ramp {
        /// Value before the ramp.
        from: f64,
        /// Value after it.
        to: f64,
        /// First step of the ramp.
        start: u64,
        /// Its length in steps (at least 1).
        steps: u64,
    },
    /// `initial`, then each `(step, value)` from its step on (steps increasing).
    Steps {
        /// Value before the first change.
        initial: f64,
        /// Changes: from this step on, this value.
        changes: Vec<(u64, f64)>,
    },
}

impl Variant {
    /// The value for the step that advances from `step` to `step + 1`.
    pub fn value(&self, step: u64) -> f64 {
        match self {
            Self::Constant(v) => *v,
            Self::Ramp { from, to, start, steps } => {
                if step < *start {
                    return *from;
                }
                let into = (step - start).min(*steps);
                // Held at the last increment (the ramp's end is reached exactly).
                let held = if into == *steps { into } else { into - into % RAMP_INCREMENT };
                from + (to - from) * held as f64 / *steps as f64
            }
            Self::Steps { initial, changes } => {
                changes.iter().take_while(|(s, _)| *s <= step).last().map_or(*initial, |c| c.1)
            }
        }
    }

    /// The first step after `step` whose value may differ (None: never).
    pub fn next_change(&self, step: u64) -> Option<u64> {
        match self {
            Self::Constant(_) => None,
            Self::Ramp { start, steps, .. } => {
                let end = start + steps;
                if step < *start {
                    Some(*start)
                } else if step < end {
                    let into = step - start;
                    Some((start + (into / RAMP_INCREMENT + 1) * RAMP_INCREMENT).min(end))
                } else {
                    None
                }
            }
            Self::Steps { changes, .. } => changes.iter().map(|c| c.0).find(|&s| s > step),
        }
    }

    /// Every value the variant takes (for range checks).
    pub fn extremes(&self) -> Vec<f64> {
        match self {
            Self::Constant(v) => vec![*v],
            Self::Ramp { from, to, .. } => vec![*from, *to],
            Self::Steps { initial, changes } => std::iter::once(*initial).chain(changes.iter().map(|c| c.1)).collect(),
        }
    }

    /// What is wrong with the variant, if anything: non-finite values, a ramp of no steps, steps
    /// out of order.
    pub fn problem(&self) -> Option<String> {
        if self.extremes().iter().any(|v| !v.is_finite()) {
            return Some("values must be finite".into());
        }
        match self {
            Self::Ramp { steps: 0, .. } => Some("a ramp needs at least 1 step".into()),
            Self::Steps { changes, .. } if changes.windows(2).any(|w| w[0].0 >= w[1].0) => {
                Some("the steps of the changes must increase".into())
            }
            _ => None,
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Constant(v) => write!(f, "const:{v}"),
            Self::Ramp { from, to, start, steps } => write!(f, "ramp:{from}:{to}:{start}:{steps}"),
            Self::Steps { initial, changes } => {
                write!(f, "steps:{initial}")?;
                for (s, v) in changes {
                    write!(f, ",{s}={v}")?;
                }
                Ok(())
            }
        }
    }
}

impl FromStr for Variant {
    type Err = String;
    /// `const:V`, `ramp:FROM:TO:START:STEPS` or `steps:INITIAL,STEP=V,STEP=V...`.
    fn from_str(s: &str) -> Result<Self, String> {
        let usage = || {
            format!(
                "{s:?}: expected const:V, ramp:FROM:TO:START:STEPS or steps:INITIAL,STEP=VALUE,... (steps increasing)"
            )
        };
        let num = |t: &str| t.trim().parse::<f64>().map_err(|_| usage());
        let int = |t: &str| t.trim().parse::<u64>().map_err(|_| usage());
        let (kind, rest) = s.split_once(':').ok_or_else(usage)?;
        let v = match kind {
            "const" => Self::Constant(num(rest)?),
            "ramp" => {
                let p: Vec<&str> = rest.split(':').collect();
                let [from, to, start, steps] = p[..] else { return Err(usage()) };
                Self::Ramp { from: num(from)?, to: num(to)?, start: int(start)?, steps: int(steps)? }
            }
            "steps" => {
                let mut parts = rest.split(',');
                let initial = num(parts.next().ok_or_else(usage)?)?;
                let changes = parts
                    .map(|c| {
                        let (step, v) = c.split_once('=').ok_or_else(usage)?;
                        Ok((int(step)?, num(v)?))
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                Self::Steps { initial, changes }
            }
            _ => return Err(usage()),
        };
        match v.problem() {
            Some(p) => Err(format!("{s:?}: {p}")),
            None => Ok(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramps_move_in_increments_and_reach_their_end() {
        let r = Variant::Ramp { from: 1.0, to: 3.0, start: 100, steps: 25 };
        let values: Vec<f64> = [99, 100, 109, 110, 119, 120, 124, 125, 1000].iter().map(|&s| r.value(s)).collect();
        assert_eq!(values, vec![1.0, 1.0, 1.0, 1.8, 1.8, 2.6, 2.6, 3.0, 3.0]);
        let changes: Vec<Option<u64>> = [0, 100, 109, 110, 120, 125].iter().map(|&s| r.next_change(s)).collect();
        assert_eq!(changes, vec![Some(100), Some(110), Some(110), Some(120), Some(125), None]);
        // Between a step and its next change the value holds.
        for s in 0..200 {
            let next = r.next_change(s).unwrap_or(200).min(200);
            assert!((s..next).all(|k| r.value(k) == r.value(s)), "step {s}");
        }
    }

    #[test]
    fn text_round_trips_and_nonsense_is_refused() {
        for t in ["const:2", "ramp:0:1:10:100", "steps:1,5=2,9=0.5"] {
            assert_eq!(t.parse::<Variant>().unwrap().to_string(), t);
        }
        for bad in ["ramp:0:1:10", "ramp:0:1:10:0", "steps:1,9=2,5=3", "steps:1,x=2", "sine:1", "const:nan", "2"] {
            assert!(bad.parse::<Variant>().is_err(), "{bad}");
        }
    }
}
