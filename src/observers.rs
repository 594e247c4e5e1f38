//! What a run writes and checks, and when: the scenario's observers, each on a trigger (as
//! HOOMD-blue attaches writers and updaters to triggers, or LAMMPS's `thermo`, `dump` and
//! `restart` commands take their intervals). They are part of the [`crate::dsl::Scenario`], set
//! with the builder's output methods and checked with everything else; the command line's
//! `--thermo`, `--out`, `--trajectory`, `--fields`, `--checkpoint` and the bounds override them.
//! [`crate::run::RunOptions::for_scenario`] turns them into a run's options.
//!
//! Observers do not shape the physics: they are left out of the scenario's
//! [`fingerprint`](crate::dsl::Scenario::fingerprint), so a run may resume with other outputs.
//!
//! ```
//! use hemoscale::dsl::Scenario;
//! use hemoscale::output::Trigger;
//! use hemoscale::run::RunOptions;
//!
//! let s = Scenario::builder("watched")
//!     .steps(2000)
//!     .output_dir("out/watched")
//!     .thermo_every(100)
//!     .trajectory("every:500&after:999".parse().unwrap())
//!     .checkpoints("out/watched/checkpoints", 1000)
//!     .max_temperature(5.0)
//!     .build()
//!     .unwrap();
//! let opts = RunOptions::for_scenario(&s);
//! assert_eq!(opts.thermo_every, 100);
//! assert!(opts.trajectory.as_ref().is_some_and(|t| t.fires(1500) && !t.fires(500)));
//! assert_eq!(opts.checkpoint.as_ref().map(|c| c.every), Some(1000));
//!
//! // A trajectory needs a folder to go to: refused, naming the field.
//! let e = Scenario::builder("lost").trajectory(Trigger::every(10)).build().unwrap_err();
//! assert!(e.to_string().contains("trajectory"));
//! ```

use std::path::PathBuf;

use crate::faults::Limits;
use crate::output::Trigger;
use crate::params::ValidationErrors;

/// What a run writes and checks, and when (None: the default named on each field).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observers {
    /// Folder of the run's files: `thermo.csv`, profiles, plots, trajectories, fields (None: no
    /// files, from the library; the binary writes to `out/SCENARIO`).
    pub dir: Option<PathBuf>,
    /// Steps between thermo rows, also the progress lines and the GPU's read-back interval (None:
    /// a twentieth of the run).
    pub thermo_every: Option<u64>,
    /// Steps between samples of the global observables (None: 10).
    pub sample_every: Option<u64>,
    /// Trajectory frames: extended XYZ for OVITO, VTK PolyData with a `.pvd` for ParaView.
    pub trajectory: Option<Trigger>,
    /// Binned fields (density, velocity, stress; VTK image data with a `.pvd`), averaged since
    /// the previous firing.
    pub fields: Option<Trigger>,
    /// Checkpoints: folder and steps between them (0: only at the end and on a signal).
    pub checkpoint: Option<(PathBuf, u64)>,
    /// Bounds beyond which the run stops as blown up.
    pub limits: Limits,
}

impl Observers {
    /// Checks every observer, pushing one error per violation.
    pub(crate) fn check(&self, e: &mut ValidationErrors) {
        for (field, v) in [("thermo_every", self.thermo_every), ("sample_every", self.sample_every)] {
            if v == Some(0) {
                e.push(field, 0, "must be >= 1 step");
            }
        }
        for (field, t) in [("trajectory", &self.trajectory), ("fields", &self.fields)] {
            let Some(t) = t else { continue };
            if let Some(why) = trigger_problem(t) {
                e.push(field, t, why);
            } else if self.dir.is_none() {
                e.push(field, t, "needs an output folder (output_dir) to write to");
            }
        }
        for (field, v) in [("max_speed", self.limits.max_speed), ("max_temperature", self.limits.max_temperature)] {
            if let Some(v) = v.filter(|v| !(v.is_finite() && *v > 0.0)) {
                e.push(field, v, "must be a positive number");
            }
        }
    }
}

/// What is wrong with a trigger built by hand (the parser refuses the same): a period of 0.
fn trigger_problem(t: &Trigger) -> Option<&'static str> {
    match t {
        Trigger::Periodic { period: 0, .. } => Some("the period of every: must be at least 1"),
        Trigger::And(ts) | Trigger::Or(ts) => ts.iter().find_map(trigger_problem),
        Trigger::Not(t) => trigger_problem(t),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::dsl::Scenario;
    use crate::output::Trigger;

    #[test]
    fn every_bad_observer_is_named_at_once() {
        let e = Scenario::builder("bad")
            .thermo_every(0)
            .sample_every(0)
            .trajectory(Trigger::every(10))
            .fields(Trigger::Or(vec![Trigger::On(5), Trigger::every(0)]))
            .output_dir("out/bad")
            .max_speed(-1.0)
            .max_temperature(f64::NAN)
            .build()
            .unwrap_err();
        let text = e.to_string();
        for want in [
            "thermo_every = 0: must be >= 1 step",
            "sample_every = 0",
            "fields = on:5|every:0: the period of every: must be at least 1",
            "max_speed = -1: must be a positive number",
            "max_temperature = NaN",
        ] {
            assert!(text.contains(want), "{want:?} missing from {text}");
        }
        assert_eq!(e.0.len(), 5, "{text}");
        // With a folder, the trajectory is fine.
        assert!(!text.contains("trajectory"), "{text}");
    }

    #[test]
    fn observers_do_not_change_the_fingerprint() {
        let plain = Scenario::builder("a").build().unwrap();
        let watched = Scenario::builder("a").output_dir("x").thermo_every(3).checkpoints("y", 5).build().unwrap();
        assert_eq!(plain.fingerprint(), watched.fingerprint());
        assert_ne!(plain.fingerprint(), Scenario::builder("a").kt(2.0).build().unwrap().fingerprint());
    }
}
