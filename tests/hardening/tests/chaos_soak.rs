//! Chaos soak: an in-process emulator cycles through injected faults (500s, a full outage,
//! 429 with Retry-After, slow answers past the client timeout, garbage bodies, server clock
//! jumps) while a backend task keeps creating challenges and a device task polls and answers
//! them through verify-push (via a request-counting proxy).
//!
//! Asserts: every challenge the backend created is announced exactly once and none that it did
//! not create; every answer lands with the intended status or surfaced an error (never an `Ok`
//! the server does not agree with); after faults stop, everything is answered; the device's
//! request count is bounded (backoff during the outage, Retry-After honoured, no library-level
//! retry loops); RSS does not grow beyond a bound after warm-up.
//! `SOAK_SECS` (default 60) sets the faulty period.

use assent_hardening::rss::rss_kib;
use assent_hardening::{Backend, CountingProxy};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use verify_emulator::{EmulatorConfig, Faults};
use verify_push::{
    ChallengeListQuery, ChallengeStatus, EnrollRequest, EnrollmentPayload, ErrorCode,
    MemoryKeyStore, Order, VerifyPush,
};

const PHASE: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(4);

fn phases() -> Vec<(&'static str, Faults)> {
    let f = Faults::default;
    vec![
        ("calm", f()),
        (
            "errors_30",
            Faults {
                error_rate: 0.3,
                ..f()
            },
        ),
        (
            "outage",
            Faults {
                error_rate: 1.0,
                ..f()
            },
        ),
        ("calm", f()),
        (
            "rate_limited",
            Faults {
                rate_limit_rate: 1.0,
                retry_after_secs: 2,
                ..f()
            },
        ),
        (
            "slow_past_timeout",
            Faults {
                slow_rate: 0.3,
                slow_ms: 1500,
                ..f()
            },
        ),
        (
            "garbage_30",
            Faults {
                garbage_rate: 0.3,
                ..f()
            },
        ),
        (
            "clock_ahead_150",
            Faults {
                clock_offset_secs: 150,
                ..f()
            },
        ),
        (
            "clock_behind_150",
            Faults {
                clock_offset_secs: -150,
                ..f()
            },
        ),
        (
            "mixed",
            Faults {
                error_rate: 0.1,
                rate_limit_rate: 0.1,
                retry_after_secs: 1,
                slow_rate: 0.1,
                slow_ms: 1500,
                garbage_rate: 0.1,
                clock_offset_secs: 90,
                ..f()
            },
        ),
    ]
}

/// Intended answer for the n-th challenge: every fourth is denied.
fn intent(n: u64) -> ChallengeStatus {
    if n % 4 == 3 {
        ChallengeStatus::Denied
    } else {
        ChallengeStatus::Approved
    }
}

#[derive(Default, Debug)]
struct DeviceLog {
    announced: BTreeMap<String, u32>,
    /// `Ok` answers: status the library returned.
    landed: BTreeMap<String, ChallengeStatus>,
    answer_errors: BTreeMap<String, Vec<ErrorCode>>,
    poll_errors: BTreeMap<&'static str, u64>,
    polls: u64,
    answer_attempts: u64,
}

fn code_name(c: ErrorCode) -> &'static str {
    c.as_str()
}

