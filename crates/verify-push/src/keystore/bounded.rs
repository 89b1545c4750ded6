//! Keychain calls with a deadline.
//!
//! The Secret Service answers a request for a locked item with an unlock prompt, and the
//! keyring crate then waits for the prompt's answer with no limit (its D-Bus layer waits a
//! year). On a desktop where nobody answers the prompt (screen locked, user away, a prompter
//! that never shows) every key read would hang: the CLI forever, the window's Approve button
//! forever. So each call runs on its own thread and the caller stops waiting after a deadline
//! with [`Error::KeychainLocked`]. The abandoned thread keeps waiting for the prompt (a D-Bus
//! call cannot be cancelled from outside); while it does, new calls fail at once instead of
//! stacking more prompts and threads, and the first call after the prompt is answered works.

use crate::error::Error;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// How long a keychain call may take before the caller gets [`Error::KeychainLocked`]: long
/// enough to type a password into the unlock prompt, short enough that nothing looks frozen.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

// States of one call: the worker and the caller race to move it out of RUNNING.
const RUNNING: u8 = 0;
const DONE: u8 = 1;
const ABANDONED: u8 = 2;

/// Runs blocking keychain calls on worker threads with a deadline (see the module docs).
#[derive(Debug)]
pub struct Bounded {
    timeout: Duration,
    // Calls whose caller gave up but whose thread is still inside the keychain.
    abandoned: Arc<AtomicUsize>,
}

impl Bounded {
    /// Calls time out after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            abandoned: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The deadline of one call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How many timed-out calls are still waiting inside the keychain.
    pub fn stuck(&self) -> usize {
        self.abandoned.load(Ordering::SeqCst)
    }

    /// Runs `f` on a worker thread and waits at most the timeout for its result.
    pub fn run<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, Error> + Send + 'static,
    {
        if self.stuck() > 0 {
            return Err(Error::KeychainLocked(
                "an earlier keychain request is still waiting, probably for the unlock prompt: \
                 unlock your login keyring (answer the prompt, or use your keyring manager) and \
                 try again"
                    .into(),
            ));
        }
        let state = Arc::new(AtomicU8::new(RUNNING));
        let (tx, rx) = mpsc::sync_channel(1);
        let worker_state = state.clone();
        let abandoned = self.abandoned.clone();
        std::thread::Builder::new()
            .name("keychain".into())
            .spawn(move || {
                // Accounts for this call however it ends, a panic inside the keyring included.
                let _finish = Finish {
                    state: worker_state,
                    abandoned,
                };
                let result = f();
                // The receiver is gone when the caller timed out; nothing to deliver then.
                let _ = tx.send(result);
            })
            .map_err(|e| Error::KeyStorage(format!("cannot start a keychain thread: {e}")))?;
        match rx.recv_timeout(self.timeout) {
            Ok(result) => result,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if state
                    .compare_exchange(RUNNING, ABANDONED, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
                {
                    self.abandoned.fetch_add(1, Ordering::SeqCst);
                    return Err(Error::KeychainLocked(format!(
                        "the keychain did not answer within {} s; it is probably locked and \
                         waiting for its unlock prompt: unlock your login keyring and try again",
                        self.timeout.as_secs()
                    )));
                }
                // Finished right at the deadline: the result is there (or about to be).
                rx.recv().map_err(|_| {
                    Error::KeyStorage("a keychain thread stopped unexpectedly".into())
                })?
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(Error::KeyStorage(
                "a keychain thread stopped unexpectedly".into(),
            )),
        }
    }
}

/// Marks a call finished when its worker ends; if the caller had given up on it, the store is
/// no longer blocked by it.
struct Finish {
    state: Arc<AtomicU8>,
    abandoned: Arc<AtomicUsize>,
}

impl Drop for Finish {
    fn drop(&mut self) {
        if self
            .state
            .compare_exchange(RUNNING, DONE, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            self.abandoned.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Default for Bounded {
    fn default() -> Self {
        Self::new(DEFAULT_TIMEOUT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn results_and_errors_pass_through() {
        let b = Bounded::new(Duration::from_secs(30));
        assert_eq!(b.run(|| Ok(7)).unwrap(), 7);
        let e = b.run::<(), _>(|| Err(Error::KeyStorage("x".into())));
        assert_eq!(e.unwrap_err().code(), ErrorCode::KeyStorage);
        assert_eq!(b.stuck(), 0);
    }

    #[test]
    fn a_panicking_call_is_a_typed_error_and_blocks_nothing() {
        let b = Bounded::new(Duration::from_secs(30));
        let err = b
            .run::<(), _>(|| panic!("keyring backend panicked"))
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::KeyStorage);
        assert_eq!(b.stuck(), 0);
        assert_eq!(b.run(|| Ok(3)).unwrap(), 3);
    }

    #[test]
    fn a_call_that_never_returns_becomes_keychain_locked_and_blocks_no_one_later() {
        let b = Bounded::new(Duration::from_millis(200));
        let (release, wait) = mpsc::channel::<()>();
        // Stands in for a keyring call stuck on an unanswered unlock prompt.
        let err = b
            .run(move || {
                let _ = wait.recv();
                Ok(())
            })
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::KeychainLocked);
        assert!(err.to_string().contains("unlock"), "{err}");
        assert_eq!(b.stuck(), 1);
        // While the prompt is open, further calls fail at once instead of queueing prompts.
        let again = b.run(|| Ok(1)).unwrap_err();
        assert_eq!(again.code(), ErrorCode::KeychainLocked);
        // The prompt is answered: the stuck call ends and the store works again.
        release.send(()).unwrap();
        let healed = (0..200).find_map(|_| {
            std::thread::sleep(Duration::from_millis(10));
            (b.stuck() == 0).then_some(())
        });
        assert!(
            healed.is_some(),
            "the abandoned call was never accounted for"
        );
        assert_eq!(b.run(|| Ok(2)).unwrap(), 2);
    }
}
