//! `dpd-box`: the plasma alone, a periodic box of DPD fluid. Measures the equation of state
//! (temperature, pressure; the pressure tensor in the order xx yy zz xy xz yz) and checks momentum
//! conservation; the reference is LAMMPS's
//! `pair_style dpd` on the same parameters (physics.md part 6: p = 23.70 at the defaults).

use serde_json::{json, Map, Value};

use super::Builtin;
use crate::dsl::{Backend, Scenario};
use crate::kernels::DpdPair;
use crate::params::{Bound, Kind, ParamSpec, ParamValues, ValidationErrors};
use crate::run::RunOutcome;

/// The `dpd-box` scenario.
pub struct DpdBox;

fn float(key: &'static str, default: f64, unit: &'static str, min: Bound, max: Bound, help: &'static str) -> ParamSpec {
    ParamSpec { key, default, unit, kind: Kind::Float, min, max, help }
}

impl Builtin for DpdBox {
    fn name(&self) -> &'static str {
        "dpd-box"
    }
    fn about(&self) -> &'static str {
        "periodic box of DPD plasma: temperature, pressure (equation of state), momentum conservation"
    }
    fn params(&self) -> Vec<ParamSpec> {
        use Bound::{Exclusive as Ex, Inclusive as In};
        vec![
            float(
                "density",
                3.0,
                "1/rc^3",
                Ex(0.0),
                In(100.0),
                "number density; the box edge follows from it and `particles`",
            ),
            float("a", 25.0, "kT/rc", In(0.0), In(1000.0), "conservative repulsion amplitude"),
            float("gamma", 4.5, "m/tau", In(0.0), In(1000.0), "dissipation coefficient (sigma = sqrt(2 gamma kT))"),
            float("kT", 1.0, "kT", In(0.0), In(100.0), "thermostat temperature"),
            float("rc", 1.0, "rc", Ex(0.0), In(10.0), "cut-off radius"),
            float(
                "s",
                2.0,
                "1",
                Ex(0.0),
                In(4.0),
                "weight exponent: w_D = (1 - r/rc)^s, w_R = sqrt(w_D); 2 is standard DPD",
            ),
            float("dt", 0.01, "tau", Ex(0.0), In(0.1), "time step"),
            float("lambda", 0.5, "1", In(0.0), In(1.0), "modified velocity-Verlet lambda (0.5 = velocity-Verlet)"),
            ParamSpec {
                key: "particles",
                default: 24_000.0,
                unit: "particles",
                kind: Kind::Integer,
                min: In(2.0),
                max: In(5.0e7),
                help: "number of particles (the cap keeps a CPU run within a 24 GiB machine: about 200 bytes each)",
            },
        ]
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
        let mut scenario = Scenario::builder(self.name())
            .cubic_box(edge as f32)
            .density(rho)
            .dpd(DpdPair { a: v.get("a") as f32, gamma: v.get("gamma") as f32, rc: rc as f32, s: v.get("s") as f32 })
            .kt(v.get("kT") as f32)
            .dt(v.get("dt") as f32)
            .lambda(v.get("lambda") as f32)
            .seed(seed)
            .steps(steps)
            .backend(backend)
            .build()?;
        // Keep the requested particle count exactly (the box edge was derived from it).
        scenario.density = n / scenario.sim_box.volume();
        Ok(scenario)
    }
    fn observables(&self, o: &RunOutcome) -> Map<String, Value> {
        let mut m = Map::new();
        let _ = m.insert("temperature".into(), json!(o.second_half_mean(|s| s.temperature())));
        let _ = m.insert("pressure".into(), json!(o.second_half_mean(|s| s.pressure())));
        let tensor: Vec<f64> = (0..6).map(|k| o.second_half_mean(|s| s.pressure_tensor()[k])).collect();
        let _ = m.insert("pressure_tensor".into(), json!(tensor));
        let _ = m.insert("momentum_per_particle".into(), json!(o.last.momentum_per_particle()));
        m
    }
}
