//! Keys shared by the scenarios with walls (`tube`, `stenosis`, `couette`): the wall layer and
//! the near-wall force, and the flow-axis geometry of round vessels.

use super::fluid::float;
use crate::dsl::ScenarioBuilder;
use crate::kernels::geometry::Shape;
use crate::params::{Bound, ParamSpec, ParamValues};

/// Amplitude of the near-wall force the wall scenarios use by default: a weak pull towards the
/// wall that fills the slight depletion bounce-back leaves in the first layer (measured for the
/// standard fluid in a tube of radius 4; see tests/walls_physics.rs).
pub const DEFAULT_NEAR_WALL_FORCE: f64 = -1.0;

/// Default fluid–wall friction factor (see [`crate::dsl::Vessel::wall_friction`]). Frozen
/// particles sit still where a fluid would continue the shear profile into the wall, so with equal
/// friction the wall transmits too little stress and the flow slips: the standard fluid in a tube of
/// radius 4 then carries 13 % more than Poiseuille's flow rate (an effective slip length of 0.13 rc).
/// Measured over 50,000 steps (`hemoscale run tube --set wall_friction=F`): flow rate 19.9, 19.0,
/// 19.1 and 17.5 for F = 1, 4, 8 and 16 against the analytic 17.6 for eta = 0.855.
pub const DEFAULT_WALL_FRICTION: f64 = 16.0;

/// The wall keys, with `friction` as the default of `wall_friction`.
pub fn wall_params(friction: f64) -> Vec<ParamSpec> {
    use Bound::{Exclusive as Ex, Inclusive as In};
    vec![
        float("wall_thickness", 1.0, "rc", In(0.0), In(10.0), "thickness of the frozen wall-particle layer (>= rc)"),
        float(
            "near_wall_force",
            DEFAULT_NEAR_WALL_FORCE,
            "kT/rc",
            In(-100.0),
            In(100.0),
            "near-wall force at the surface (> 0 pushes fluid away from the wall, 0 switches it off)",
        ),
        float(
            "near_wall_range",
            1.0,
            "rc",
            Ex(0.0),
            In(5.0),
            "distance from the wall over which the near-wall force acts",
        ),
        float(
            "wall_friction",
            friction,
            "1",
            In(0.0),
            In(100.0),
            "dissipation of fluid-wall pairs relative to fluid-fluid pairs (puts the no-slip plane on the surface)",
        ),
    ]
}

/// Applies a vessel of `shape` with the wall keys.
pub fn with_walls(b: ScenarioBuilder, shape: Shape, v: &ParamValues) -> ScenarioBuilder {
    b.vessel(shape, v.get("wall_thickness") as f32)
        .near_wall_force(v.get("near_wall_force") as f32, v.get("near_wall_range") as f32)
        .wall_friction(v.get("wall_friction") as f32)
}

/// Box edges and axis `(y, z)` of a round vessel of `radius` along x, `length` long, with a wall
/// layer `thickness` thick: the cross-section just holds the wall.
pub fn round_box(radius: f64, length: f64, thickness: f64) -> ([f32; 3], [f64; 2]) {
    let side = 2.0 * (radius + thickness);
    ([length as f32, side as f32, side as f32], [0.5 * side; 2])
}
