//! `stenosis-platelets`: platelets carried by plasma through a stenosed tube (the `stenosis`
//! geometry with the platelet plasma), the setting of the Stony Brook device-thrombogenicity work
//! (Soares et al. 2013; Gao et al. 2017). Each platelet's membrane stress, stress accumulation and
//! activation are followed along its trajectory; activated platelets (by stress, or by an agonist
//! from the start: `preactivated`) adhere to each other ([`crate::kernels::adhesion`]).
//!
//! The platelets start evenly spaced along the axis, offset from it by `offset` in turning
//! directions and tilted differently, so they sample different streamlines and shear. The tube is
//! periodic: a platelet leaving downstream comes back upstream and passes the throat again.
//!
//! Reported: the number of platelets, how many throat passages they made, the fraction activated
//! by stress, the mean and largest stress accumulation (dyn s/cm^2) and membrane stress
//! (dyn/cm^2, with the noise floor of one stress window), the largest volume change, adhesion
//! bonds formed and broken, and the peak plasma velocity.

use serde_json::{json, Map, Value};

use super::fluid::{float, fluid_builder};
use super::platelet_plasma::{
    adhesion, adhesion_params, integer, plasma_params, platelet_params, platelets_config, PLATELET_DIAMETER_RC,
};
use super::vessel::{round_box, wall_params, with_walls};
use super::Builtin;
use crate::dsl::{Backend, Scenario};
use crate::flow::{FlowProbe, Selection};
use crate::kernels::geometry::Shape;
use crate::kernels::platelet_set::Placement;
use crate::output::{Axis, Profile1d};
use crate::params::{Bound, ParamSpec, ParamValues, ValidationErrors};
use crate::run::RunOutcome;

/// The `stenosis-platelets` scenario.
pub struct StenosisPlatelets;

/// Steps between platelet samples.
const SAMPLE_EVERY: u64 = 50;

