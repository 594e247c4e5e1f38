//! `aggregation`: activated platelets next to an adhesive wall patch in plane Couette flow, the
//! recruitment setting of Gupta et al. 2019 (αIIbβ3–fibrinogen bonds; `physics.md` 1.6).
//!
//! Two platelets lie flat a little above the lower wall, which carries an adhesive patch (a
//! fibrinogen-coated strip) over its first `patch_length` rc along the flow; a third platelet lies
//! on top of them, higher in the flow. The first `activated` platelets are activated from the
//! start (by an agonist; stress adds more during a run). The lower platelets meet the patch and
//! adhere; the upper one, carried faster, slides over them and can be recruited by bonds to them.
//!
//! Reported: `adhered_platelets` (platelets holding a wall bond at the end), `bonds_formed`,
//! `bonds_broken`, the platelet–platelet and platelet–wall bonds held at the end, each platelet's
//! displacement along the flow (µm), and the rupture force and shear rate in physical units.

use serde_json::{json, Map, Value};

use super::fluid::{float, fluid_builder};
use super::platelet_plasma::{
    adhesion, adhesion_params, integer, plasma_params, platelet_params, platelets_config, units, PLATELET_DIAMETER_RC,
};
use super::vessel::{wall_params, with_walls};
use super::Builtin;
use crate::dsl::{Backend, Scenario};
use crate::kernels::adhesion::Patch;
use crate::kernels::geometry::Shape;
use crate::kernels::platelet_set::Placement;
use crate::params::{Bound, ParamSpec, ParamValues, ValidationErrors};
use crate::run::RunOutcome;

/// The `aggregation` scenario.
pub struct Aggregation;

/// Steps between platelet samples.
const SAMPLE_EVERY: u64 = 50;
/// Gap between the lower platelets' surfaces and the wall at the start (rc): plasma stays in it
/// (the carve margin is 0.3 rc), as it would in a platelet settling onto the wall.
const GAP: f64 = 0.6;
/// Gap between the upper platelet and the lower ones (rc): in contact, no plasma between (both
/// surfaces' carve margins cover it). Resting on them it can be recruited; with a plasma film
/// between, the soft membrane–plasma repulsion keeps the surfaces 0.9 rc or more apart, beyond
/// the capture distance, and the faster flow above carries it away.
const CONTACT: f64 = 0.4;

