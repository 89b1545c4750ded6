//! Hardening tests for Assent's Verify Push stack (`tests/` holds the tests themselves):
//! a backend client that survives injected faults, a request-counting proxy, a file-backed key
//! store whose writes a SIGKILL can interrupt, and process memory readings.

pub mod backend;
pub mod error;
pub mod file_keys;
pub mod proxy;
pub mod rss;

pub use backend::Backend;
pub use error::{Error, ErrorCode};
pub use file_keys::FileKeyStore;
pub use proxy::CountingProxy;
