//! The harness's error type: every failure names what was being done, so a red test says why.

/// Stable, greppable codes for harness failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// `ASSENT_E2E=1` but a piece of the test desktop is missing.
    Environment,
    /// A child process (emulator, app CLI, tool) failed to start or misbehaved.
    Process,
    /// The relying-party HTTP API answered with an error or unexpected body.
    Api,
    /// WebDriver (tauri-driver / WebKitWebDriver) failed.
    WebDriver,
    /// A condition did not become true in time.
    Timeout,
    /// Something was observed that the scenario forbids.
    Assertion,
    /// Local file or socket I/O failed.
    Io,
}

/// Everything that can go wrong while driving a scenario.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The desktop is incomplete (only raised when `ASSENT_E2E=1`).
    #[error("e2e environment incomplete: {0}")]
    Environment(String),
    /// A child process failed.
    #[error("process {what}: {detail}")]
    Process {
        /// Which process.
        what: String,
        /// What went wrong.
        detail: String,
    },
    /// The emulator's API answered unexpectedly.
    #[error("API {what}: {detail}")]
    Api {
        /// Which call.
        what: String,
        /// Status and body, or decode failure.
        detail: String,
    },
    /// A WebDriver command failed.
    #[error("webdriver {what}: {source}")]
    WebDriver {
        /// What was being done.
        what: String,
        /// The client's error.
        #[source]
        source: Box<fantoccini::error::CmdError>,
    },
    /// A WebDriver session could not be created.
    #[error("webdriver session: {0}")]
    Session(#[from] fantoccini::error::NewSessionError),
    /// Waited too long.
    #[error("timed out after {secs}s waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        secs: u64,
    },
    /// A forbidden observation.
    #[error("assertion failed: {0}")]
    Assertion(String),
    /// I/O.
    #[error("I/O {what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Environment(_) => ErrorCode::Environment,
            Error::Process { .. } => ErrorCode::Process,
            Error::Api { .. } => ErrorCode::Api,
            Error::WebDriver { .. } | Error::Session(_) => ErrorCode::WebDriver,
            Error::Timeout { .. } => ErrorCode::Timeout,
            Error::Assertion(_) => ErrorCode::Assertion,
            Error::Io { .. } => ErrorCode::Io,
        }
    }

    /// Wraps a WebDriver command error with what was being done.
    pub fn webdriver(what: impl Into<String>, source: fantoccini::error::CmdError) -> Self {
        Error::WebDriver {
            what: what.into(),
            source: Box::new(source),
        }
    }

    /// Wraps an I/O error with what was being done.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            what: what.into(),
            source,
        }
    }

    /// A process failure.
    pub fn process(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::Process {
            what: what.into(),
            detail: detail.into(),
        }
    }

    /// An API failure.
    pub fn api(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::Api {
            what: what.into(),
            detail: detail.into(),
        }
    }
}

/// Result alias for the harness.
pub type Result<T, E = Error> = std::result::Result<T, E>;
