//! `shear-flip`: one platelet tumbling in plane Couette flow, the validation case of the
//! Stony Brook platelet model (Zhang et al. 2014) against Jeffery's orbit.
//!
//! The platelet starts at the gap's centre with its normal in the flow–gradient (x–z) plane,
//! `phi0` from the gradient direction, just before it turns over, so that a short run sees two
//! flips. The fluid starts with the linear profile. Measured: the orbit (Jeffery's solution fitted
//! to the normal's angle: period and the effective aspect ratio `r_e` of the orbit's shape, see
//! [`crate::platelets::jeffery_fit`]), the shear rate of the plasma (a line fitted to the
//! velocity profile one rc or more from the walls, the platelet's layer included), Jeffery's period
//! `2 pi (r_e + 1/r_e) / shear_rate`, the membrane stress, its accumulation and the platelet's
//! activation, and its volume change. Everything is reported in physical units.

use serde_json::{json, Map, Value};

use super::fluid::{float, fluid_builder};
use super::platelet_plasma::{
    adaptive, coupling, coupling_params, plasma_params, platelet_params, platelets_config, units, PLASMA_VISCOSITY,
};
use super::vessel::{wall_params, with_walls};
use super::Builtin;
use crate::dsl::{Backend, Scenario};
use crate::fit::polyfit;
use crate::flow::{FlowProbe, Selection};
use crate::kernels::geometry::Shape;
use crate::kernels::platelet_set::Placement;
use crate::output::{Axis, Profile1d};
use crate::params::{Bound, ParamSpec, ParamValues, ValidationErrors};
use crate::platelets::{flips, jeffery_fit, jeffery_period};
use crate::run::RunOutcome;

/// The `shear-flip` scenario.
pub struct ShearFlip;

/// Profile bin width along z.
const BIN: f64 = 0.5;
/// Steps between platelet samples.
const SAMPLE_EVERY: u64 = 20;