impl Builtin for StenosisPlatelets {
    fn name(&self) -> &'static str {
        "stenosis-platelets"
    }
    fn about(&self) -> &'static str {
        "platelets carried through a stenosed tube: stress accumulation, activation, adhesion bonds"
    }
    fn params(&self) -> Vec<ParamSpec> {
        use Bound::{Exclusive as Ex, Inclusive as In};
        let mut p = plasma_params();
        p.extend(platelet_params(400.0));
        p.extend(adhesion_params());
        p.extend([
            float("body_force", 0.08, "kT/rc", In(0.0), In(10.0), "driving force per plasma particle along x"),
            float("radius", 7.0, "rc", Ex(0.0), In(500.0), "open tube radius"),
            float("length", 32.0, "rc", In(8.0), In(5000.0), "periodic length along x"),
            float("stenosis", 0.5, "1", In(0.0), Ex(1.0), "fraction of the lumen area removed at the throat"),
            float("stenosis_length", 8.0, "rc", Ex(0.0), In(5000.0), "axial length of the constriction (<= length)"),
            integer("platelets", 4.0, "1", 1.0, 10_000.0, "platelets placed along the tube"),
            float("offset", 1.5, "rc", In(0.0), In(500.0), "distance of the platelets' centres from the axis"),
            integer("preactivated", 0.0, "1", 0.0, 10_000.0, "platelets activated from the start (agonist)"),
        ]);
        // The platelet plasma's wall keys (as `shear-flip`): its gamma of 20 times the standard
        // fluid's wall friction of 16 would over-damp the first layer (gamma dt / m = 3.2).
        p.extend(wall_params(1.0).into_iter().map(|mut k| {
            if k.key == "near_wall_force" {
                k.default = -0.1;
            }
            k
        }));
        p
    }
    fn default_steps(&self) -> u64 {
        8_000
    }
    fn build(&self, v: &ParamValues, seed: u64, steps: u64, backend: Backend) -> Result<Scenario, ValidationErrors> {
        let (r, l) = (v.get("radius"), v.get("length"));
        let sl = v.get("stenosis_length");
        let count = v.get("platelets") as usize;
        let pre = v.get("preactivated") as usize;
        let mut e = ValidationErrors::default();
        if sl > l {
            e.push("stenosis_length", sl, format!("must be <= length = {l}"));
        }
        if pre > count {
            e.push("preactivated", pre, format!("must be <= platelets = {count}"));
        }
        let spacing = l / count as f64;
        if spacing < PLATELET_DIAMETER_RC + 1.0 {
            e.push(
                "platelets",
                count,
                format!(
                    "at most {} fit along length = {l} (one per {} rc)",
                    (l / (PLATELET_DIAMETER_RC + 1.0)).floor(),
                    PLATELET_DIAMETER_RC + 1.0
                ),
            );
        }
        e.into_result(())?;
        let (len, center) = round_box(r, l, v.get("wall_thickness"));
        let shape = Shape::Stenosis { center, radius: r, x0: 0.5 * l, length: sl, area_reduction: v.get("stenosis") };
        let mut cfg = platelets_config(v, SAMPLE_EVERY);
        let off = v.get("offset");
        cfg.placements = (0..count)
            .map(|k| {
                let turn = std::f64::consts::FRAC_PI_2 * k as f64;
                Placement {
                    center: [
                        ((k as f64 + 0.5) * spacing) as f32,
                        (center[0] + off * turn.cos()) as f32,
                        (center[1] + off * turn.sin()) as f32,
                    ],
                    // Tilts that differ from platelet to platelet (the golden angle spreads them).
                    rotation: glam::Quat::from_rotation_x((2.4 * k as f64) as f32)
                        * glam::Quat::from_rotation_y((0.5 + 1.1 * k as f64) as f32),
                    velocity: [0.0; 3],
                }
            })
            .collect();
        cfg.adhesion = adhesion(v, Vec::new());
        cfg.agonist_activated = (0..pre).collect();
        let b = fluid_builder(self.name(), v, seed, steps, backend).box_lengths(len).body_force([
            v.get("body_force") as f32,
            0.0,
            0.0,
        ]);
        with_walls(b, shape, v).platelets(cfg).build()
    }
    fn probe(&self, s: &Scenario, steps: u64) -> Option<FlowProbe> {
        let Shape::Stenosis { center, .. } = s.vessel.as_ref()?.shape else { return None };
        let l = s.sim_box.len.map(f64::from);
        let core = Profile1d::along(Axis::X, l, (l[0] / 2.0).round().max(2.0) as usize, Axis::X).ok()?;
        Some(FlowProbe::new(20, steps / 4).with("core_x", Selection::NearAxis { center, radius: 1.0 }, core))
    }
    fn observables(&self, s: &Scenario, o: &RunOutcome) -> Map<String, Value> {
        let mut m = Map::new();
        let nan = f64::NAN;
        let Some(cfg) = &s.platelets else { return m };
        let u = cfg.units;
        let probe = o.probe.as_ref();
        let pp = probe.and_then(|p| p.platelets.as_ref());
        let l = f64::from(s.sim_box.len[0]);
        let x0 = 0.5 * l;
        // Throat passages: crossings of x0 (mod length) by each platelet's unwrapped centre.
        let passages: u64 = pp.map_or(0, |p| {
            p.tracks
                .iter()
                .map(|t| {
                    let lap = |x: f64| ((x - x0) / l).floor();
                    t.windows(2)
                        .map(|w| (lap(w[1].sample.center[0]) - lap(w[0].sample.center[0])).abs() as u64)
                        .sum::<u64>()
                })
                .sum()
        });
        let sa = pp.map(|p| p.stress_accumulations()).unwrap_or_default();
        let mean_sa = if sa.is_empty() { nan } else { sa.iter().sum::<f64>() / sa.len() as f64 };
        let max_sa = sa.iter().copied().fold(nan, f64::max);
        let vmax = probe
            .and_then(|p| p.profile("core_x"))
            .map_or(nan, |c| c.velocity.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        let a = o.adhesion.unwrap_or_default();
        let ins = |m: &mut Map<String, Value>, k: &str, v: Value| {
            let _ = m.insert(k.into(), v);
        };
        ins(&mut m, "platelets", json!(pp.map_or(0, |p| p.count())));
        ins(&mut m, "resolution", json!(pp.map_or(0, |p| p.particles_per_platelet())));
        ins(&mut m, "throat_passages", json!(passages));
        ins(&mut m, "activated_fraction", json!(pp.map_or(nan, |p| p.activated_fraction())));
        ins(&mut m, "preactivated", json!(cfg.agonist_activated.len()));
        ins(&mut m, "mean_stress_accumulation", json!(mean_sa));
        ins(&mut m, "max_stress_accumulation", json!(max_sa));
        ins(&mut m, "max_membrane_stress", json!(pp.map_or(nan, |p| p.max_stress())));
        ins(&mut m, "stress_noise_floor", json!(pp.map_or(nan, |p| u.stress_to_dyn_cm2(p.rest.noise))));
        ins(&mut m, "volume_change", json!(pp.map_or(nan, |p| p.volume_change())));
        ins(&mut m, "bonds_formed", json!(a.formed));
        ins(&mut m, "bonds_broken", json!(a.broken));
        ins(&mut m, "platelet_bonds", json!(a.platelet_bonds));
        ins(&mut m, "max_centerline_velocity", json!(u.velocity_to_um_s(vmax) * 1e-3));
        ins(&mut m, "max_centerline_velocity_unit", json!("mm/s"));
        ins(&mut m, "simulated_time", json!(u.time_to_s(o.steps as f64 * f64::from(o.system.dt))));
        ins(&mut m, "max_traction_stress", json!(pp.map_or(nan, |p| p.max_traction_stress())));
        ins(&mut m, "platelet_seconds", json!(o.platelet_seconds));
        ins(&mut m, "platelet_cost_fraction", json!(o.platelet_seconds / o.wall_seconds.max(1e-12)));
        ins(&mut m, "leaked_particles", json!(o.wall_counts.leaked));
        m
    }
}
