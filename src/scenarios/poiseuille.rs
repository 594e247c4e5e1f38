//! `poiseuille`: reverse (periodic) Poiseuille flow, Backer et al. 2005 (J. Chem. Phys. 122,
//! 154503): a periodic box with no walls, body force `+g` along x below `z = L_z/2` and `-g` above.
//! Each half develops a parabola `v_x(z) = ±(rho g / 2 eta)(z - z0)(h - (z - z0))`, so fitting
//! `c0 + c1 z + c2 z^2` per half gives `eta = rho g / (2 |c2|)`. The reference is LAMMPS on the same
//! set-up (physics.md part 6: eta = 0.855 for the standard fluid, g 0.02, box 10 x 10 x 20).

use serde_json::{json, Map, Value};

use super::fluid::{float, fluid_builder, fluid_params};
use super::Builtin;
use crate::dsl::{Backend, Scenario};
use crate::fit::polyfit;
use crate::flow::{FlowProbe, Selection};
use crate::output::{Axis, Profile1d, ProfileData};
use crate::params::{Bound, ParamSpec, ParamValues, ValidationErrors};
use crate::run::RunOutcome;

/// The `poiseuille` scenario.
pub struct Poiseuille;

/// Profile bin width along z (as LAMMPS's `chunk/atom bin/1d z lower 0.5`).
const BIN: f64 = 0.5;

/// Viscosity fitted from each half of a reverse-Poiseuille profile of fluid density `rho` under
/// body force `g` in a box of height `lz`: `(eta_lower, eta_upper, r2_lower, r2_upper, peak)`.
pub fn fit_reverse_poiseuille(p: &ProfileData, rho: f64, g: f64, lz: f64) -> Option<(f64, f64, f64, f64, f64)> {
    let pts = p.velocity_points();
    let lower: Vec<(f64, f64)> = pts.iter().copied().filter(|&(z, _)| z < 0.5 * lz).collect();
    let upper: Vec<(f64, f64)> = pts.iter().copied().filter(|&(z, _)| z >= 0.5 * lz).collect();
    let fl = polyfit(&lower, 2)?;
    let fu = polyfit(&upper, 2)?;
    let peak = pts.iter().map(|p| p.1.abs()).fold(0.0, f64::max);
    Some((rho * g / (2.0 * fl.coeffs[2].abs()), rho * g / (2.0 * fu.coeffs[2].abs()), fl.r2, fu.r2, peak))
}

impl Builtin for Poiseuille {
    fn name(&self) -> &'static str {
        "poiseuille"
    }
    fn about(&self) -> &'static str {
        "reverse (periodic) Poiseuille flow without walls (Backer 2005): shear viscosity from both half-profiles"
    }
    fn params(&self) -> Vec<ParamSpec> {
        use Bound::{Exclusive as Ex, Inclusive as In};
        let mut p = fluid_params();
        p.extend([
            float(
                "body_force",
                0.02,
                "kT/rc",
                Ex(0.0),
                In(10.0),
                "force per particle along x, reversed for z >= height/2",
            ),
            float("width", 10.0, "rc", In(2.0), In(1000.0), "box edge along x and y"),
            float("height", 20.0, "rc", In(4.0), In(1000.0), "box edge along z (two half-channels)"),
        ]);
        p
    }
    fn default_steps(&self) -> u64 {
        45_000
    }
    fn build(&self, v: &ParamValues, seed: u64, steps: u64, backend: Backend) -> Result<Scenario, ValidationErrors> {
        let (w, h) = (v.get("width") as f32, v.get("height") as f32);
        fluid_builder(self.name(), v, seed, steps, backend)
            .box_lengths([w, w, h])
            .body_force([v.get("body_force") as f32, 0.0, 0.0])
            .reverse_body_force(true)
            .build()
    }
    fn probe(&self, s: &Scenario, steps: u64) -> Option<FlowProbe> {
        let l = s.sim_box.len.map(f64::from);
        let bins = (l[2] / BIN).round().max(4.0) as usize;
        let profile = Profile1d::along(Axis::Z, l, bins, Axis::X).ok()?;
        // A third of the run settles the flow (the slowest mode decays in rho L_z^2 / (4 pi^2 eta),
        // 36 time units for the defaults; 15,000 steps are 4 of them), samples every 10 steps.
        Some(FlowProbe::new(10, steps / 3).with("vx_z", Selection::Fluid, profile))
    }
    fn observables(&self, _scenario: &Scenario, o: &RunOutcome) -> Map<String, Value> {
        let mut m = Map::new();
        let rho = o.fluid_particles as f64 / o.system.sim_box.volume();
        let g = f64::from(o.system.body_force[0]);
        let lz = f64::from(o.system.sim_box.len[2]);
        let fit = o.probe.as_ref().and_then(|p| p.profile("vx_z")).and_then(|p| fit_reverse_poiseuille(&p, rho, g, lz));
        let (el, eu, rl, ru, peak) = fit.unwrap_or((f64::NAN, f64::NAN, f64::NAN, f64::NAN, f64::NAN));
        let _ = m.insert("viscosity".into(), json!(0.5 * (el + eu)));
        let _ = m.insert("viscosity_lower".into(), json!(el));
        let _ = m.insert("viscosity_upper".into(), json!(eu));
        let _ = m.insert("profile_r2".into(), json!(rl.min(ru)));
        let _ = m.insert("peak_velocity".into(), json!(peak));
        let _ = m.insert("kinetic_temperature".into(), json!(o.second_half_mean(|s| s.temperature())));
        m
    }
}
