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
