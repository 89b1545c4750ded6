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

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::time::Instant as TokioInstant;

use chrono::{DateTime, Utc};
use rand::Rng;
use verify_push::VerifyPush;

use crate::accounts::ActivityStore;
use crate::alerts::AlertLimiter;
use crate::error::ErrorView;
use crate::events::{AppEvent, EventSink, RemovalReason};
use crate::quiet::QuietStore;
use crate::settings::SettingsStore;
use crate::verification::VerificationStore;
use crate::views::{ChallengeKey, ChallengeView, ClockWarning, PendingChallenge, WatcherStatus};

mod announced;
mod poll;
mod probe;
mod reconcile;
mod schedule;

use announced::AnnouncedStore;
use probe::resumed_from_sleep;
pub use probe::{IdleSource, NeverIdle, OsProbe, SystemProbe};
use schedule::{keychain_retry_delay, Delay, Schedule, Trigger};
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
}

/// The backoff cap while only a server on this machine refuses connections.
pub const LOCAL_MAX_BACKOFF: Duration = Duration::from_secs(3);

/// How long a locally answered SID is ignored by polls that may have started before the answer.
const RESOLVED_GRACE: Duration = Duration::from_secs(120);

struct Inner {
    client: VerifyPush,
    settings: Arc<SettingsStore>,
    activity: Arc<ActivityStore>,
    quiet: Arc<QuietStore>,
    verification: Arc<VerificationStore>,
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

    /// The status shown by the offline banner and the tray.
    pub fn status(&self) -> WatcherStatus {
        let st = self.state();
        WatcherStatus {
            online: st.online,
            paused: st.paused,
            last_poll_at: st.last_poll_at.map(crate::views::rfc3339),
            last_error: st.last_error.clone(),
            clock_warnings: st.clock_warnings.clone(),
        }
    }

    /// Re-reads the pause setting and emits a status event if it changed.
    pub fn refresh_paused(&self) {
        let paused = self.inner.settings.get().is_paused(Utc::now());
        self.state().paused = paused;
        self.emit_status_if_changed();
    }

    /// A challenge was answered here: drop it and report its final state.
    pub fn resolved(&self, key: &ChallengeKey, view: &ChallengeView) {
        let removed = {
            let mut st = self.state();
            st.resolved.insert(key.clone(), Instant::now());
            st.pending.remove(key).is_some()
        };
        self.mark_announced(key, view);
        self.inner.sink.emit(AppEvent::ChallengeRemoved {
            factor_sid: key.factor.to_string(),
            sid: key.challenge.to_string(),
            reason: RemovalReason::AnsweredHere,
        });
        self.inner
            .sink
            .emit(AppEvent::ChallengeAnswered(view.clone()));
        if removed {
            self.emit_list();
        }
    }

    /// An account was removed: drop its challenges.
    pub fn forget_factor(&self, factor_sid: &str) {
        let gone: Vec<ChallengeKey> = {
            let mut st = self.state();
            let gone = st
                .pending
                .keys()
                .filter(|k| k.factor.as_ref() == factor_sid)
                .cloned()
                .collect::<Vec<_>>();
            for key in &gone {
                st.pending.remove(key);
            }
            st.limiter.forget(factor_sid);
            gone
        };
        for key in &gone {
            self.emit_removed(key, RemovalReason::AccountRemoved);
        }
        if !gone.is_empty() {
            self.emit_list();
        }
    }