impl Builtin for ShearFlip {
    fn name(&self) -> &'static str {
        "shear-flip"
    }
    fn about(&self) -> &'static str {
        "one platelet flipping in plane Couette flow: orbit period against Jeffery's, membrane stress, activation"
    }
    fn params(&self) -> Vec<ParamSpec> {
        use Bound::{Exclusive as Ex, Inclusive as In};
        let mut p = plasma_params();
        p.extend(platelet_params(400.0));
        p.extend([
            float("shear_rate", 6.5e4, "1/s", Ex(0.0), In(1e8), "shear rate of the Couette flow"),
            float("height", 16.0, "rc", In(8.0), In(1000.0), "gap between the walls"),
            float("length", 16.0, "rc", In(8.0), In(1000.0), "box edge along the flow (x)"),
            float("width", 12.0, "rc", In(8.0), In(1000.0), "box edge along the vorticity (y)"),
            float("phi0", 1.2, "rad", In(-3.2), In(3.2), "initial angle of the disc normal from the gradient axis (z)"),
        ]);
        p.extend(coupling_params());
        p.extend(wall_params(1.0).into_iter().map(|mut k| {
            if k.key == "near_wall_force" {
                k.default = -0.1;
            }
            k
        }));
        p
    }
    fn default_steps(&self) -> u64 {
        50_000
    }
    fn build(&self, v: &ParamValues, seed: u64, steps: u64, backend: Backend) -> Result<Scenario, ValidationErrors> {
        let u = units(v);
        let (h, t) = (v.get("height"), v.get("wall_thickness"));
        let lz = h + 2.0 * t;
        let (lx, ly) = (v.get("length"), v.get("width"));
        let rate = u.rate_to_dpd(v.get("shear_rate"));
        let mut cfg = platelets_config(v, SAMPLE_EVERY);
        cfg.coupling = coupling(v);
        cfg.adaptive = adaptive(v);
        let phi0 = v.get("phi0") as f32;
        cfg.placements = vec![Placement {
            center: [0.5 * lx as f32, 0.5 * ly as f32, 0.5 * lz as f32],
            // The template's normal is z; turn it by phi0 about y (towards +x).
            rotation: glam::Quat::from_rotation_y(phi0),
            velocity: [0.0; 3],
        }];
        let b = fluid_builder(self.name(), v, seed, steps, backend).box_lengths([lx as f32, ly as f32, lz as f32]);
        with_walls(b, Shape::Channel { center: 0.5 * lz, half_height: 0.5 * h }, v)
            .wall_speed((rate * h) as f32, (0.5 * lz) as f32)
            .start_sheared()
            .platelets(cfg)
            .build()
    }
    fn probe(&self, s: &Scenario, steps: u64) -> Option<FlowProbe> {
        let l = s.sim_box.len.map(f64::from);
        let bins = (l[2] / BIN).round().max(4.0) as usize;
        let profile = Profile1d::along(Axis::Z, l, bins, Axis::X).ok()?;
        Some(FlowProbe::new(20, steps / 10).with("vx_z", Selection::Fluid, profile))
    }
    fn observables(&self, s: &Scenario, o: &RunOutcome) -> Map<String, Value> {
        let mut m = Map::new();
        let nan = f64::NAN;
        let Some(cfg) = &s.platelets else { return m };
        let u = cfg.units;
        let l = o.system.sim_box.len.map(f64::from);
        let half = match s.vessel.as_ref().map(|v| &v.shape) {
            Some(Shape::Channel { half_height, .. }) => *half_height,
            _ => nan,
        };
        let probe = o.probe.as_ref();
        let fit = probe.and_then(|p| p.profile("vx_z")).and_then(|p| {
            let pts: Vec<(f64, f64)> =
                p.velocity_points().into_iter().filter(|&(z, _)| (z - 0.5 * l[2]).abs() < half - 1.0).collect();
            polyfit(&pts, 1)
        });
        let shear_dpd = fit.as_ref().map_or(nan, |f| f.coeffs[1]);
        let nominal = s.vessel.as_ref().map_or(nan, |v| f64::from(v.motion.speed) / (2.0 * half));
        let pp = probe.and_then(|p| p.platelets.as_ref());
        let track: Vec<(f64, f64)> =
            pp.and_then(|p| p.tracks.first()).map(|t| t.iter().map(|x| (x.time, x.phi)).collect()).unwrap_or_default();
        let phis: Vec<f64> = track.iter().map(|x| x.1).collect();
        let jf = jeffery_fit(&track);
        let r_e = jf.map_or(nan, |f| f.aspect_ratio);
        let period = jf.map_or(nan, |f| f.period);
        let jeffery = jeffery_period(r_e, shear_dpd);
        let act = pp.and_then(|p| p.activation.first().copied()).unwrap_or_default();
        let ins = |m: &mut Map<String, Value>, k: &str, v: Value| {
            let _ = m.insert(k.into(), v);
        };
        ins(&mut m, "shear_rate", json!(u.rate_to_si(shear_dpd)));
        ins(&mut m, "shear_rate_nominal", json!(u.rate_to_si(nominal)));
        ins(&mut m, "shear_rate_dpd", json!(shear_dpd));
        ins(&mut m, "diameter", json!(u.length_to_um(f64::from(cfg.spec.diameter))));
        ins(&mut m, "aspect_ratio", json!(cfg.spec.aspect_ratio));
        ins(&mut m, "resolution", json!(pp.map_or(0, |p| p.particles_per_platelet())));
        ins(&mut m, "stiffness", json!(cfg.stiffness_key(s.kt)));
        ins(&mut m, "mts", json!(cfg.params.mts.to_string()));
        ins(&mut m, "flips", json!(flips(&phis)));
        ins(&mut m, "flip_period", json!(u.time_to_s(period)));
        ins(&mut m, "jeffery_period", json!(u.time_to_s(jeffery)));
        ins(&mut m, "flip_period_over_jeffery", json!(period / jeffery));
        ins(&mut m, "effective_aspect_ratio", json!(r_e));
        ins(&mut m, "orbit_fit_rms_rad", json!(jf.map_or(nan, |f| f.rms)));
        ins(&mut m, "max_membrane_stress", json!(pp.map_or(nan, |p| p.max_stress())));
        ins(&mut m, "stress_accumulation", json!(act.stress_accumulation));
        ins(&mut m, "activation", json!(pp.map_or(nan, |p| act.level(&p.model))));
        ins(&mut m, "volume_change", json!(pp.map_or(nan, |p| p.volume_change())));
        ins(&mut m, "simulated_time", json!(u.time_to_s(o.steps as f64 * f64::from(o.system.dt))));
        ins(&mut m, "fluid_shear_stress", json!(u.stress_to_dyn_cm2(PLASMA_VISCOSITY * shear_dpd)));
        ins(
            &mut m,
            "units",
            json!({
                "rc_um": u.length_um(),
                "time_unit_s": u.time,
                "stress_unit_dyn_cm2": u.stress_to_dyn_cm2(1.0),
                "effective_temperature_K": u.effective_temperature(f64::from(o.system.kt)),
                "dpd_viscosity": PLASMA_VISCOSITY,
            }),
        );
        ins(&mut m, "max_traction_stress", json!(pp.map_or(nan, |p| p.max_traction_stress())));
        ins(&mut m, "platelet_seconds", json!(o.platelet_seconds));
        ins(&mut m, "platelet_cost_fraction", json!(o.platelet_seconds / o.wall_seconds.max(1e-12)));
        ins(&mut m, "leaked_particles", json!(o.wall_counts.leaked));
        crate::coupled::coupling_observables(&mut m, o, u);
        m
    }
}
