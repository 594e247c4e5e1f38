//! Typed errors of the kernel layer. Each names what was wrong so the layers above can tell the user.

use thiserror::Error;

/// What can go wrong when a system is set up or advanced.
///
/// A parameter error names the field as the user wrote it, so the message can be shown as it is:
///
/// ```
/// use hemoscale_kernels::{DpdSystem, KernelError, SimBox};
///
/// let mut system = DpdSystem::standard(SimBox::cubic(4.0), 1);
/// system.dt = -0.01;
/// let err = system.validate().unwrap_err();
/// assert!(matches!(&err, KernelError::InvalidParameter { field, .. } if field == "dt"));
/// assert_eq!(err.to_string(), "dt = -0.01 is out of range: must be finite and > 0");
/// // Only GPU failures let a run continue elsewhere from its last checkpoint.
/// assert!(!err.is_device_failure());
/// assert!(KernelError::Gpu("device lost".into()).is_device_failure());
/// ```
#[derive(Debug, Error)]
pub enum KernelError {
    /// A parameter lies outside its physically allowed range.
    #[error("{field} = {value} is out of range: {allowed}")]
    InvalidParameter {
        /// Name of the parameter, as the user wrote it (`pair(0,0).gamma`, `box.x`, ...).
        field: String,
        /// The offending value, formatted.
        value: String,
        /// The allowed range in words, e.g. `must be >= 0`.
        allowed: String,
    },
    /// The particle state does not fit the system (lengths differ, unknown type, ...).
    #[error("inconsistent particle state: {0}")]
    InconsistentState(String),
    /// No GPU adapter could be found or opened.
    #[error("no GPU adapter available: {0}")]
    NoAdapter(String),
    /// The GPU device reported an error (lost device, out of memory, validation).
    #[error("GPU error: {0}")]
    Gpu(String),
    /// The system does not fit the limits the adapter reports.
    #[error("the system does not fit the GPU: {0}")]
    DeviceLimit(String),
    /// Another rank of a decomposed run left it (finished or failed) while this rank waited for
    /// it: this rank's error is a consequence, and the run reports the other rank's.
    #[error("{0}")]
    PeerLeft(String),
}

impl KernelError {
    /// True for a failure of the GPU while it ran (a lost device, out of device memory, an
    /// internal error), after which a run may continue elsewhere from its last checkpoint.
    pub fn is_device_failure(&self) -> bool {
        matches!(self, Self::Gpu(_))
    }

    /// Shorthand for [`KernelError::InvalidParameter`].
    pub fn invalid(field: impl Into<String>, value: impl ToString, allowed: impl Into<String>) -> Self {
        Self::InvalidParameter { field: field.into(), value: value.to_string(), allowed: allowed.into() }
    }
}

/// Result type of the kernel layer.
pub type Result<T> = std::result::Result<T, KernelError>;
