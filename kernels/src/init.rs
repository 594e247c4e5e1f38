//! Initial conditions, reproducible from the seed alone: positions uniform in the box (as LAMMPS's
//! `create_atoms random`; DPD is soft enough to start from overlaps), Maxwell–Boltzmann velocities
//! with the centre-of-mass motion removed and the temperature set exactly to kT.
//!
//! Draws come from the counter-based generator ([`crate::rng`]) keyed by particle id, so the same
//! seed gives the same state on every machine and for every backend.
//!
//! ```
//! use hemoscale_kernels::{init, DpdSystem, SimBox};
//!
//! let system = DpdSystem::standard(SimBox::cubic(4.0), 11);
//! let state = init::random_fluid(&system, 192); // density 3
//! state.check(&system)?;
//! assert_eq!(state, init::random_fluid(&system, 192), "same seed, same state");
//! // The centre-of-mass motion is removed ...
//! let p: [f64; 3] = std::array::from_fn(|k| state.vel.iter().map(|v| f64::from(v[k])).sum());
//! assert!(p.iter().all(|x| x.abs() < 1e-4));
//! // ... and the temperature is kT = 1 exactly, over 3N - 3 degrees of freedom.
//! let twice_ke: f64 = state.vel.iter().flatten().map(|&v| f64::from(v).powi(2)).sum();
//! assert!((twice_ke / (3.0 * 192.0 - 3.0) - 1.0).abs() < 1e-5);
//! # Ok::<(), hemoscale_kernels::KernelError>(())
//! ```

use crate::cell_list::CellGrid;
use crate::rng::{init_counter, philox4x32_10, seed_key, uniform_open0};
use crate::state::ParticleState;
use crate::system::DpdSystem;

/// `n` particles of type 0 (tags 0..n) filling the box of `system` at random, thermalised at kT.
pub fn random_fluid(system: &DpdSystem, n: usize) -> ParticleState {
    let key = seed_key(system.seed);
    let l = system.sim_box.len;
    let mass = f64::from(system.types[0].mass);
    let pos: Vec<[f32; 3]> = (0..n as u32)
        .map(|id| {
            let w = philox4x32_10(init_counter(id, 0, 0), key);
            std::array::from_fn(|k| {
                // u in [0, 1) with 24 bits; the product stays below L in f32.
                let u = (w[k] >> 8) as f32 / 16_777_216.0;
                (u * l[k]).min(l[k] * (1.0 - f32::EPSILON))
            })
        })
        .collect();
    let mut vel: Vec<[f64; 3]> = (0..n as u32)
        .map(|id| {
            let a = philox4x32_10(init_counter(id, 1, 0), key);
            let b = philox4x32_10(init_counter(id, 1, 1), key);
            let g = |u1: u32, u2: u32| {
                let r = (-2.0 * uniform_open0(u1).ln()).sqrt();
                r * (std::f64::consts::TAU * uniform_open0(u2)).cos()
            };
            [g(a[0], a[1]), g(a[2], a[3]), g(b[0], b[1])]
        })
        .collect();
    let nf = n as f64;
    let mean: [f64; 3] = std::array::from_fn(|k| vel.iter().map(|v| v[k]).sum::<f64>() / nf);
    let mut twice_ke = 0.0;
    for v in &mut vel {
        for k in 0..3 {
            v[k] -= mean[k];
            twice_ke += mass * v[k] * v[k];
        }
    }
    // Degrees of freedom 3N - 3 (momentum removed), as LAMMPS's thermo temperature.
    let dof = (3 * n).saturating_sub(3).max(1) as f64;
    let scale = if twice_ke > 0.0 { (f64::from(system.kt) * dof / twice_ke).sqrt() } else { 0.0 };
    let state = ParticleState {
        pos,
        vel: vel.iter().map(|v| v.map(|c| (c * scale) as f32)).collect(),
        force: vec![[0.0; 3]; n],
        type_id: vec![0; n],
        tag: (0..n as u32).collect(),
        n_local: n,
    };
    sorted_by_cell(system, &state)
}

/// The state with particles stored cell by cell (ties by tag), the order engines otherwise reach
/// only at their first periodic reorder. Starting sorted keeps memory access local from step one;
/// doing it here, in the initial conditions, keeps a run's memory order a function of its history
/// alone (what bit-for-bit restarts need).
pub fn sorted_by_cell(system: &DpdSystem, state: &ParticleState) -> ParticleState {
    let grid = CellGrid::new(system);
    let mut order: Vec<usize> = (0..state.len()).collect();
    order.sort_by_key(|&i| (grid.cell_of(&state.pos[i]), state.tag[i]));
    state.permuted(&order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::SimBox;

    #[test]
    fn random_fluid_is_reproducible_sorted_and_at_kt() {
        let system = DpdSystem::standard(SimBox::cubic(6.0), 99);
        let a = random_fluid(&system, 648);
        assert_eq!(a, random_fluid(&system, 648), "same seed, same state");
        a.check(&system).expect("valid state");
        let grid = CellGrid::new(&system);
        let cells: Vec<u32> = a.pos.iter().map(|p| grid.cell_of(p)).collect();
        assert!(cells.windows(2).all(|w| w[0] <= w[1]), "stored cell by cell");
        let mut tags = a.tag.clone();
        tags.sort_unstable();
        assert_eq!(tags, (0..648).collect::<Vec<u32>>());
        let p: [f64; 3] = std::array::from_fn(|k| a.vel.iter().map(|v| f64::from(v[k])).sum());
        assert!(p.iter().all(|x| x.abs() < 1e-4), "momentum {p:?}");
        let twice_ke: f64 = a.vel.iter().flat_map(|v| v.iter()).map(|&x| f64::from(x).powi(2)).sum();
        let kt = twice_ke / (3.0 * 648.0 - 3.0);
        assert!((kt - 1.0).abs() < 1e-5, "kT {kt}");
    }
}
