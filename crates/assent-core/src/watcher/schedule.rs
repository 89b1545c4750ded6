//! When the next poll is due: the fixed-rate grid, error backoff and the slower keychain
//! retries.

use std::time::Duration;

use tokio::time::Instant as TokioInstant;

/// First automatic retry after a poll failed because the keychain is locked or absent.
pub const KEYCHAIN_RETRY_FIRST: Duration = Duration::from_secs(30);
/// Longest wait between automatic keychain retries.
///
/// Backing off (rather than stopping until the user asks) because the keychain can be unlocked
/// without us hearing of it (Seahorse, another app's prompt, a prompt dismissed by mistake):
/// requests must come back by themselves within a few minutes, at the price of at most one
/// prompt per 5 minutes (12 an hour) while the user leaves it locked.
pub const KEYCHAIN_RETRY_MAX: Duration = Duration::from_secs(300);

/// Why the loop polls outside the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Trigger {
    /// The loop just started.
    Start,
    /// [`Watcher::check_now`].
    CheckNow,
    /// The wall clock jumped ahead of the monotonic one (resume from sleep).
    Resumed,
    /// The network configuration changed.
    NetworkChanged,
    /// The user came back from idle while the keychain was locked.
    BackFromIdle,
}

/// What a failed poll asks of the schedule: a delay that replaces the interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Delay {
    /// A transient error (network, server): back off.
    Backoff(Duration),
    /// The keychain is locked or absent: wait for the user (explicit triggers retry at once).
    Keychain(Duration),
}

impl Delay {
    pub(super) fn duration(self) -> Duration {
        match self {
            Delay::Backoff(d) | Delay::Keychain(d) => d,
        }
    }
}

/// The wait after the `failures`-th keychain failure in a row: [`KEYCHAIN_RETRY_FIRST`],
/// doubling up to [`KEYCHAIN_RETRY_MAX`], never shorter than the normal `interval`.
pub(super) fn keychain_retry_delay(failures: u32, interval: Duration) -> Duration {
    KEYCHAIN_RETRY_FIRST
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(KEYCHAIN_RETRY_MAX)
        .max(interval)
}

/// Whether a poll failed because no key could be read from a locked or absent keychain.
pub(super) fn is_keychain_error(e: &verify_push::Error) -> bool {
    matches!(
        e.code(),
        verify_push::ErrorCode::KeychainLocked | verify_push::ErrorCode::KeychainUnavailable
    )
}

/// When the next poll is due. Fixed rate: a poll that was due at `d` makes the next one due at
/// `d + interval`, whenever it actually started and however long it took, so the rate is
/// exactly one per interval. A poll that starts a whole interval or more late (the loop was
/// held up) or out of schedule (a [`Trigger`]) restarts the grid from its start instead of
/// catching up with a burst. After a failed poll its [`Delay`] replaces the interval.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Schedule {
    /// Grid point of the last poll; `None` before the first.
    anchor: Option<TokioInstant>,
    /// Set after a failed poll: the next poll waits this long instead.
    backoff: Option<Delay>,
}

impl Schedule {
    /// When the next poll is due with the current interval (now, before the first poll).
    pub(super) fn due(&self, interval: Duration) -> TokioInstant {
        match self.anchor {
            Some(a) => a + self.backoff.map_or(interval, Delay::duration),
            None => TokioInstant::now(),
        }
    }

    /// Records a poll: `anchor` is the grid point it was due at (its start when forced); a
    /// backoff counts from `finished`, so a slow failing request still waits it out.
    pub(super) fn polled(
        &mut self,
        anchor: TokioInstant,
        started: TokioInstant,
        finished: TokioInstant,
        interval: Duration,
        backoff: Option<Delay>,
    ) {
        self.anchor = Some(if backoff.is_some() {
            finished
        } else if started.saturating_duration_since(anchor) >= interval {
            started
        } else {
            anchor
        });
        self.backoff = backoff;
    }

    /// Whether the last poll failed on the keychain (automatic retries are slowed down).
    pub(super) fn waiting_for_keychain(&self) -> bool {
        matches!(self.backoff, Some(Delay::Keychain(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECS: fn(u64) -> Duration = Duration::from_secs;

    #[tokio::test(start_paused = true)]
    async fn schedule_keeps_its_grid_whatever_a_poll_takes() {
        let t0 = TokioInstant::now();
        let interval = SECS(2);
        let mut s = Schedule::default();
        assert_eq!(s.due(interval), t0, "the first poll is due at once");
        // Due at t0, started 300 ms late, took 500 ms: the next is still due at t0 + 2 s.
        let started = t0 + Duration::from_millis(300);
        s.polled(
            t0,
            started,
            started + Duration::from_millis(500),
            interval,
            None,
        );
        assert_eq!(s.due(interval), t0 + SECS(2));
        // The interval is read when asked: idle stretches the same grid.
        assert_eq!(s.due(SECS(15)), t0 + SECS(15));
        // Held up for a whole interval (or more): the grid restarts at the late start, no burst.
        let late = t0 + SECS(2) + SECS(5);
        s.polled(t0 + SECS(2), late, late, interval, None);
        assert_eq!(s.due(interval), late + SECS(2));
        // A backoff counts from the end of the failed poll and replaces the interval.
        let (start, end) = (late + SECS(2), late + SECS(12));
        s.polled(
            late + SECS(2),
            start,
            end,
            interval,
            Some(Delay::Backoff(SECS(4))),
        );
        assert_eq!(s.due(interval), end + SECS(4));
        // Success again: back to the interval, from the grid point.
        s.polled(end + SECS(4), end + SECS(4), end + SECS(5), interval, None);
        assert_eq!(s.due(interval), end + SECS(6));
    }

    #[test]
    fn keychain_retries_double_from_30_s_up_to_5_min() {
        let two = SECS(2);
        let waits: Vec<u64> = (1..=7)
            .map(|n| keychain_retry_delay(n, two).as_secs())
            .collect();
        assert_eq!(waits, [30, 60, 120, 240, 300, 300, 300]);
        assert_eq!(keychain_retry_delay(u32::MAX, two), KEYCHAIN_RETRY_MAX);
        // Never faster than the user's own interval.
        assert_eq!(keychain_retry_delay(1, SECS(45)), SECS(45));
    }

    #[tokio::test(start_paused = true)]
    async fn a_keychain_wait_replaces_the_interval_and_success_ends_it() {
        let t0 = TokioInstant::now();
        let interval = SECS(2);
        let mut s = Schedule::default();
        // The prompt was up for 10 s before the user dismissed it: 30 s from the dismissal.
        s.polled(
            t0,
            t0,
            t0 + SECS(10),
            interval,
            Some(Delay::Keychain(SECS(30))),
        );
        assert!(s.waiting_for_keychain());
        assert_eq!(s.due(interval), t0 + SECS(40));
        s.polled(t0 + SECS(40), t0 + SECS(40), t0 + SECS(41), interval, None);
        assert!(!s.waiting_for_keychain());
        assert_eq!(s.due(interval), t0 + SECS(42));
        // A network backoff is not a keychain wait.
        s.polled(
            t0 + SECS(42),
            t0 + SECS(42),
            t0 + SECS(43),
            interval,
            Some(Delay::Backoff(SECS(4))),
        );
        assert!(!s.waiting_for_keychain());
    }
}