    /// The poll loop. Returns after [`Watcher::stop`].
    pub async fn run(self) {
        let cfg = self.inner.config.clone();
        let probe = cfg.probe.clone();
        let mut schedule = Schedule::default();
        let mut last_wall = probe.wall_clock();
        let mut last_mono = TokioInstant::now();
        let mut net = probe.network_fingerprint();
        let mut was_idle = self.is_idle();
        // The first poll happens at once.
        let mut forced = Some(Trigger::Start);
        tracing::info!("watcher started");
        while !self.inner.stop.load(Ordering::SeqCst) {
            let now = TokioInstant::now();
            let wall = probe.wall_clock();
            let wall_elapsed = wall.duration_since(last_wall).unwrap_or_default();
            if resumed_from_sleep(wall_elapsed, now - last_mono, cfg.resume_jump) {
                tracing::info!(
                    jump_secs = wall_elapsed.as_secs(),
                    "wall clock jumped (resume from sleep?); polling now"
                );
                forced = Some(Trigger::Resumed);
            }
            (last_wall, last_mono) = (wall, now);
            let fp = probe.network_fingerprint();
            if fp != net {
                net = fp;
                if schedule.waiting_for_keychain() {
                    // Every request needs the key first: polling would only bring the unlock
                    // prompt back.
                    tracing::info!("network configuration changed; still waiting for the keychain");
                } else {
                    tracing::info!("network configuration changed; polling now");
                    forced = Some(Trigger::NetworkChanged);
                }
            }
            let idle = self.is_idle();
            if was_idle && !idle && schedule.waiting_for_keychain() {
                // They may just have unlocked their session, and with it the login keyring.
                tracing::info!("user back from idle; trying the keychain now");
                forced = Some(Trigger::BackFromIdle);
            }
            was_idle = idle;
            self.refresh_paused();
            self.expire_locally_when_offline();

            // The interval is read at every wake-up, so becoming active shortens the wait at once;
            // once per wake-up, since the idle check may ask the X server.
            let interval = self.interval(idle);
            let due = schedule.due(interval);
            if forced.is_some() || now >= due {
                let started = TokioInstant::now();
                let outcome = self.poll_once().await;
                let backoff = self.backoff(&outcome, interval);
                let anchor = if forced.take().is_some() {
                    started
                } else {
                    due
                };
                if let Some(Delay::Keychain(wait)) = backoff {
                    tracing::info!(
                        retry_in_secs = wait.as_secs(),
                        "keychain locked or unavailable; next automatic try later (Check now, resume or returning from idle try at once)"
                    );
                }
                schedule.polled(anchor, started, TokioInstant::now(), interval, backoff);
                tracing::debug!(
                    poll_ms = started.elapsed().as_millis() as u64,
                    backoff_ms = backoff.map(|b| b.duration().as_millis() as u64),
                    "poll done"
                );
            }
            let wake_at = schedule.due(interval).min(TokioInstant::now() + cfg.tick);
            tokio::select! {
                _ = tokio::time::sleep_until(wake_at) => {}
                _ = self.inner.wake.notified() => {
                    if !self.inner.stop.load(Ordering::SeqCst) {
                        tracing::debug!("check requested; polling now");
                    }
                    forced = Some(Trigger::CheckNow);
                }
            }
        }
        tracing::info!("watcher stopped");
    }

    /// The interval for the user's state (test override first).
    fn interval(&self, idle: bool) -> Duration {
        self.inner
            .config
            .interval_override
            .unwrap_or_else(|| self.inner.settings.get().interval(idle))
    }

    fn finish_poll(&self, online: bool, error: Option<ErrorView>) {
        self.finish_poll_with_clock(online, error, None);
    }

    /// [`Watcher::finish_poll`], also replacing the clock warnings when `clock` is given.
    fn finish_poll_with_clock(
        &self,
        online: bool,
        error: Option<ErrorView>,
        clock: Option<Vec<ClockWarning>>,
    ) {
        {
            let mut st = self.state();
            if let Some(w) = clock {
                for c in w.iter().filter(|c| !st.clock_warnings.contains(c)) {
                    tracing::warn!(server = %c.server, offset_secs = c.offset_secs, "server clock implausibly far off; not corrected");
                }
                st.clock_warnings = w;
            }
            if st.online != online {
                if online {
                    tracing::info!("watcher online");
                } else {
                    tracing::warn!("watcher offline");
                }
            }
            st.online = online;
            st.last_poll_at = Some(Utc::now());
            st.last_error = error;
        }
        self.emit_status_if_changed();
    }

