//! The plasma keys every built-in scenario shares (`dpd-box`'s fluid keys), and the builder they
//! configure: density, the DPD pair parameters with the optional DPD-Morse term, temperature and
//! the integrator.

use crate::dsl::{Backend, Scenario, ScenarioBuilder};
use crate::kernels::{DpdPair, Morse};
use crate::params::{Bound, Kind, ParamSpec, ParamValues};

/// A real-valued key.
pub fn float(
    key: &'static str,
    default: f64,
    unit: &'static str,
    min: Bound,
    max: Bound,
    help: &'static str,
) -> ParamSpec {
    ParamSpec { key, default, unit, kind: Kind::Float, min, max, help }
}

/// The plasma's keys with their defaults (the standard DPD fluid, no Morse term).
pub fn fluid_params() -> Vec<ParamSpec> {
    use Bound::{Exclusive as Ex, Inclusive as In};
    vec![
        float("density", 3.0, "1/rc^3", Ex(0.0), In(100.0), "number density of the plasma"),
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
        float("morse_d0", 0.0, "kT", In(0.0), In(100.0), "DPD-Morse well depth D0 (0: plain DPD)"),
        float("morse_alpha", 3.0, "1/rc", Ex(0.0), In(100.0), "DPD-Morse stiffness alpha"),
        float("morse_r0", 0.9, "rc", In(0.0), In(10.0), "DPD-Morse equilibrium distance r0 (<= rc)"),
    ]
}

/// The pair parameters the fluid keys describe.
pub fn fluid_pair(v: &ParamValues) -> DpdPair {
    DpdPair::new(v.get("a") as f32, v.get("gamma") as f32, v.get("rc") as f32, v.get("s") as f32).with_morse(Morse {
        d0: v.get("morse_d0") as f32,
        alpha: v.get("morse_alpha") as f32,
        r0: v.get("morse_r0") as f32,
    })
}

/// A builder with the fluid keys, seed, steps and backend applied.
pub fn fluid_builder(name: &str, v: &ParamValues, seed: u64, steps: u64, backend: Backend) -> ScenarioBuilder {
    Scenario::builder(name)
        .density(v.get("density"))
        .dpd(fluid_pair(v))
        .kt(v.get("kT") as f32)
        .dt(v.get("dt") as f32)
        .lambda(v.get("lambda") as f32)
        .seed(seed)
        .steps(steps)
        .backend(backend)
}
