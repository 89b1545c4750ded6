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
//!   jitter up to [`WatcherConfig::max_backoff`], never sooner than a server's `Retry-After`, and
//!   mark the watcher offline until a poll succeeds.
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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::time::Instant as TokioInstant;

use chrono::{DateTime, Utc};
use rand::Rng;
use verify_push::{ChallengeStatus, VerifyPush};

use crate::accounts::ActivityStore;
use crate::error::{is_transient, retry_after, ErrorView};
use crate::events::{AppEvent, EventSink, RemovalReason};
use crate::settings::SettingsStore;
use crate::views::{is_verified, ChallengeKey, ChallengeView, PendingChallenge, WatcherStatus};
use crate::{jsonfile, AppError};

/// Tells the watcher how long the user has been idle.
pub trait IdleSource: Send + Sync + 'static {
    /// Time since the last user input, or `None` when unknown (treated as active).
    fn idle_time(&self) -> Option<Duration>;
}

/// An idle source that never reports idleness (CLI, tests).
#[derive(Debug, Default, Clone, Copy)]
pub struct NeverIdle;

impl IdleSource for NeverIdle {
    fn idle_time(&self) -> Option<Duration> {
        None
    }
}

/// What the loop watches besides its timer. The OS implementation reads the real wall clock
/// and network configuration; tests substitute their own to simulate a resume or a network
/// coming back.
pub trait SystemProbe: std::fmt::Debug + Send + Sync + 'static {
    /// The wall clock (it keeps running while the machine sleeps; the monotonic one does not).
    fn wall_clock(&self) -> SystemTime;
    /// A fingerprint of the network configuration; a change means "the network may be back".
    fn network_fingerprint(&self) -> u64;
}

/// The real wall clock and the OS network configuration.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsProbe;

impl SystemProbe for OsProbe {
    fn wall_clock(&self) -> SystemTime {
        SystemTime::now()
    }

    fn network_fingerprint(&self) -> u64 {
        network_fingerprint()
    }
}

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

/// Announced challenge keys (`YF…/YC…`) and their expiry, persisted so restarts do not notify
/// twice.
#[derive(Debug)]
struct AnnouncedStore {
    path: PathBuf,
    map: BTreeMap<String, DateTime<Utc>>,
}

/// Announced entries are kept this long past their expiry, then pruned.
const ANNOUNCED_RETENTION: chrono::Duration = chrono::Duration::days(1);

impl AnnouncedStore {
    fn load(path: PathBuf) -> AnnouncedStore {
        let mut map: BTreeMap<String, DateTime<Utc>> = jsonfile::load(&path).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "announced file unreadable; starting empty");
            BTreeMap::new()
        });
        let cutoff = Utc::now() - ANNOUNCED_RETENTION;
        // Entries keyed by a bare SID (older versions) are dropped: honouring them would let
        // any server suppress another account's notification by listing its SID first. The
        // cost is at most one repeated notification per pending challenge after an upgrade.
        map.retain(|key, exp| *exp > cutoff && key.parse::<ChallengeKey>().is_ok());
        AnnouncedStore { path, map }
    }

    /// Records `key`; returns false when it was already announced.
    fn insert(&mut self, key: &ChallengeKey, expires: DateTime<Utc>) -> bool {
        let key = key.to_string();
        if self.map.contains_key(&key) {
            return false;
        }
        let cutoff = Utc::now() - ANNOUNCED_RETENTION;
        self.map.retain(|_, exp| *exp > cutoff);
        self.map.insert(key, expires);
        if let Err(e) = jsonfile::save_unsynced(&self.path, &self.map) {
            // Worst case after a restart: one duplicate notification.
            tracing::warn!(error = %e, "cannot save announced challenges");
        }
        true
    }
}

/// First automatic retry after a poll failed because the keychain is locked or absent.
pub const KEYCHAIN_RETRY_FIRST: Duration = Duration::from_secs(30);
/// Longest wait between automatic keychain retries.
///
/// Backing off (rather than stopping until the user asks) because the keychain can be unlocked
/// without us hearing of it (Seahorse, another app's prompt, a prompt dismissed by mistake):
/// requests must come back by themselves within a few minutes, at the price of at most one
/// prompt per 5 minutes (12 an hour) while the user leaves it locked.
pub const KEYCHAIN_RETRY_MAX: Duration = Duration::from_secs(300);