    /// The delay before the next poll after a failed one, or `None` after a successful poll.
    /// Transient errors: exponential from `base`, full jitter in [d/2, d], at least
    /// Retry-After. Keychain errors: [`keychain_retry_delay`] (no jitter: the keychain is local,
    /// there is no crowd of clients to spread out).
    fn backoff(&self, outcome: &PollOutcome, base: Duration) -> Option<Delay> {
        let mut st = self.state();
        if !outcome.keychain_error {
            st.keychain_failures = 0;
        }
        let transient = if outcome.transient_error {
            st.consecutive_failures = st.consecutive_failures.saturating_add(1);
            let exp = base
                .saturating_mul(1u32 << st.consecutive_failures.min(16))
                .min(if outcome.local_refused {
                    LOCAL_MAX_BACKOFF.min(self.inner.config.max_backoff)
                } else {
                    self.inner.config.max_backoff
                })
                .max(base);
            let low = exp / 2;
            let jittered = low + rand::rng().random_range(Duration::ZERO..=exp - low);
            Some(jittered.max(outcome.retry_after.unwrap_or_default()))
        } else {
            st.consecutive_failures = 0;
            None
        };
        if outcome.keychain_error {
            st.keychain_failures = st.keychain_failures.saturating_add(1);
            let wait =
                keychain_retry_delay(st.keychain_failures, base).max(transient.unwrap_or_default());
            return Some(Delay::Keychain(wait));
        }
        transient.map(Delay::Backoff)
    }

    /// Whether the user is idle: input idle time (if known) and window interaction both old.
    pub fn is_idle(&self) -> bool {
        let threshold = self.inner.config.idle_after;
        let interacted_recently = self
            .state()
            .last_interaction
            .is_some_and(|t| t.elapsed() < threshold);
        if interacted_recently {
            return false;
        }
        self.inner.idle.idle_time().is_some_and(|d| d >= threshold)
    }

    /// While offline the server cannot tell us about expiry; drop cards whose time is up.
    fn expire_locally_when_offline(&self) {
        let now = Utc::now();
        let gone: Vec<ChallengeKey> = {
            let mut st = self.state();
            if st.online {
                return;
            }
            let gone: Vec<ChallengeKey> = st
                .pending
                .values()
                .filter(|p| p.expires <= now)
                .map(|p| p.key().clone())
                .collect();
            for key in &gone {
                st.pending.remove(key);
            }
            gone
        };
        for key in &gone {
            self.emit_removed(key, RemovalReason::Expired);
        }
        if !gone.is_empty() {
            self.emit_list();
        }
    }

