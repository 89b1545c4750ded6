//! The challenge watcher: polls every verified factor for `Status=pending` challenges and turns
//! what it sees into events.
//!
//! * Interval: `pollIntervalSecs` while the user is active, `idlePollIntervalSecs` once the
//!   [`IdleSource`] reports no input for [`WatcherConfig::idle_after`] (the GUI reads X11 idle
//!   time and window focus; unknown idle time counts as active, so latency never suffers).
//! * An immediate poll at start, on [`Watcher::check_now`], after a wall-clock jump (the machine
//!   slept: the monotonic clock stops during suspend, the wall clock does not) and when the
//!   network configuration changes.
//! * Transient errors (network, 5xx, 429, undecodable bodies) back off exponentially with
//!   jitter up to [`WatcherConfig::max_backoff`], never sooner than a server's `Retry-After`, and
//!   mark the watcher offline until a poll succeeds.
//! * Each challenge is announced once: announced SIDs are persisted with their expiry in
//!   `announced.json`, so neither later polls nor restarts notify twice.
//! * A challenge that stops being pending (answered elsewhere, expired) is removed, with its
//!   final status fetched for the UI.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use rand::Rng;
use verify_push::{ChallengeListQuery, ChallengeStatus, FactorSid, Order, VerifyPush};

use crate::core::accounts::ActivityStore;
use crate::core::error::{is_transient, retry_after, ErrorView};
use crate::core::events::{AppEvent, EventSink, RemovalReason};
use crate::core::settings::SettingsStore;
use crate::core::views::{is_verified, ChallengeView, PendingChallenge, WatcherStatus};
use crate::core::{jsonfile, AppError};

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
    /// Pending challenges fetched per factor and poll.
    pub page_size: u32,
}

impl Default for WatcherConfig {
    fn default() -> Self {
        WatcherConfig {
            idle_after: Duration::from_secs(300),
            max_backoff: Duration::from_secs(60),
            tick: Duration::from_secs(1),
            resume_jump: Duration::from_secs(5),
            interval_override: None,
            page_size: 50,
        }
    }
}

/// Announced challenge SIDs and their expiry, persisted so restarts do not notify twice.
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
        map.retain(|_, exp| *exp > cutoff);
        AnnouncedStore { path, map }
    }

    /// Records `sid`; returns false when it was already announced.
    fn insert(&mut self, sid: &str, expires: DateTime<Utc>) -> bool {
        if self.map.contains_key(sid) {
            return false;
        }
        let cutoff = Utc::now() - ANNOUNCED_RETENTION;
        self.map.retain(|_, exp| *exp > cutoff);
        self.map.insert(sid.to_owned(), expires);
        if let Err(e) = jsonfile::save(&self.path, &self.map) {
            // Worst case after a restart: one duplicate notification.
            tracing::warn!(error = %e, "cannot save announced challenges");
        }
        true
    }
}

/// What one poll found, for the scheduling decision.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PollOutcome {
    /// A transient error happened (back off).
    pub transient_error: bool,
    /// The longest Retry-After any response asked for.
    pub retry_after: Option<Duration>,
    /// Challenges announced by this poll.
    pub announced: usize,
    /// Challenges removed by this poll.
    pub removed: usize,
}

#[derive(Debug, Default)]
struct State {
    pending: BTreeMap<String, PendingChallenge>,
    online: bool,
    paused: bool,
    last_poll_at: Option<DateTime<Utc>>,
    last_error: Option<ErrorView>,
    consecutive_failures: u32,
    last_sent: Option<(bool, bool, Option<ErrorView>)>,
    /// Answered here recently: a poll that raced the answer must not bring them back.
    resolved: HashMap<String, Instant>,
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