impl Builtin for Aggregation {
    fn name(&self) -> &'static str {
        "aggregation"
    }
    fn about(&self) -> &'static str {
        "activated platelets at an adhesive wall patch in shear: adhesion and recruitment bonds formed and broken"
    }
    fn params(&self) -> Vec<ParamSpec> {
        use Bound::Inclusive as In;
        let mut p = plasma_params();
        p.extend(platelet_params(400.0));
        p.extend(adhesion_params());
        p.extend([
            float("shear_rate", 2e4, "1/s", In(0.0), In(1e8), "shear rate of the Couette flow"),
            float("height", 12.0, "rc", In(8.0), In(1000.0), "gap between the walls"),
            float("length", 24.0, "rc", In(16.0), In(1000.0), "box edge along the flow (x)"),
            float("width", 10.0, "rc", In(8.0), In(1000.0), "box edge along the vorticity (y)"),
            float(
                "patch_length",
                16.0,
                "rc",
                In(0.0),
                In(1000.0),
                "adhesive strip on the lower wall: x in [0, patch_length]",
            ),
            integer("activated", 3.0, "1", 0.0, 3.0, "platelets activated from the start (agonist), lower ones first"),
        ]);
        p.extend(wall_params(1.0).into_iter().map(|mut k| {
            if k.key == "near_wall_force" {
                k.default = -0.1;
            }
            k
        }));
        p
    }
    fn default_steps(&self) -> u64 {
        6_000
    }
    fn build(&self, v: &ParamValues, seed: u64, steps: u64, backend: Backend) -> Result<Scenario, ValidationErrors> {
        let u = units(v);
        let (h, t) = (v.get("height"), v.get("wall_thickness"));
        let lz = h + 2.0 * t;
        let (lx, ly) = (v.get("length"), v.get("width"));
        let rate = u.rate_to_dpd(v.get("shear_rate"));
        let mut e = ValidationErrors::default();
        if v.get("patch_length") > lx {
            e.push("patch_length", v.get("patch_length"), format!("must be <= length = {lx}"));
        }
        e.into_result(())?;
        let half = 0.5 * PLATELET_DIAMETER_RC * v.get("aspect_ratio");
        let z_low = t + GAP + half;
        let z_high = z_low + 2.0 * half + CONTACT;
        let d = PLATELET_DIAMETER_RC;
        let speed = rate * h;
        // Start with the fluid's velocity at the centre (the lower wall moves at -speed/2).
        let at = |x: f64, z: f64| Placement {
            center: [x as f32, (0.5 * ly) as f32, z as f32],
            rotation: glam::Quat::IDENTITY,
            velocity: [(rate * (z - 0.5 * lz)) as f32, 0.0, 0.0],
        };
        let x1 = 0.5 * d + 2.0;
        let mut cfg = platelets_config(v, SAMPLE_EVERY);
        cfg.placements = vec![at(x1, z_low), at(x1 + d + 1.0, z_low), at(x1 + 0.5 * (d + 1.0), z_high)];
        let patch = Patch { min: [0.0, 0.0, 0.0], max: [v.get("patch_length") as f32, ly as f32, (t + 2.0) as f32] };
        cfg.adhesion = adhesion(v, vec![patch]);
        cfg.agonist_activated = (0..v.get("activated") as usize).collect();
        let b = fluid_builder(self.name(), v, seed, steps, backend).box_lengths([lx as f32, ly as f32, lz as f32]);
        with_walls(b, Shape::Channel { center: 0.5 * lz, half_height: 0.5 * h }, v)
            .wall_speed(speed as f32, (0.5 * lz) as f32)
            .start_sheared()
            .platelets(cfg)
            .build()
    }
    fn observables(&self, s: &Scenario, o: &RunOutcome) -> Map<String, Value> {
        let mut m = Map::new();
        let Some(cfg) = &s.platelets else { return m };
        let u = cfg.units;
        let pp = o.probe.as_ref().and_then(|p| p.platelets.as_ref());
        let a = o.adhesion.unwrap_or_default();
        let shift: Vec<f64> = pp.map_or(Vec::new(), |p| {
            p.tracks
                .iter()
                .map(|t| match (t.first(), t.last()) {
                    (Some(f), Some(l)) => u.length_to_um(l.sample.center[0] - f.sample.center[0]),
                    _ => f64::NAN,
                })
                .collect()
        });
        let speed = s.vessel.as_ref().map_or(f64::NAN, |v| f64::from(v.motion.speed));
        let height = match s.vessel.as_ref().map(|v| &v.shape) {
            Some(Shape::Channel { half_height, .. }) => 2.0 * half_height,
            _ => f64::NAN,
        };
        let rupture = cfg.adhesion.as_ref().map_or(f64::NAN, |a| u.force_to_pn(f64::from(a.params.rupture)));
        let ins = |m: &mut Map<String, Value>, k: &str, v: Value| {
            let _ = m.insert(k.into(), v);
        };
        ins(&mut m, "platelets", json!(pp.map_or(0, |p| p.count())));
        ins(&mut m, "activated", json!(cfg.agonist_activated.len()));
        ins(&mut m, "adhered_platelets", json!(a.adhered_platelets));
        ins(&mut m, "bonds_formed", json!(a.formed));
        ins(&mut m, "bonds_broken", json!(a.broken));
        ins(&mut m, "wall_bonds", json!(a.wall_bonds));
        ins(&mut m, "platelet_bonds", json!(a.platelet_bonds));
        ins(&mut m, "displacement_um", json!(shift));
        // An adhered platelet travels with the lower wall.
        let t_run = o.steps as f64 * f64::from(o.system.dt);
        ins(&mut m, "lower_wall_displacement_um", json!(u.length_to_um(-0.5 * speed * t_run)));
        ins(&mut m, "shear_rate_nominal", json!(u.rate_to_si(speed / height)));
        ins(&mut m, "bond_rupture_force_pn", json!(rupture));
        ins(&mut m, "simulated_time", json!(u.time_to_s(o.steps as f64 * f64::from(o.system.dt))));
        ins(&mut m, "volume_change", json!(pp.map_or(f64::NAN, |p| p.volume_change())));
        ins(&mut m, "leaked_particles", json!(o.wall_counts.leaked));
        m
    }
}
