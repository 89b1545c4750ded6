//! Errors of the test helpers, with stable codes.

/// Stable classification of an [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// An HTTP exchange with the emulator failed or kept failing.
    Backend,
    /// A local file operation failed.
    Io,
    /// A listener could not be set up.
    Setup,
}

/// What went wrong in a helper.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The backend call failed after its retries.
    #[error("backend call {what} failed: {why}")]
    Backend {
        /// Which call.
        what: String,
        /// Last failure.
        why: String,
    },
    /// File I/O.
    #[error("i/o on {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Binding or starting a helper server.
    #[error("setup failed: {0}")]
    Setup(String),
}

impl Error {
    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Backend { .. } => ErrorCode::Backend,
            Error::Io { .. } => ErrorCode::Io,
            Error::Setup(_) => ErrorCode::Setup,
        }
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
