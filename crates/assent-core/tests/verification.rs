//! "Confirm it's you before approving" through the command layer, against a real emulator:
//! the PIN is asked on Approve only, a wrong one sends nothing, five lock approving.

mod common;

use assent_core::verification::{Pin, Scope};
use assent_core::{Answer, AppEvent, Decision};
use common::{Backend, Device};

fn pin(s: &str) -> Pin {
    Pin::new(s.to_owned()).expect("valid pin")
}

fn approve(p: Option<&str>) -> Answer {
    Answer::Approve {
        code: None,
        pin: p.map(pin),
    }
}

async fn pending_challenge(backend: &Backend, dev: &Device, message: &str) -> String {
    let sid = backend
        .challenge(&dev.identity, &dev.factor, message, &[])
        .await;
    dev.core.watcher().poll_once().await;
    sid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_asks_for_the_pin_and_a_wrong_one_sends_nothing() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "pin-basic", None).await;
    let view = dev
        .core
        .set_pin(None, pin("246810"), Scope::All)
        .await
        .expect("pin set");
    assert!(view.enabled);
    assert!(dev.core.needs_verification(&dev.factor));
    assert!(dev
        .events
        .all()
        .iter()
        .any(|e| matches!(e, AppEvent::VerificationChanged(v) if v.enabled)));
    let sid = pending_challenge(&backend, &dev, "PIN please").await;

    for (answer, code) in [
        (approve(None), "verification_required"),
        (approve(Some("135799")), "pin_wrong"),
    ] {
        let err = dev
            .core
            .answer_with(&dev.factor, &sid, answer)
            .await
            .expect_err("refused");
        assert_eq!(err.code().as_str(), code);
        assert_eq!(backend.status("pin-basic", &sid).await, "pending", "{code}");
    }
    // The notification's button and the plain path cannot carry a PIN.
    for err in [
        dev.core
            .answer_from_notification(&dev.factor, &sid, Decision::Approve)
            .await
            .expect_err("no one click"),
        dev.core
            .answer(&dev.factor, &sid, Decision::Approve)
            .await
            .expect_err("no pin"),
    ] {
        assert_eq!(err.code().as_str(), "verification_required");
    }
    assert_eq!(dev.core.pending().len(), 1, "nothing lost");
    assert_eq!(dev.core.verification().failures, 1);

    let view = dev
        .core
        .answer_with(&dev.factor, &sid, approve(Some("246810")))
        .await
        .expect("approved with the right PIN");
    assert_eq!(view.status, "approved");
    assert_eq!(backend.status("pin-basic", &sid).await, "approved");
    assert_eq!(
        dev.core.verification().failures,
        0,
        "reset by the right PIN"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denying_never_asks_for_the_pin() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "pin-deny", None).await;
    dev.core
        .set_pin(None, pin("246810"), Scope::All)
        .await
        .expect("pin set");
    let sid = pending_challenge(&backend, &dev, "Deny me").await;
    dev.core
        .answer_from_notification(&dev.factor, &sid, Decision::Deny)
        .await
        .expect("denied without a PIN");
    assert_eq!(backend.status("pin-deny", &sid).await, "denied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_pins_lock_approving_but_not_denying() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "pin-lock", None).await;
    dev.core
        .set_pin(None, pin("246810"), Scope::All)
        .await
        .expect("pin set");
    let sid = pending_challenge(&backend, &dev, "Guess").await;
    let mut codes = Vec::new();
    for _ in 0..5 {
        let err = dev
            .core
            .answer_with(&dev.factor, &sid, approve(Some("000000")))
            .await
            .expect_err("wrong");
        codes.push(err.code().as_str());
    }
    assert_eq!(
        codes,
        [
            "pin_wrong",
            "pin_wrong",
            "pin_wrong",
            "pin_wrong",
            "pin_locked"
        ]
    );
    let locked = dev.core.verification();
    assert!(locked.locked_until.is_some(), "{locked:?}");
    // Locked: the right PIN is refused too, nothing is sent.
    let err = dev
        .core
        .answer_with(&dev.factor, &sid, approve(Some("246810")))
        .await
        .expect_err("locked");
    assert_eq!(err.code().as_str(), "pin_locked");
    assert!(err.to_string().contains("locked until"), "{err}");
    assert_eq!(backend.status("pin-lock", &sid).await, "pending");
    // Removing the PIN while locked is refused as well.
    let err = dev
        .core
        .remove_pin(pin("246810"))
        .await
        .expect_err("locked");
    assert_eq!(err.code().as_str(), "pin_locked");
    // Denying still works.
    dev.core
        .answer_with(&dev.factor, &sid, Answer::Deny { reason: None })
        .await
        .expect("deny needs no PIN");
    assert_eq!(backend.status("pin-lock", &sid).await, "denied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pin_for_chosen_accounts_leaves_the_others_one_click() {
    let backend = Backend::start().await;
    let guarded = Device::enrolled(&backend, "pin-guarded", None).await;
    let dir = guarded.dir.path().to_owned();
    guarded
        .core
        .set_pin(
            None,
            pin("246810"),
            Scope::Accounts {
                factor_sids: vec![guarded.factor.clone()],
            },
        )
        .await
        .expect("pin set");
    assert!(guarded.core.needs_verification(&guarded.factor));
    assert!(!guarded
        .core
        .needs_verification("YF00000000000000000000000000000009"));
    // The scope and the hash survive a restart.
    let core2 = common::core(
        &dir,
        guarded.keys.clone(),
        std::sync::Arc::new(common::Collector::default()),
        None,
    );
    assert!(core2.needs_verification(&guarded.factor));
    // Changing the scope needs the PIN.
    let err = core2
        .set_verification_scope(pin("111111"), Scope::All)
        .await
        .expect_err("wrong pin");
    assert_eq!(err.code().as_str(), "pin_wrong");
    core2
        .set_verification_scope(pin("246810"), Scope::All)
        .await
        .expect("scope changed");
    assert!(core2.needs_verification("YF00000000000000000000000000000009"));
    core2.remove_pin(pin("246810")).await.expect("removed");
    assert!(!core2.needs_verification(&guarded.factor));
    assert!(!core2.verification().enabled);
}
