//! `dpd-box`: the plasma alone, a periodic box of DPD fluid. Measures the equation of state
//! (temperature, pressure; the pressure tensor in the order xx yy zz xy xz yz) and checks momentum
//! conservation; the reference is LAMMPS's
//! `pair_style dpd` on the same parameters (physics.md part 6: p = 23.70 at the defaults).

use serde_json::{json, Map, Value};

use super::fluid::{fluid_builder, fluid_params};
use super::Builtin;
use crate::dsl::{Backend, Scenario};
use crate::params::{Bound, Kind, ParamSpec, ParamValues, ValidationErrors};
use crate::run::RunOutcome;

/// The `dpd-box` scenario.
pub struct DpdBox;

impl Builtin for DpdBox {
    fn name(&self) -> &'static str {
        "dpd-box"
    }
    fn about(&self) -> &'static str {
        "periodic box of DPD plasma: temperature, pressure (equation of state), momentum conservation"
    }
    fn params(&self) -> Vec<ParamSpec> {
        let mut p = fluid_params();
        p.push(ParamSpec {
            key: "particles",
            default: 24_000.0,
            unit: "particles",
            kind: Kind::Integer,
            min: Bound::Inclusive(2.0),
            max: Bound::Inclusive(5.0e7),
            help: "number of particles (the cap keeps a CPU run within a 24 GiB machine: about 200 bytes each)",
        });
        p
    }
    fn default_steps(&self) -> u64 {
        2000
    }
    fn build(&self, v: &ParamValues, seed: u64, steps: u64, backend: Backend) -> Result<Scenario, ValidationErrors> {
        let (n, rho, rc) = (v.get("particles"), v.get("density"), v.get("rc"));
        let edge = (n / rho).cbrt();
        if edge < 2.0 * rc {
            let mut e = ValidationErrors::default();
            e.push(
                "box edge (particles/density)^(1/3)",
                format!("{edge:.4}"),
                format!("must be >= 2 rc = {} (raise `particles` or lower `density`)", 2.0 * rc),
            );
            return Err(e);
        }
        let mut scenario = fluid_builder(self.name(), v, seed, steps, backend).cubic_box(edge as f32).build()?;
        // Keep the requested particle count exactly (the box edge was derived from it).
        scenario.density = n / scenario.sim_box.volume();
        Ok(scenario)
    }
    fn observables(&self, _scenario: &Scenario, o: &RunOutcome) -> Map<String, Value> {
        let mut m = Map::new();
        let _ = m.insert("temperature".into(), json!(o.second_half_mean(|s| s.temperature())));
        let _ = m.insert("pressure".into(), json!(o.second_half_mean(|s| s.pressure())));
        let tensor: Vec<f64> = (0..6).map(|k| o.second_half_mean(|s| s.pressure_tensor()[k])).collect();
        let _ = m.insert("pressure_tensor".into(), json!(tensor));
        let _ = m.insert("momentum_per_particle".into(), json!(o.last.momentum_per_particle()));
        m
    }
}
