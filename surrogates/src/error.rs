//! Errors of the surrogates crate: every failure a user can cause (a corrupt file, an impossible
//! architecture, a communicator that does not match the request) is a value, never a panic.

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
}

/// Result with [`SurrogateError`].
pub type Result<T> = std::result::Result<T, SurrogateError>;
