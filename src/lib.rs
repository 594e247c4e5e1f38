//! hemoscale: multiscale platelet dynamics. This crate composes the kernels into scenarios: the
//! [`dsl`] builder, the [`scenarios`] that ship, the [`run`] loop and the `hemoscale` binary.
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
