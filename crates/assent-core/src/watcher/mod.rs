//! The challenge watcher: polls every verified factor for `Status=pending` challenges and turns
//! what it sees into events.
//!
//! * Schedule: fixed rate. Polls are due on a grid `pollIntervalSecs` apart (so 2 s means
//!   exactly 30 polls a minute per factor however long a poll takes, and a challenge waits a
//!   uniformly distributed time for the next poll), `idlePollIntervalSecs` apart once the
//!   [`IdleSource`] reports no input for [`WatcherConfig::idle_after`] (the GUI reads X11 idle
//!   time and window focus; unknown idle time counts as active, so latency never suffers).
//!   Every verified factor is listed at once in each poll.
//! * An immediate poll at start, on [`Watcher::check_now`], after a wall-clock jump (the machine
//!   slept: the monotonic clock stops during suspend, the wall clock does not) and when the
//!   network configuration changes ([`SystemProbe`]); the grid then restarts from that poll.
//! * Transient errors (network, 5xx, 429, undecodable bodies) back off exponentially with
//!   jitter up to [`WatcherConfig::max_backoff`] ([`LOCAL_MAX_BACKOFF`] while only a server on
//!   this machine refuses connections, so its return is noticed within seconds), never sooner
//!   than a server's `Retry-After`, and mark the watcher offline until a poll succeeds.
//! * A locked or absent keychain (`keychain_locked` / `keychain_unavailable`) is not retried at
//!   the normal rate: on a desktop every keychain read while locked opens an unlock prompt, so
//!   retrying every 2 s after the user dismissed one would bring it straight back. Automatic
//!   retries wait [`KEYCHAIN_RETRY_FIRST`], doubling up to [`KEYCHAIN_RETRY_MAX`], counted from
//!   the end of the failed poll (the prompt's dismissal or its timeout); "Check now", resume
//!   from sleep and the user coming back from idle (they may just have unlocked their session,
//!   and with it the login keyring) retry at once; a network change does not (every request
//!   needs the key first). The status keeps the keychain error meanwhile, and the first
//!   successful poll restores the normal schedule.
//! * Challenges are keyed by (factor, challenge SID) everywhere ([`ChallengeKey`]): a server
//!   the user is also enrolled with can list any SID, and must neither take over another
//!   account's card nor suppress its notification. A card keeps the text it was first shown
//!   with; the answer path signs only a challenge that still shows that text.
//! * Each challenge is announced once: its key is recorded in memory and in `announced.json`
//!   (with its expiry) before the announcement, so neither later polls nor restarts notify
//!   twice. The file is replaced without waiting for the disk (no fsync on the way to the
//!   notification): a crashed process still finds it, and after an OS crash the notification
//!   is gone too, so announcing again is right.
//! * A challenge that stops being pending (answered elsewhere, expired) is removed, with its
//!   final status fetched for the UI, after the new ones are announced.
//! * A challenge a silent-approval request could settle is held back until that request is
//!   decided ([`hold`]): no card or notification flashes for a sign-in approved a moment later.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use verify_push::{ChallengeSid, VerifyPush};

use crate::accounts::ActivityStore;
use crate::alerts::AlertLimiter;
use crate::error::ErrorView;
use crate::events::EventSink;
use crate::quiet::QuietStore;
use crate::settings::SettingsStore;
use crate::silent::SilentStore;
use crate::verification::VerificationStore;
use crate::views::{ChallengeKey, ClockWarning, PendingChallenge};

mod announced;
mod cards;
mod hold;
mod poll;
mod probe;
mod reconcile;
mod run;
mod schedule;
mod status;

use announced::AnnouncedStore;
pub use hold::Deciding;
pub use probe::{IdleSource, NeverIdle, OsProbe, SystemProbe};
pub use schedule::{KEYCHAIN_RETRY_FIRST, KEYCHAIN_RETRY_MAX};

/// Tuning that is not a user setting.
#[derive(Debug, Clone)]
pub struct WatcherConfig {
    /// Idle for this long switches to the idle interval.
    pub idle_after: Duration,
    /// Upper bound of the error backoff (a server's Retry-After may exceed it).
    pub max_backoff: Duration,
    /// How often the loop wakes to check for resume, network changes and pause expiry.
    pub tick: Duration,
    /// Wall clock advancing this much more than the monotonic clock counts as resume from sleep.
    pub resume_jump: Duration,
    /// Replaces the settings' intervals (tests poll faster than the 1 s settings minimum).
    pub interval_override: Option<Duration>,
    /// Resume and network-change detection.
    pub probe: Arc<dyn SystemProbe>,
    /// Longest a card that may be approved silently waits for the page's request ([`hold`]).
    pub silent_hold: Duration,
}

impl Default for WatcherConfig {
    fn default() -> Self {
        WatcherConfig {
            idle_after: Duration::from_secs(300),
            max_backoff: Duration::from_secs(60),
            tick: Duration::from_secs(1),
            resume_jump: Duration::from_secs(5),
            interval_override: None,
            probe: Arc::new(OsProbe),
            silent_hold: SILENT_HOLD,
        }
    }
}

/// What one poll found, for the scheduling decision.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PollOutcome {
    /// A transient error happened (back off).
    pub transient_error: bool,
    /// A key could not be read: the keychain is locked or absent (wait for the user).
    pub keychain_error: bool,
    /// The longest Retry-After any response asked for.
    pub retry_after: Option<Duration>,
    /// Every transient error was a refused connection to a server on this machine (the
    /// embedded emulator, a local development server): probing it again costs nothing, so the
    /// backoff stays under [`LOCAL_MAX_BACKOFF`] and its return is noticed within seconds.
    pub local_refused: bool,
    /// Challenges announced by this poll.
    pub announced: usize,
    /// Challenges removed by this poll.
    pub removed: usize,
}

