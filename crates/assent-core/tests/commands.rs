//! The command layer (what the window, notifications and CLI call) against a real emulator.

mod common;

use std::sync::Arc;

use assent_core::error::AppErrorCode;
use assent_core::views::EnrollStep;
use assent_core::{AppEvent, Decision, EnrollRequestView, RemovalReason};
use common::{Backend, Collector, Device};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_through_the_command_function_reaches_the_server() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "alice-user1", None).await;
    let sid = backend
        .challenge("alice-user1", &dev.factor, "Approve me", &[])
        .await;
    dev.core.watcher().poll_once().await;

    let view = dev
        .core
        .answer(&dev.factor, &sid, Decision::Approve)
        .await
        .expect("approved");
    assert_eq!(view.status, "approved");
    assert!(view.responded_at.is_some());
    assert_eq!(backend.status("alice-user1", &sid).await, "approved");
    assert!(dev.core.pending().is_empty(), "card gone after answering");
    assert_eq!(
        dev.events.count(|e| matches!(e, AppEvent::ChallengeRemoved { sid: s, reason: RemovalReason::AnsweredHere, .. } if *s == sid)),
        1
    );
    assert_eq!(
        dev.events.count(|e| matches!(e, AppEvent::ChallengeAnswered(v) if v.sid == sid && v.status == "approved")),
        1
    );
    // The next poll does not bring it back.
    dev.core.watcher().poll_once().await;
    assert!(dev.core.pending().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_and_then_answering_again_is_a_typed_error() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "bob-user1", None).await;
    let sid = backend
        .challenge("bob-user1", &dev.factor, "Deny me", &[])
        .await;
    let view = dev
        .core
        .answer(&dev.factor, &sid, Decision::Deny)
        .await
        .expect("denied");
    assert_eq!(view.status, "denied");
    assert_eq!(backend.status("bob-user1", &sid).await, "denied");

    let err = dev
        .core
        .answer(&dev.factor, &sid, Decision::Approve)
        .await
        .expect_err("already answered");
    assert_eq!(err.code(), AppErrorCode::AlreadyResponded);
    let json = serde_json::to_value(&err).expect("serializes");
    assert_eq!(json["code"], "already_responded");
    assert!(json.get("server").is_some());
    assert_eq!(backend.status("bob-user1", &sid).await, "denied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sids_are_input_errors() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "carol-user1", None).await;
    let err = dev
        .core
        .answer(
            "not-a-sid",
            "YC00000000000000000000000000000000",
            Decision::Approve,
        )
        .await
        .expect_err("bad factor sid");
    assert_eq!(err.code(), AppErrorCode::Input);
    let err = dev.core.history("YFnope", None).await.expect_err("bad sid");
    assert_eq!(err.code(), AppErrorCode::Input);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_reports_progress_and_bad_payloads_are_input_errors() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "dave-user1", None).await;
    let steps: Vec<EnrollStep> = dev
        .events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            AppEvent::EnrollProgress(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(
        steps,
        vec![
            EnrollStep::Parsing,
            EnrollStep::CreatingKey,
            EnrollStep::CreatingFactor,
            EnrollStep::Verifying,
            EnrollStep::Saving,
            EnrollStep::Done
        ]
    );
    let accounts = dev.core.accounts().await.expect("accounts");
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].identity, "dave-user1");
    assert_eq!(accounts[0].problem, None);
    assert!(accounts[0].last_activity_at.is_some());

    for bad in ["", "{}", "not a payload", "assent://enroll?token=x"] {
        let err = dev.core.enroll(bad, None).await.expect_err("rejected");
        assert_eq!(err.code(), AppErrorCode::Input, "{bad:?} -> {err}");
    }
    assert_eq!(dev.core.accounts().await.expect("accounts").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_lists_answered_challenges_newest_first_without_pending_ones() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "erin-user1", None).await;
    let a = backend
        .challenge("erin-user1", &dev.factor, "first", &[])
        .await;
    let d = backend
        .challenge("erin-user1", &dev.factor, "second", &[])
        .await;
    let p = backend
        .challenge("erin-user1", &dev.factor, "still pending", &[])
        .await;
    dev.core
        .answer(&dev.factor, &a, Decision::Approve)
        .await
        .expect("approve");
    dev.core
        .answer(&dev.factor, &d, Decision::Deny)
        .await
        .expect("deny");

    let page = dev.core.history(&dev.factor, None).await.expect("history");
    let sids: Vec<&str> = page.items.iter().map(|c| c.sid.as_str()).collect();
    assert!(
        sids.contains(&a.as_str()) && sids.contains(&d.as_str()),
        "{sids:?}"
    );
    assert!(
        !sids.contains(&p.as_str()),
        "pending ones are on the card, not in history"
    );
    let statuses: Vec<&str> = page.items.iter().map(|c| c.status).collect();
    assert!(statuses.contains(&"approved") && statuses.contains(&"denied"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_account_deletes_server_factor_key_and_record() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "frank-user1", None).await;
    let sid = backend
        .challenge("frank-user1", &dev.factor, "bye", &[])
        .await;
    dev.core.watcher().poll_once().await;
    assert_eq!(
        backend.factor_http_status("frank-user1", &dev.factor).await,
        200
    );

    dev.core.remove_account(&dev.factor).await.expect("removed");
    assert_eq!(
        backend.factor_http_status("frank-user1", &dev.factor).await,
        404
    );
    assert!(dev.core.accounts().await.expect("accounts").is_empty());
    assert!(dev.core.pending().is_empty());
    assert_eq!(
        dev.events.count(|e| matches!(e, AppEvent::ChallengeRemoved { sid: s, reason: RemovalReason::AccountRemoved, .. } if *s == sid)),
        1
    );
    assert!(dev
        .events
        .all()
        .iter()
        .any(|e| matches!(e, AppEvent::AccountsChanged(l) if l.is_empty())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_is_found_by_sid_for_the_cli() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "gina-user1", None).await;
    let sid = backend
        .challenge("gina-user1", &dev.factor, "find me", &[])
        .await;
    let fresh = common::core(
        dev.dir.path(),
        dev.keys.clone(),
        Arc::new(Collector::default()),
        None,
    );
    let c = fresh.find_challenge(&sid, None).await.expect("found");
    assert_eq!(c.factor_sid.to_string(), dev.factor);
    let pending = fresh
        .fetch_pending(Some("Test laptop"))
        .await
        .expect("pending");
    assert_eq!(pending.len(), 1);
    let err = fresh
        .find_challenge("YC0123456789abcdef0123456789abcdef", None)
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), AppErrorCode::ChallengeNotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_are_validated_and_persisted() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "hank-user1", None).await;
    let mut s = dev.core.settings();
    s.poll_interval_secs = 0;
    assert_eq!(
        dev.core.update_settings(s).expect_err("too fast").code(),
        AppErrorCode::Input
    );
    let mut s = dev.core.settings();
    s.poll_interval_secs = 3;
    s.idle_poll_interval_secs = 30;
    dev.core.update_settings(s).expect("saved");
    let again = common::core(
        dev.dir.path(),
        dev.keys.clone(),
        Arc::new(Collector::default()),
        None,
    );
    assert_eq!(again.settings().poll_interval_secs, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_whose_key_is_gone_is_flagged_and_can_still_be_removed() {
    use verify_push::KeyStore;
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "ivan-user1", None).await;
    for alias in dev.keys.aliases().expect("aliases") {
        dev.keys.delete(&alias).expect("deleted");
    }
    let accounts = dev.core.accounts().await.expect("accounts");
    assert_eq!(accounts[0].problem, Some("key_missing"));

    dev.core
        .remove_account(&dev.factor)
        .await
        .expect("removed locally");
    assert!(dev.core.accounts().await.expect("accounts").is_empty());
}

