//! The wgpu backend. Layout (after dimforge's wgsparkl): compiled kernels live in stateless
//! structs built once ([`engine::Pipelines`]), buffers in [`buffers::Buffers`], and a step is one
//! function that records labelled passes into an encoder. Each kernel's Rust file shares its stem
//! with its WGSL file in `shaders/`.

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
pub mod rng_batch;
pub mod scan;
pub mod walls_batch;

pub use context::{AdapterChoice, GpuContext};
pub use engine::GpuEngine;
