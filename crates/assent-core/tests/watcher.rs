//! The watcher against a real in-process verify-emulator (no Tauri runtime).

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use assent_core::watcher::SystemProbe;
use assent_core::{
    Alert, AppEvent, Core, CoreOptions, Paths, RemovalReason, SilentReason, WatcherConfig,
};
use common::{is_announce, Backend, Collector, Device};
use verify_emulator::Faults;
use verify_push::KeyStore;

const FAST: Option<Duration> = Some(Duration::from_millis(150));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_challenge_is_announced_once_within_a_poll_or_two() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "alice-user1", FAST).await;
    let watcher = dev.core.watcher().clone();
    let task = tokio::spawn(watcher.clone().run());

    let polls_before = watcher.poll_count();
    let sid = backend
        .challenge(
            "alice-user1",
            &dev.factor,
            "Sign in to Demo?",
            &[("IP", "127.0.0.1")],
        )
        .await;
    let e = dev.events.wait_for(is_announce(&sid)).await;
    let polls_at_announce = watcher.poll_count();
    assert!(
        polls_at_announce - polls_before <= 2,
        "announced after {} polls",
        polls_at_announce - polls_before
    );
    match e {
        AppEvent::ChallengeAnnounced { challenge, alert } => {
            assert_eq!(
                alert,
                Alert::Single { one_click: true },
                "notifications are on by default"
            );
            assert_eq!(challenge.server_host, backend.emu.base_url().authority());
            assert_eq!(challenge.account_name, "Test laptop");
            assert_eq!(challenge.challenge.message, "Sign in to Demo?");
            assert_eq!(challenge.challenge.fields[0].label, "IP");
            assert_eq!(challenge.challenge.status, "pending");
        }
        other => panic!("unexpected {other:?}"),
    }
    // Several more polls see it still pending: no second announcement.
    while watcher.poll_count() < polls_at_announce + 5 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(dev.events.count(is_announce(&sid)), 1);
    assert_eq!(dev.core.pending().len(), 1);
    assert!(dev
        .events
        .all()
        .iter()
        .any(|e| matches!(e, AppEvent::ChallengesChanged(l) if l.iter().any(|p| p.sid() == sid))));
    watcher.stop();
    task.await.expect("watcher task ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announced_once_across_a_restart() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "bob-user1", None).await;
    let sid = backend
        .challenge("bob-user1", &dev.factor, "Restart me", &[])
        .await;
    let out = dev.core.watcher().poll_once().await;
    assert_eq!(out.announced, 1);
    assert_eq!(dev.events.count(is_announce(&sid)), 1);

    // "Restart": a new Core on the same data dir and key store.
    let events2 = Arc::new(Collector::default());
    let core2 = common::core(dev.dir.path(), dev.keys.clone(), events2.clone(), None);
    let out2 = core2.watcher().poll_once().await;
    assert_eq!(out2.announced, 0, "no second notification after restart");
    assert_eq!(events2.count(is_announce(&sid)), 0);
    // The card is still there.
    assert_eq!(core2.pending().len(), 1);
    assert_eq!(core2.pending()[0].sid(), sid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_answered_elsewhere_is_removed_with_its_final_status() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "carol-user1", None).await;
    let sid = backend
        .challenge("carol-user1", &dev.factor, "Elsewhere", &[])
        .await;
    dev.core.watcher().poll_once().await;
    assert_eq!(dev.core.pending().len(), 1);

    // Another client of the same factor (another session/device) approves it directly.
    let other = common::core(
        dev.dir.path(),
        dev.keys.clone(),
        Arc::new(Collector::default()),
        None,
    );
    other
        .client()
        .approve(
            &dev.factor.parse().expect("sid"),
            &sid.parse().expect("sid"),
        )
        .await
        .expect("approved elsewhere");

    let out = dev.core.watcher().poll_once().await;
    assert_eq!(out.removed, 1);
    assert!(dev.core.pending().is_empty());
    assert_eq!(
        dev.events.count(|e| matches!(e, AppEvent::ChallengeRemoved { sid: s, reason: RemovalReason::AnsweredElsewhere, .. } if *s == sid)),
        1
    );
    assert_eq!(
        dev.events.count(|e| matches!(e, AppEvent::ChallengeAnswered(v) if v.sid == sid && v.status == "approved")),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_challenge_is_removed() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "dave-user1", None).await;
    let sid = backend
        .challenge("dave-user1", &dev.factor, "Expire me", &[])
        .await;
    dev.core.watcher().poll_once().await;
    assert_eq!(dev.core.pending().len(), 1);

    // Move the server's clock past the default 5-minute expiry.
    backend.emu.set_faults(Faults {
        clock_offset_secs: 3600,
        ..Faults::default()
    });
    let out = dev.core.watcher().poll_once().await;
    assert_eq!(out.removed, 1, "events: {:#?}", dev.events.all());
    assert!(dev.core.pending().is_empty());
    assert_eq!(
        dev.events.count(|e| matches!(e, AppEvent::ChallengeRemoved { sid: s, reason: RemovalReason::Expired, .. } if *s == sid)),
        1
    );
    assert_eq!(backend.status("dave-user1", &sid).await, "expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_back_off_go_offline_and_recover() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "erin-user1", Some(Duration::from_millis(100))).await;
    backend.emu.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let watcher = dev.core.watcher().clone();
    let task = tokio::spawn(watcher.clone().run());
    dev.events
        .wait_for(|e| matches!(e, AppEvent::WatcherStatus(s) if !s.online))
        .await;
    let status = watcher.status();
    assert!(!status.online);
    assert_eq!(
        status.last_error.as_ref().map(|e| e.code.as_str()),
        Some("server")
    );

    // Without backoff a 100 ms interval would poll ~30 times in 3 s. With exponential backoff
    // (each delay at least half of 100·2^n ms) at most 6 polls fit: 50+100+200+400+800+1600 > 3000.
    let before = watcher.poll_count();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = watcher.poll_count() - before;
    assert!(
        during <= 7,
        "{during} polls in 3 s while failing: no backoff?"
    );

    backend.emu.set_faults(Faults::default());
    let seen = dev.events.len();
    watcher.check_now();
    dev.events
        .wait_for_after(
            seen,
            |e| matches!(e, AppEvent::WatcherStatus(s) if s.online && s.last_error.is_none()),
        )
        .await;
    assert!(watcher.status().online);
    watcher.stop();
    task.await.expect("watcher task ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "frank-user1", Some(Duration::from_millis(100))).await;
    backend.emu.set_faults(Faults {
        rate_limit_rate: 1.0,
        retry_after_secs: 2,
        ..Faults::default()
    });
    let watcher = dev.core.watcher().clone();
    let task = tokio::spawn(watcher.clone().run());
    dev.events
        .wait_for(|e| matches!(e, AppEvent::WatcherStatus(s) if !s.online))
        .await;
    // Every failed poll waits at least Retry-After (2 s): at most 2 more polls fit in 3 s.
    let before = watcher.poll_count();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = watcher.poll_count() - before;
    assert!(during <= 2, "{during} polls in 3 s despite Retry-After: 2");
    watcher.stop();
    task.await.expect("watcher task ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_notifications_still_list_but_do_not_notify() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "gina-user1", None).await;
    dev.core
        .modify_settings(|s| s.paused_until = Some(assent_core::settings::PausedUntil::Forever))
        .expect("settings saved");
    let sid = backend
        .challenge("gina-user1", &dev.factor, "Quiet", &[])
        .await;
    dev.core.watcher().poll_once().await;
    assert!(dev.core.watcher().status().paused);
    assert_eq!(
        dev.events.count(|e| matches!(e, AppEvent::ChallengeAnnounced { challenge, alert: Alert::Silent(SilentReason::Paused) } if challenge.sid() == sid)),
        1
    );
    assert_eq!(dev.core.pending().len(), 1);
}

/// A probe the tests move: the real wall clock plus a simulated sleep, and a network
/// fingerprint set by hand.
#[derive(Debug, Default)]
struct TestProbe {
    slept_secs: AtomicU64,
    net: AtomicU64,
}

impl SystemProbe for TestProbe {
    fn wall_clock(&self) -> SystemTime {
        SystemTime::now() + Duration::from_secs(self.slept_secs.load(Ordering::SeqCst))
    }

    fn network_fingerprint(&self) -> u64 {
        self.net.load(Ordering::SeqCst)
    }
}

const HOUR: Duration = Duration::from_secs(3600);

/// A second Core on `dev`'s data (same accounts and keys) whose watcher polls once an hour
/// unless `probe` says otherwise, running its loop; returns once the start poll is done.
async fn hourly_watcher(
    dev: &Device,
    probe: Arc<TestProbe>,
) -> (Arc<Core>, Arc<Collector>, tokio::task::JoinHandle<()>) {
    let events = Arc::new(Collector::default());
    let mut opts = CoreOptions::new(Paths::at(dev.dir.path()));
    let keys: Arc<dyn KeyStore> = dev.keys.clone();
    opts.key_store = Some(keys);
    opts.sink = events.clone();
    opts.watcher = WatcherConfig {
        interval_override: Some(HOUR),
        probe,
        ..WatcherConfig::default()
    };
    let core = Core::new(opts).expect("core builds");
    let task = tokio::spawn(core.watcher().clone().run());
    // The start poll is over once it has stamped its time (hang guard: common::WAIT).
    let deadline = tokio::time::Instant::now() + common::WAIT;
    while core.watcher().status().last_poll_at.is_none() {
        assert!(tokio::time::Instant::now() < deadline, "no start poll");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(core.watcher().poll_count(), 1);
    (core, events, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_network_coming_back_polls_at_once_and_the_schedule_goes_on() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "hank-user1", None).await;
    let probe = Arc::new(TestProbe::default());
    let (core, events, task) = hourly_watcher(&dev, probe.clone()).await;
    let watcher = core.watcher().clone();

    // Created while "offline": with an hourly schedule only the reaction can find it.
    let sid = backend
        .challenge("hank-user1", &dev.factor, "Network back", &[])
        .await;
    probe.net.fetch_add(1, Ordering::SeqCst);
    events.wait_for(is_announce(&sid)).await;
    assert_eq!(watcher.poll_count(), 2, "one poll for one change");

    // The loop goes on: the next change is noticed too, and still one poll each.
    let sid2 = backend
        .challenge("hank-user1", &dev.factor, "Network back again", &[])
        .await;
    probe.net.fetch_add(1, Ordering::SeqCst);
    events.wait_for(is_announce(&sid2)).await;
    assert_eq!(watcher.poll_count(), 3);
    assert_eq!(events.count(is_announce(&sid)), 1, "announced once");
    watcher.stop();
    task.await.expect("watcher task ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_from_sleep_polls_at_once_and_the_schedule_goes_on() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "ivy-user1", None).await;
    let probe = Arc::new(TestProbe::default());
    let (core, events, task) = hourly_watcher(&dev, probe.clone()).await;
    let watcher = core.watcher().clone();

    // A sign-in started while the laptop was asleep.
    let sid = backend
        .challenge("ivy-user1", &dev.factor, "While asleep", &[])
        .await;
    probe.slept_secs.fetch_add(8 * 3600, Ordering::SeqCst);
    events.wait_for(is_announce(&sid)).await;
    assert_eq!(watcher.poll_count(), 2, "one poll for one resume");

    // Another sleep later: noticed as well (the jump is measured from the last wake-up).
    let sid2 = backend
        .challenge("ivy-user1", &dev.factor, "After the next sleep", &[])
        .await;
    probe.slept_secs.fetch_add(600, Ordering::SeqCst);
    events.wait_for(is_announce(&sid2)).await;
    assert_eq!(watcher.poll_count(), 3);
    watcher.stop();
    task.await.expect("watcher task ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_poll_lists_every_account() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "jack-user1", None).await;
    // A second account in the same app.
    let payload = backend.enrollment_json("jack-user2").await;
    let second = dev
        .core
        .enroll(&payload, Some("Second".into()))
        .await
        .expect("second enrolment");
    let a = backend
        .challenge("jack-user1", &dev.factor, "First account", &[])
        .await;
    let b = backend
        .challenge("jack-user2", &second.factor_sid, "Second account", &[])
        .await;
    let before = dev.core.watcher().poll_count();
    let out = dev.core.watcher().poll_once().await;
    assert_eq!(dev.core.watcher().poll_count(), before + 1);
    assert_eq!(out.announced, 2);
    assert_eq!(dev.events.count(is_announce(&a)), 1);
    assert_eq!(dev.events.count(is_announce(&b)), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announced_before_the_list_event_and_recorded_for_a_restart() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "kim-user1", None).await;
    let sid = backend
        .challenge("kim-user1", &dev.factor, "Order", &[])
        .await;
    let seen = dev.events.len();
    dev.core.watcher().poll_once().await;
    let events = dev.events.all();
    let announce = events[seen..]
        .iter()
        .position(is_announce(&sid))
        .expect("announced");
    let listed = events[seen..]
        .iter()
        .position(
            |e| matches!(e, AppEvent::ChallengesChanged(l) if l.iter().any(|p| p.sid() == sid)),
        )
        .expect("listed");
    assert!(
        announce < listed,
        "the notification is not held up by the list event"
    );
    // The record is on disk as soon as the announcement is out.
    let announced = std::fs::read_to_string(dev.dir.path().join("announced.json")).expect("file");
    assert!(announced.contains(&sid));
}

/// Counts every call into the key store: on a desktop each one may open an unlock prompt.
#[derive(Debug)]
struct CountingKeys {
    inner: Arc<verify_push::MemoryKeyStore>,
    calls: AtomicU64,
}

impl CountingKeys {
    fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

impl KeyStore for CountingKeys {
    fn put(
        &self,
        alias: &str,
        key: &verify_push::SecretKeyBytes,
    ) -> Result<(), verify_push::Error> {
        self.count();
        self.inner.put(alias, key)
    }

    fn get(&self, alias: &str) -> Result<Option<verify_push::SecretKeyBytes>, verify_push::Error> {
        self.count();
        self.inner.get(alias)
    }

    fn delete(&self, alias: &str) -> Result<bool, verify_push::Error> {
        self.count();
        self.inner.delete(alias)
    }

    fn aliases(&self) -> Result<Vec<String>, verify_push::Error> {
        self.count();
        self.inner.aliases()
    }
}

/// Idle or active, as the test says.
#[derive(Debug, Default)]
struct TestIdle(std::sync::atomic::AtomicBool);

impl assent_core::watcher::IdleSource for TestIdle {
    fn idle_time(&self) -> Option<Duration> {
        Some(if self.0.load(Ordering::SeqCst) {
            HOUR
        } else {
            Duration::ZERO
        })
    }
}

/// An enrolled account with a pending challenge, then the app "restarted" (no key cached) on a
/// locked keychain with the default 2 s schedule. The clock is paused once the network setup is
/// done (a poll on a locked keychain makes no request, so simulated minutes are exact); the
/// watcher loop runs from `t0`.
struct LockedKeychain {
    _backend: Backend,
    dev: Device,
    keys: Arc<CountingKeys>,
    events: Arc<Collector>,
    core: Arc<Core>,
    probe: Arc<TestProbe>,
    idle: Arc<TestIdle>,
    sid: String,
    t0: tokio::time::Instant,
    task: tokio::task::JoinHandle<()>,
}

impl LockedKeychain {
    async fn start(identity: &str) -> LockedKeychain {
        let backend = Backend::start().await;
        let dev = Device::enrolled(&backend, identity, None).await;
        let sid = backend
            .challenge(identity, &dev.factor, "While locked", &[])
            .await;
        dev.keys
            .fail_with(Some(verify_push::ErrorCode::KeychainLocked));
        let keys = Arc::new(CountingKeys {
            inner: dev.keys.clone(),
            calls: AtomicU64::new(0),
        });
        let events = Arc::new(Collector::default());
        let probe = Arc::new(TestProbe::default());
        let idle = Arc::new(TestIdle::default());
        let mut opts = CoreOptions::new(Paths::at(dev.dir.path()));
        let ks: Arc<dyn KeyStore> = keys.clone();
        opts.key_store = Some(ks);
        opts.sink = events.clone();
        opts.idle = idle.clone();
        opts.watcher = WatcherConfig {
            probe: probe.clone(),
            ..WatcherConfig::default()
        };
        let core = Core::new(opts).expect("core builds");
        tokio::time::pause();
        let t0 = tokio::time::Instant::now();
        let task = tokio::spawn(core.watcher().clone().run());
        LockedKeychain {
            _backend: backend,
            dev,
            keys,
            events,
            core,
            probe,
            idle,
            sid,
            t0,
            task,
        }
    }

    /// Keychain calls so far, read at `at_ms` simulated milliseconds after the start.
    async fn attempts_at(&self, at_ms: u64) -> u64 {
        tokio::time::sleep_until(self.t0 + Duration::from_millis(at_ms)).await;
        self.keys.calls()
    }

    fn assert_says_locked(&self) {
        let status = self.core.watcher().status();
        assert!(status.online, "the server is fine: no offline banner");
        assert_eq!(
            status.last_error.as_ref().map(|e| e.code.as_str()),
            Some("keychain_locked")
        );
        assert!(self.core.pending().is_empty());
    }

    async fn stop(self) {
        self.core.watcher().stop();
        self.task.await.expect("watcher task ends");
    }
}

// Current-thread runtime: the clock is paused for the locked stretch.
#[tokio::test]
async fn a_locked_keychain_is_retried_slowly_check_now_at_once_and_unlocking_restores_the_schedule()
{
    let rig = LockedKeychain::start("lena-user1").await;
    // Every poll reads the (uncached) key. 30 s after the first failure, then 60, 120, 240 and
    // the 5-minute maximum: attempts at 0, 30, 90, 210, 450, 750 s, ... instead of every 2 s.
    let expected = [
        (500, 1),
        (29_500, 1),
        (30_500, 2),
        (89_500, 2),
        (90_500, 3),
        (209_500, 3),
        (210_500, 4),
        (449_500, 4),
        (450_500, 5),
        (600_500, 5),
    ];
    for (at_ms, n) in expected {
        assert_eq!(
            rig.attempts_at(at_ms).await,
            n,
            "keychain attempts after {at_ms} ms (a 2 s schedule would make {})",
            1 + at_ms / 2000
        );
    }
    rig.assert_says_locked();
    // Every status the UI got since the first poll said "keychain locked" (the banner stays;
    // the one before is the loop's start-up status).
    let statuses: Vec<_> = rig
        .events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            AppEvent::WatcherStatus(s) => Some(s),
            _ => None,
        })
        .skip_while(|s| s.last_error.is_none())
        .collect();
    assert!(!statuses.is_empty());
    assert!(statuses
        .iter()
        .all(|s| s.online
            && s.last_error.as_ref().map(|e| e.code.as_str()) == Some("keychain_locked")));

    // "Try now" on the banner: at once.
    rig.core.watcher().check_now();
    assert_eq!(rig.attempts_at(600_600).await, 6, "Check now tries at once");
    rig.assert_says_locked();
    // Failure six in a row: the next automatic try is 5 minutes after it (900.5 s). The user
    // unlocks meanwhile; nothing asks the keychain before that.
    assert_eq!(rig.attempts_at(700_000).await, 6);
    rig.dev.keys.fail_with(None);
    assert_eq!(rig.attempts_at(900_400).await, 6);
    let polls_before = rig.core.watcher().poll_count();

    // Real time from here (the next polls talk to the emulator): the 900.5 s try finds the
    // request and announces it.
    let seen = rig.events.len();
    tokio::time::resume();
    rig.events.wait_for_after(seen, is_announce(&rig.sid)).await;
    // The poll ends with a clean status (the announcement comes first).
    rig.events
        .wait_for_after(
            seen,
            |e| matches!(e, AppEvent::WatcherStatus(s) if s.last_error.is_none()),
        )
        .await;
    assert_eq!(rig.core.watcher().poll_count(), polls_before + 1);
    assert_eq!(rig.keys.calls(), 7, "one read, then the key is cached");
    let back = tokio::time::Instant::now();
    let status = rig.core.watcher().status();
    assert!(status.online && status.last_error.is_none());
    assert_eq!(rig.core.pending().len(), 1);

    // The normal 2 s grid again (30 a minute): polls at +2, +4 and +6 s.
    tokio::time::sleep_until(back + Duration::from_millis(6_500)).await;
    assert_eq!(rig.core.watcher().poll_count(), polls_before + 4);
    assert_eq!(rig.events.count(is_announce(&rig.sid)), 1, "announced once");
    assert_eq!(rig.keys.calls(), 7);
    rig.stop().await;
}

#[tokio::test]
async fn resume_and_returning_from_idle_retry_a_locked_keychain_at_once_a_network_change_does_not()
{
    let rig = LockedKeychain::start("mona-user1").await;
    assert_eq!(rig.attempts_at(500).await, 1);
    // A network change says nothing about the keychain.
    rig.probe.net.fetch_add(1, Ordering::SeqCst);
    assert_eq!(
        rig.attempts_at(6_500).await,
        1,
        "no retry on a network change"
    );
    // Resume from sleep (noticed at the next 1 s wake-up): at once.
    rig.probe.slept_secs.fetch_add(3600, Ordering::SeqCst);
    assert_eq!(rig.attempts_at(7_500).await, 2, "resume retries at once");
    // Idle and back (window shown / input again): at once.
    rig.idle.0.store(true, Ordering::SeqCst);
    assert_eq!(rig.attempts_at(20_500).await, 2, "going idle is no reason");
    rig.idle.0.store(false, Ordering::SeqCst);
    assert_eq!(
        rig.attempts_at(21_500).await,
        3,
        "coming back retries at once"
    );
    rig.assert_says_locked();
    // Third failure in a row (at 21 s): the next automatic try 120 s later.
    assert_eq!(rig.attempts_at(140_500).await, 3);
    assert_eq!(rig.attempts_at(141_500).await, 4);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_local_server_counts_as_refused_and_is_probed_soon() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "refused-user1", None).await;
    assert!(!dev.core.watcher().poll_once().await.local_refused);
    backend.emu.shutdown().await;
    let out = dev.core.watcher().poll_once().await;
    assert!(out.transient_error, "{out:?}");
    assert!(out.local_refused, "{out:?}");
    assert!(!dev.core.watcher().status().online);
}
