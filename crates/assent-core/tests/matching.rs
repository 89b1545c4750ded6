//! Number matching and deny reasons through the command layer, against a real emulator.

mod common;

use assent_core::{Answer, DenyReason, MatchMode};
use common::{Backend, Device};
use serde_json::Value;

const CHOOSE: &[(&str, &str)] = &[("assent_match_mode", "choose"), ("assent_match_code", "47")];
const TYPE: &[(&str, &str)] = &[("assent_match_mode", "type"), ("assent_match_code", "47")];

fn approve(code: Option<&str>) -> Answer {
    Answer::Approve {
        code: code.map(str::to_owned),
        pin: None,
    }
}

/// Every string value in a JSON tree.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            out.push(k.clone());
            strings(x, out)
        }),
        Value::Number(n) => out.push(n.to_string()),
        _ => {}
    }
}

async fn setup(identity: &str, hidden: &[(&str, &str)]) -> (Backend, Device, String) {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, identity, None).await;
    let sid = backend
        .challenge_hidden(identity, &dev.factor, "Sign in", &[], hidden)
        .await;
    dev.core.watcher().poll_once().await;
    (backend, dev, sid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type_mode_view_carries_the_mode_but_never_the_code() {
    let (_b, dev, sid) = setup("m-type-view", TYPE).await;
    let pending = dev.core.pending();
    let card = pending.iter().find(|p| p.sid() == sid).expect("card");
    let m = card.challenge.match_request.as_ref().expect("match asked");
    assert_eq!(m.mode, MatchMode::Type);
    assert!(m.choices.is_none());
    let json = serde_json::to_value(card).expect("serializes");
    assert_eq!(json["match"], serde_json::json!({"mode": "type"}));
    let mut all = Vec::new();
    strings(&json, &mut all);
    assert!(!all.iter().any(|s| s == "47"), "code leaked: {json}");
    let text = json.to_string();
    assert!(!text.contains("assent_match"), "{text}");
    assert!(!text.contains("hidden"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn choose_mode_offers_the_code_among_two_distinct_decoys_stably() {
    let (_b, dev, sid) = setup("m-choose-view", CHOOSE).await;
    let card = dev
        .core
        .pending()
        .into_iter()
        .find(|p| p.sid() == sid)
        .expect("card");
    let m = card.challenge.match_request.clone().expect("match asked");
    assert_eq!(m.mode, MatchMode::Choose);
    let choices = m.choices.expect("choices");
    assert_eq!(choices.len(), 3);
    assert!(choices.contains(&"47".to_owned()));
    let mut distinct = choices.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "{choices:?}");
    assert!(choices
        .iter()
        .all(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_digit())));
    // Only the choices hold the code; nothing says which one it is.
    let json = serde_json::to_value(&card).expect("serializes");
    let mut without_choices = json.clone();
    without_choices["match"]["choices"] = Value::Null;
    let mut all = Vec::new();
    strings(&without_choices, &mut all);
    assert!(!all.iter().any(|s| s == "47"), "code leaked: {json}");
    assert_eq!(
        json["match"].as_object().expect("object").len(),
        2,
        "{json}"
    );
    // A later poll keeps the same numbers in the same order.
    dev.core.watcher().poll_once().await;
    let again = dev
        .core
        .pending()
        .into_iter()
        .find(|p| p.sid() == sid)
        .expect("card");
    assert_eq!(
        again.challenge.match_request.and_then(|m| m.choices),
        Some(choices)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approving_without_the_number_is_refused_and_nothing_is_sent() {
    let (backend, dev, sid) = setup("m-no-code", TYPE).await;
    let err = dev
        .core
        .answer_with(&dev.factor, &sid, approve(None))
        .await
        .expect_err("refused");
    assert_eq!(err.code().as_str(), "match_required");
    // The plain path (notification button, old callers) is refused the same way.
    let err = dev
        .core
        .answer(&dev.factor, &sid, assent_core::Decision::Approve)
        .await
        .expect_err("refused");
    assert_eq!(err.code().as_str(), "match_required");
    assert_eq!(backend.status("m-no-code", &sid).await, "pending");
    assert!(
        dev.core.pending().iter().any(|p| p.sid() == sid),
        "card kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_number_is_an_input_error_and_nothing_is_sent() {
    let (backend, dev, sid) = setup("m-malformed", TYPE).await;
    for bad in ["4", "470", "4a", "", "٤٧", "47; drop"] {
        let err = dev
            .core
            .answer_with(&dev.factor, &sid, approve(Some(bad)))
            .await
            .expect_err("refused");
        assert_eq!(err.code().as_str(), "input", "{bad:?}");
    }
    assert_eq!(backend.status("m-malformed", &sid).await, "pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_number_denies_with_reason_wrong_match() {
    let (backend, dev, sid) = setup("m-wrong-code", CHOOSE).await;
    let err = dev
        .core
        .answer_with(&dev.factor, &sid, approve(Some("74")))
        .await
        .expect_err("wrong number");
    assert_eq!(err.code().as_str(), "wrong_match");
    assert!(err.to_string().contains("denied"), "{err}");
    let c = backend.fetch_challenge("m-wrong-code", &sid).await;
    assert_eq!(c["status"], "denied");
    assert_eq!(
        c["metadata"],
        serde_json::json!({"deny_reason": "wrong_match"})
    );
    assert!(
        !dev.core.pending().iter().any(|p| p.sid() == sid),
        "card gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_number_approves_in_both_modes() {
    for (identity, hidden) in [("m-right-type", TYPE), ("m-right-choose", CHOOSE)] {
        let (backend, dev, sid) = setup(identity, hidden).await;
        let view = dev
            .core
            .answer_with(&dev.factor, &sid, approve(Some("47")))
            .await
            .expect("approved");
        assert_eq!(view.status, "approved");
        let c = backend.fetch_challenge(identity, &sid).await;
        assert_eq!(c["status"], "approved");
        assert_eq!(c["metadata"], Value::Null, "approval sends no metadata");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_for_a_challenge_without_matching_is_refused() {
    let (backend, dev, sid) = setup("m-unasked", &[("transaction_id", "tx-1")]).await;
    assert!(dev.core.pending()[0].challenge.match_request.is_none());
    let err = dev
        .core
        .answer_with(&dev.factor, &sid, approve(Some("47")))
        .await
        .expect_err("refused");
    assert_eq!(err.code().as_str(), "match_not_required");
    assert_eq!(backend.status("m-unasked", &sid).await, "pending");
    // Without a number it approves as before.
    let view = dev
        .core
        .answer_with(&dev.factor, &sid, approve(None))
        .await
        .expect("approved");
    assert_eq!(view.status, "approved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_matching_request_can_be_denied_but_never_approved() {
    for (i, hidden) in [
        &[("assent_match_mode", "choose")][..],
        &[("assent_match_code", "47")][..],
        &[("assent_match_mode", "pick"), ("assent_match_code", "47")][..],
        &[("assent_match_mode", "type"), ("assent_match_code", "470")][..],
    ]
    .into_iter()
    .enumerate()
    {
        let identity = format!("m-invalid-{i}");
        let (backend, dev, sid) = setup(&identity, hidden).await;
        let card = dev.core.pending().into_iter().next().expect("card");
        let m = card.challenge.match_request.expect("shown as matching");
        assert_eq!(m.mode, MatchMode::Type, "{hidden:?}");
        for code in [None, Some("47"), Some("00")] {
            let err = dev
                .core
                .answer_with(&dev.factor, &sid, approve(code))
                .await
                .expect_err("never approved");
            assert_eq!(err.code().as_str(), "match_invalid", "{hidden:?} {code:?}");
        }
        assert_eq!(backend.status(&identity, &sid).await, "pending");
        let view = dev
            .core
            .answer_with(
                &dev.factor,
                &sid,
                Answer::Deny {
                    reason: Some(DenyReason::NotMe),
                },
            )
            .await
            .expect("denied");
        assert_eq!(view.status, "denied");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_reasons_reach_the_relying_party_as_metadata() {
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "m-reasons", None).await;
    for (reason, want) in [
        (
            Some(DenyReason::NotMe),
            serde_json::json!({"deny_reason": "not_me"}),
        ),
        (
            Some(DenyReason::Mistake),
            serde_json::json!({"deny_reason": "mistake"}),
        ),
        (None, Value::Null),
    ] {
        let sid = backend
            .challenge("m-reasons", &dev.factor, "Deny me", &[])
            .await;
        dev.core.watcher().poll_once().await;
        let view = dev
            .core
            .answer_with(&dev.factor, &sid, Answer::Deny { reason })
            .await
            .expect("denied");
        assert_eq!(view.status, "denied");
        let c = backend.fetch_challenge("m-reasons", &sid).await;
        assert_eq!(c["status"], "denied");
        assert_eq!(c["metadata"], want, "{reason:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matching_is_decided_on_the_challenge_fetched_for_signing() {
    // The CLI path: no card was shown, the SID came from elsewhere.
    let backend = Backend::start().await;
    let dev = Device::enrolled(&backend, "m-cli-path", None).await;
    let sid = backend
        .challenge_hidden("m-cli-path", &dev.factor, "Sign in", &[], TYPE)
        .await;
    assert!(dev.core.pending().is_empty(), "not on a card");
    let err = dev
        .core
        .answer_with(&dev.factor, &sid, approve(None))
        .await
        .expect_err("refused");
    assert_eq!(err.code().as_str(), "match_required");
    let view = dev
        .core
        .answer_with(&dev.factor, &sid, approve(Some("47")))
        .await
        .expect("approved");
    assert_eq!(view.status, "approved");
}