#[derive(Debug, Default)]
struct State {
    pending: BTreeMap<ChallengeKey, PendingChallenge>,
    online: bool,
    paused: bool,
    last_poll_at: Option<DateTime<Utc>>,
    last_error: Option<ErrorView>,
    consecutive_failures: u32,
    /// Polls in a row that failed on the keychain.
    keychain_failures: u32,
    last_sent: Option<(bool, bool, Option<ErrorView>, Vec<ClockWarning>)>,
    clock_warnings: Vec<ClockWarning>,
    /// Answered here recently: a poll that raced the answer must not bring them back.
    resolved: HashMap<ChallengeKey, Instant>,
    last_interaction: Option<Instant>,
    /// Recent alerts per account (push-fatigue rate limit).
    limiter: AlertLimiter,
    /// Cards held back for a silent-approval request ([`hold`]).
    held: BTreeMap<ChallengeKey, PendingChallenge>,
    /// Challenges whose silent-approval request was decided: never held again.
    silent_decided: HashMap<ChallengeSid, Instant>,
    /// Silent-approval requests being decided, by challenge: their cards stay held.
    deciding: HashMap<ChallengeSid, usize>,
}

/// The backoff cap while only a server on this machine refuses connections.
pub const LOCAL_MAX_BACKOFF: Duration = Duration::from_secs(3);

/// How long a card that may be approved silently waits for the sign-in page's request: the
/// page sends it right after its wake-up, and deciding it takes two requests to the server.
pub const SILENT_HOLD: Duration = Duration::from_secs(3);

/// How long a locally answered SID is ignored by polls that may have started before the answer.
const RESOLVED_GRACE: Duration = Duration::from_secs(120);

struct Inner {
    client: VerifyPush,
    settings: Arc<SettingsStore>,
    activity: Arc<ActivityStore>,
    quiet: Arc<QuietStore>,
    verification: Arc<VerificationStore>,
    silent: Arc<SilentStore>,
    sink: Arc<dyn EventSink>,
    idle: Arc<dyn IdleSource>,
    config: WatcherConfig,
    announced: Mutex<AnnouncedStore>,
    state: Mutex<State>,
    wake: tokio::sync::Notify,
    poll_lock: tokio::sync::Mutex<()>,
    stop: AtomicBool,
    polls: AtomicU64,
}

/// Handle to the watcher (cheap to clone). [`Watcher::run`] is the loop.
#[derive(Clone)]
pub struct Watcher {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher").finish_non_exhaustive()
    }
}

impl Watcher {
    /// Creates a watcher; nothing runs until [`Watcher::run`] or [`Watcher::poll_once`].
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: VerifyPush,
        settings: Arc<SettingsStore>,
        activity: Arc<ActivityStore>,
        quiet: Arc<QuietStore>,
        verification: Arc<VerificationStore>,
        silent: Arc<SilentStore>,
        sink: Arc<dyn EventSink>,
        idle: Arc<dyn IdleSource>,
        announced_file: PathBuf,
        config: WatcherConfig,
    ) -> Watcher {
        let paused = settings.get().is_paused(Utc::now());
        Watcher {
            inner: Arc::new(Inner {
                client,
                settings,
                activity,
                quiet,
                verification,
                silent,
                sink,
                idle,
                config,
                announced: Mutex::new(AnnouncedStore::load(announced_file)),
                state: Mutex::new(State {
                    online: true,
                    paused,
                    ..State::default()
                }),
                wake: tokio::sync::Notify::new(),
                poll_lock: tokio::sync::Mutex::new(()),
                stop: AtomicBool::new(false),
                polls: AtomicU64::new(0),
            }),
        }
    }

    /// Asks the loop to poll now ("Check now", new account, settings change).
    pub fn check_now(&self) {
        self.inner.wake.notify_one();
    }

    /// Stops the loop at its next wake-up.
    pub fn stop(&self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        self.inner.wake.notify_one();
    }

    /// The user interacted with the window (counts as activity for the idle interval).
    pub fn note_interaction(&self) {
        self.state().last_interaction = Some(Instant::now());
    }

    /// Number of polls started so far (each poll lists every verified factor once).
    pub fn poll_count(&self) -> u64 {
        self.inner.polls.load(Ordering::SeqCst)
    }

    /// The current pending challenges, newest first (a flood of old ones must not push the
    /// request just made out of sight).
    pub fn pending(&self) -> Vec<PendingChallenge> {
        sorted(&self.state().pending)
    }

    /// How many challenges are pending for one account.
    pub fn pending_count(&self, factor_sid: &str) -> usize {
        self.state()
            .pending
            .keys()
            .filter(|k| k.factor.as_ref() == factor_sid)
            .count()
    }

    /// The card shown for `key`, as it was first shown (what an answer must still match).
    pub fn displayed(&self, key: &ChallengeKey) -> Option<PendingChallenge> {
        self.state().pending.get(key).cloned()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Every critical section leaves State consistent (plain field writes), so a poisoned
        // lock is still usable.
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_announced(&self) -> std::sync::MutexGuard<'_, AnnouncedStore> {
        self.inner
            .announced
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

/// Newest first; the key breaks ties so the order is stable.
fn sorted(map: &BTreeMap<ChallengeKey, PendingChallenge>) -> Vec<PendingChallenge> {
    let mut v: Vec<PendingChallenge> = map.values().cloned().collect();
    v.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.key().cmp(b.key())));
    v
}
