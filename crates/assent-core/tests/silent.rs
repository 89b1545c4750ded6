//! Silent approval through the local endpoint: real HTTP over 127.0.0.1 to the endpoint, and a
//! real emulator as the relying party's backend.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use assent_core::local_endpoint::{self, EndpointConfig, LocalEndpoint, RateLimit};
use assent_core::{AppEvent, Core, CoreOptions, Paths, SessionProbe, SessionState, WatcherConfig};
use common::{Backend, Collector};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use verify_push::{KeyStore, MemoryKeyStore};

const ORIGIN: &str = "https://bank.example";
const EVIL: &str = "https://bank-example.evil";
const NONCE: &str = "q8ZbX1v3nN0pWc5tYh2kRA";

/// A session whose state the test sets.
struct TestSession(Mutex<SessionState>);

impl TestSession {
    fn active() -> Arc<TestSession> {
        Arc::new(TestSession(Mutex::new(SessionState {
            input_idle: Some(Duration::from_secs(1)),
            locked: Some(false),
        })))
    }

    fn set(&self, s: SessionState) {
        *self.0.lock().expect("lock") = s;
    }
}

impl SessionProbe for TestSession {
    fn session(&self) -> SessionState {
        *self.0.lock().expect("lock")
    }
}

struct Rig {
    backend: Backend,
    _dir: tempfile::TempDir,
    core: Arc<Core>,
    events: Arc<Collector>,
    session: Arc<TestSession>,
    endpoint: LocalEndpoint,
    http: reqwest::Client,
    factor: String,
    identity: String,
}

impl Rig {
    /// A device enrolled for `identity` with `origin`, silent approval switched on, the endpoint
    /// on an ephemeral port. A held card waits an hour: only a decision shows it.
    async fn start(identity: &str, origin: Option<&str>) -> Rig {
        Rig::start_with(identity, origin, Duration::from_secs(3600)).await
    }