    fn mark_announced(&self, key: &ChallengeKey, view: &ChallengeView) {
        let expires = DateTime::parse_from_rfc3339(&view.expires_at)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|_| Utc::now());
        self.lock_announced().insert(key, expires);
    }

    fn emit_removed(&self, key: &ChallengeKey, reason: RemovalReason) {
        self.inner.sink.emit(AppEvent::ChallengeRemoved {
            factor_sid: key.factor.to_string(),
            sid: key.challenge.to_string(),
            reason,
        });
    }

    fn emit_list(&self) {
        self.inner
            .sink
            .emit(AppEvent::ChallengesChanged(self.pending()));
    }

    fn emit_status_if_changed(&self) {
        let status = self.status();
        let key = (
            status.online,
            status.paused,
            status.last_error.clone(),
            status.clock_warnings.clone(),
        );
        {
            let mut st = self.state();
            if st.last_sent.as_ref() == Some(&key) {
                return;
            }
            st.last_sent = Some(key);
        }
        self.inner.sink.emit(AppEvent::WatcherStatus(status));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NullSink;
    use std::sync::atomic::AtomicU64;
    use std::time::SystemTime;

    const SECS: fn(u64) -> Duration = Duration::from_secs;

    /// Wall clock = a start time plus the (paused) monotonic time since, plus simulated sleep;
    /// the network fingerprint is set by hand.
    #[derive(Debug)]
    struct FakeProbe {
        wall0: SystemTime,
        mono0: TokioInstant,
        slept: Mutex<Duration>,
        net: AtomicU64,
    }

    impl FakeProbe {
        fn new() -> Arc<FakeProbe> {
            Arc::new(FakeProbe {
                wall0: SystemTime::now(),
                mono0: TokioInstant::now(),
                slept: Mutex::new(Duration::ZERO),
                net: AtomicU64::new(1),
            })
        }

        /// The machine sleeps for `d`: the wall clock moves on, the monotonic one does not.
        fn sleep(&self, d: Duration) {
            *self.slept.lock().unwrap() += d;
        }

        fn change_network(&self) {
            self.net.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl SystemProbe for FakeProbe {
        fn wall_clock(&self) -> SystemTime {
            self.wall0 + (TokioInstant::now() - self.mono0) + *self.slept.lock().unwrap()
        }

        fn network_fingerprint(&self) -> u64 {
            self.net.load(Ordering::SeqCst)
        }
    }

    #[derive(Debug, Default)]
    struct FakeIdle(AtomicBool);

    impl IdleSource for FakeIdle {
        fn idle_time(&self) -> Option<Duration> {
            Some(if self.0.load(Ordering::SeqCst) {
                SECS(3600)
            } else {
                Duration::ZERO
            })
        }
    }

    /// A watcher with default settings (2 s active, 15 s idle) and no accounts: every poll
    /// round is real (`poll_once`) but makes no request, so the paused clock stays exact.
    struct Rig {
        _dir: tempfile::TempDir,
        watcher: Watcher,
        probe: Arc<FakeProbe>,
        idle: Arc<FakeIdle>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Rig {
        fn start(interval_override: Option<Duration>) -> Rig {
            let dir = tempfile::tempdir().unwrap();
            let client = crate::service::client_builder()
                .data_dir(dir.path())
                .key_store(Arc::new(verify_push::MemoryKeyStore::default()))
                .build()
                .unwrap();
            let probe = FakeProbe::new();
            let idle = Arc::new(FakeIdle::default());
            let watcher = Watcher::new(
                client,
                Arc::new(SettingsStore::load(dir.path().join("settings.json"))),
                Arc::new(ActivityStore::load(dir.path().join("activity.json"))),
                Arc::new(QuietStore::load(dir.path().join("quiet.json"))),
                Arc::new(VerificationStore::load(
                    dir.path().join("verification.json"),
                )),
                Arc::new(NullSink),
                idle.clone(),
                dir.path().join("announced.json"),
                WatcherConfig {
                    interval_override,
                    probe: probe.clone(),
                    ..WatcherConfig::default()
                },
            );
            let task = tokio::spawn(watcher.clone().run());
            Rig {
                _dir: dir,
                watcher,
                probe,
                idle,
                task,
            }
        }

        /// Polls so far, read at simulated time `at` since the start.
        async fn polls_at(&self, start: TokioInstant, at: Duration) -> u64 {
            tokio::time::sleep_until(start + at).await;
            self.watcher.poll_count()
        }

        async fn stop(self) {
            self.watcher.stop();
            self.task.await.unwrap();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_local_server_is_probed_every_few_seconds_a_remote_one_backs_off() {
        let rig = Rig::start(Some(SECS(3600)));
        let base = SECS(2);
        let local = PollOutcome {
            transient_error: true,
            local_refused: true,
            ..PollOutcome::default()
        };
        for _ in 0..12 {
            let d = rig
                .watcher
                .backoff(&local, base)
                .expect("backs off")
                .duration();
            assert!(d <= LOCAL_MAX_BACKOFF, "{d:?}");
        }
        let remote = PollOutcome {
            transient_error: true,
            ..PollOutcome::default()
        };
        let longest = (0..12)
            .map(|_| {
                rig.watcher
                    .backoff(&remote, base)
                    .expect("backs off")
                    .duration()
            })
            .max()
            .unwrap();
        assert!(longest >= SECS(30), "{longest:?}");
        rig.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn two_seconds_means_thirty_polls_a_minute() {
        let t0 = TokioInstant::now();
        let rig = Rig::start(None);
        let after_start = rig.polls_at(t0, Duration::from_millis(500)).await;
        assert_eq!(after_start, 1, "one poll at start");
        for minute in 1..=10u64 {
            let n = rig
                .polls_at(t0, SECS(60 * minute) + Duration::from_millis(500))
                .await;
            assert_eq!(n - after_start, 30 * minute, "polls after {minute} min");
        }
        rig.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_held_up_poll_does_not_shift_the_schedule() {
        let t0 = TokioInstant::now();
        let rig = Rig::start(None);
        // Something holds the poll lock for 300 ms at a time (like a slow server would hold a
        // poll), so every poll starts up to 300 ms late; sleeping 2 s after each poll instead of
        // keeping the grid would lose a poll every seven or so.
        let inner = rig.watcher.inner.clone();
        let blocker = tokio::spawn(async move {
            loop {
                let held = inner.poll_lock.lock().await;
                tokio::time::sleep(Duration::from_millis(300)).await;
                drop(held);
                tokio::task::yield_now().await;
            }
        });
        let after_start = rig.polls_at(t0, Duration::from_millis(500)).await;
        let n = rig
            .polls_at(t0, SECS(600) + Duration::from_millis(500))
            .await;
        assert_eq!(n - after_start, 300, "still 30 a minute");
        blocker.abort();
        rig.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn idle_uses_the_idle_interval_and_activity_returns_at_once() {
        let t0 = TokioInstant::now();
        let rig = Rig::start(None);
        rig.idle.0.store(true, Ordering::SeqCst);
        // The start poll comes at once whatever the user does.
        let after_start = rig.polls_at(t0, Duration::from_millis(500)).await;
        let n = rig
            .polls_at(t0, SECS(600) + Duration::from_millis(500))
            .await;
        assert_eq!(
            n - after_start,
            40,
            "15 s apart while idle: 40 polls in 10 min"
        );
        // Active again at 605.2 s: 15 s have not passed, but 2 s have, so the next wake-up
        // (the loop wakes every second) polls, and then every 2 s.
        rig.polls_at(t0, Duration::from_millis(605_200)).await;
        rig.idle.0.store(false, Ordering::SeqCst);
        let back = rig.polls_at(t0, Duration::from_millis(606_500)).await;
        assert_eq!(
            back,
            n + 1,
            "polled on the first wake-up after the user came back"
        );
        let later = rig.polls_at(t0, Duration::from_millis(666_500)).await;
        assert_eq!(later - back, 30);
        rig.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn resume_from_sleep_polls_at_once_then_the_schedule_goes_on() {
        let t0 = TokioInstant::now();
        let rig = Rig::start(Some(SECS(60)));
        assert_eq!(rig.polls_at(t0, Duration::from_millis(10_200)).await, 1);
        rig.probe.sleep(SECS(3600));
        // Noticed at the next wake-up (at most a tick later), not when the minute is up.
        assert_eq!(rig.polls_at(t0, Duration::from_millis(11_500)).await, 2);
        // The minute grid restarts from that poll (11 s): next at 71 s, then 131 s.
        assert_eq!(rig.polls_at(t0, Duration::from_millis(70_500)).await, 2);
        assert_eq!(rig.polls_at(t0, Duration::from_millis(71_500)).await, 3);
        assert_eq!(rig.polls_at(t0, Duration::from_millis(131_500)).await, 4);
        rig.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn network_change_polls_at_once_then_the_schedule_goes_on() {
        let t0 = TokioInstant::now();
        let rig = Rig::start(Some(SECS(60)));
        assert_eq!(rig.polls_at(t0, Duration::from_millis(20_200)).await, 1);
        rig.probe.change_network();
        assert_eq!(rig.polls_at(t0, Duration::from_millis(21_500)).await, 2);
        // Unchanged since: no more extra polls; the grid restarted at 21 s.
        assert_eq!(rig.polls_at(t0, Duration::from_millis(80_500)).await, 2);
        assert_eq!(rig.polls_at(t0, Duration::from_millis(81_500)).await, 3);
        rig.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn check_now_polls_immediately_and_restarts_the_grid() {
        let t0 = TokioInstant::now();
        let rig = Rig::start(Some(SECS(60)));
        assert_eq!(rig.polls_at(t0, Duration::from_millis(30_200)).await, 1);
        rig.watcher.check_now();
        assert_eq!(rig.polls_at(t0, Duration::from_millis(30_300)).await, 2);
        assert_eq!(rig.polls_at(t0, Duration::from_millis(90_100)).await, 2);
        assert_eq!(rig.polls_at(t0, Duration::from_millis(90_300)).await, 3);
        rig.stop().await;
    }
}
