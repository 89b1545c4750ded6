//! Assertions shared by the scenario files: they return the harness's error so a scenario can
//! clean up (restart a keyring, close a window) before the test fails.

use crate::{Error, Result};

/// Fails the test with the scenario's error, if any (the message says what was being done).
pub fn report(outcome: Result<()>) {
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

/// `Err(Assertion)` with `msg()` unless `cond` holds.
pub fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Result<()> {
    if cond {
        Ok(())
    } else {
        Err(Error::Assertion(msg()))
    }
}
