//! Push-fatigue defences against a real emulator: grouped alerts for floods, no one-click
//! Approve while several are pending, the quiet after "not me", deny-all, newest first.

mod common;

use std::time::Duration;

use assent_core::{Alert, Answer, AppEvent, Decision, DenyReason, SilentReason};
use common::{Backend, Device};

/// The alerts the announcements carried, in order.
fn alerts(dev: &Device) -> Vec<(String, Alert)> {
    dev.events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            AppEvent::ChallengeAnnounced { challenge, alert } => {
                Some((challenge.sid().to_owned(), alert))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_thirty_raises_one_grouped_alert_and_lists_all_newest_first() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "flood-30", None).await;
    let mut sids = Vec::new();
    for i in 0..30 {
        sids.push(
            backend
                .challenge("flood-30", &dev.factor, &format!("Sign in #{i}"), &[])
                .await,
        );
    }
    let out = dev.core.watcher().poll_once().await;
    assert_eq!(out.announced, 30);

    let got = alerts(&dev);
    assert_eq!(got.len(), 30);
    let loud: Vec<&(String, Alert)> = got.iter().filter(|(_, a)| a.notifies()).collect();
    assert_eq!(loud.len(), 1, "one notification for the flood: {got:?}");
    assert_eq!(
        loud[0].1,
        Alert::Grouped {
            pending: 30,
            sound: true
        }
    );
    assert!(got
        .iter()
        .filter(|(_, a)| !a.notifies())
        .all(|(_, a)| *a == Alert::Silent(SilentReason::InGroup)));
    assert!(
        !got.iter()
            .any(|(_, a)| matches!(a, Alert::Single { one_click: true })),
        "no one-click Approve in a flood"
    );

    let pending = dev.core.pending();
    assert_eq!(pending.len(), 30, "every request is listed");
    let mut listed: Vec<&str> = pending.iter().map(|p| p.sid()).collect();
    listed.sort_unstable();
    let mut created = sids.iter().map(String::as_str).collect::<Vec<_>>();
    created.sort_unstable();
    assert_eq!(listed, created);
    assert!(
        pending.windows(2).all(|w| w[0].created >= w[1].created),
        "newest first"
    );

    // A genuine request after the flood still comes first and still raises no one-click
    // Approve: it joins the group, which pops up again (within the rate limit).
    let genuine = backend
        .challenge("flood-30", &dev.factor, "The real one", &[])
        .await;
    dev.core.watcher().poll_once().await;
    let last = alerts(&dev).pop().expect("announced");
    assert_eq!(
        last,
        (
            genuine.clone(),
            Alert::Grouped {
                pending: 31,
                sound: true
            }
        )
    );
    let first = &dev.core.pending()[0];
    assert!(first.created >= dev.core.pending()[1].created);
    assert!(dev.core.pending().iter().any(|p| p.sid() == genuine));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_click_approve_is_refused_once_a_second_request_is_pending() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "one-click", None).await;
    let first = backend
        .challenge("one-click", &dev.factor, "First", &[])
        .await;
    dev.core.watcher().poll_once().await;
    assert_eq!(
        alerts(&dev),
        vec![(first.clone(), Alert::Single { one_click: true })]
    );

    let second = backend
        .challenge("one-click", &dev.factor, "Second", &[])
        .await;
    dev.core.watcher().poll_once().await;
    assert_eq!(
        alerts(&dev)[1],
        (
            second.clone(),
            Alert::Grouped {
                pending: 2,
                sound: true
            }
        )
    );

    // The first notification's Approve button, clicked after the second arrived.
    let err = dev
        .core
        .answer_from_notification(&dev.factor, &first, Decision::Approve)
        .await
        .expect_err("refused");
    assert_eq!(err.code().as_str(), "several_pending");
    assert!(err.to_string().contains("2 sign-in requests"), "{err}");
    assert_eq!(backend.status("one-click", &first).await, "pending");
    assert_eq!(backend.status("one-click", &second).await, "pending");
    assert_eq!(dev.core.pending().len(), 2, "nothing lost");

    // Denying from a notification is always allowed; then one is left and one click works.
    dev.core
        .answer_from_notification(&dev.factor, &second, Decision::Deny)
        .await
        .expect("deny from the notification");
    let view = dev
        .core
        .answer_from_notification(&dev.factor, &first, Decision::Approve)
        .await
        .expect("the only pending request can be approved in one click");
    assert_eq!(view.status, "approved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_me_quiets_the_account_which_still_lists_then_speaks_again() {
    let backend = Backend::start().await;
    let quiet = Duration::from_secs(2);
    let dev = Device::enrolled_quiet(&backend, "quiet-me", None, quiet).await;
    let other = Device::enrolled_quiet(&backend, "quiet-other", None, quiet).await;
    let sid = backend
        .challenge("quiet-me", &dev.factor, "Not me", &[])
        .await;
    dev.core.watcher().poll_once().await;
    let before = std::time::SystemTime::now();
    dev.core
        .answer_with(
            &dev.factor,
            &sid,
            Answer::Deny {
                reason: Some(DenyReason::NotMe),
            },
        )
        .await
        .expect("denied");
    let account = dev.core.accounts().await.expect("accounts").remove(0);
    let until = account
        .quieted_until
        .clone()
        .expect("the account says it is quieted");
    let until = chrono::DateTime::parse_from_rfc3339(&until).expect("rfc3339");
    assert!(until.timestamp() >= chrono::DateTime::<chrono::Utc>::from(before).timestamp());
    assert!(
        dev.events
            .all()
            .iter()
            .any(|e| matches!(e, AppEvent::AccountsChanged(l) if l.iter().any(|a| a.quieted_until.is_some()))),
        "the UI is told"
    );

    // While quiet: listed, not notified.
    let during = backend
        .challenge("quiet-me", &dev.factor, "Again", &[])
        .await;
    dev.core.watcher().poll_once().await;
    assert_eq!(
        alerts(&dev).last(),
        Some(&(during.clone(), Alert::Silent(SilentReason::Quieted)))
    );
    assert!(dev.core.pending().iter().any(|p| p.sid() == during));

    // A "restart" keeps the quiet.
    let events2 = std::sync::Arc::new(common::Collector::default());
    let core2 = common::core_quiet(dev.dir.path(), dev.keys.clone(), events2, None, quiet);
    let acc2 = core2.accounts().await.expect("accounts").remove(0);
    assert_eq!(acc2.quieted_until, account.quieted_until);

    // Another account is not quieted.
    let o = backend
        .challenge("quiet-other", &other.factor, "Other", &[])
        .await;
    other.core.watcher().poll_once().await;
    assert_eq!(alerts(&other), vec![(o, Alert::Single { one_click: true })]);

    // After the quiet, a new request notifies again (it joins the one still pending).
    while chrono::Utc::now() <= until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = backend
        .challenge("quiet-me", &dev.factor, "Later", &[])
        .await;
    dev.core.watcher().poll_once().await;
    let (s, a) = alerts(&dev).pop().expect("announced");
    assert_eq!(s, after);
    assert!(a.notifies(), "{a:?}");
    assert_eq!(
        dev.core.accounts().await.expect("accounts")[0].quieted_until,
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_all_denies_every_pending_request_of_one_account_with_the_reason() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "deny-all", None).await;
    let bystander = Device::enrolled(&backend, "deny-all-other", None).await;
    let mut sids = Vec::new();
    for i in 0..5 {
        sids.push(
            backend
                .challenge("deny-all", &dev.factor, &format!("Flood {i}"), &[])
                .await,
        );
    }
    let kept = backend
        .challenge("deny-all-other", &bystander.factor, "Mine", &[])
        .await;
    dev.core.watcher().poll_once().await;
    bystander.core.watcher().poll_once().await;

    let report = dev
        .core
        .deny_all(&dev.factor, Some(DenyReason::NotMe))
        .await
        .expect("deny all");
    assert_eq!(report.denied.len(), 5, "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");
    for sid in &sids {
        let c = backend.fetch_challenge("deny-all", sid).await;
        assert_eq!(c["status"], "denied");
        assert_eq!(c["metadata"]["deny_reason"], "not_me", "{c}");
    }
    assert!(dev.core.pending().is_empty());
    assert!(dev.core.accounts().await.expect("accounts")[0]
        .quieted_until
        .is_some());
    // Only that account's requests.
    assert_eq!(backend.status("deny-all-other", &kept).await, "pending");

    // Nothing pending: nothing to do, no error.
    let empty = dev.core.deny_all(&dev.factor, None).await.expect("ok");
    assert!(empty.denied.is_empty() && empty.failed.is_empty());
    // A hostile argument is a typed input error.
    let err = dev
        .core
        .deny_all("YC00000000000000000000000000000000", None)
        .await
        .expect_err("not a factor SID");
    assert_eq!(err.code().as_str(), "input");
}
