//! Neural surrogates for hemoscale: small networks on `ndarray` with hand-written backward passes
//! (checked against finite differences), and their distributed training.
//!
//! The crate knows nothing of the physics (`hemoscale-kernels`); the coupling crate joins the two.
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
