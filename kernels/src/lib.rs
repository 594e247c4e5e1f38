//! Particle kernels of hemoscale: DPD plasma on a native CPU backend and on wgpu compute shaders.
//!
//! The physics lives in small modules, one concern each, whose GPU twins in `shaders/` share their
//! names: [`rng`] (Philox4x32-10), [`cell_list`] (counting sort), [`dpd`] (pair forces),
//! [`integrate`] (modified velocity-Verlet), [`observables`] (temperature, pressure tensor),
//! [`walls`] (bounce-back, near-wall force, frozen wall particles) with the distance fields of
//! [`geometry`].
//! [`CpuEngine`] and [`GpuEngine`] implement one [`Engine`] interface.
//!
//! A short run on the CPU: the standard fluid at density 3 in a box of 3 x 3 x 3 (81 particles),
//! from random positions. The initial conditions carry no momentum, and pair forces are equal and
//! opposite, so the total momentum stays zero up to f32 rounding.
//!
//! ```
//! use hemoscale_kernels::{init, CpuEngine, DpdSystem, Engine, SimBox};
//!
//! let system = DpdSystem::standard(SimBox::cubic(3.0), 7);
//! let state = init::random_fluid(&system, 81);
//! let mut engine = CpuEngine::new(&system, &state, 0)?;
//! engine.compute_forces()?; // fresh initial conditions bring no forces
//! let samples = engine.run(10, 5)?; // observables after steps 5 and 10
//! assert_eq!(samples.len(), 2);
//! assert_eq!((engine.step(), engine.n_particles()), (10, 81));
//! assert!(samples.iter().all(|o| o.is_finite() && o.momentum_per_particle() < 1e-5));
//! # Ok::<(), hemoscale_kernels::KernelError>(())
//! ```
#![warn(missing_docs)]

pub mod activation;
pub mod adhesion;
pub mod bonded;
pub mod cell_list;
pub mod cpu;
pub mod domain;
pub mod dpd;
pub mod engine;
pub mod error;
pub mod geometry;
pub mod gpu;
pub mod init;
pub mod integrate;
pub mod interface;
pub mod mts;
pub mod nonbonded;
pub mod observables;
pub mod platelet;
pub mod platelet_division;
pub mod platelet_observables;
pub mod platelet_set;
pub mod rng;
pub mod state;
pub mod system;
pub mod walls;

pub use cpu::CpuEngine;
pub use engine::{BackendKind, Driving, Engine, Pass};
pub use error::{KernelError, Result};
pub use geometry::{SdfGrid, Shape};
pub use gpu::{GpuContext, GpuEngine};
pub use observables::Observables;
pub use state::ParticleState;
pub use system::{DpdPair, DpdSystem, Morse, PairTable, ParticleType, SimBox};
pub use walls::{NearWallForce, WallCounts, WallMotion, Walls};
