//! Enrolment wording and refusals against a real emulator: a spent or expired enrolment code,
//! an account this desktop already has, and the default account name.

mod common;

use std::sync::Arc;

use assent_core::error::AppErrorCode;
use assent_core::views::EnrollStep;
use assent_core::AppEvent;
use common::{Backend, Collector};
use verify_push::MemoryKeyStore;

/// A fresh Core (its own data directory and key store) that has enrolled nothing.
struct Fresh {
    _dir: tempfile::TempDir,
    events: Arc<Collector>,
    core: Arc<assent_core::Core>,
}

fn fresh() -> Fresh {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = Arc::new(Collector::default());
    let core = common::core(
        dir.path(),
        Arc::new(MemoryKeyStore::default()),
        events.clone(),
        None,
    );
    Fresh {
        _dir: dir,
        events,
        core,
    }
}

/// Factors the server lists for `identity`.
async fn server_factors(backend: &Backend, identity: &str) -> usize {
    let (status, body) = backend
        .get(&format!(
            "Services/{}/Entities/{identity}/Factors",
            backend.service
        ))
        .await;
    if status == 404 {
        return 0;
    }
    body["factors"].as_array().map_or(0, Vec::len)
}

fn assert_token_rejected(err: &assent_core::AppError) {
    assert_eq!(err.code(), AppErrorCode::EnrollTokenRejected, "{err}");
    assert_eq!(
        err.to_string(),
        "this enrolment code has expired or was already used; get a new one from the website"
    );
    // The server's own answer stays available (the window's Details), apart from the sentence.
    let server = err.server().expect("the server's error body is kept");
    assert_eq!(server.status, 401);
    assert_eq!(server.code, Some(20003));
    assert!(!err.to_string().contains("HTTP 401"), "said once, in words");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_enrolment_code_says_so_in_words() {
    let backend = Backend::start().await;
    let payload = backend.enrollment_json("spent-user1").await;
    let first = fresh();
    first.core.enroll(&payload, None).await.expect("first use");

    let other = fresh();
    let err = other.core.enroll(&payload, None).await.expect_err("spent");
    assert_token_rejected(&err);
    let json = serde_json::to_value(&err).expect("serializes");
    assert_eq!(json["code"], "enroll_token_rejected");
    assert_eq!(json["server"]["status"], 401);
    assert!(other.core.accounts().await.expect("accounts").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_enrolment_code_says_so_in_words() {
    let backend = Backend::start().await;
    let payload = backend.enrollment_json("late-user1").await;
    // The emulator's clock runs past the code's 60 s lifetime.
    backend.emu.set_faults(verify_emulator::Faults {
        clock_offset_secs: 3600,
        ..Default::default()
    });
    let dev = fresh();
    let err = dev.core.enroll(&payload, None).await.expect_err("expired");
    assert_token_rejected(&err);
    assert!(dev.core.accounts().await.expect("accounts").is_empty());
    assert_eq!(server_factors(&backend, "late-user1").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_already_on_this_desktop_is_named_in_the_preview_and_refused() {
    let backend = Backend::start().await;
    let dev = fresh();
    dev.core
        .enroll(
            &backend.enrollment_json("twice-user1").await,
            Some("Work".into()),
        )
        .await
        .expect("enrolled");
    let again = backend.enrollment_json("twice-user1").await;

    let preview = dev.core.preview_enroll_payload(&again).expect("preview");
    assert_eq!(preview.existing_account.as_deref(), Some("Work"));
    let other_identity = backend.enrollment_json("twice-user2").await;
    assert_eq!(
        dev.core
            .preview_enroll_payload(&other_identity)
            .expect("preview")
            .existing_account,
        None
    );

    let before = dev.events.len();
    let err = dev.core.enroll(&again, None).await.expect_err("refused");
    assert_eq!(err.code(), AppErrorCode::AlreadyEnrolled, "{err}");
    assert!(err.to_string().contains("\"Work\""), "{err}");
    // Refused before anything started: no key, no factor, the code still unused.
    let started = dev.events.all()[before..]
        .iter()
        .any(|e| matches!(e, AppEvent::EnrollProgress(EnrollStep::CreatingKey)));
    assert!(!started, "no enrolment step ran");
    assert_eq!(server_factors(&backend, "twice-user1").await, 1);
    assert_eq!(dev.core.accounts().await.expect("accounts").len(), 1);
    fresh()
        .core
        .enroll(&again, None)
        .await
        .expect("the code was not spent by the refusal");

    // A deep link for the same account says so in its preview too.
    let (link, _) = backend.enrollment_link("twice-user1").await;
    let view = dev.core.queue_enroll_link(&link);
    let assent_core::EnrollRequestView::Preview { preview, .. } = view else {
        panic!("valid link")
    };
    assert_eq!(preview.existing_account.as_deref(), Some("Work"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_account_name_is_readable_never_the_hash_identity() {
    let backend = Backend::start().await;
    let hash = "2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90";
    let dev = fresh();

    let mut named: serde_json::Value =
        serde_json::from_str(&backend.enrollment_json(hash).await).expect("json");
    named["serviceName"] = "Example Shop".into();
    named["userName"] = "alice".into();
    let preview = dev
        .core
        .preview_enroll_payload(&named.to_string())
        .expect("preview");
    assert_eq!(preview.account_name, "Example Shop (alice)");
    assert_eq!(preview.service_name.as_deref(), Some("Example Shop"));
    let account = dev
        .core
        .enroll(&named.to_string(), None)
        .await
        .expect("enrolled");
    assert_eq!(account.friendly_name, "Example Shop (alice)");

    let other = fresh();
    let bare = backend.enrollment_json(hash).await;
    let account = other.core.enroll(&bare, None).await.expect("enrolled");
    let host = backend
        .emu
        .base_url()
        .to_string()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    assert_eq!(account.friendly_name, host);
    assert!(!account.friendly_name.contains(&hash[..16]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_display_names_in_a_payload_are_refused_before_enrolling() {
    let backend = Backend::start().await;
    let dev = fresh();
    let base: serde_json::Value =
        serde_json::from_str(&backend.enrollment_json("hostile-user1").await).expect("json");
    for (field, value) in [
        ("serviceName", "B".repeat(10_000)),
        ("serviceName", "Bank\u{7}\u{1b}[2J".to_owned()),
        ("userName", "alice\u{202e}txt.exe".to_owned()),
        ("userName", "line\nbreak".to_owned()),
    ] {
        let mut p = base.clone();
        p[field] = value.clone().into();
        let err = dev
            .core
            .preview_enroll_payload(&p.to_string())
            .expect_err("preview refuses");
        assert_eq!(err.code(), AppErrorCode::Input, "{field}: {err}");
        let err = dev
            .core
            .enroll(&p.to_string(), None)
            .await
            .expect_err("enrol refuses");
        assert_eq!(err.code(), AppErrorCode::Input, "{field}: {err}");
        assert!(err.to_string().contains(field), "{err}");
        assert!(!err.to_string().contains(&value), "the text is not echoed");
    }
    assert!(dev.core.accounts().await.expect("accounts").is_empty());
    assert_eq!(server_factors(&backend, "hostile-user1").await, 0);
}
