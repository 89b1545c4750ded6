//! Push-fatigue defences: which desktop alert newly announced requests raise.
//!
//! * One request pending for an account: a notification for it, with a one-click Approve only
//!   when no number matching is asked for.
//! * More than one pending for an account: one grouped notification for the account saying how
//!   many, which opens the window. No one-click Approve while several are pending: a flood is
//!   how an attacker hopes for a tired click, and the one genuine request must be read.
//! * At most [`RATE_LIMIT`] alerts per account in [`RATE_WINDOW`]; past that a single request
//!   raises none, and the grouped notification is updated without sound.
//! * An account the user just reported a request for as "not me" is quieted
//!   ([`crate::quiet`]): its requests still appear in the window and the tray, silently.
//!
//! The rules here are pure (no clock, no I/O); the watcher feeds them.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde::Serialize;
use ts_rs::TS;

/// Alerts (notifications that pop up with sound) per account per [`RATE_WINDOW`].
pub const RATE_LIMIT: usize = 3;
/// The window of the per-account rate limit.
pub const RATE_WINDOW: Duration = Duration::from_secs(60);

/// What a newly announced request raises on the desktop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alert {
    /// Its own notification. `one_click`: Approve may be offered on it.
    Single {
        /// Approve on the notification itself (false when a number must be matched).
        one_click: bool,
    },
    /// The account's grouped notification, for `pending` requests (replacing the account's
    /// other notifications); it only opens the window.
    Grouped {
        /// Requests pending for the account, this one included.
        pending: usize,
        /// Pop up with sound (false past the rate limit: update in place, quietly).
        sound: bool,
    },
    /// No notification; the window and the tray still list it.
    Silent(SilentReason),
}

impl Alert {
    /// Whether a notification is shown or updated for it.
    pub fn notifies(&self) -> bool {
        !matches!(self, Alert::Silent(_))
    }
}

/// Why a request raised no notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SilentReason {
    /// Notifications are switched off in the settings.
    Disabled,
    /// Notifications are paused.
    Paused,
    /// The account is quieted after a "not me" report.
    Quieted,
    /// The account raised [`RATE_LIMIT`] alerts within [`RATE_WINDOW`].
    RateLimited,
    /// Covered by the account's grouped notification, raised for a newer request of the same
    /// poll.
    InGroup,
}

/// Whether notifications may be shown at all, from the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Shown.
    Open,
    /// Switched off.
    Disabled,
    /// Paused.
    Paused,
}

/// One account's share of a poll: what is new and how many are pending in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountBatch {
    /// For each new request, oldest first: whether approving it needs the window (number
    /// matching, or the app PIN for this account), so no one-click Approve.
    pub needs_window: Vec<bool>,
    /// Requests pending for the account after this poll (the new ones included).
    pub pending: usize,
    /// The account is quieted.
    pub quieted: bool,
}

/// Per-account memory of recent alerts for the rate limit.
#[derive(Debug, Default)]
pub struct AlertLimiter {
    recent: HashMap<String, VecDeque<Instant>>,
}

impl AlertLimiter {
    /// Takes one alert for `account` at `now` if the limit allows; false when it does not.
    pub fn take(&mut self, account: &str, now: Instant) -> bool {
        let q = self.recent.entry(account.to_owned()).or_default();
        while q
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= RATE_WINDOW)
        {
            q.pop_front();
        }
        if q.len() >= RATE_LIMIT {
            return false;
        }
        q.push_back(now);
        true
    }

    /// Forgets a removed account.
    pub fn forget(&mut self, account: &str) {
        self.recent.remove(account);
    }
}

