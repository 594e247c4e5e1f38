//! Built-in scenarios, one per file, each written with the [`crate::dsl`] builder and declaring
//! its keys ([`ParamSpec`]) so `hemoscale scenarios NAME` can list them.
//!
//! ```
//! use hemoscale::dsl::Backend;
//! use hemoscale::params::ParamValues;
//! use hemoscale::scenarios::{all, find};
//!
//! assert!(all().iter().any(|s| s.name() == "stenosis-platelets"));
//! // A built-in scenario is keys plus a builder: its defaults, with one key changed.
//! let tube = find("tube").unwrap();
//! let values = ParamValues::parse(&tube.params(), &["radius=5".into()]).unwrap();
//! let scenario = tube.build(&values, 7, 100, Backend::Cpu).unwrap();
//! assert_eq!((scenario.name.as_str(), scenario.seed, scenario.steps), ("tube", 7, 100));
//! assert!(scenario.vessel.is_some());
//! ```

mod aggregation;
mod couette;
mod dpd_box;
pub mod fluid;
pub mod platelet_plasma;
mod poiseuille;
mod shear_flip;
mod stenosis;
mod stenosis_platelets;
mod tube;
pub mod vessel;

use serde_json::{Map, Value};

use crate::dsl::{Backend, Scenario};
use crate::flow::FlowProbe;
use crate::params::{ParamSpec, ParamValues, ValidationErrors};
use crate::run::RunOutcome;

pub use aggregation::Aggregation;
pub use couette::Couette;
pub use dpd_box::DpdBox;
pub use poiseuille::{fit_reverse_poiseuille, Poiseuille};
pub use shear_flip::ShearFlip;
pub use stenosis::{analyse_stenosis, Stenosis};
pub use stenosis_platelets::StenosisPlatelets;
pub use tube::{analyse_tube, Tube, TubeFlow};

/// A scenario that ships with hemoscale.
pub trait Builtin {
    /// Name on the command line.
    fn name(&self) -> &'static str;
    /// One line on what it simulates and what it measures.
    fn about(&self) -> &'static str;
    /// Settable keys.
    fn params(&self) -> Vec<ParamSpec>;
    /// Steps when `--steps` is not given.
    fn default_steps(&self) -> u64;
    /// The scenario for the given key values (checked against each other here; each key's own
    /// range was checked when parsing).
    fn build(
        &self,
        values: &ParamValues,
        seed: u64,
        steps: u64,
        backend: Backend,
    ) -> Result<Scenario, ValidationErrors>;
    /// What to sample during a run of `scenario` lasting `steps` steps (flow profiles); None for
    /// scenarios that need only the global observables.
    fn probe(&self, scenario: &Scenario, steps: u64) -> Option<FlowProbe> {
        let _ = (scenario, steps);
        None
    }
    /// The scenario's observables for the summary JSON, from a finished run of `scenario`.
    fn observables(&self, scenario: &Scenario, outcome: &RunOutcome) -> Map<String, Value>;
}

/// Every built-in scenario, in listing order.
pub fn all() -> Vec<Box<dyn Builtin>> {
    vec![
        Box::new(DpdBox),
        Box::new(Poiseuille),
        Box::new(Tube),
        Box::new(Couette),
        Box::new(Stenosis),
        Box::new(ShearFlip),
        Box::new(StenosisPlatelets),
        Box::new(Aggregation),
    ]
}

/// The built-in scenario called `name`.
pub fn find(name: &str) -> Option<Box<dyn Builtin>> {
    all().into_iter().find(|s| s.name() == name)
}

/// The scenario `cargo run --release` runs: a small stenosis with platelets (the product's
/// purpose in one run: flow through a constriction, platelet stress, activation and adhesion).
pub const DEFAULT: &str = "stenosis-platelets";