    /// The status shown by the offline banner and the tray.
    pub fn status(&self) -> WatcherStatus {
        let st = self.state();
        WatcherStatus {
            online: st.online,
            paused: st.paused,
            last_poll_at: st.last_poll_at.map(crate::core::views::rfc3339),
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
    pub fn resolved(&self, view: &ChallengeView) {
        let removed = {
            let mut st = self.state();
            st.resolved.insert(view.sid.clone(), Instant::now());
            st.pending.remove(&view.sid).is_some()
        };
        self.mark_announced(&view.sid, view);
        self.inner.sink.emit(AppEvent::ChallengeRemoved {
            sid: view.sid.clone(),
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
        let gone: Vec<String> = {
            let mut st = self.state();
            let gone = st
                .pending
                .values()
                .filter(|p| p.factor_sid() == factor_sid)
                .map(|p| p.sid().to_owned())
                .collect::<Vec<_>>();
            for sid in &gone {
                st.pending.remove(sid);
            }
            gone
        };
        for sid in &gone {
            self.inner.sink.emit(AppEvent::ChallengeRemoved {
                sid: sid.clone(),
                reason: RemovalReason::AccountRemoved,
            });
        }
        if !gone.is_empty() {
            self.emit_list();
        }
    }

    /// The poll loop. Returns after [`Watcher::stop`].
    pub async fn run(self) {
        let cfg = self.inner.config.clone();
        let mut next = Instant::now();
        let mut last_wall = SystemTime::now();
        let mut last_mono = Instant::now();
        let mut net = network_fingerprint();
        tracing::info!("watcher started");
        while !self.inner.stop.load(Ordering::SeqCst) {
            let now = Instant::now();
            let wall = SystemTime::now();
            let wall_elapsed = wall.duration_since(last_wall).unwrap_or_default();
            if resumed_from_sleep(wall_elapsed, now.duration_since(last_mono), cfg.resume_jump) {
                tracing::info!(
                    jump_secs = wall_elapsed.as_secs(),
                    "wall clock jumped (resume from sleep?); polling now"
                );
                next = now;
            }
            (last_wall, last_mono) = (wall, now);
            let fp = network_fingerprint();
            if fp != net {
                net = fp;
                tracing::info!("network configuration changed; polling now");
                next = now;
            }
            self.refresh_paused();
            self.expire_locally_when_offline();

            if Instant::now() >= next {
                let outcome = self.poll_once().await;
                let delay = self.next_delay(&outcome);
                tracing::debug!(delay_ms = delay.as_millis() as u64, "next poll");
                next = Instant::now() + delay;
            }
            let sleep_for = next.saturating_duration_since(Instant::now()).min(cfg.tick);
            tokio::select! {
                _ = tokio::time::sleep(sleep_for) => {}
                _ = self.inner.wake.notified() => {
                    if !self.inner.stop.load(Ordering::SeqCst) {
                        tracing::debug!("check requested; polling now");
                    }
                    next = Instant::now();
                }
            }
        }
        tracing::info!("watcher stopped");
    }

    /// Polls every verified factor once and emits what changed.
    pub async fn poll_once(&self) -> PollOutcome {
        let _one_at_a_time = self.inner.poll_lock.lock().await;
        self.inner.polls.fetch_add(1, Ordering::SeqCst);
        let mut outcome = PollOutcome::default();
        let factors = match self.inner.client.factors() {
            Ok(f) => f.into_iter().filter(is_verified).collect::<Vec<_>>(),
            Err(e) => {
                let err = AppError::from(e);
                tracing::warn!(code = %err.code(), "cannot read local factors");
                self.finish_poll(false, Some(err.view()));
                return outcome;
            }
        };
        let known: HashSet<String> = factors.iter().map(|f| f.sid.to_string()).collect();

        let mut fresh: BTreeMap<String, PendingChallenge> = BTreeMap::new();
        let mut polled_ok: HashSet<String> = HashSet::new();
        let mut transient: Option<ErrorView> = None;
        let mut permanent: Option<ErrorView> = None;
        for f in &factors {
            let q = ChallengeListQuery {
                factor: f.sid.clone(),
                status: Some(ChallengeStatus::Pending),
                order: Order::Asc,
                page_size: self.inner.config.page_size,
                page_token: None,
            };
            match self.inner.client.list_challenges(q).await {
                Ok(page) => {
                    polled_ok.insert(f.sid.to_string());
                    for c in page
                        .challenges
                        .iter()
                        .filter(|c| c.status == ChallengeStatus::Pending)
                    {
                        fresh.insert(
                            c.sid.to_string(),
                            PendingChallenge::new(c, &f.friendly_name),
                        );
                    }
                }
                Err(e) => {
                    let transient_err = is_transient(&e);
                    if let Some(ra) = retry_after(&e) {
                        outcome.retry_after = Some(outcome.retry_after.map_or(ra, |o| o.max(ra)));
                    }
                    let view = AppError::from(e).view();
                    tracing::warn!(factor = %f.sid, code = %view.code, transient = transient_err, "poll failed");
                    if transient_err {
                        transient = Some(view);
                    } else {
                        permanent = Some(view);
                    }
                }
            }
        }
        outcome.transient_error = transient.is_some();

        // Work out what changed against the previous list.
        let (added, vanished) = {
            let mut st = self.state();
            st.resolved.retain(|_, t| t.elapsed() < RESOLVED_GRACE);
            let resolved: HashSet<String> = st.resolved.keys().cloned().collect();
            fresh.retain(|sid, _| !resolved.contains(sid));
            let vanished: Vec<PendingChallenge> = st
                .pending
                .values()
                .filter(|p| {
                    let factor = p.factor_sid();
                    !known.contains(factor)
                        || (polled_ok.contains(factor) && !fresh.contains_key(p.sid()))
                })
                .cloned()
                .collect();
            let added: Vec<PendingChallenge> = fresh
                .values()
                .filter(|p| !st.pending.contains_key(p.sid()))
                .cloned()
                .collect();
            (added, vanished)
        };

        // Final state of the vanished ones (outside the lock: network calls).
        let mut removals: Vec<(PendingChallenge, RemovalReason, Option<ChallengeView>)> =
            Vec::new();
        for p in vanished {
            if !known.contains(p.factor_sid()) {
                removals.push((p, RemovalReason::AccountRemoved, None));
                continue;
            }
            let (reason, view) = self.final_state(&p).await;
            match reason {
                Some(r) => removals.push((p, r, view)),
                // The server still says pending (list lag): keep it.
                None => {
                    fresh.insert(p.sid().to_owned(), p);
                }
            }
        }

        {
            let mut st = self.state();
            for (p, _, _) in &removals {
                st.pending.remove(p.sid());
            }
            for p in &added {
                st.pending.insert(p.sid().to_owned(), p.clone());
            }
            // Keep the display data (message, account name) fresh for the ones that stayed.
            for (sid, p) in &fresh {
                if let Some(cur) = st.pending.get_mut(sid) {
                    *cur = p.clone();
                }
            }
        }

        let settings = self.inner.settings.get();
        let now = Utc::now();
        for p in &added {
            self.inner.activity.touch(p.factor_sid(), p.created);
            let first_time = self.lock_announced().insert(p.sid(), p.expires);
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
        for (p, reason, view) in &removals {
            outcome.removed += 1;
            tracing::info!(challenge = %p.sid(), ?reason, "challenge no longer pending");
            self.inner.sink.emit(AppEvent::ChallengeRemoved {
                sid: p.sid().to_owned(),
                reason: *reason,
            });
            if let Some(v) = view {
                self.inner.sink.emit(AppEvent::ChallengeAnswered(v.clone()));
            }
        }
        if !added.is_empty() || !removals.is_empty() {
            self.emit_list();
        }

        let online = transient.is_none() || !polled_ok.is_empty();
        self.finish_poll(online, transient.or(permanent));
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
        let (Ok(factor), Ok(sid)) = (p.factor_sid().parse::<FactorSid>(), p.sid().parse()) else {
            return (Some(by_clock), None);
        };
        match self.inner.client.get_challenge(&factor, &sid).await {
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

    /// Delay before the next poll: the interval for the user's state, or backoff after a
    /// transient error (exponential, full jitter in [d/2, d], at least Retry-After).
    fn next_delay(&self, outcome: &PollOutcome) -> Duration {
        let base = self.inner.config.interval_override.unwrap_or_else(|| {
            let idle = self.is_idle();
            self.inner.settings.get().interval(idle)
        });
        let mut st = self.state();
        if !outcome.transient_error {
            st.consecutive_failures = 0;
            return base;
        }
        st.consecutive_failures = st.consecutive_failures.saturating_add(1);
        let exp = base
            .saturating_mul(1u32 << st.consecutive_failures.min(16))
            .min(self.inner.config.max_backoff)
            .max(base);
        let low = exp / 2;
        let jittered = low + rand::rng().random_range(Duration::ZERO..=exp - low);
        jittered.max(outcome.retry_after.unwrap_or_default())
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
        let gone: Vec<String> = {
            let mut st = self.state();
            if st.online {
                return;
            }
            let gone: Vec<String> = st
                .pending
                .values()
                .filter(|p| p.expires <= now)
                .map(|p| p.sid().to_owned())
                .collect();
            for sid in &gone {
                st.pending.remove(sid);
            }
            gone
        };
        for sid in &gone {
            self.inner.sink.emit(AppEvent::ChallengeRemoved {
                sid: sid.clone(),
                reason: RemovalReason::Expired,
            });
        }
        if !gone.is_empty() {
            self.emit_list();
        }
    }

    fn mark_announced(&self, sid: &str, view: &ChallengeView) {
        let expires = DateTime::parse_from_rfc3339(&view.expires_at)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|_| Utc::now());
        self.lock_announced().insert(sid, expires);
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

fn sorted(map: &BTreeMap<String, PendingChallenge>) -> Vec<PendingChallenge> {
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
        assert!(s.insert("YCold", old));
        assert!(s.insert("YCnew", Utc::now() + chrono::Duration::minutes(5)));
        assert!(!s.insert("YCnew", Utc::now()));
        let again = AnnouncedStore::load(path);
        assert!(again.map.contains_key("YCnew"));
        assert!(!again.map.contains_key("YCold"), "expired long ago: pruned");
    }
}
