//! Walls of any shape (Mirheo/uDeviceX style): a signed distance field ([`crate::geometry`]),
//! frozen wall particles (a particle type with [`crate::ParticleType::frozen`] set, sampled from an
//! equilibrated fluid inside the wall layer: see [`split_frozen`]), bounce-back of fluid particles
//! that cross the surface, and an optional near-wall force. The GPU twin is `shaders/walls.wgsl`.
//!
//! Bounce-back, after the drift of a step moved a particle from `x0` (fluid) to `x1`:
//! 1. if `sdf(x1) < 0` nothing happens;
//! 2. otherwise the crossing `xc = x0 + t (x1 - x0)` is found by bisection (fixed
//!    [`BISECTIONS`] halvings, so both backends take the same path), the rest of the path is
//!    reflected, `x = xc - (1 - t)(x1 - x0)`, and the velocity reversed relative to the wall,
//!    `v = 2 v_wall - v` (no slip, no flux);
//! 3. if the reflected point is still not in the fluid (a curved or thin spot), the particle goes
//!    back to `x0` with the reversed velocity;
//! 4. a particle that ends a step inside the wall anyway is *leaked*: it is counted (never silently
//!    dropped), and the run reports the count.
//!
//! Moving walls ([`WallMotion`]) carry a velocity `±speed/2` along x on either side of a plane
//! normal to z: the plane Couette set-up. Their frozen particles move rigidly with that velocity
//! (the wall must be invariant along x, as a channel is, so the distance field does not change).
//! Keeping them in place while only their velocity moved would leave a still corrugation of
//! conservative forces under a moving dissipative wall: the fluid then slips by a large fraction
//! of the wall speed (measured: 26 % at speed 2 in a channel of height 10).
//!
//! The near-wall force acts on fluid particles within `range` of the surface along the normal
//! `n = grad sdf / |grad sdf|` (pointing into the wall): `F = -amplitude (1 - d/range)^2 n` with
//! `d = -sdf` the distance to the surface; a positive amplitude pushes away from the wall. It
//! counters the density excess or depletion bounce-back walls leave in the first layer.
//!
//! ```
//! use hemoscale_kernels::walls::Bounce;
//! use hemoscale_kernels::{NearWallForce, SdfGrid, Shape, WallMotion, Walls};
//!
//! // Fluid between z = 2 and z = 8; the top wall moves at +0.5 along x, the bottom one at -0.5.
//! let channel = Shape::Channel { center: 5.0, half_height: 3.0 };
//! let walls = Walls {
//!     sdf: SdfGrid::sample(&channel, [4.0, 4.0, 10.0], 1 << 20)?,
//!     motion: WallMotion { speed: 1.0, center: 5.0 },
//!     force: NearWallForce { amplitude: 2.0, range: 1.0 },
//! };
//! // A drift from z = 7.9 to 8.1 crosses the top wall at z = 8: the rest of the path is
//! // reflected and the velocity reversed relative to the wall, v = 2 v_wall - v.
//! let mut v = [0.0, 0.0, 2.0];
//! let (x, outcome) = walls.bounce([1.0, 1.0, 7.9], [1.0, 1.0, 8.1], &mut v);
//! assert_eq!(outcome, Bounce::Reflected);
//! assert!(walls.sdf.value(x) < 0.0 && (x[2] - 7.9).abs() < 0.01);
//! assert_eq!(v, [1.0, 0.0, -2.0]);
//! // The near-wall force pushes a particle 0.25 from the top wall down, by 2 (1 - 0.25)^2.
//! let f = walls.near_wall_force([1.0, 1.0, 7.75]);
//! assert!((f[2] + 2.0 * 0.75 * 0.75).abs() < 1e-4);
//! # Ok::<(), hemoscale_kernels::KernelError>(())
//! ```

use crate::geometry::SdfGrid;
use crate::state::ParticleState;
use crate::system::DpdSystem;

/// Halvings of the bounce-back crossing search (resolution 2^-8 of one step's path).
pub const BISECTIONS: u32 = 8;

/// Velocity of the walls: `v_wall = (±speed/2, 0, 0)` for `z ≷ center`. Zero speed: still walls.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WallMotion {
    /// Relative speed of the two walls (top minus bottom).
    pub speed: f32,
    /// z of the plane separating the two walls.
    pub center: f32,
}

