//! The command layer (what the window, notifications and CLI call) against a real emulator.

mod common;

use std::sync::Arc;

use assent::core::views::EnrollStep;
use assent::core::{AppEvent, Decision, RemovalReason};
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
        dev.events.count(|e| matches!(e, AppEvent::ChallengeRemoved { sid: s, reason: RemovalReason::AnsweredHere } if *s == sid)),
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
    assert_eq!(err.code(), "already_responded");
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
    assert_eq!(err.code(), "input");
    let err = dev.core.history("YFnope", None).await.expect_err("bad sid");
    assert_eq!(err.code(), "input");
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
        assert_eq!(err.code(), "input", "{bad:?} -> {err}");
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
        dev.events.count(|e| matches!(e, AppEvent::ChallengeRemoved { sid: s, reason: RemovalReason::AccountRemoved } if *s == sid)),
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
    assert_eq!(err.code(), "challenge_not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_are_validated_and_persisted() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "hank-user1", None).await;
    let mut s = dev.core.settings();
    s.poll_interval_secs = 0;
    assert_eq!(
        dev.core.update_settings(s).expect_err("too fast").code(),
        "input"
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
