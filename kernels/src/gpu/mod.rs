//! The wgpu backend. Layout (after dimforge's wgsparkl): compiled kernels live in stateless
//! structs built once ([`engine::Pipelines`]), buffers in [`buffers::Buffers`], and a step is one
//! function that records labelled passes into an encoder. Each kernel's Rust file shares its stem
//! with its WGSL file in `shaders/`.
//!
//! The GPU follows the CPU reference: the same formulas, the same pair noise, the same initial
//! state; only the order of the force sums differs (the GPU gathers each particle's force, the CPU
//! sweeps each pair once). The example needs an adapter, so it is compiled but not run here.
//!
//! ```no_run
//! use hemoscale_kernels::gpu::{AdapterChoice, GpuContext};
//! use hemoscale_kernels::{init, CpuEngine, DpdSystem, Engine, GpuEngine, SimBox};
//!
//! let system = DpdSystem::standard(SimBox::cubic(4.0), 2);
//! let state = init::random_fluid(&system, 192);
//! let mut cpu = CpuEngine::new(&system, &state, 0)?;
//! let mut gpu = GpuEngine::with_context(GpuContext::new(AdapterChoice::Any)?, &system, &state, 0)?;
//! for engine in [&mut cpu as &mut dyn Engine, &mut gpu] {
//!     engine.compute_forces()?;
//!     engine.run(5, 0)?;
//! }
//! let (a, b) = (cpu.state()?.sorted_by_tag(), gpu.state()?.sorted_by_tag());
//! let worst = a.vel.iter().flatten().zip(b.vel.iter().flatten()).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
//! assert!(worst < 1e-3, "largest velocity difference {worst}");
//! # Ok::<(), hemoscale_kernels::KernelError>(())
//! ```

pub mod adhesion;
pub mod bonded;
pub mod buffers;
pub mod cell_list;
pub mod context;
pub mod dpd;
pub mod engine;
pub mod integrate;
pub mod interface;
pub mod kernel;
pub mod mts;
pub mod nonbonded;
pub mod observables;
pub mod rank_forces;
pub mod rng_batch;
pub mod scan;
pub mod walls_batch;

pub use context::{AdapterChoice, GpuContext};
pub use engine::GpuEngine;
