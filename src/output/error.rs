//! The error type of the output writers: every variant that concerns a file names it.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// Why an output could not be written (or an accumulator could not be set up or finished).
#[derive(Debug, Error)]
pub enum OutputError {
    /// Creating, writing, flushing or renaming a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The data handed to a writer does not fit the file (mismatched lengths, a type id without a
    /// name, a wrong number of values in a row, non-finite values where a plot needs numbers).
    #[error("{}: {what}", path.display())]
    Data {
        /// The file that was to be written.
        path: PathBuf,
        /// What was wrong.
        what: String,
    },
    /// The plotting library refused to draw.
    #[error("{}: plot: {what}", path.display())]
    Plot {
        /// The image that was to be written.
        path: PathBuf,
        /// The library's message.
        what: String,
    },
    /// A bad argument that concerns no file yet (a binning set up with zero bins, a non-positive
    /// box length, a field grid finished before any sample).
    #[error("{0}")]
    Invalid(String),
}

impl OutputError {
    /// An I/O error on `path`.
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        OutputError::Io { path: path.to_path_buf(), source }
    }
    /// Data that does not fit the file at `path`.
    pub(crate) fn data(path: &Path, what: impl Into<String>) -> Self {
        OutputError::Data { path: path.to_path_buf(), what: what.into() }
    }
}

/// Writes `bytes` to `path` through a temporary file beside it and a rename, so readers (and a run
/// killed mid-write) see either the old complete file or the new complete one.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(|e| OutputError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| OutputError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_file() {
        let e = OutputError::io(Path::new("/x/y.csv"), std::io::Error::other("disk full"));
        assert_eq!(e.to_string(), "/x/y.csv: disk full");
        let e = OutputError::data(Path::new("a.xyz"), "3 velocities for 4 particles");
        assert_eq!(e.to_string(), "a.xyz: 3 velocities for 4 particles");
    }
}