/// The alerts for one account's new requests, in the order of `batch.needs_window`. The
/// limiter is charged only for alerts that pop up.
pub fn decide(
    gate: Gate,
    batch: &AccountBatch,
    account: &str,
    limiter: &mut AlertLimiter,
    now: Instant,
) -> Vec<Alert> {
    let n = batch.needs_window.len();
    let silent = |r| vec![Alert::Silent(r); n];
    match gate {
        Gate::Disabled => return silent(SilentReason::Disabled),
        Gate::Paused => return silent(SilentReason::Paused),
        Gate::Open => {}
    }
    if batch.quieted {
        return silent(SilentReason::Quieted);
    }
    if n == 0 {
        return Vec::new();
    }
    if batch.pending <= 1 && n == 1 {
        let alert = if limiter.take(account, now) {
            Alert::Single {
                one_click: !batch.needs_window[0],
            }
        } else {
            Alert::Silent(SilentReason::RateLimited)
        };
        return vec![alert];
    }
    // Several pending: the newest new request carries the grouped notification.
    let mut out = silent(SilentReason::InGroup);
    out[n - 1] = Alert::Grouped {
        pending: batch.pending.max(n),
        sound: limiter.take(account, now),
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(needs_window: &[bool], pending: usize) -> AccountBatch {
        AccountBatch {
            needs_window: needs_window.to_vec(),
            pending,
            quieted: false,
        }
    }

    #[test]
    fn one_request_gets_its_own_notification_one_click_unless_matching() {
        let mut l = AlertLimiter::default();
        let t = Instant::now();
        assert_eq!(
            decide(Gate::Open, &batch(&[false], 1), "A", &mut l, t),
            vec![Alert::Single { one_click: true }]
        );
        assert_eq!(
            decide(Gate::Open, &batch(&[true], 1), "B", &mut l, t),
            vec![Alert::Single { one_click: false }]
        );
    }

    #[test]
    fn a_flood_in_one_poll_raises_one_grouped_alert_on_the_newest() {
        let mut l = AlertLimiter::default();
        let alerts = decide(
            Gate::Open,
            &batch(&[false; 30], 30),
            "A",
            &mut l,
            Instant::now(),
        );
        assert_eq!(alerts.len(), 30);
        assert_eq!(
            alerts[29],
            Alert::Grouped {
                pending: 30,
                sound: true
            }
        );
        assert!(alerts[..29]
            .iter()
            .all(|a| *a == Alert::Silent(SilentReason::InGroup)));
        assert_eq!(alerts.iter().filter(|a| a.notifies()).count(), 1);
    }

    #[test]
    fn a_second_request_while_one_is_pending_groups_and_never_offers_one_click() {
        let mut l = AlertLimiter::default();
        let t = Instant::now();
        decide(Gate::Open, &batch(&[false], 1), "A", &mut l, t);
        assert_eq!(
            decide(Gate::Open, &batch(&[false], 2), "A", &mut l, t),
            vec![Alert::Grouped {
                pending: 2,
                sound: true
            }]
        );
    }

    #[test]
    fn the_rate_limit_is_per_account_and_slides() {
        let mut l = AlertLimiter::default();
        let t0 = Instant::now();
        // One request at a time, each answered before the next: singles.
        for i in 0..RATE_LIMIT {
            let t = t0 + Duration::from_secs(i as u64);
            assert!(decide(Gate::Open, &batch(&[false], 1), "A", &mut l, t)[0].notifies());
        }
        let t = t0 + Duration::from_secs(10);
        assert_eq!(
            decide(Gate::Open, &batch(&[false], 1), "A", &mut l, t),
            vec![Alert::Silent(SilentReason::RateLimited)]
        );
        assert_eq!(
            decide(Gate::Open, &batch(&[false], 3), "A", &mut l, t),
            vec![Alert::Grouped {
                pending: 3,
                sound: false
            }],
            "the count still updates, without sound"
        );
        // Another account is not held back.
        assert!(decide(Gate::Open, &batch(&[false], 1), "B", &mut l, t)[0].notifies());
        // The first alert leaves the window at t0 + 60 s.
        let later = t0 + RATE_WINDOW;
        assert_eq!(
            decide(Gate::Open, &batch(&[false], 1), "A", &mut l, later),
            vec![Alert::Single { one_click: true }]
        );
    }

    #[test]
    fn settings_and_quiet_silence_everything_without_charging_the_limit() {
        let mut l = AlertLimiter::default();
        let t = Instant::now();
        assert_eq!(
            decide(Gate::Paused, &batch(&[false, true], 2), "A", &mut l, t),
            vec![Alert::Silent(SilentReason::Paused); 2]
        );
        assert_eq!(
            decide(Gate::Disabled, &batch(&[false], 1), "A", &mut l, t),
            vec![Alert::Silent(SilentReason::Disabled)]
        );
        let quiet = AccountBatch {
            quieted: true,
            ..batch(&[false], 1)
        };
        assert_eq!(
            decide(Gate::Open, &quiet, "A", &mut l, t),
            vec![Alert::Silent(SilentReason::Quieted)]
        );
        for _ in 0..RATE_LIMIT {
            assert!(l.take("A", t), "nothing was charged");
        }
    }

    #[test]
    fn an_empty_batch_raises_nothing() {
        let mut l = AlertLimiter::default();
        assert!(decide(Gate::Open, &batch(&[], 4), "A", &mut l, Instant::now()).is_empty());
    }
}
