//! Modified velocity-Verlet (Groot & Warren 1997; LAMMPS `fix mvv/dpd`) on the CPU. The GPU twin
//! is `shaders/integrate.wgsl` (first half) and the end of `shaders/dpd.wgsl` (second half-kick).
//!
//! 1. `v <- v + dt/2 F/m` and `x <- x + dt v` (wrapped into the box),
//! 2. predicted velocity `v~ = v(t) + lambda dt F/m = v + (lambda - 1/2) dt F/m` for the dissipative
//!    force,
//! 3. forces `F(t + dt)` from `x` and `v~` (plus the body force),
//! 4. `v <- v + dt/2 F/m`.
//!
//! `lambda = 1/2` is plain velocity-Verlet (LAMMPS `fix nve` with `pair_style dpd`).
//!
//! With walls, the drift of step 1 is followed by bounce-back ([`crate::walls::Walls::bounce`])
//! before wrapping. Frozen particles only drift with their velocity (a moving wall's; zero for
//! still walls), and their predicted velocity is that velocity.
//!
//! One particle of unit mass under a constant force of 2 along x, crossing the periodic boundary:
//!
//! ```
//! use hemoscale_kernels::integrate::{first_half, second_half, wrap, StepCoeffs};
//! use hemoscale_kernels::walls::Bounce;
//!
//! let l = 5.0f32;
//! assert_eq!((wrap(5.25, l, 1.0 / l), wrap(-0.5, l, 1.0 / l)), (0.25, 4.5));
//! let c = StepCoeffs { dt: 0.1, half_dt: 0.05, lambda_shift: 0.0, len: [l; 3], inv_len: [1.0 / l; 3] };
//! let (mut x, mut v, mut vpred) = ([4.95, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0; 4]);
//! let f = [2.0, 0.0, 0.0, 0.0];
//! // Half-kick to v = 1.1, drift to x = 5.06, wrapped to 0.06.
//! assert_eq!(first_half(&mut x, &mut v, &mut vpred, &f, 1.0, &c, None), Bounce::None);
//! assert!((v[0] - 1.1).abs() < 1e-6 && (x[0] - 0.06).abs() < 1e-5);
//! assert_eq!(vpred, v); // lambda = 1/2: the predicted velocity is the half-kicked one
//! // Second half-kick with the new force (the same here).
//! second_half(&mut v, &f, 1.0, &c);
//! assert!((v[0] - 1.2).abs() < 1e-6);
//! ```

use crate::walls::{Bounce, Walls};

/// Coefficients of one step, derived once from the system.
#[derive(Clone, Copy, Debug)]
pub struct StepCoeffs {
    /// dt.
    pub dt: f32,
    /// dt / 2.
    pub half_dt: f32,
    /// (lambda - 1/2) dt.
    pub lambda_shift: f32,
    /// Box edges.
    pub len: [f32; 3],
    /// Reciprocal box edges.
    pub inv_len: [f32; 3],
}

/// Wraps `x` into `[0, l)`; the WGSL twin performs the same operations.
#[inline(always)]
pub fn wrap(x: f32, l: f32, inv_l: f32) -> f32 {
    let y = x - l * (x * inv_l).floor();
    if y >= l {
        y - l
    } else {
        y
    }
}

/// First half of a step for one mobile particle: half-kick, drift, bounce-back at `walls`, wrap,
/// predicted velocity.
#[inline(always)]
pub fn first_half(
    pos: &mut [f32; 4],
    vel: &mut [f32; 4],
    vpred: &mut [f32; 4],
    force: &[f32; 4],
    inv_mass: f32,
    c: &StepCoeffs,
    walls: Option<&Walls>,
) -> Bounce {
    let a: [f32; 3] = std::array::from_fn(|k| force[k] * inv_mass);
    let mut v: [f32; 3] = std::array::from_fn(|k| vel[k] + c.half_dt * a[k]);
    let x0 = [pos[0], pos[1], pos[2]];
    let mut x: [f32; 3] = std::array::from_fn(|k| x0[k] + c.dt * v[k]);
    let mut outcome = Bounce::None;
    if let Some(w) = walls {
        (x, outcome) = w.bounce(x0, x, &mut v);
    }
    for k in 0..3 {
        vel[k] = v[k];
        pos[k] = wrap(x[k], c.len[k], c.inv_len[k]);
        vpred[k] = v[k] + c.lambda_shift * a[k];
    }
    outcome
}

/// Second half-kick for one particle.
#[inline(always)]
pub fn second_half(vel: &mut [f32; 4], force: &[f32; 4], inv_mass: f32, c: &StepCoeffs) {
    for k in 0..3 {
        vel[k] += c.half_dt * (force[k] * inv_mass);
    }
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrap_stays_in_box() {
        let l = 10.0f32;
        for x in [-1e-9f32, -0.0, 0.0, 9.999_999, 10.0, 10.000_001, -10.0, 19.5, -3.25] {
            let y = wrap(x, l, 1.0 / l);
            assert!((0.0..l).contains(&y), "{x} -> {y}");
        }
    }
}
