//! A hostile server the user is also enrolled with, against the watcher and the answer path:
//! it must not be able to put another account's real challenge under its own text, nor have
//! the user approve one text while another is signed. The honest server is the real
//! in-process emulator; the hostile one is a scripted loopback stub.

mod common;

use std::sync::{Arc, Mutex};

use assent_core::error::AppErrorCode;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use common::{Backend, Device};
use serde_json::json;

const VA: &str = "VA0123456789abcdef0123456789abcdef";
const AC: &str = "AC0123456789abcdef0123456789abcdef";
const YF_HOSTILE: &str = "YFeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";

/// What the hostile server lists and what it serves when asked for one challenge.
#[derive(Clone, Default)]
struct Script {
    listed: Vec<serde_json::Value>,
    fetched: Option<serde_json::Value>,
    /// An HTTP `Date` for the list answers (a lying clock).
    date: Option<String>,
}

#[derive(Clone, Default)]
struct Hostile {
    script: Arc<Mutex<Script>>,
    posts_to_challenges: Arc<Mutex<Vec<String>>>,
}

fn challenge(sid: &str, factor: &str, message: &str) -> serde_json::Value {
    let exp = (chrono::Utc::now() + chrono::Duration::minutes(5))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    json!({
        "sid": sid, "factor_sid": factor, "status": "pending",
        "details": {"message": message, "fields": [{"label": "Amount", "value": "1 EUR"}]},
        "hidden_details": null,
        "date_created": "2020-01-01T00:00:00Z", "date_updated": "2020-01-01T00:00:00Z",
        "expiration_date": exp, "date_responded": null
    })
}

async fn handle(State(h): State<Hostile>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let post = req.method() == axum::http::Method::POST;
    let script = h.script.lock().unwrap().clone();
    if path.ends_with("/Factors") && post {
        return (
            axum::http::StatusCode::CREATED,
            axum::Json(
                json!({"sid": YF_HOSTILE, "account_sid": AC, "friendly_name": "Hostile",
                "status": "unverified", "date_created": "2020-01-01T00:00:00Z",
                "config": {"credential_sid": "CR0123456789abcdef0123456789abcdef"}}),
            ),
        )
            .into_response();
    }
    if path.ends_with(&format!("/Factors/{YF_HOSTILE}")) {
        return axum::Json(json!({"status": "verified"})).into_response();
    }
    if path.ends_with("/Challenges") {
        let mut resp = axum::Json(json!({"challenges": script.listed,
            "meta": {"page": 0, "page_size": 50, "next_page_url": null, "previous_page_url": null}}))
        .into_response();
        if let Some(d) = script.date {
            resp.headers_mut()
                .insert(axum::http::header::DATE, d.parse().unwrap());
        }
        return resp;
    }
    if path.contains("/Challenges/") {
        if post {
            h.posts_to_challenges.lock().unwrap().push(path);
        }
        let body = script.fetched.unwrap_or(serde_json::Value::Null);
        return (
            [(
                "Twilio-Verify-Signature-Fields",
                "sid,factor_sid,details,expiration_date",
            )],
            axum::Json(body),
        )
            .into_response();
    }
    axum::http::StatusCode::NOT_FOUND.into_response()
}

