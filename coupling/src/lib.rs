//! The coupling layer of hemoscale: lets a reduced, learned model stand in for the fine-scale
//! (particle) platelet where it can be trusted, and falls back to the particles where it cannot.
//!
//! The pieces, each in its own module:
//! - [`local_flow`]: the flow a platelet sees (velocity and velocity gradient fitted to the plasma
//!   around it), the input of every reduced model;
//! - [`jeffery`]: the generalised Jeffery equation of the platelet's orientation, its parameters
//!   learned online from the fine platelet's track (Zhang et al. 2022), with a bootstrap ensemble
//!   for its uncertainty;
//! - [`stress_map`]: the map from the local velocity gradient and the orientation to the
//!   flow-induced membrane and traction stress, learned the same way, so stress accumulation and
//!   activation go on without the particles;
//! - [`policy`]: per platelet and coarse step, fine or reduced, with every fall-back counted by
//!   its reason (not trained, out of the training range, near a wall or another platelet or an
//!   adhesion site, too uncertain, periodic verification);
//! - [`model_file`]: learned models saved with a checksum and the platelet they are valid for;
//! - [`adaptive`]: adaptive time stepping of fine platelets (Han et al. 2021): a recurrent
//!   network over a window of a platelet's recent state chooses its interface time-step level and
//!   for how many segments that holds, trained on trial segments run at both levels;
//! - [`batched_inference`]: a surrogate network evaluated for all platelets in one WGSL dispatch,
//!   its weights in a storage buffer (the CPU reference is `Model::predict`);
//! - [`harvest`]: the fine samples the models are fitted to, kept per run and written as a
//!   dataset file, so that the harvests of several runs can be merged and fitted offline;
//! - [`controller`]: the per-run state that harvests fine samples, fits the models, applies the
//!   policy and advances the reduced platelets.
//!
//! The crate joins `hemoscale-kernels` (physics) and `hemoscale-surrogates` (learning); it does
//! not drive an engine. The scenario layer moves platelets between the engine (fine) and the
//! controller (reduced), re-creating their particles from the reduced state on a fall-back.
//!
//! In miniature: the flow a platelet sees, fitted to the plasma particles around it, drives the
//! reduced model of its orientation.
//!
//! ```
//! use glam::DVec3;
//! use hemoscale_coupling::{GeneralizedJeffery, LocalFlow};
//!
//! // Plasma particles on a lattice around the platelet's centre, in simple shear u_x = 0.06 z.
//! let plasma = (0..125).map(|k| {
//!     let d = DVec3::new(f64::from(k % 5), f64::from(k / 5 % 5), f64::from(k / 25)) - DVec3::splat(2.0);
//!     (d, DVec3::new(0.06 * d.z, 0.0, 0.0))
//! });
//! let flow = LocalFlow::fit(plasma).unwrap();
//! assert!((flow.shear_rate() - 0.06).abs() < 1e-12);
//! // A disc of aspect ratio 0.25 tumbles in it with Jeffery's period, 2 pi (r + 1/r) / rate,
//! // and after one period its normal is back where it started.
//! let model = GeneralizedJeffery::jeffery(0.25);
//! let period = model.period(flow.shear_rate());
//! assert!((period - 2.0 * std::f64::consts::PI * 4.25 / 0.06).abs() < 1e-9);
//! assert!((model.advance(DVec3::Z, &flow, period) - DVec3::Z).length() < 1e-6);
//! ```
#![warn(missing_docs)]

pub mod adaptive;
pub mod batched_inference;
pub mod bootstrap;
pub mod controller;
pub mod harvest;
pub mod jeffery;
pub mod local_flow;
pub mod model_file;
pub mod policy;
pub mod stress_map;

pub use batched_inference::{GpuBatch, GpuModel, InferenceError};
pub use controller::{Controller, ControllerConfig, FineObservation, ReducedPlatelet};
pub use harvest::{Harvest, HarvestSample};
pub use jeffery::{GeneralizedJeffery, JefferyEnsemble, OrientationSample};
pub use local_flow::{FlowSmoother, LocalFlow};
pub use model_file::{ModelKey, ReducedModel};
pub use policy::{Counters, Decision, Fallback, Policy, Situation};
pub use stress_map::{StressEnsemble, StressMap, StressSample};