    /// [`Rig::start`] with held cards shown after `silent_hold`.
    async fn start_with(identity: &str, origin: Option<&str>, silent_hold: Duration) -> Rig {
        let backend = Backend::start().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let events = Arc::new(Collector::default());
        let session = TestSession::active();
        let mut opts = CoreOptions::new(Paths::at(dir.path()));
        let ks: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::default());
        opts.key_store = Some(ks);
        opts.sink = events.clone();
        opts.session = session.clone();
        opts.watcher = WatcherConfig {
            interval_override: Some(Duration::from_secs(3600)),
            silent_hold,
            ..WatcherConfig::default()
        };
        let core = Core::new(opts).expect("core");
        let mut payload: Value =
            serde_json::from_str(&backend.enrollment_json(identity).await).expect("json");
        if let Some(o) = origin {
            payload["origin"] = json!(o);
        }
        let account = core
            .enroll(&payload.to_string(), Some("Laptop".into()))
            .await
            .expect("enrols");
        assert_eq!(account.origin.as_deref(), origin);
        assert!(!account.silent_allowed, "off by default");
        let on = core
            .set_silent_allowed(&account.factor_sid, true)
            .await
            .expect("switch");
        assert!(on.silent_allowed);
        let endpoint = local_endpoint::start(
            core.clone(),
            EndpointConfig {
                addr: Some("127.0.0.1:0".parse().expect("addr")),
                rate: RateLimit {
                    burst: 1000,
                    per_sec: 1000,
                },
            },
        )
        .await
        .expect("endpoint listens");
        Rig {
            backend,
            _dir: dir,
            core,
            events,
            session,
            endpoint,
            http: reqwest::Client::new(),
            factor: account.factor_sid,
            identity: identity.to_owned(),
        }
    }

    fn url(&self, route: &str) -> String {
        format!("http://{}/assent/v1/{route}", self.endpoint.addr())
    }

    async fn challenge(&self, hidden: &[(&str, &str)]) -> String {
        self.backend
            .challenge_hidden(&self.identity, &self.factor, "Sign in to Bank", &[], hidden)
            .await
    }

    async fn silent_challenge(&self) -> String {
        self.challenge(&[
            ("assent_silent_origin", ORIGIN),
            ("assent_silent_nonce", NONCE),
        ])
        .await
    }

    /// POSTs to silent-approval; returns the HTTP status and the `status` word.
    async fn silent(&self, origin: Option<&str>, sid: &str, nonce: &str) -> (u16, String) {
        let mut rb = self
            .http
            .post(self.url("silent-approval"))
            .json(&json!({"challenge_sid": sid, "nonce": nonce}));
        if let Some(o) = origin {
            rb = rb.header("Origin", o);
        }
        let r = rb.send().await.expect("sent");
        let code = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        (code, body["status"].as_str().unwrap_or_default().to_owned())
    }

    async fn status(&self, sid: &str) -> String {
        self.backend.status(&self.identity, sid).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_approval_with_everything_right_approves_with_its_metadata() {
    let rig = Rig::start("silent-ok", Some(ORIGIN)).await;
    let sid = rig.silent_challenge().await;
    let r = rig
        .http
        .post(rig.url("silent-approval"))
        .header("Origin", ORIGIN)
        .json(&json!({"challenge_sid": sid, "nonce": NONCE}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], ORIGIN);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body, json!({"status": "approved"}), "only the status word");
    let c = rig.backend.fetch_challenge(&rig.identity, &sid).await;
    assert_eq!(c["status"], "approved");
    assert_eq!(
        c["metadata"],
        json!({"assent_approval": "silent", "origin": ORIGIN})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_condition_failing_alone_prompts_and_leaves_the_challenge_pending() {
    let rig = Rig::start("silent-each", Some(ORIGIN)).await;
    let active = rig.session.session();
    let idle = SessionState {
        input_idle: Some(Duration::from_secs(61)),
        locked: Some(false),
    };
    let locked = SessionState {
        input_idle: Some(Duration::from_secs(1)),
        locked: Some(true),
    };
    let unknown = SessionState::default();
    let silent_keys = [
        ("assent_silent_origin", ORIGIN),
        ("assent_silent_nonce", NONCE),
    ];
    let with_match = [
        ("assent_silent_origin", ORIGIN),
        ("assent_silent_nonce", NONCE),
        ("assent_match_mode", "choose"),
        ("assent_match_code", "47"),
    ];
    let other_origin = [
        ("assent_silent_origin", "https://other.example"),
        ("assent_silent_nonce", NONCE),
    ];
    let weak = [
        ("assent_silent_origin", ORIGIN),
        ("assent_silent_nonce", "0123456789abcdef"),
    ];
    struct Case<'a> {
        name: &'a str,
        hidden: &'a [(&'a str, &'a str)],
        origin: Option<&'a str>,
        nonce: &'a str,
        session: SessionState,
        allowed: bool,
    }
    let base = |name| Case {
        name,
        hidden: &silent_keys,
        origin: Some(ORIGIN),
        nonce: NONCE,
        session: active,
        allowed: true,
    };
    let cases = [
        Case {
            allowed: false,
            ..base("switched off")
        },
        Case {
            session: idle,
            ..base("idle for a minute")
        },
        Case {
            session: locked,
            ..base("screen locked")
        },
        Case {
            session: unknown,
            ..base("session state unknown")
        },
        Case {
            hidden: &with_match,
            ..base("number matching asked")
        },
        Case {
            hidden: &[("transaction_id", "tx-1")],
            ..base("no silent keys")
        },
        Case {
            hidden: &other_origin,
            origin: Some("https://other.example"),
            ..base("origin not the enrolled one")
        },
        Case {
            hidden: &weak,
            nonce: "0123456789abcdef",
            ..base("nonce under 128 bits")
        },
        Case {
            origin: None,
            ..base("no Origin header")
        },
    ];
    for case in cases {
        // A fresh nonce-bound challenge per case, so no case spends another's nonce.
        let sid = rig.challenge(case.hidden).await;
        rig.session.set(case.session);
        rig.core
            .set_silent_allowed(&rig.factor, case.allowed)
            .await
            .expect("switch");
        let (code, status) = rig.silent(case.origin, &sid, case.nonce).await;
        assert_eq!((code, status.as_str()), (200, "prompt"), "{}", case.name);
        assert_eq!(rig.status(&sid).await, "pending", "{}", case.name);
        // Deny it so the next case's nonce is the only pending one.
        rig.core
            .answer(&rig.factor, &sid, assent_core::Decision::Deny)
            .await
            .expect("deny");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_or_unknown_challenge_prompts() {
    let rig = Rig::start("silent-foreign", Some(ORIGIN)).await;
    // Another identity's challenge, not enrolled on this desktop, with the same keys.
    let other = common::Device::enrolled(&rig.backend, "s-foreign-2", None).await;
    let sid = rig
        .backend
        .challenge_hidden(
            "s-foreign-2",
            &other.factor,
            "Sign in",
            &[],
            &[
                ("assent_silent_origin", ORIGIN),
                ("assent_silent_nonce", NONCE),
            ],
        )
        .await;
    assert_eq!(rig.silent(Some(ORIGIN), &sid, NONCE).await.1, "prompt");
    assert_eq!(rig.backend.status("s-foreign-2", &sid).await, "pending");
    assert_eq!(
        rig.silent(Some(ORIGIN), "YC00000000000000000000000000000000", NONCE)
            .await
            .1,
        "prompt"
    );
    assert_eq!(
        rig.silent(Some(ORIGIN), "not-a-sid", NONCE).await.1,
        "prompt"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_nonce_from_the_wrong_origin_is_denied_as_relayed() {
    let rig = Rig::start("silent-relay", Some(ORIGIN)).await;
    let sid = rig.silent_challenge().await;
    let r = rig
        .http
        .post(rig.url("silent-approval"))
        .header("Origin", EVIL)
        // A "simple" request, as a page sends it without a preflight.
        .header("Content-Type", "text/plain")
        .body(json!({"challenge_sid": sid, "nonce": NONCE}).to_string())
        .send()
        .await
        .expect("sent");
    assert!(
        r.headers().get("access-control-allow-origin").is_none(),
        "the relaying page cannot read the answer"
    );
    let c = rig.backend.fetch_challenge(&rig.identity, &sid).await;
    assert_eq!(c["status"], "denied");
    assert_eq!(
        c["metadata"],
        json!({"deny_reason": "origin_mismatch", "origin": EVIL})
    );
    let ev = rig
        .events
        .wait_for(|e| matches!(e, AppEvent::RelayedSignIn(_)))
        .await;
    let AppEvent::RelayedSignIn(ev) = ev else {
        unreachable!()
    };
    assert_eq!(ev.origin, EVIL);
    assert_eq!(ev.expected_origin, ORIGIN);
    assert_eq!(ev.challenge_sid, sid);
    assert!(ev.denied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_nonce_changes_nothing_and_a_used_nonce_prompts() {
    let rig = Rig::start("silent-nonce", Some(ORIGIN)).await;
    let sid = rig.silent_challenge().await;
    for wrong in ["q8ZbX1v3nN0pWc5tYh2kRB", "q8ZbX1v3nN0pWc5tYh2kR", ""] {
        assert_eq!(rig.silent(Some(ORIGIN), &sid, wrong).await.1, "prompt");
        assert_eq!(rig.silent(Some(EVIL), &sid, wrong).await.1, "prompt");
    }
    assert_eq!(rig.status(&sid).await, "pending");
    assert!(
        rig.events
            .count(|e| matches!(e, AppEvent::RelayedSignIn(_)))
            == 0
    );
    // The wrong tries spent nothing: the right nonce still works.
    assert_eq!(rig.silent(Some(ORIGIN), &sid, NONCE).await.1, "approved");

    // A nonce presented once is spent, even when that try fell back to the card.
    let sid = rig
        .challenge(&[
            ("assent_silent_origin", ORIGIN),
            ("assent_silent_nonce", "Zm9vYmFyYmF6cXV4cXV1eA"),
        ])
        .await;
    rig.session.set(SessionState::default());
    assert_eq!(
        rig.silent(Some(ORIGIN), &sid, "Zm9vYmFyYmF6cXV4cXV1eA")
            .await
            .1,
        "prompt"
    );
    rig.session.set(SessionState {
        input_idle: Some(Duration::from_secs(1)),
        locked: Some(false),
    });
    assert_eq!(
        rig.silent(Some(ORIGIN), &sid, "Zm9vYmFyYmF6cXV4cXV1eA")
            .await
            .1,
        "prompt"
    );
    assert_eq!(rig.status(&sid).await, "pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_is_answered_only_for_enrolled_origins() {
    let rig = Rig::start("silent-cors", Some(ORIGIN)).await;
    let preflight = |origin: &'static str| {
        rig.http
            .request(reqwest::Method::OPTIONS, rig.url("silent-approval"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type")
            .header("Access-Control-Request-Private-Network", "true")
            .send()
    };
    let ok = preflight(ORIGIN).await.expect("sent");
    assert_eq!(ok.status(), 204);
    assert_eq!(ok.headers()["access-control-allow-origin"], ORIGIN);
    assert_eq!(ok.headers()["access-control-allow-private-network"], "true");
    for other in [EVIL, "null", "http://bank.example"] {
        let r = preflight(other).await.expect("sent");
        assert_eq!(r.status(), 403, "{other}");
        let cors: Vec<_> = r
            .headers()
            .keys()
            .filter(|k| k.as_str().starts_with("access-control-"))
            .collect();
        assert!(cors.is_empty(), "{other}: {cors:?}");
    }
    // A plain POST from an unknown origin gets no CORS header either.
    let r = rig
        .http
        .post(rig.url("wake"))
        .header("Origin", EVIL)
        .json(&json!({"challenge_sid": "YC00000000000000000000000000000000"}))
        .send()
        .await
        .expect("sent");
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

/// Sends raw HTTP/1.1 (so the Host header is exactly what the test says) and returns the
/// status code.
async fn raw(addr: std::net::SocketAddr, host: &str, body: &str) -> u16 {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!(
        "POST /assent/v1/silent-approval HTTP/1.1\r\nHost: {host}\r\nOrigin: {ORIGIN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_and_a_foreign_host_are_refused() {
    let rig = Rig::start("silent-limits", Some(ORIGIN)).await;
    let sid = rig.silent_challenge().await;
    let addr = rig.endpoint.addr();
    let host = addr.to_string();
    let body = json!({"challenge_sid": sid, "nonce": NONCE, "pad": "x".repeat(2000)}).to_string();
    assert_eq!(raw(addr, &host, &body).await, 413);
    let good = json!({"challenge_sid": sid, "nonce": NONCE}).to_string();
    for foreign in [
        format!("bank.example:{}", addr.port()),
        "127.0.0.1:1".to_owned(),
        format!("localhost.evil:{}", addr.port()),
        String::new(),
    ] {
        assert_eq!(raw(addr, &foreign, &good).await, 421, "{foreign:?}");
    }
    assert_eq!(rig.status(&sid).await, "pending", "nothing was answered");
    // The same request under the endpoint's own name goes through.
    assert_eq!(
        raw(addr, &format!("localhost:{}", addr.port()), &good).await,
        200
    );
    assert_eq!(rig.status(&sid).await, "approved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_cap_answers_429() {
    let rig = Rig::start("silent-rate", Some(ORIGIN)).await;
    let ep = local_endpoint::start(
        rig.core.clone(),
        EndpointConfig {
            addr: Some("127.0.0.1:0".parse().expect("addr")),
            rate: RateLimit {
                burst: 3,
                per_sec: 0,
            },
        },
    )
    .await
    .expect("listens");
    let url = format!("http://{}/assent/v1/wake", ep.addr());
    let mut codes = Vec::new();
    for _ in 0..5 {
        let r = rig
            .http
            .post(&url)
            .header("Origin", ORIGIN)
            .body(r#"{"challenge_sid":"YC00000000000000000000000000000000"}"#)
            .send()
            .await
            .expect("sent");
        codes.push(r.status().as_u16());
    }
    assert_eq!(codes, vec![200, 200, 200, 429, 429]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wake_from_an_enrolled_origin_polls_at_once() {
    let rig = Rig::start("silent-wake", Some(ORIGIN)).await;
    // An hour between polls: only the start poll and the wake can find the challenge.
    let task = tokio::spawn(rig.core.watcher().clone().run());
    let polled = |n: u64| {
        let w = rig.core.watcher().clone();
        async move {
            let deadline = tokio::time::Instant::now() + common::WAIT;
            while w.poll_count() < n {
                assert!(tokio::time::Instant::now() < deadline, "no poll");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    polled(1).await;
    // An ordinary sign-in on this desktop: the wake is its fast path to the card.
    let sid = rig.challenge(&[]).await;
    let r = rig
        .http
        .post(rig.url("wake"))
        .header("Origin", ORIGIN)
        .json(&json!({"challenge_sid": sid}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);
    rig.events.wait_for(common::is_announce(&sid)).await;
    rig.core.watcher().stop();
    let _ = task.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_without_an_origin_never_approves_silently() {
    let rig = Rig::start("silent-no-origin", None).await;
    let sid = rig.silent_challenge().await;
    assert_eq!(rig.silent(Some(ORIGIN), &sid, NONCE).await.1, "prompt");
    assert_eq!(rig.status(&sid).await, "pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_is_reported_not_replaced() {
    let rig = Rig::start("silent-port", Some(ORIGIN)).await;
    let taken = rig.endpoint.addr();
    let second = local_endpoint::start(
        rig.core.clone(),
        EndpointConfig {
            addr: Some(taken),
            rate: RateLimit::default(),
        },
    )
    .await;
    assert!(second.is_none());
    match rig.core.endpoint_status() {
        local_endpoint::EndpointStatus::Failed { addr, error } => {
            assert_eq!(addr, taken.to_string());
            assert!(error.contains("in use"), "{error}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_that_asks_for_the_pin_never_approves_silently() {
    use assent_core::verification::{Pin, Scope};
    let rig = Rig::start("silent-pin", Some(ORIGIN)).await;
    rig.core
        .set_pin(
            None,
            Pin::new("246813".into()).expect("pin"),
            Scope::Accounts {
                factor_sids: vec![rig.factor.clone()],
            },
        )
        .await
        .expect("pin set");
    let sid = rig.silent_challenge().await;
    assert_eq!(rig.silent(Some(ORIGIN), &sid, NONCE).await.1, "prompt");
    assert_eq!(rig.status(&sid).await, "pending");
}

fn lists(sid: &str) -> impl Fn(&AppEvent) -> bool + '_ {
    move |e| matches!(e, AppEvent::ChallengesChanged(list) if list.iter().any(|p| p.sid() == sid))
}

/// The page's wake makes the watcher list the challenge while the page's silent-approval
/// request is on its way. No card and no notification may flash for a sign-in approved a
/// moment later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_approved_silently_is_never_shown() {
    let rig = Rig::start("silent-no-flash", Some(ORIGIN)).await;
    let sid = rig.silent_challenge().await;
    // The wake's poll wins the race with the request.
    let polled = rig.core.watcher().poll_once().await;
    assert_eq!(polled.announced, 0, "held for the page's request");
    assert!(rig.core.pending().is_empty(), "no card meanwhile");
    assert_eq!(rig.silent(Some(ORIGIN), &sid, NONCE).await.1, "approved");
    assert_eq!(rig.status(&sid).await, "approved");
    // A poll that listed it just before the answer reached the server is not shown either.
    rig.core.watcher().poll_once().await;
    assert_eq!(rig.events.count(common::is_announce(&sid)), 0);
    assert_eq!(rig.events.count(lists(&sid)), 0);
    let answered = rig.events.count(
        |e| matches!(e, AppEvent::ChallengeAnswered(v) if v.sid == sid && v.status == "approved"),
    );
    assert_eq!(answered, 1, "the history still records it");
}

/// A request that leaves the challenge to the card shows the card before the page hears
/// `prompt`; a relayed sign-in is denied without ever showing it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_card_is_shown_at_once_when_the_request_prompts_and_never_when_relayed() {
    let rig = Rig::start("silent-held", Some(ORIGIN)).await;
    rig.session.set(SessionState {
        input_idle: Some(Duration::from_secs(120)),
        locked: Some(false),
    });
    let sid = rig.silent_challenge().await;
    assert_eq!(rig.core.watcher().poll_once().await.announced, 0);
    assert_eq!(rig.silent(Some(ORIGIN), &sid, NONCE).await.1, "prompt");
    assert_eq!(
        rig.events.count(common::is_announce(&sid)),
        1,
        "shown before the answer"
    );
    assert_eq!(rig.core.pending().len(), 1);
    // Decided once: later polls show it as any card, and do not announce it again.
    rig.core.watcher().poll_once().await;
    assert_eq!(rig.events.count(common::is_announce(&sid)), 1);
    assert_eq!(rig.status(&sid).await, "pending");

    let nonce = "Rl9uY2UtZm9yLXJlbGF5LTAx";
    let relayed = rig
        .challenge(&[
            ("assent_silent_origin", ORIGIN),
            ("assent_silent_nonce", nonce),
        ])
        .await;
    assert_eq!(rig.core.watcher().poll_once().await.announced, 0);
    assert_eq!(rig.silent(Some(EVIL), &relayed, nonce).await.1, "denied");
    assert_eq!(rig.status(&relayed).await, "denied");
    rig.core.watcher().poll_once().await;
    assert_eq!(rig.events.count(common::is_announce(&relayed)), 0);
    assert_eq!(
        rig.events
            .count(|e| matches!(e, AppEvent::RelayedSignIn(r) if r.challenge_sid == relayed)),
        1,
        "the warning is what the user sees"
    );
}

/// A page that never sends its request (no script, a request lost on the way) does not lose
/// the sign-in: the card comes once the wait is over. A challenge its account could not
/// approve silently is not held at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_card_is_shown_when_no_request_comes_and_others_are_not_held() {
    let rig = Rig::start_with("silent-unasked", Some(ORIGIN), Duration::from_millis(200)).await;
    let sid = rig.silent_challenge().await;
    assert_eq!(rig.core.watcher().poll_once().await.announced, 0);
    assert!(rig.core.pending().is_empty());
    rig.events.wait_for(common::is_announce(&sid)).await;
    rig.events.wait_for(lists(&sid)).await;
    assert_eq!(rig.core.pending().len(), 1);

    rig.core
        .set_silent_allowed(&rig.factor, false)
        .await
        .expect("switch off");
    let off = rig
        .challenge(&[
            ("assent_silent_origin", ORIGIN),
            ("assent_silent_nonce", "T2ZmLXN3aXRjaC1ub25jZS0x"),
        ])
        .await;
    assert_eq!(
        rig.core.watcher().poll_once().await.announced,
        1,
        "switched off: shown by the poll that found it"
    );
    assert_eq!(rig.events.count(common::is_announce(&off)), 1);
}

/// A request still being decided when the hold's wait ends keeps its card held: a slow server
/// must not flash the card (and its notification) of a sign-in approved a moment later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_stays_held_while_its_request_is_being_decided() {
    let rig = Rig::start_with("silent-slow", Some(ORIGIN), Duration::from_millis(200)).await;
    let sid = rig.silent_challenge().await;
    assert_eq!(rig.core.watcher().poll_once().await.announced, 0);
    // Every server call now takes longer than the hold's wait.
    rig.backend.emu.set_faults(verify_emulator::Faults {
        slow_rate: 1.0,
        slow_ms: 600,
        ..Default::default()
    });
    assert_eq!(rig.silent(Some(ORIGIN), &sid, NONCE).await.1, "approved");
    rig.backend
        .emu
        .set_faults(verify_emulator::Faults::default());
    assert_eq!(rig.status(&sid).await, "approved");
    assert_eq!(
        rig.events.count(common::is_announce(&sid)),
        0,
        "the card of a silent approval in progress was shown"
    );
}

/// A request cancelled before its decision (the page closed, the connection dropped) still
/// shows the card it held, even past the hold's wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_request_shows_the_card_it_held() {
    let rig = Rig::start_with("silent-gone", Some(ORIGIN), Duration::from_millis(100)).await;
    let sid = rig.silent_challenge().await;
    let deciding = rig
        .core
        .watcher()
        .silent_deciding(&sid.parse().expect("a challenge SID"));
    assert_eq!(rig.core.watcher().poll_once().await.announced, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        rig.events.count(common::is_announce(&sid)),
        0,
        "held past the wait while its request is decided"
    );
    drop(deciding);
    rig.events.wait_for(common::is_announce(&sid)).await;
    assert_eq!(rig.core.pending().len(), 1);
}

/// With several accounts of the same origin, the request is judged on the account whose card
/// (shown or held) has the challenge, without asking the server about the others first: no
/// fetch answered 404, one key use per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_holding_the_card_is_asked_first() {
    let rig = Rig::start("silent-many-main", Some(ORIGIN)).await;
    for k in 0..5 {
        let mut payload: Value = serde_json::from_str(
            &rig.backend
                .enrollment_json(&format!("silent-many-{k}"))
                .await,
        )
        .expect("json");
        payload["origin"] = json!(ORIGIN);
        let other = rig
            .core
            .enroll(&payload.to_string(), Some(format!("Other {k}")))
            .await
            .expect("enrols");
        rig.core
            .set_silent_allowed(&other.factor_sid, true)
            .await
            .expect("switch");
    }
    let sid = rig.silent_challenge().await;
    assert_eq!(rig.core.watcher().poll_once().await.announced, 0, "held");
    let (_, before) = rig.backend.get("../_emulator/requests").await;
    let seen = before["requests"].as_array().map_or(0, Vec::len);
    assert_eq!(rig.silent(Some(ORIGIN), &sid, NONCE).await.1, "approved");
    let (_, after) = rig.backend.get("../_emulator/requests").await;
    let requests = after["requests"].as_array().cloned().unwrap_or_default();
    let new = &requests[..requests.len() - seen];
    let misses: Vec<&Value> = new
        .iter()
        .filter(|r| r["status"] == 404 || r["status"] == "404")
        .collect();
    assert!(misses.is_empty(), "asked other accounts first: {misses:?}");
}