/// What one poll found, for the scheduling decision.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PollOutcome {
    /// A transient error happened (back off).
    pub transient_error: bool,
    /// A key could not be read: the keychain is locked or absent (wait for the user).
    pub keychain_error: bool,
    /// The longest Retry-After any response asked for.
    pub retry_after: Option<Duration>,
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
    last_sent: Option<(bool, bool, Option<ErrorView>)>,
    /// Answered here recently: a poll that raced the answer must not bring them back.
    resolved: HashMap<ChallengeKey, Instant>,
    last_interaction: Option<Instant>,
}

/// How long a locally answered SID is ignored by polls that may have started before the answer.
const RESOLVED_GRACE: Duration = Duration::from_secs(120);

struct Inner {
    client: VerifyPush,
    settings: Arc<SettingsStore>,
    activity: Arc<ActivityStore>,
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
    pub fn new(
        client: VerifyPush,
        settings: Arc<SettingsStore>,
        activity: Arc<ActivityStore>,
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

    /// The current pending challenges, oldest first.
    pub fn pending(&self) -> Vec<PendingChallenge> {
        sorted(&self.state().pending)
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

    /// Polls every verified factor once and emits what changed.
    pub async fn poll_once(&self) -> PollOutcome {
        let _one_at_a_time = self.inner.poll_lock.lock().await;
        self.inner.polls.fetch_add(1, Ordering::SeqCst);
        let mut outcome = PollOutcome::default();
        let factors = match self.inner.client.factors() {
            Ok(f) => f.into_iter().filter(is_verified).collect::<Vec<_>>(),
            Err(e) => {
                outcome.keychain_error = is_keychain_error(&e);
                let err = AppError::from(e);
                tracing::warn!(code = %err.code(), "cannot read local factors");
                self.finish_poll(false, Some(err.view()));
                return outcome;
            }
        };
        let known: HashSet<String> = factors.iter().map(|f| f.sid.to_string()).collect();

        let mut fresh: BTreeMap<ChallengeKey, PendingChallenge> = BTreeMap::new();
        let mut polled_ok: HashSet<String> = HashSet::new();
        let mut transient: Option<ErrorView> = None;
        let mut permanent: Option<ErrorView> = None;
        let mut keychain: Option<ErrorView> = None;
        // Every factor at once: one slow server does not hold back the others' challenges.
        let started = Instant::now();
        let tasks: Vec<_> = factors
            .iter()
            .map(|f| {
                let client = self.inner.client.clone();
                let factor = f.sid.clone();
                // Every page: a flood of old requests must not hide the one just made.
                tokio::spawn(async move { client.pending_challenges(&factor).await })
            })
            .collect();
        for (f, task) in factors.iter().zip(tasks) {
            let result = match task.await {
                Ok(r) => r,
                Err(e) => {
                    // Only a panic gets here; the factor counts as not polled (nothing removed).
                    tracing::error!(factor = %f.sid, error = %e, "poll task failed");
                    continue;
                }
            };
            match result {
                Ok(challenges) => {
                    polled_ok.insert(f.sid.to_string());
                    // The library returns only this factor's challenges; the key says so too.
                    for c in challenges.iter().filter(|c| c.factor_sid == f.sid) {
                        let p = PendingChallenge::new(c, &f.friendly_name);
                        fresh.insert(p.key().clone(), p);
                    }
                }
                Err(e) => {
                    let transient_err = is_transient(&e);
                    let keychain_err = is_keychain_error(&e);
                    if let Some(ra) = retry_after(&e) {
                        outcome.retry_after = Some(outcome.retry_after.map_or(ra, |o| o.max(ra)));
                    }
                    let view = AppError::from(e).view();
                    tracing::warn!(factor = %f.sid, code = %view.code, transient = transient_err, "poll failed");
                    if keychain_err {
                        keychain = Some(view);
                    } else if transient_err {
                        transient = Some(view);
                    } else {
                        permanent = Some(view);
                    }
                }
            }
        }
        outcome.transient_error = transient.is_some();
        outcome.keychain_error = keychain.is_some();
        let listed = started.elapsed();

        // Work out what changed against the previous list; new ones join the list at once.
        let (added, vanished) = {
            let mut st = self.state();
            st.resolved.retain(|_, t| t.elapsed() < RESOLVED_GRACE);
            let resolved: HashSet<ChallengeKey> = st.resolved.keys().cloned().collect();
            fresh.retain(|key, _| !resolved.contains(key));
            let vanished: Vec<PendingChallenge> = st
                .pending
                .values()
                .filter(|p| {
                    let factor = p.factor_sid();
                    !known.contains(factor)
                        || (polled_ok.contains(factor) && !fresh.contains_key(p.key()))
                })
                .cloned()
                .collect();
            let added: Vec<PendingChallenge> = fresh
                .values()
                .filter(|p| !st.pending.contains_key(p.key()))
                .cloned()
                .collect();
            for p in &added {
                st.pending.insert(p.key().clone(), p.clone());
            }
            // A card keeps the text it was first shown with (the answer path checks the server
            // still shows it); only the local account name follows renames.
            for (key, p) in &fresh {
                if let Some(cur) = st.pending.get_mut(key) {
                    if !cur.challenge.shows_same_as_view(&p.challenge) {
                        tracing::warn!(challenge = %key, "server changed a pending challenge's text; keeping what was shown");
                    }
                    cur.account_name = p.account_name.clone();
                }
            }
            (added, vanished)
        };

        // Announce first: the list answer carries everything a notification shows, so nothing
        // (no further request, no key, no fsync) stands between it and the notification.
        let settings = self.inner.settings.get();
        let now = Utc::now();
        for p in &added {
            // Recorded (memory and file) before the event: exactly once, restarts included.
            let first_time = self.lock_announced().insert(p.key(), p.expires);
            if first_time {
                outcome.announced += 1;
                let notify = settings.should_notify(now);
                tracing::info!(challenge = %p.sid(), factor = %p.factor_sid(), notify, "challenge announced");
                self.inner.sink.emit(AppEvent::ChallengeAnnounced {
                    challenge: p.clone(),
                    notify,
                });
            } else {
                tracing::info!(challenge = %p.sid(), "challenge pending (announced before)");
            }
        }
        if !added.is_empty() {
            tracing::debug!(
                list_ms = listed.as_secs_f64() * 1000.0,
                announce_ms = started.elapsed().as_secs_f64() * 1000.0,
                added = added.len(),
                "new challenges announced"
            );
            // Let a task the sink just spawned (the desktop notification) start before the
            // list event and the bookkeeping below.
            tokio::task::yield_now().await;
            self.emit_list();
            self.touch_activity(&added).await;
        }

        // Final state of the vanished ones (network calls, after the announcements).
        let mut removals: Vec<(PendingChallenge, RemovalReason, Option<ChallengeView>)> =
            Vec::new();
        for p in vanished {
            if !known.contains(p.factor_sid()) {
                removals.push((p, RemovalReason::AccountRemoved, None));
                continue;
            }
            // `None`: the server still says pending (list lag); keep it.
            if let (Some(reason), view) = self.final_state(&p).await {
                removals.push((p, reason, view));
            }
        }
        if !removals.is_empty() {
            let mut st = self.state();
            for (p, _, _) in &removals {
                st.pending.remove(p.key());
            }
        }
        for (p, reason, view) in &removals {
            outcome.removed += 1;
            tracing::info!(challenge = %p.key(), ?reason, "challenge no longer pending");
            self.emit_removed(p.key(), *reason);
            if let Some(v) = view {
                self.inner.sink.emit(AppEvent::ChallengeAnswered(v.clone()));
            }
        }
        if !removals.is_empty() {
            self.emit_list();
        }

        let online = transient.is_none() || !polled_ok.is_empty();
        // The keychain error first: it is what the schedule now waits for, and the banner
        // explains it (no request can be signed until the keychain opens).
        self.finish_poll(online, keychain.or(transient).or(permanent));
        outcome
    }

    /// Asks the server how a vanished challenge ended. `None` reason: still pending.
    async fn final_state(
        &self,
        p: &PendingChallenge,
    ) -> (Option<RemovalReason>, Option<ChallengeView>) {
        let by_clock = if p.expires <= Utc::now() {
            RemovalReason::Expired
        } else {
            RemovalReason::AnsweredElsewhere
        };
        let key = p.key();
        match self
            .inner
            .client
            .get_challenge(&key.factor, &key.challenge)
            .await
        {
            Ok(c) => {
                let reason = match c.status {
                    ChallengeStatus::Pending => return (None, None),
                    ChallengeStatus::Expired => RemovalReason::Expired,
                    ChallengeStatus::Approved | ChallengeStatus::Denied => {
                        RemovalReason::AnsweredElsewhere
                    }
                };
                (Some(reason), Some(ChallengeView::from(&c)))
            }
            Err(e) => {
                tracing::debug!(challenge = %p.sid(), code = %e.code(), "final state unknown");
                (Some(by_clock), None)
            }
        }
    }

    /// Records activity for the accounts of new challenges (a file write with fsync, so off the
    /// async threads and after the announcement; losing it in a crash only dates an account).
    async fn touch_activity(&self, added: &[PendingChallenge]) {
        let activity = self.inner.activity.clone();
        let seen: Vec<(String, DateTime<Utc>)> = added
            .iter()
            .map(|p| (p.factor_sid().to_owned(), p.created))
            .collect();
        let done = tokio::task::spawn_blocking(move || {
            for (factor, at) in &seen {
                activity.touch(factor, *at);
            }
        })
        .await;
        if let Err(e) = done {
            tracing::warn!(error = %e, "activity not recorded");
        }
    }

    fn finish_poll(&self, online: bool, error: Option<ErrorView>) {
        {
            let mut st = self.state();
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
                .min(self.inner.config.max_backoff)
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
        let key = (status.online, status.paused, status.last_error.clone());
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

/// Why the loop polls outside the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
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
enum Delay {
    /// A transient error (network, server): back off.
    Backoff(Duration),
    /// The keychain is locked or absent: wait for the user (explicit triggers retry at once).
    Keychain(Duration),
}

impl Delay {
    fn duration(self) -> Duration {
        match self {
            Delay::Backoff(d) | Delay::Keychain(d) => d,
        }
    }
}

/// The wait after the `failures`-th keychain failure in a row: [`KEYCHAIN_RETRY_FIRST`],
/// doubling up to [`KEYCHAIN_RETRY_MAX`], never shorter than the normal `interval`.
fn keychain_retry_delay(failures: u32, interval: Duration) -> Duration {
    KEYCHAIN_RETRY_FIRST
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(KEYCHAIN_RETRY_MAX)
        .max(interval)
}

/// Whether a poll failed because no key could be read from a locked or absent keychain.
fn is_keychain_error(e: &verify_push::Error) -> bool {
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
struct Schedule {
    /// Grid point of the last poll; `None` before the first.
    anchor: Option<TokioInstant>,
    /// Set after a failed poll: the next poll waits this long instead.
    backoff: Option<Delay>,
}

impl Schedule {
    /// When the next poll is due with the current interval (now, before the first poll).
    fn due(&self, interval: Duration) -> TokioInstant {
        match self.anchor {
            Some(a) => a + self.backoff.map_or(interval, Delay::duration),
            None => TokioInstant::now(),
        }
    }

    /// Records a poll: `anchor` is the grid point it was due at (its start when forced); a
    /// backoff counts from `finished`, so a slow failing request still waits it out.
    fn polled(
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
    fn waiting_for_keychain(&self) -> bool {
        matches!(self.backoff, Some(Delay::Keychain(_)))
    }
}

fn sorted(map: &BTreeMap<ChallengeKey, PendingChallenge>) -> Vec<PendingChallenge> {
    let mut v: Vec<PendingChallenge> = map.values().cloned().collect();
    v.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.sid().cmp(b.sid())));
    v
}

/// The monotonic clock stops while the machine sleeps and the wall clock does not: a wall-clock
/// step much larger than the monotonic one means we just woke up (or the clock was set forward;
/// an extra poll is harmless either way).
fn resumed_from_sleep(wall_elapsed: Duration, mono_elapsed: Duration, jump: Duration) -> bool {
    wall_elapsed > mono_elapsed + jump
}

/// A cheap fingerprint of the network configuration (interfaces, their state, routes).
/// A change means "the network may be back": poll now instead of waiting out the backoff.
fn network_fingerprint() -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    if cfg!(target_os = "linux") {
        if let Ok(routes) = std::fs::read_to_string("/proc/net/route") {
            routes.hash(&mut h);
        }
        if let Ok(entries) = std::fs::read_dir("/sys/class/net") {
            let mut names: Vec<_> = entries.flatten().map(|e| e.path()).collect();
            names.sort();
            for p in names {
                p.hash(&mut h);
                if let Ok(state) = std::fs::read_to_string(p.join("operstate")) {
                    state.hash(&mut h);
                }
            }
        }
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NullSink;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn a_wall_clock_jump_beyond_the_tick_counts_as_resume() {
        let jump = Duration::from_secs(5);
        let tick = Duration::from_secs(1);
        assert!(!resumed_from_sleep(tick, tick, jump));
        assert!(!resumed_from_sleep(Duration::from_secs(5), tick, jump));
        assert!(resumed_from_sleep(Duration::from_secs(3600), tick, jump));
        // The wall clock going backwards (NTP) is not a resume.
        assert!(!resumed_from_sleep(Duration::ZERO, tick, jump));
    }

    #[test]
    fn network_fingerprint_is_stable_without_changes() {
        assert_eq!(network_fingerprint(), network_fingerprint());
    }

    #[test]
    fn announced_store_prunes_old_entries_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("announced.json");
        let mut s = AnnouncedStore::load(path.clone());
        let old = Utc::now() - chrono::Duration::days(3);
        let (k_old, k_new) = (key(1, 1), key(1, 2));
        assert!(s.insert(&k_old, old));
        assert!(s.insert(&k_new, Utc::now() + chrono::Duration::minutes(5)));
        assert!(!s.insert(&k_new, Utc::now()));
        let again = AnnouncedStore::load(path);
        assert!(again.map.contains_key(&k_new.to_string()));
        assert!(
            !again.map.contains_key(&k_old.to_string()),
            "expired long ago: pruned"
        );
    }

    /// The same challenge SID listed for two accounts is two announcements: one server cannot
    /// use up another account's notification by listing its SID first.
    #[test]
    fn announcements_are_per_account() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = AnnouncedStore::load(dir.path().join("announced.json"));
        let soon = Utc::now() + chrono::Duration::minutes(5);
        assert!(s.insert(&key(1, 7), soon));
        assert!(
            s.insert(&key(2, 7), soon),
            "same SID, other factor: announced again"
        );
        assert!(!s.insert(&key(1, 7), soon));
    }

    /// Files of older versions keyed by the bare SID are not trusted (see `load`).
    #[test]
    fn announced_entries_keyed_by_a_bare_sid_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("announced.json");
        let soon = Utc::now() + chrono::Duration::minutes(5);
        let legacy: BTreeMap<String, DateTime<Utc>> =
            [(key(1, 7).challenge.to_string(), soon)].into();
        jsonfile::save_unsynced(&path, &legacy).unwrap();
        let mut s = AnnouncedStore::load(path);
        assert!(s.map.is_empty());
        assert!(s.insert(&key(1, 7), soon));
    }

    fn key(factor: u8, challenge: u8) -> ChallengeKey {
        ChallengeKey {
            factor: format!("YF{factor:032x}").parse().unwrap(),
            challenge: format!("YC{challenge:032x}").parse().unwrap(),
        }
    }

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