/// The poller under test: list pending, announce new SIDs once, answer each, back off
/// exponentially (never sooner than Retry-After) on failures.
async fn device_loop(
    client: VerifyPush,
    factor: verify_push::FactorSid,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<DeviceLog>>,
) {
    let mut backoff = POLL;
    loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let q = ChallengeListQuery {
            status: Some(ChallengeStatus::Pending),
            order: Order::Asc,
            page_size: 100,
            ..ChallengeListQuery::new(factor.clone())
        };
        let res = client.list_challenges(q).await;
        let mut failed: Option<verify_push::Error> = None;
        match res {
            Ok(page) => {
                log.lock().unwrap().polls += 1;
                for ch in page.challenges {
                    let sid = ch.sid.to_string();
                    {
                        let mut l = log.lock().unwrap();
                        if !l.announced.contains_key(&sid) {
                            l.announced.insert(sid.clone(), 1);
                        } else if l.landed.contains_key(&sid) {
                            // Answered with Ok yet still pending: the answer was lost.
                            *l.announced.get_mut(&sid).unwrap() += 1;
                        }
                    }
                    let n: u64 = ch
                        .details
                        .message
                        .strip_prefix("soak-")
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    log.lock().unwrap().answer_attempts += 1;
                    let decision = if intent(n) == ChallengeStatus::Denied {
                        verify_push::Decision::Deny
                    } else {
                        verify_push::Decision::Approve
                    };
                    let r = client.update_challenge(&factor, &ch.sid, decision).await;
                    let mut l = log.lock().unwrap();
                    match r {
                        Ok(done) => {
                            l.landed.insert(sid, done.status);
                        }
                        Err(e) => {
                            l.answer_errors.entry(sid).or_default().push(e.code());
                            failed = Some(e);
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                *log.lock()
                    .unwrap()
                    .poll_errors
                    .entry(code_name(e.code()))
                    .or_default() += 1;
                failed = Some(e);
            }
        }
        let wait = match failed {
            None => {
                backoff = POLL;
                POLL
            }
            Some(e) => {
                backoff = (backoff * 2).min(MAX_BACKOFF);
                let ra = e
                    .api_error()
                    .and_then(|a| a.retry_after_secs)
                    .map(Duration::from_secs)
                    .unwrap_or_default();
                backoff.max(ra)
            }
        };
        tokio::time::sleep(wait).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_soak_keeps_every_challenge_and_answer() {
    let soak = Duration::from_secs(
        std::env::var("SOAK_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60),
    );
    let emu = verify_emulator::spawn(EmulatorConfig::default())
        .await
        .unwrap();
    let backend =
        Backend::new(emu.base_url().clone(), emu.account_sid(), emu.auth_token()).unwrap();
    let proxy = CountingProxy::start(emu.base_url().clone()).await.unwrap();
    let device_api = proxy.base_url().join("v2/").unwrap();

    let service = backend.create_service().await.unwrap();
    let identity = "soak-user";
    let token = backend.access_token(&service, identity).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = VerifyPush::builder()
        .app_id("dev.assent.Hardening")
        .app("AssentHardening", "0")
        .data_dir(dir.path())
        .key_store(Arc::new(MemoryKeyStore::new()))
        .http_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let payload =
        EnrollmentPayload::new(&token, &service, identity, Some(device_api.as_str())).unwrap();
    let factor = client
        .enroll(EnrollRequest::new(payload, "Soak device".parse().unwrap()))
        .await
        .unwrap();
    let setup_requests = proxy.count();

    let stop_backend = Arc::new(AtomicBool::new(false));
    let created: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let backend_task = {
        let (b, stop, created) = (backend.clone(), stop_backend.clone(), created.clone());
        let (service, fsid) = (service.clone(), factor.sid.to_string());
        tokio::spawn(async move {
            let mut n = 0u64;
            let mut failures = 0u64;
            while !stop.load(Ordering::Relaxed) {
                match b
                    .create_challenge(&service, identity, &fsid, &format!("soak-{n}"))
                    .await
                {
                    Ok(sid) => {
                        created.lock().unwrap().insert(sid, n);
                        n += 1;
                    }
                    Err(_) => failures += 1,
                }
                tokio::time::sleep(Duration::from_millis(400)).await;
            }
            failures
        })
    };

    let stop_device = Arc::new(AtomicBool::new(false));
    let log: Arc<Mutex<DeviceLog>> = Arc::default();
    let device_task = tokio::spawn(device_loop(
        client.clone(),
        factor.sid.clone(),
        stop_device.clone(),
        log.clone(),
    ));

    // Fault schedule; note the windows of the outage and rate-limit phases.
    let start = Instant::now();
    let mut windows: Vec<(&str, Instant, Instant)> = Vec::new();
    let mut rss: Vec<(Duration, u64)> = Vec::new();
    let plan = phases();
    let mut i = 0;
    while start.elapsed() < soak {
        let (name, faults) = plan[i % plan.len()].clone();
        emu.set_faults(faults);
        let t0 = Instant::now();
        while t0.elapsed() < PHASE && start.elapsed() < soak {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if let Some(k) = rss_kib() {
                rss.push((start.elapsed(), k));
            }
        }
        windows.push((name, t0, Instant::now()));
        i += 1;
    }
    emu.set_faults(Faults::default());
    stop_backend.store(true, Ordering::Relaxed);
    let backend_failures = backend_task.await.unwrap();
    let faulty_elapsed = start.elapsed();

    // Drain: without faults the device must answer everything still pending.
    let created = created.lock().unwrap().clone();
    let drain_start = Instant::now();
    loop {
        let done = {
            let l = log.lock().unwrap();
            created.keys().all(|s| l.announced.contains_key(s))
        };
        let mut pending = 0;
        if done {
            for sid in created.keys() {
                if backend
                    .challenge_status(&service, identity, sid)
                    .await
                    .unwrap()
                    == "pending"
                {
                    pending += 1;
                }
            }
        }
        if done && pending == 0 || drain_start.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    stop_device.store(true, Ordering::Relaxed);
    device_task.await.unwrap();
    let l = std::mem::take(&mut *log.lock().unwrap());

    // Final server state of every challenge.
    let mut final_status: HashMap<String, String> = HashMap::new();
    for sid in created.keys() {
        final_status.insert(
            sid.clone(),
            backend
                .challenge_status(&service, identity, sid)
                .await
                .unwrap(),
        );
    }

    // Figures.
    let total_requests = proxy.count() - setup_requests;
    let secs = (faulty_elapsed + drain_start.elapsed()).as_secs_f64();
    let errored_then_landed = l
        .answer_errors
        .keys()
        .filter(|s| final_status.get(*s).is_some_and(|st| st != "pending"))
        .count();
    let (rss_warm, rss_max) = {
        let warm_at = (soak / 4).max(Duration::from_secs(10)).min(soak);
        let warm = rss
            .iter()
            .find(|(t, _)| *t >= warm_at)
            .map(|(_, k)| *k)
            .unwrap_or(0);
        let max = rss
            .iter()
            .filter(|(t, _)| *t >= warm_at)
            .map(|(_, k)| *k)
            .max()
            .unwrap_or(0);
        (warm, max)
    };
    println!(
        "chaos soak: {:.0} s faulty + {:.0} s drain, phases {:?}",
        faulty_elapsed.as_secs_f64(),
        drain_start.elapsed().as_secs_f64(),
        windows.iter().map(|w| w.0).collect::<Vec<_>>()
    );
    println!(
        "  challenges created {} (backend gave up {} times), announced {}, answered Ok {}, answers that errored {} (of which landed later {}), answer attempts {}",
        created.len(),
        backend_failures,
        l.announced.len(),
        l.landed.len(),
        l.answer_errors.len(),
        errored_then_landed,
        l.answer_attempts
    );
    println!(
        "  device requests {} ({:.1}/s), max in any 1 s window {}, polls ok {}, poll errors {:?}",
        total_requests,
        total_requests as f64 / secs,
        proxy.max_in_window(Duration::from_secs(1)),
        l.polls,
        l.poll_errors
    );
    let mut answer_codes: BTreeMap<&str, usize> = BTreeMap::new();
    for c in l.answer_errors.values().flatten() {
        *answer_codes.entry(c.as_str()).or_default() += 1;
    }
    println!("  answer errors by code {answer_codes:?}");
    println!(
        "  RSS after warm-up {} KiB, max later {} KiB",
        rss_warm, rss_max
    );

    // Every created challenge announced exactly once; nothing announced that was not created.
    for sid in created.keys() {
        assert_eq!(
            l.announced.get(sid),
            Some(&1),
            "challenge {sid} announced wrongly"
        );
    }
    for sid in l.announced.keys() {
        assert!(created.contains_key(sid), "phantom challenge {sid}");
    }
    // Every Ok answer agrees with the server; every challenge ends as intended.
    for (sid, st) in &l.landed {
        let n = created[sid];
        assert_eq!(*st, intent(n), "{sid}: library returned {st:?}");
        assert_eq!(
            final_status[sid],
            intent(n).as_str(),
            "{sid}: Ok answer not on server"
        );
    }
    for (sid, n) in &created {
        assert_eq!(
            final_status[sid],
            intent(*n).as_str(),
            "{sid} ended {} (errors seen: {:?})",
            final_status[sid],
            l.answer_errors.get(sid)
        );
        assert!(
            l.landed.contains_key(sid) || l.answer_errors.contains_key(sid),
            "{sid} answered without the device knowing"
        );
    }
    assert!(!created.is_empty() && !l.landed.is_empty());
    // No tight retry loops: in a full outage the poller backs off; under 429 it waits
    // Retry-After (2 s); the library sends at most a few requests per call.
    for (name, from, to) in &windows {
        let from = *from + Duration::from_millis(500); // requests already in flight
        let n = proxy.count_between(from, *to);
        let secs = to.duration_since(from).as_secs_f64();
        match *name {
            "outage" => assert!(
                n as f64 <= secs / 0.5 + 2.0,
                "{n} requests in {secs:.1} s of outage"
            ),
            "rate_limited" => assert!(
                n as f64 <= secs / 2.0 + 2.0,
                "{n} requests in {secs:.1} s of 429s"
            ),
            _ => {}
        }
    }
    let calls = l.polls + l.poll_errors.values().sum::<u64>() + l.answer_attempts;
    assert!(
        total_requests as u64 <= 4 * calls + 4 * created.len() as u64,
        "{total_requests} requests for {calls} library calls"
    );
    // Memory: bounded growth after warm-up (the in-memory emulator DB grows a little per challenge).
    let bound = 32 * 1024 + 8 * created.len() as u64;
    assert!(
        rss_max.saturating_sub(rss_warm) <= bound,
        "RSS grew {} KiB after warm-up (bound {bound} KiB)",
        rss_max.saturating_sub(rss_warm)
    );
    drop(l);
    drop(proxy);
    emu.shutdown().await;
}
