//! hemoscale: multiscale platelet dynamics. This crate composes the kernels into scenarios: the
//! [`dsl`] builder, the [`scenarios`] that ship, the [`run`] loop and the `hemoscale` binary.
//!
//! A scenario is built, checked and run in a few lines; here 300 particles of DPD plasma on the
//! native CPU for 50 steps:
//!
//! ```
//! use hemoscale::dsl::{Backend, Scenario};
//! use hemoscale::run::{run, RunOptions};
//!
//! let s = Scenario::builder("first").cubic_box(5.0).density(2.4).steps(50).seed(3).backend(Backend::Cpu).build()?;
//! let outcome = run(&s, &RunOptions::for_scenario(&s), None, &mut std::io::sink())?;
//! assert_eq!((outcome.particles, outcome.steps), (300, 50));
//! // Momentum is conserved by every pair force: the total stays at its initial zero.
//! assert!(outcome.last.momentum.iter().all(|p| p.abs() < 1e-3));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod adaptive;
pub mod bench;
pub mod checkpoint;
pub mod compare;
pub mod coupled;
pub mod dsl;
pub mod faults;
pub mod fit;
pub mod flow;
pub mod observers;
pub mod output;
pub mod params;
pub mod platelets;
pub mod ranks;
pub mod run;
pub mod scenarios;
pub mod shipped_models;
pub mod training;
pub mod units;
pub mod variant;

/// The neural surrogates (re-exported so users need one dependency).
pub use hemoscale_surrogates as surrogates;

/// The particle kernels (re-exported so users need one dependency).
pub use hemoscale_kernels as kernels;
