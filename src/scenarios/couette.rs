//! `couette`: plane Couette shear between two walls of frozen particles moving at `±U/2` along x
//! (normal z), the clean shear flow platelets tumble in. The shear rate is the slope of a line
//! fitted to the velocity profile away from the walls (one rc kept clear), the shear stress the
//! mean x-force per area the fluid exerts on the two walls (pair forces on the frozen particles
//! plus the momentum handed over by reflections), and the viscosity their ratio. Measured with the
//! defaults over 40,000 steps: shear rate 0.197, wall drags 0.1696 and 0.1711 (balanced within
//! 1 %), viscosity 0.866 against LAMMPS's reverse-Poiseuille 0.855 (tests/walls_physics.rs).

use serde_json::{json, Map, Value};

use super::fluid::{float, fluid_builder, fluid_params};
use super::vessel::{wall_params, with_walls};
use super::Builtin;
use crate::dsl::{Backend, Scenario};
use crate::fit::polyfit;
use crate::flow::{FlowProbe, Selection, WallShear};
use crate::kernels::geometry::Shape;
use crate::output::{Axis, Profile1d};
use crate::params::{Bound, ParamSpec, ParamValues, ValidationErrors};
use crate::run::RunOutcome;

/// The `couette` scenario.
pub struct Couette;

/// Fluid–wall friction of the Couette walls: 1, the fluid's own. Moving frozen walls hold the fluid
/// with little slip already (bulk shear rate 0.198 for the nominal 0.2, 20,000 steps), and the
/// wall-force estimate of the shear stress is noisiest with strong wall friction (its random forces
/// grow as its square root).
const COUETTE_WALL_FRICTION: f64 = 1.0;

/// Profile bin width along z.
const BIN: f64 = 0.25;

impl Builtin for Couette {
    fn name(&self) -> &'static str {
        "couette"
    }
    fn about(&self) -> &'static str {
        "plane Couette shear between moving frozen-particle walls: shear rate, wall shear stress, viscosity"
    }
    fn params(&self) -> Vec<ParamSpec> {
        use Bound::{Exclusive as Ex, Inclusive as In};
        let mut p = fluid_params();
        p.extend([
            float(
                "wall_speed",
                2.0,
                "rc/tau",
                In(-100.0),
                In(100.0),
                "speed of the top wall relative to the bottom one",
            ),
            float("height", 10.0, "rc", Ex(0.0), In(1000.0), "distance between the walls"),
            float("width", 10.0, "rc", In(2.0), In(1000.0), "box edge along x and y"),
        ]);
        p.extend(wall_params(COUETTE_WALL_FRICTION));
        p
    }
    fn default_steps(&self) -> u64 {
        30_000
    }
    fn build(&self, v: &ParamValues, seed: u64, steps: u64, backend: Backend) -> Result<Scenario, ValidationErrors> {
        let (h, w, t) = (v.get("height"), v.get("width"), v.get("wall_thickness"));
        let lz = h + 2.0 * t;
        let b = fluid_builder(self.name(), v, seed, steps, backend).box_lengths([w as f32, w as f32, lz as f32]);
        with_walls(b, Shape::Channel { center: 0.5 * lz, half_height: 0.5 * h }, v)
            .wall_speed(v.get("wall_speed") as f32, (0.5 * lz) as f32)
            .build()
    }
    fn probe(&self, s: &Scenario, steps: u64) -> Option<FlowProbe> {
        let l = s.sim_box.len.map(f64::from);
        let bins = (l[2] / BIN).round().max(4.0) as usize;
        let profile = Profile1d::along(Axis::Z, l, bins, Axis::X).ok()?;
        // Momentum crosses the gap in rho H^2 / (pi^2 eta), 36 time units for the defaults. The wall
        // forces carry the pair noise, uncorrelated from step to step: sampling every 5 steps
        // averages it down (every 20 left the stress uncertain by about 10 % after 40,000 steps).
        Some(
            FlowProbe::new(5, steps / 3)
                .with("vx_z", Selection::Fluid, profile)
                .with_wall_shear(WallShear::new(0.5 * l[2], l[0] * l[1])),
        )
    }
    fn observables(&self, s: &Scenario, o: &RunOutcome) -> Map<String, Value> {
        let mut m = Map::new();
        let nan = f64::NAN;
        let l = o.system.sim_box.len.map(f64::from);
        let rc = f64::from(o.system.pairs.max_rc());
        let gap_half = match s.vessel.as_ref().map(|v| &v.shape) {
            Some(Shape::Channel { half_height, .. }) => *half_height,
            _ => nan,
        };
        let probe = o.probe.as_ref();
        let fit = probe.and_then(|p| p.profile("vx_z")).and_then(|p| {
            let pts: Vec<(f64, f64)> =
                p.velocity_points().into_iter().filter(|&(z, _)| (z - 0.5 * l[2]).abs() < gap_half - rc).collect();
            polyfit(&pts, 1)
        });
        let shear_rate = fit.as_ref().map_or(nan, |f| f.coeffs[1]);
        let shear = probe.and_then(|p| p.wall_shear.as_ref());
        let stress = shear.map_or(nan, |w| w.shear_stress());
        let _ = m.insert("wall_stress_top".into(), json!(shear.map_or(nan, |w| w.top_stress())));
        let _ = m.insert("wall_stress_bottom".into(), json!(shear.map_or(nan, |w| w.bottom_stress())));
        let _ = m.insert("shear_rate".into(), json!(shear_rate));
        let _ = m.insert("shear_stress".into(), json!(stress));
        let _ = m.insert("viscosity".into(), json!(stress / shear_rate));
        let _ = m.insert("profile_r2".into(), json!(fit.map_or(nan, |f| f.r2)));
        let _ = m.insert("leaked_particles".into(), json!(o.wall_counts.leaked));
        m
    }
}
