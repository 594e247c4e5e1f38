//! `stenosis`: body-force-driven flow through a round tube with an axisymmetric constriction
//! (`stenosis` = fraction of the lumen area removed at the throat; Gao et al. 2017 simulate 67 %).
//! Soft DPD is compressible: the fluid piles up before the throat and thins after it. The scenario
//! reports the largest centreline velocity, the density excursion along the axis, how well the
//! flow rate is conserved from slab to slab, and leaks; DPD-Morse (`morse_d0 > 0`) is the remedy
//! whose effect it measures.

use serde_json::{json, Map, Value};

use super::fluid::{float, fluid_builder, fluid_params};
use super::vessel::{round_box, wall_params, with_walls, DEFAULT_WALL_FRICTION};
use super::Builtin;
use crate::dsl::{Backend, Scenario};
use crate::flow::{FlowProbe, Selection};
use crate::kernels::geometry::Shape;
use crate::output::{Axis, Profile1d, ProfileData};
use crate::params::{Bound, ParamSpec, ParamValues, ValidationErrors};
use crate::run::RunOutcome;

/// The `stenosis` scenario.
pub struct Stenosis;

/// Slab width along the axis for the core profile.
const SLAB: f64 = 1.0;
/// Slab width for the flow rate: two rc, so each slab averages enough particles that the
/// slab-to-slab scatter of a 30,000-step run is well below 1 % (one-rc slabs: about 1 to 4 %).
const FLUX_SLAB: f64 = 2.0;
/// Radius of the centreline region whose density and velocity are profiled.
const CORE: f64 = 1.0;

/// Axial flow analysis: `(flow rate mean, (max - min) / mean, max centreline velocity, largest
/// |rho_core(x) / mean - 1|)` from the all-fluid axial profile `flux` and the core profile `core`.
pub fn analyse_stenosis(flux: &ProfileData, core: &ProfileData, slab: f64) -> (f64, f64, f64, f64) {
    // Mass flux through a plane = (sum over the slab of v_x) / slab width.
    let q: Vec<f64> = (0..flux.centers.len()).map(|i| flux.count[i] * flux.velocity[i] / slab).collect();
    let mean = q.iter().sum::<f64>() / q.len() as f64;
    let (lo, hi) = q.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
    let vmax = core.velocity.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let rho_mean = core.density.iter().sum::<f64>() / core.density.len() as f64;
    let dev = core.density.iter().map(|r| (r / rho_mean - 1.0).abs()).fold(0.0, f64::max);
    (mean, (hi - lo) / mean, vmax, dev)
}

impl Builtin for Stenosis {
    fn name(&self) -> &'static str {
        "stenosis"
    }
    fn about(&self) -> &'static str {
        "flow through a stenosed tube (smooth axisymmetric constriction): peak velocity, density excursion, flux, leaks"
    }
    fn params(&self) -> Vec<ParamSpec> {
        use Bound::{Exclusive as Ex, Inclusive as In};
        let mut p = fluid_params();
        p.extend([
            float("body_force", 0.1, "kT/rc", In(0.0), In(10.0), "force per particle along x"),
            float("radius", 4.0, "rc", Ex(0.0), In(500.0), "open tube radius"),
            float("length", 16.0, "rc", In(2.0), In(5000.0), "periodic length along x"),
            float(
                "stenosis",
                0.67,
                "1",
                In(0.0),
                Ex(1.0),
                "fraction of the lumen area removed at the throat (the outlet radius R sqrt(1 - stenosis) must be >= rc)",
            ),
            float("stenosis_length", 6.0, "rc", Ex(0.0), In(5000.0), "axial length of the constriction (<= length)"),
        ]);
        p.extend(wall_params(DEFAULT_WALL_FRICTION));
        p
    }
    fn default_steps(&self) -> u64 {
        30_000
    }
    fn build(&self, v: &ParamValues, seed: u64, steps: u64, backend: Backend) -> Result<Scenario, ValidationErrors> {
        let (r, l) = (v.get("radius"), v.get("length"));
        let sl = v.get("stenosis_length");
        if sl > l {
            let mut e = ValidationErrors::default();
            e.push("stenosis_length", sl, format!("must be <= length = {l}"));
            return Err(e);
        }
        let (len, center) = round_box(r, l, v.get("wall_thickness"));
        let shape = Shape::Stenosis { center, radius: r, x0: 0.5 * l, length: sl, area_reduction: v.get("stenosis") };
        let b = fluid_builder(self.name(), v, seed, steps, backend).box_lengths(len).body_force([
            v.get("body_force") as f32,
            0.0,
            0.0,
        ]);
        with_walls(b, shape, v).build()
    }
    fn probe(&self, s: &Scenario, steps: u64) -> Option<FlowProbe> {
        let Shape::Stenosis { center, .. } = s.vessel.as_ref()?.shape else { return None };
        let l = s.sim_box.len.map(f64::from);
        let flux_bins = (l[0] / FLUX_SLAB).round().max(2.0) as usize;
        let flux = Profile1d::along(Axis::X, l, flux_bins, Axis::X).ok()?;
        let core = Profile1d::along(Axis::X, l, (l[0] / SLAB).round().max(2.0) as usize, Axis::X).ok()?;
        Some(FlowProbe::new(20, steps / 4).with("flux_x", Selection::Fluid, flux).with(
            "core_x",
            Selection::NearAxis { center, radius: CORE },
            core,
        ))
    }
    fn observables(&self, s: &Scenario, o: &RunOutcome) -> Map<String, Value> {
        let mut m = Map::new();
        let nan = f64::NAN;
        let probe = o.probe.as_ref();
        let (q, dq, vmax, drho) =
            match (probe.and_then(|p| p.profile("flux_x")), probe.and_then(|p| p.profile("core_x"))) {
                (Some(f), Some(c)) => {
                    let slab = f64::from(s.sim_box.len[0]) / f.centers.len() as f64;
                    analyse_stenosis(&f, &c, slab)
                }
                _ => (nan, nan, nan, nan),
            };
        // The core profile divides counts by the whole slab volume; only ratios are reported.
        let _ = m.insert("max_velocity".into(), json!(vmax));
        let _ = m.insert("density_ratio_max".into(), json!(drho));
        let _ = m.insert("flow_rate".into(), json!(q));
        let _ = m.insert("flow_rate_variation".into(), json!(dq));
        let _ = m.insert("leaked_particles".into(), json!(o.wall_counts.leaked));
        m
    }
}