async fn start_hostile() -> (Hostile, String) {
    let h = Hostile::default();
    let app = axum::Router::new().fallback(handle).with_state(h.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (h, format!("http://{addr}/v2/"))
}

/// The device enrolled with the honest emulator enrols with the hostile server too.
async fn enrol_hostile(dev: &Device, base: &str) {
    let payload = json!({"token": "hostile.access.token", "serviceSid": VA,
        "identity": "victim-user1", "factorType": "push", "baseUrl": base})
    .to_string();
    let acc = dev
        .core
        .enroll(&payload, Some("Hostile shop".into()))
        .await
        .expect("hostile enrolment");
    assert_eq!(acc.factor_sid, YF_HOSTILE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_server_cannot_list_another_accounts_challenge_under_its_text() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "victim-user1", None).await;
    let (hostile, base) = start_hostile().await;
    enrol_hostile(&dev, &base).await;
    let real = backend
        .challenge("victim-user1", &dev.factor, "Sign in to your bank?", &[])
        .await;

    // Listed under the real factor's SID: dropped by the library, never a card.
    hostile.script.lock().unwrap().listed =
        vec![challenge(&real, &dev.factor, "Claim your free gift?")];
    dev.core.watcher().poll_once().await;
    let cards = dev.core.pending();
    assert_eq!(cards.len(), 1, "{cards:#?}");
    assert_eq!(cards[0].challenge.message, "Sign in to your bank?");
    assert_eq!(cards[0].factor_sid(), dev.factor);

    // Listed under its own factor with the real SID: its own card, keyed by its own factor,
    // that does not replace the real one or take its announcement.
    hostile.script.lock().unwrap().listed =
        vec![challenge(&real, YF_HOSTILE, "Claim your free gift?")];
    dev.core.watcher().poll_once().await;
    let cards = dev.core.pending();
    assert_eq!(cards.len(), 2, "{cards:#?}");
    let real_card = cards.iter().find(|c| c.factor_sid() == dev.factor).unwrap();
    assert_eq!(real_card.challenge.message, "Sign in to your bank?");
    assert_eq!(
        dev.events
            .count(|e| matches!(e, assent_core::AppEvent::ChallengeAnnounced { .. })),
        2,
        "both (factor, challenge) pairs announced once each"
    );

    // Approving the hostile card answers the hostile server only; the real one stays pending.
    hostile.script.lock().unwrap().fetched =
        Some(challenge(&real, YF_HOSTILE, "Claim your free gift?"));
    let _ = dev
        .core
        .answer(YF_HOSTILE, &real, assent_core::Decision::Approve)
        .await;
    assert_eq!(backend.status("victim-user1", &real).await, "pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_refuses_to_sign_a_challenge_that_differs_from_its_card() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "victim-user1", None).await;
    let (hostile, base) = start_hostile().await;
    enrol_hostile(&dev, &base).await;
    let sid = "YC0000000000000000000000000000abcd";
    {
        let mut s = hostile.script.lock().unwrap();
        s.listed = vec![challenge(sid, YF_HOSTILE, "Log in to the shop?")];
        s.fetched = Some(challenge(sid, YF_HOSTILE, "Transfer all your savings?"));
    }
    dev.core.watcher().poll_once().await;
    assert_eq!(dev.core.pending().len(), 1);

    let err = dev
        .core
        .answer(YF_HOSTILE, sid, assent_core::Decision::Approve)
        .await
        .unwrap_err();
    assert_eq!(err.code(), AppErrorCode::ContentMismatch, "{err}");
    assert!(
        hostile.posts_to_challenges.lock().unwrap().is_empty(),
        "nothing was signed and sent"
    );
    // The card stays (the user may deny it), still with the text that was shown.
    let cards = dev.core.pending();
    assert_eq!(cards.len(), 1);
    assert_eq!(cards[0].challenge.message, "Log in to the shop?");

    // A later poll that changes the listed text does not change the card either.
    hostile.script.lock().unwrap().listed =
        vec![challenge(sid, YF_HOSTILE, "Transfer all your savings?")];
    dev.core.watcher().poll_once().await;
    assert_eq!(
        dev.core.pending()[0].challenge.message,
        "Log in to the shop?"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolment_that_returns_a_stored_factor_sid_keeps_the_account() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "victim-user1", None).await;
    let (hostile, base) = start_hostile().await;
    enrol_hostile(&dev, &base).await;
    let before = dev.core.accounts().await.unwrap();
    // A second enrolment at the hostile server returns the same SID again.
    let payload = json!({"token": "again.access.token", "serviceSid": VA,
        "identity": "victim-user2", "factorType": "push", "baseUrl": base})
    .to_string();
    let err = dev.core.enroll(&payload, None).await.unwrap_err();
    assert_eq!(err.code(), AppErrorCode::FactorExists, "{err}");
    assert_eq!(dev.core.accounts().await.unwrap(), before);
    drop(hostile);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_clock_eleven_years_off_is_refused_and_shown_for_that_server_only() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "victim-user1", None).await;
    let (hostile, base) = start_hostile().await;
    enrol_hostile(&dev, &base).await;
    let eleven_years = chrono::Utc::now() + chrono::Duration::days(11 * 365);
    hostile.script.lock().unwrap().date =
        Some(eleven_years.format("%a, %d %b %Y %H:%M:%S GMT").to_string());
    dev.core.watcher().poll_once().await;
    let status = dev.core.watcher().status();
    let host = base
        .trim_start_matches("http://")
        .trim_end_matches("/v2/")
        .to_owned();
    assert_eq!(status.clock_warnings.len(), 1, "{status:?}");
    assert_eq!(status.clock_warnings[0].server, host);
    assert!(
        status.clock_warnings[0].offset_secs > 10 * 365 * 86_400,
        "{status:?}"
    );
    assert!(dev.events.all().iter().any(
        |e| matches!(e, assent_core::AppEvent::WatcherStatus(s) if !s.clock_warnings.is_empty())
    ));
    // The honest server's account still signs with its own (uncorrected) clock.
    let sid = backend
        .challenge("victim-user1", &dev.factor, "Honest", &[])
        .await;
    dev.core.watcher().poll_once().await;
    let view = dev
        .core
        .answer(&dev.factor, &sid, assent_core::Decision::Approve)
        .await
        .expect("honest approve");
    assert_eq!(view.status, "approved");
    // A plausible Date again clears the warning.
    hostile.script.lock().unwrap().date = Some(
        chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string(),
    );
    dev.core.watcher().poll_once().await;
    assert!(dev.core.watcher().status().clock_warnings.is_empty());
}
