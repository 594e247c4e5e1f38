//! Errors of the surrogates crate: every failure a user can cause (a corrupt file, an impossible
//! architecture, a communicator that does not match the request) is a value, never a panic.
//!
//! ```
//! use hemoscale_surrogates::{Architecture, Network, SurrogateError};
//!
//! // A bad spec says what is wrong with it.
//! let e = Architecture::parse("mlp:64:swish", 3, 1).unwrap_err();
//! assert!(matches!(e, SurrogateError::Spec(_)));
//! assert!(e.to_string().contains("unknown activation `swish`"), "{e}");
//! // Parameters that do not fit the architecture are refused, not truncated.
//! let arch = Architecture::parse("mlp::identity", 3, 1)?; // 3 weights and a bias
//! let e = Network::from_params(arch, vec![0.0; 5]).unwrap_err();
//! assert_eq!(e.to_string(), "shape mismatch: 5 parameters for an architecture of 4");
//! # Ok::<(), SurrogateError>(())
//! ```

use thiserror::Error;

/// What went wrong.
#[derive(Debug, Error)]
pub enum SurrogateError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The system's error.
        source: std::io::Error,
    },
    /// A file is not what it claims to be (wrong magic, truncated, checksum mismatch, ...).
    #[error("{path}: {why}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// A model or training specification is invalid.
    #[error("{0}")]
    Spec(String),
    /// Shapes that must agree do not.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A communicator failed or was used inconsistently.
    #[error("communicator: {0}")]
    Comm(String),
    /// A peer left the communicator (it finished or failed) while this rank waited for it: the
    /// failure, if any, is the peer's, and the caller reports the peer's own error rather than
    /// this one.
    #[error("communicator: {0}")]
    PeerLeft(String),
}

/// Result with [`SurrogateError`].
pub type Result<T> = std::result::Result<T, SurrogateError>;
