//! The poll loop: when to poll (the grid, forced polls, idle), and the backoff after errors.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use rand::Rng;
use tokio::time::Instant as TokioInstant;

use super::probe::resumed_from_sleep;
use super::schedule::{keychain_retry_delay, Delay, Schedule, Trigger};
use super::{PollOutcome, Watcher, LOCAL_MAX_BACKOFF};

/// What the loop compares between wake-ups to notice a resume from sleep, a network change and
/// the user coming back from idle.
struct Observed {
    wall: SystemTime,
    mono: TokioInstant,
    net: u64,
    idle: bool,
}

impl Watcher {
    /// The poll loop. Returns after [`Watcher::stop`].
    pub async fn run(self) {
        let cfg = self.inner.config.clone();
        let probe = cfg.probe.clone();
        let mut schedule = Schedule::default();
        let mut last = Observed {
            wall: probe.wall_clock(),
            mono: TokioInstant::now(),
            net: probe.network_fingerprint(),
            idle: self.is_idle(),
        };
        // The first poll happens at once.
        let mut forced = Some(Trigger::Start);
        tracing::info!("watcher started");
        while !self.inner.stop.load(Ordering::SeqCst) {
            let now = TokioInstant::now();
            if let Some(t) = self.observe(&mut last, now, &schedule) {
                forced = Some(t);
            }
            self.refresh_paused();
            self.expire_locally_when_offline();

            // The interval is read at every wake-up, so becoming active shortens the wait at once;
            // once per wake-up, since the idle check may ask the X server.
            let interval = self.interval(last.idle);
            let due = schedule.due(interval);
            if forced.is_some() || now >= due {
                let forced = forced.take().is_some();
                self.poll_on_schedule(&mut schedule, forced, due, interval)
                    .await;
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

    /// Compares the clocks, the network and the user's idleness at `now` with `last` (and
    /// records them there): the trigger they call for, the last one when several do.
    fn observe(
        &self,
        last: &mut Observed,
        now: TokioInstant,
        schedule: &Schedule,
    ) -> Option<Trigger> {
        let cfg = &self.inner.config;
        let mut forced = None;
        let wall = cfg.probe.wall_clock();
        let wall_elapsed = wall.duration_since(last.wall).unwrap_or_default();
        if resumed_from_sleep(wall_elapsed, now - last.mono, cfg.resume_jump) {
            tracing::info!(
                jump_secs = wall_elapsed.as_secs(),
                "wall clock jumped (resume from sleep?); polling now"
            );
            forced = Some(Trigger::Resumed);
        }
        (last.wall, last.mono) = (wall, now);
        let fp = cfg.probe.network_fingerprint();
        if fp != last.net {
            last.net = fp;
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
        if last.idle && !idle && schedule.waiting_for_keychain() {
            // They may just have unlocked their session, and with it the login keyring.
            tracing::info!("user back from idle; trying the keychain now");
            forced = Some(Trigger::BackFromIdle);
        }
        last.idle = idle;
        forced
    }

    /// One poll, and the schedule's next due time from it: a forced poll restarts the grid
    /// from when it started, a scheduled one keeps the grid at `due`.
    async fn poll_on_schedule(
        &self,
        schedule: &mut Schedule,
        forced: bool,
        due: TokioInstant,
        interval: Duration,
    ) {
        let started = TokioInstant::now();
        let outcome = self.poll_once().await;
        let backoff = self.backoff(&outcome, interval);
        let anchor = if forced { started } else { due };
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

    /// The interval for the user's state (test override first).
    fn interval(&self, idle: bool) -> Duration {
        self.inner
            .config
            .interval_override
            .unwrap_or_else(|| self.inner.settings.get().interval(idle))
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::ActivityStore;
    use crate::quiet::QuietStore;
    use crate::settings::SettingsStore;
    use crate::verification::VerificationStore;
    use crate::watcher::{IdleSource, SystemProbe, WatcherConfig};
    use crate::NullSink;
    use std::sync::atomic::{AtomicBool, AtomicU64};
    use std::sync::{Arc, Mutex};
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
                Arc::new(crate::silent::SilentStore::load(
                    dir.path().join("silent.json"),
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
