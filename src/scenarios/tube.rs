//! `tube`: pressure-driven flow (a body force along x) in a round tube with frozen-particle walls
//! and bounce-back. The analytic profile is Poiseuille's parabola
//! `v(r) = rho g (R^2 - r^2) / (4 eta)`; the scenario fits `c0 + c2 r^2` to the measured radial
//! profile and reports the centreline velocity, the flow rate, the slip at the wall, the fit's R^2,
//! the near-wall density excursion and the particles that leaked through the wall.

use serde_json::{json, Map, Value};

use super::fluid::{float, fluid_builder, fluid_params};
use super::vessel::{round_box, wall_params, with_walls, DEFAULT_WALL_FRICTION};
use super::Builtin;
use crate::dsl::{Backend, Scenario};
use crate::fit::fit_powers;
use crate::flow::{FlowProbe, Selection};
use crate::kernels::geometry::Shape;
use crate::output::{Axis, Profile1d, ProfileData};
use crate::params::{Bound, ParamSpec, ParamValues, ValidationErrors};
use crate::run::RunOutcome;

/// The `tube` scenario.
pub struct Tube;

/// Radial bin width.
const BIN: f64 = 0.2;

/// What a radial profile of tube flow says, for a tube of `radius` and cut-off `rc`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TubeFlow {
    /// Fitted velocity on the axis.
    pub centerline_velocity: f64,
    /// Quadratic coefficient c2 of `v = c0 + c2 r^2`.
    pub curvature: f64,
    /// Volumetric flow rate `2 pi sum v(r) r dr`.
    pub flow_rate: f64,
    /// Fitted velocity at the wall over the centreline velocity.
    pub slip_velocity: f64,
    /// R^2 of the parabola fit.
    pub profile_r2: f64,
    /// Largest |rho(r) / rho_bulk - 1| within rc of the wall (rho_bulk: mean density further in).
    pub near_wall_density_ratio: f64,
}

/// Analyses a radial profile of a tube of `radius` (bins up to the wall) with cut-off `rc`.
pub fn analyse_tube(p: &ProfileData, radius: f64, rc: f64) -> Option<TubeFlow> {
    let pts = p.velocity_points();
    let (c, r2) = fit_powers(&pts, &[0, 2])?;
    let half = 0.5 * (p.centers[1] - p.centers[0]);
    let flow_rate: f64 = (0..p.centers.len())
        .map(|i| {
            let (a, b) = (p.centers[i] - half, p.centers[i] + half);
            p.velocity[i] * std::f64::consts::PI * (b * b - a * a)
        })
        .sum();
    let (mut bulk_n, mut bulk_v) = (0.0, 0.0);
    for i in 0..p.centers.len() {
        if p.centers[i] < radius - rc {
            bulk_n += p.count[i];
            bulk_v += p.count[i] / p.density[i].max(1e-300);
        }
    }
    let rho_bulk = bulk_n / bulk_v;
    let near = (0..p.centers.len())
        .filter(|&i| p.centers[i] >= radius - rc)
        .map(|i| (p.density[i] / rho_bulk - 1.0).abs())
        .fold(0.0, f64::max);
    Some(TubeFlow {
        centerline_velocity: c[0],
        curvature: c[1],
        flow_rate,
        slip_velocity: (c[0] + c[1] * radius * radius) / c[0],
        profile_r2: r2,
        near_wall_density_ratio: near,
    })
}

impl Builtin for Tube {
    fn name(&self) -> &'static str {
        "tube"
    }
    fn about(&self) -> &'static str {
        "flow in a round tube with frozen-particle walls: profile, flow rate, slip, near-wall density, leaks"
    }
    fn params(&self) -> Vec<ParamSpec> {
        use Bound::{Exclusive as Ex, Inclusive as In};
        let mut p = fluid_params();
        p.extend([
            float("body_force", 0.05, "kT/rc", In(0.0), In(10.0), "force per particle along x (a pressure gradient)"),
            float("radius", 4.0, "rc", Ex(0.0), In(500.0), "tube radius"),
            float("length", 10.0, "rc", In(2.0), In(5000.0), "periodic length along x"),
        ]);
        p.extend(wall_params(DEFAULT_WALL_FRICTION));
        p
    }
    fn default_steps(&self) -> u64 {
        20_000
    }
    fn build(&self, v: &ParamValues, seed: u64, steps: u64, backend: Backend) -> Result<Scenario, ValidationErrors> {
        let (len, center) = round_box(v.get("radius"), v.get("length"), v.get("wall_thickness"));
        let b = fluid_builder(self.name(), v, seed, steps, backend).box_lengths(len).body_force([
            v.get("body_force") as f32,
            0.0,
            0.0,
        ]);
        with_walls(b, Shape::Tube { center, radius: v.get("radius") }, v).build()
    }
    fn probe(&self, s: &Scenario, steps: u64) -> Option<FlowProbe> {
        let Shape::Tube { center, radius } = s.vessel.as_ref()?.shape else { return None };
        let l = s.sim_box.len.map(f64::from);
        let bins = (radius / BIN).round().max(2.0) as usize;
        let profile = Profile1d::radial(Axis::X, [0.0, center[0], center[1]], radius, l, bins, Axis::X).ok()?;
        // The slowest mode decays in rho R^2 / (5.78 eta), 10 time units for the defaults: a
        // quarter of the run is ample.
        Some(FlowProbe::new(20, steps / 4).with("vx_r", Selection::Fluid, profile))
    }
    fn observables(&self, s: &Scenario, o: &RunOutcome) -> Map<String, Value> {
        let mut m = Map::new();
        let radius = match s.vessel.as_ref().map(|v| &v.shape) {
            Some(Shape::Tube { radius, .. }) => *radius,
            _ => f64::NAN,
        };
        let rc = f64::from(o.system.pairs.max_rc());
        let t = o.probe.as_ref().and_then(|p| p.profile("vx_r")).and_then(|p| analyse_tube(&p, radius, rc));
        let nan = f64::NAN;
        let rho =
            o.fluid_particles as f64 / (std::f64::consts::PI * radius * radius * f64::from(o.system.sim_box.len[0]));
        let g = f64::from(o.system.body_force[0]);
        let _ = m.insert("centerline_velocity".into(), json!(t.map_or(nan, |t| t.centerline_velocity)));
        let _ = m.insert("flow_rate".into(), json!(t.map_or(nan, |t| t.flow_rate)));
        let _ = m.insert("slip_velocity".into(), json!(t.map_or(nan, |t| t.slip_velocity)));
        let _ = m.insert("profile_r2".into(), json!(t.map_or(nan, |t| t.profile_r2)));
        let _ = m.insert("near_wall_density_ratio".into(), json!(t.map_or(nan, |t| t.near_wall_density_ratio)));
        // v = c0 + c2 r^2 with c2 = -rho g / (4 eta).
        let _ = m.insert("viscosity_from_fit".into(), json!(t.map_or(nan, |t| rho * g / (4.0 * t.curvature.abs()))));
        let _ = m.insert("leaked_particles".into(), json!(o.wall_counts.leaked));
        let _ = m.insert("bounced_particles".into(), json!(o.wall_counts.bounced));
        m
    }
}
