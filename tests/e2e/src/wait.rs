//! Polling until something becomes true. Timeouts are generous failure guards, not speed checks.

use crate::error::{Error, Result};
use std::future::Future;
use std::time::{Duration, Instant};

/// Default patience for UI and server state to settle (the app polls the API every few seconds).
pub const PATIENCE: Duration = Duration::from_secs(60);
/// Pause between polls.
pub const TICK: Duration = Duration::from_millis(250);

/// Calls `probe` until it yields `Some`, or fails with [`Error::Timeout`] naming `what`.
/// Errors from `probe` end the wait at once.
pub async fn until<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = probe().await? {
            return Ok(v);
        }
        if start.elapsed() >= timeout {
            return Err(Error::Timeout {
                what: what.to_string(),
                secs: timeout.as_secs(),
            });
        }
        tokio::time::sleep(TICK).await;
    }
}