/// A Core with no account yet (a fresh install receiving a deep link).
fn fresh_core() -> (tempfile::TempDir, Arc<Collector>, Arc<assent_core::Core>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = Arc::new(Collector::default());
    let core = common::core(
        dir.path(),
        Arc::new(verify_push::MemoryKeyStore::default()),
        events.clone(),
        None,
    );
    (dir, events, core)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deep_link_becomes_a_preview_without_the_token_and_confirming_enrols() {
    let backend = Backend::start().await;
    let (_dir, events, core) = fresh_core();
    let (link, token) = backend.enrollment_link("jill-user1").await;

    let view = core.queue_enroll_link(&link);
    let EnrollRequestView::Preview {
        request_id,
        preview,
    } = &view
    else {
        panic!("valid link previewed as {view:?}");
    };
    assert_eq!(preview.identity, "jill-user1");
    assert_eq!(preview.service_sid, backend.service);
    assert_eq!(
        preview.base_url,
        backend.emu.base_url().as_str().trim_end_matches('/')
    );
    assert_eq!(preview.factor_type, "push");
    let json = serde_json::to_value(&view).expect("serializes");
    let mut keys: Vec<&str> = json
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "accountName",
            "baseUrl",
            "existingAccount",
            "factorType",
            "identity",
            "origin",
            "requestId",
            "serviceName",
            "serviceSid",
            "userName"
        ]
    );
    assert!(!json.to_string().contains(&token), "token in the preview");
    // The UI hears about it through the event, which carries the same preview.
    let sent: Vec<EnrollRequestView> = events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            AppEvent::EnrollRequest(v) => Some(v),
            _ => None,
        })
        .collect();
    assert_eq!(sent, vec![view.clone()]);
    assert!(!format!("{:?}", events.all()).contains(&token));
    // A page that loads later gets it too, as often as it asks.
    assert_eq!(core.enroll_request(), Some(view.clone()));
    assert_eq!(core.enroll_request(), Some(view.clone()));
    // The same link again replaces the waiting one (same id).
    assert_eq!(core.queue_enroll_link(&link).request_id(), request_id);

    let account = core
        .confirm_enroll_request(request_id, Some("Deep link".into()))
        .await
        .expect("enrolled");
    assert_eq!(account.identity, "jill-user1");
    assert_eq!(account.friendly_name, "Deep link");
    assert_eq!(account.status, "verified");
    let steps: Vec<EnrollStep> = events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            AppEvent::EnrollProgress(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(steps.first(), Some(&EnrollStep::Parsing));
    assert_eq!(steps.last(), Some(&EnrollStep::Done));
    assert_eq!(core.accounts().await.expect("accounts").len(), 1);
    assert_eq!(core.enroll_request(), None, "used up");
    let err = core
        .confirm_enroll_request(request_id, None)
        .await
        .expect_err("gone");
    assert_eq!(err.code(), AppErrorCode::EnrollRequestNotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_confirmation_keeps_the_request_for_a_retry() {
    let backend = Backend::start().await;
    let (_dir, _events, core) = fresh_core();
    let (link, _token) = backend.enrollment_link("kim-user1").await;
    let id = core.queue_enroll_link(&link).request_id().to_owned();
    let err = core
        .confirm_enroll_request(&id, Some("x".repeat(65)))
        .await
        .expect_err("name too long");
    assert_eq!(err.code(), AppErrorCode::Input);
    assert_eq!(
        core.enroll_request().map(|v| v.request_id().to_owned()),
        Some(id.clone())
    );
    core.confirm_enroll_request(&id, None)
        .await
        .expect("retry enrols");
    assert_eq!(core.accounts().await.expect("accounts").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_deep_link_yields_an_error_preview_without_the_token() {
    let (_dir, events, core) = fresh_core();
    let secret = "eyJsecret.token.value";
    let link = format!("assent://enroll?token={secret}&serviceSid=VA12&identity=u");
    let view = core.queue_enroll_link(&link);
    let EnrollRequestView::Invalid { request_id, error } = &view else {
        panic!("invalid link previewed as {view:?}");
    };
    assert_eq!(error.code, AppErrorCode::Input);
    let json = serde_json::to_value(&view).expect("serializes");
    assert_eq!(json["requestId"], request_id.as_str());
    assert_eq!(json["error"]["code"], "input");
    assert!(json["error"]["message"].is_string());
    assert!(!json.to_string().contains(secret), "{json}");
    assert!(!format!("{:?}", events.all()).contains(secret));
    assert!(events
        .all()
        .iter()
        .any(|e| matches!(e, AppEvent::EnrollRequest(v) if *v == view)));
    // Confirming it cannot enrol: same error, and the request is gone.
    let err = core
        .confirm_enroll_request(request_id, None)
        .await
        .expect_err("invalid");
    assert_eq!(err.code(), AppErrorCode::Input);
    assert_eq!(core.enroll_request(), None);
    assert!(core.accounts().await.expect("accounts").is_empty());
    // Dismissing drops an invalid request just the same.
    let again = core.queue_enroll_link(&link);
    core.dismiss_enroll_request(again.request_id())
        .expect("dismissed");
    assert_eq!(core.enroll_request(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_enroll_request_ids_are_typed_errors() {
    let backend = Backend::start().await;
    let (_dir, _events, core) = fresh_core();
    let err = core
        .confirm_enroll_request("00000000-0000-4000-8000-000000000000", None)
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), AppErrorCode::EnrollRequestNotFound);
    assert_eq!(
        serde_json::to_value(&err).expect("serializes")["code"],
        "enroll_request_not_found"
    );
    let err = core.dismiss_enroll_request("nope").expect_err("unknown");
    assert_eq!(err.code(), AppErrorCode::EnrollRequestNotFound);

    // A dismissed request cannot be confirmed afterwards.
    let (link, _token) = backend.enrollment_link("lena-user1").await;
    let id = core.queue_enroll_link(&link).request_id().to_owned();
    core.dismiss_enroll_request(&id).expect("dismissed");
    let err = core
        .confirm_enroll_request(&id, None)
        .await
        .expect_err("dismissed");
    assert_eq!(err.code(), AppErrorCode::EnrollRequestNotFound);
    assert!(core.accounts().await.expect("accounts").is_empty());
}