impl WallMotion {
    /// Wall velocity at `p`.
    #[inline(always)]
    pub fn velocity(&self, p: [f32; 3]) -> [f32; 3] {
        let h = 0.5 * self.speed;
        [if p[2] >= self.center { h } else { -h }, 0.0, 0.0]
    }
}

/// Optional repulsion (or attraction, with a negative amplitude) from the surface.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NearWallForce {
    /// Force at the surface (0: off).
    pub amplitude: f32,
    /// Distance from the surface over which it acts.
    pub range: f32,
}

/// The walls of a system.
#[derive(Clone, Debug, PartialEq)]
pub struct Walls {
    /// Signed distance field (negative in the fluid).
    pub sdf: SdfGrid,
    /// Motion of the walls.
    pub motion: WallMotion,
    /// Near-wall force.
    pub force: NearWallForce,
}

/// Outcome counters of bounce-back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WallCounts {
    /// Particles reflected at the surface.
    pub bounced: u64,
    /// Particles found inside the wall after reflection (must stay 0).
    pub leaked: u64,
    /// x-momentum reflections gave the walls below and above the motion plane (`z < center`,
    /// `z >= center`), in units of 1/[`IMPULSE_SCALE`]: with the pair forces on the frozen
    /// particles, the whole force the fluid exerts on each wall (plane Couette shear stress).
    pub impulse: [i64; 2],
}

impl WallCounts {
    /// Both counts together (a run's earlier engines' and the current one's).
    pub fn plus(self, other: Self) -> Self {
        Self {
            bounced: self.bounced + other.bounced,
            leaked: self.leaked + other.leaked,
            impulse: [self.impulse[0] + other.impulse[0], self.impulse[1] + other.impulse[1]],
        }
    }
}

/// Fixed-point scale of [`WallCounts::impulse`]: each reflection's impulse is truncated to a
/// multiple of 1/256 (so both backends sum the same integers, exactly and in any order; the GPU
/// has 32-bit integer atomics only).
pub const IMPULSE_SCALE: f32 = 256.0;

impl WallCounts {
    /// Impulse given to the wall below (0) or above (1) the motion plane, in momentum units.
    pub fn impulse(&self, side: usize) -> f64 {
        self.impulse[side] as f64 / f64::from(IMPULSE_SCALE)
    }
}

/// Fixed-point x-impulse a reflection gives the wall: `m (v_before - v_after)_x`, truncated.
#[inline(always)]
pub fn impulse_fixed(mass: f32, v_before: f32, v_after: f32) -> i32 {
    (mass * (v_before - v_after) * IMPULSE_SCALE) as i32
}

/// Result of bouncing one particle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bounce {
    /// The particle stayed in the fluid.
    None,
    /// It was reflected.
    Reflected,
    /// It could not be put back into the fluid.
    Leaked,
}

