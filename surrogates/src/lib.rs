//! Neural surrogates for hemoscale: small networks on `ndarray` with hand-written backward passes
//! (checked against finite differences), and their distributed training.
//!
//! The crate knows nothing of the physics (`hemoscale-kernels`); the coupling crate joins the two.
//!
//! A network is an [`Architecture`] (data, parsed from a spec) and one flat parameter vector;
//! a loss gives the gradient over that vector, and an optimiser steps it:
//!
//! ```
//! use hemoscale_surrogates::optim::{Optimizer, OptimizerKind};
//! use hemoscale_surrogates::{Architecture, Loss, Network};
//! use ndarray::Array2;
//!
//! // Learn y = x1 - x2 on a few points with one tanh layer of 4 units.
//! let arch = Architecture::parse("mlp:4:tanh", 2, 1)?;
//! let mut net = Network::new(arch, 7)?;
//! let x = Array2::from_shape_fn((8, 2), |(i, j)| 0.1 * (i + 3 * j) as f64 - 0.5);
//! let t = Array2::from_shape_fn((8, 1), |(i, _)| x[[i, 0]] - x[[i, 1]]);
//! let mut grad = vec![0.0; net.params.len()];
//! let mut opt = Optimizer::new(OptimizerKind::PLAIN, net.params.len());
//! let first = net.loss_and_grad(x.view(), t.view(), Loss::Mse, &mut grad);
//! for _ in 0..200 {
//!     let _ = net.loss_and_grad(x.view(), t.view(), Loss::Mse, &mut grad);
//!     opt.step(&mut net.params, &grad, 0.1);
//! }
//! let last = Loss::Mse.value(net.forward(x.view()).view(), t.view());
//! assert!(last < 0.1 * first, "loss {first} -> {last}");
//! # Ok::<(), hemoscale_surrogates::SurrogateError>(())
//! ```
#![warn(missing_docs)]

pub mod activation;
pub mod dense;
pub mod error;
pub mod gru;
pub mod linear;
pub mod loss;
pub mod network;

pub use activation::Activation;
pub use error::{Result, SurrogateError};
pub use loss::Loss;
pub use network::{Architecture, Layer, Network};
pub mod comm;
pub mod container;
pub mod dataset;
pub mod model;
pub mod normalize;
pub mod optim;
pub mod schedule;
pub mod train;