impl Walls {
    /// Bounce-back of a particle that drifted from `x0` to `x1` (both unwrapped, `x1 = x0 + dt v`)
    /// with velocity `v`. Returns the corrected unwrapped position; `v` is reversed on reflection.
    #[inline]
    pub fn bounce(&self, x0: [f32; 3], x1: [f32; 3], v: &mut [f32; 3]) -> ([f32; 3], Bounce) {
        if self.sdf.deeper_than(x1, 0.0) || self.sdf.value(x1) < 0.0 {
            return (x1, Bounce::None);
        }
        let d = [x1[0] - x0[0], x1[1] - x0[1], x1[2] - x0[2]];
        let (mut lo, mut hi) = (0.0f32, 1.0f32);
        for _ in 0..BISECTIONS {
            let mid = 0.5 * (lo + hi);
            let p = [x0[0] + mid * d[0], x0[1] + mid * d[1], x0[2] + mid * d[2]];
            if self.sdf.value(p) < 0.0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let t = lo;
        let xc = [x0[0] + t * d[0], x0[1] + t * d[1], x0[2] + t * d[2]];
        let vw = self.motion.velocity(xc);
        for k in 0..3 {
            v[k] = 2.0 * vw[k] - v[k];
        }
        let back = 1.0 - t;
        let xr = [xc[0] - back * d[0], xc[1] - back * d[1], xc[2] - back * d[2]];
        if self.sdf.value(xr) < 0.0 {
            (xr, Bounce::Reflected)
        } else if self.sdf.value(x0) < 0.0 {
            (x0, Bounce::Reflected)
        } else {
            (x0, Bounce::Leaked)
        }
    }

    /// Near-wall force on a fluid particle at `p`.
    #[inline]
    pub fn near_wall_force(&self, p: [f32; 3]) -> [f32; 3] {
        let f = self.force;
        if f.amplitude == 0.0 || self.sdf.deeper_than(p, f.range) {
            return [0.0; 3];
        }
        let (s, g) = self.sdf.eval(p);
        let d = -s;
        let g2 = g[0] * g[0] + g[1] * g[1] + g[2] * g[2];
        if d >= f.range || g2 == 0.0 {
            return [0.0; 3];
        }
        let w = 1.0 - d.max(0.0) / f.range;
        let m = -f.amplitude * w * w / g2.sqrt();
        [m * g[0], m * g[1], m * g[2]]
    }
}

/// Splits an equilibrated periodic fluid into fluid particles (`sdf < 0`) and frozen wall
/// particles (`0 <= sdf < thickness`), dropping the rest; frozen ones get `frozen_type` and the
/// wall velocity, forces are zeroed, tags renumbered from 0 (fluid first). This is how Mirheo makes
/// frozen walls: they then have the liquid's density and structure.
pub fn split_frozen(
    state: &ParticleState,
    walls: &Walls,
    thickness: f32,
    frozen_type: u32,
) -> (ParticleState, usize, usize) {
    let mut fluid = Vec::new();
    let mut wall = Vec::new();
    for i in 0..state.len() {
        let s = walls.sdf.value(state.pos[i]);
        if s < 0.0 {
            fluid.push(i);
        } else if s < thickness {
            wall.push(i);
        }
    }
    let (nf, nw) = (fluid.len(), wall.len());
    let mut out = ParticleState::default();
    for (k, &i) in fluid.iter().chain(&wall).enumerate() {
        let is_wall = k >= nf;
        out.pos.push(state.pos[i]);
        out.vel.push(if is_wall { walls.motion.velocity(state.pos[i]) } else { state.vel[i] });
        out.force.push([0.0; 3]);
        out.type_id.push(if is_wall { frozen_type } else { state.type_id[i] });
        out.tag.push(k as u32);
    }
    out.n_local = out.pos.len();
    (out, nf, nw)
}

/// Number of fluid (non-frozen) particles of `state` in `system`.
pub fn mobile_count(system: &DpdSystem, state: &ParticleState) -> usize {
    state.type_id.iter().filter(|&&t| !system.types[t as usize].frozen).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Shape;

    fn channel() -> Walls {
        let shape = Shape::Channel { center: 5.0, half_height: 3.0 };
        Walls {
            sdf: SdfGrid::sample(&shape, [4.0, 4.0, 10.0], 1 << 20).expect("grid"),
            motion: WallMotion { speed: 1.0, center: 5.0 },
            force: NearWallForce::default(),
        }
    }

    #[test]
    fn a_particle_crossing_the_top_wall_is_reflected_with_the_wall_velocity() {
        let w = channel();
        let mut v = [0.2, 0.0, 2.0];
        let (x, b) = w.bounce([1.0, 1.0, 7.9], [1.002, 1.0, 8.1], &mut v);
        assert_eq!(b, Bounce::Reflected);
        assert!(w.sdf.value(x) < 0.0 && (x[2] - 7.9).abs() < 0.011, "{x:?}");
        // v = 2 v_wall - v with v_wall = (+0.5, 0, 0) above the mid-plane.
        assert!((v[0] - 0.8).abs() < 1e-6 && (v[2] + 2.0).abs() < 1e-6, "{v:?}");
    }

    #[test]
    fn a_particle_that_starts_inside_is_counted_as_leaked() {
        let w = channel();
        let mut v = [0.0, 0.0, 1.0];
        let (_, b) = w.bounce([1.0, 1.0, 8.5], [1.0, 1.0, 8.6], &mut v);
        assert_eq!(b, Bounce::Leaked);
    }

    #[test]
    fn near_wall_force_points_away_from_the_wall_and_vanishes_at_range() {
        let mut w = channel();
        w.force = NearWallForce { amplitude: 2.0, range: 1.0 };
        let f = w.near_wall_force([1.0, 1.0, 7.75]);
        assert!((f[2] + 2.0 * 0.75f32.powi(2)).abs() < 1e-4, "{f:?}");
        assert_eq!(w.near_wall_force([1.0, 1.0, 5.5]), [0.0; 3]);
    }
}
