//! End-to-end against an in-process `verify-emulator` over loopback.

mod support;

use serde_json::json;
use std::time::Duration;
use support::{device, enrolled, unique, Backend};
use verify_emulator::Faults;
use verify_push::{
    ChallengeListQuery, ChallengeSid, ChallengeStatus, EnrollRequest, ErrorCode, Expectation,
    FactorStatus, Order,
};

fn sid(s: &str) -> ChallengeSid {
    s.parse().unwrap()
}

#[tokio::test]
async fn enrol_verify_approve_deny() {
    let backend = Backend::start().await;
    let dev = device();
    let f = enrolled(&backend, &dev).await;
    assert_eq!(f.status, FactorStatus::Verified);
    assert_eq!(f.friendly_name, "Test laptop");
    assert_eq!(f.account_sid.as_str(), backend.emu.account_sid());
    assert!(!f.credential_sid.is_empty());
    assert_eq!(dev.client.factors().unwrap(), vec![f.clone()]);
    assert!(dev.client.check_integrity().unwrap().is_clean());

    let yc = backend.challenge(&f, "Log in to Example?", None).await;
    let ch = dev.client.get_challenge(&f.sid, &sid(&yc)).await.unwrap();
    assert_eq!(ch.status, ChallengeStatus::Pending);
    assert_eq!(ch.details.message, "Log in to Example?");
    assert_eq!(ch.details.fields.len(), 2);
    assert_eq!(ch.details.fields[1].value, "Tests/ok & fine");
    let done = dev.client.approve(&f.sid, &sid(&yc)).await.unwrap();
    assert_eq!(done.status, ChallengeStatus::Approved);
    assert!(done.responded_at.is_some());
    assert_eq!(backend.challenge_status(&f, &yc).await, "approved");

    let yc2 = backend.challenge(&f, "Pay 10 EUR?", None).await;
    let done = dev.client.deny(&f.sid, &sid(&yc2)).await.unwrap();
    assert_eq!(done.status, ChallengeStatus::Denied);
    assert_eq!(backend.challenge_status(&f, &yc2).await, "denied");
}

#[tokio::test]
async fn already_answered_elsewhere_and_expired() {
    let backend = Backend::start().await;
    let dev = device();
    let f = enrolled(&backend, &dev).await;

    // Approved on another device first; this one must not overwrite it.
    let other = support::twin(&dev);
    let yc = backend.challenge(&f, "Twice?", None).await;
    other.client.approve(&f.sid, &sid(&yc)).await.unwrap();
    let e = dev.client.deny(&f.sid, &sid(&yc)).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::AlreadyResponded, "{e}");
    assert!(e.to_string().contains("approved"));
    assert_eq!(backend.challenge_status(&f, &yc).await, "approved");
    let e = dev.client.approve(&f.sid, &sid(&yc)).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::AlreadyResponded, "{e}");

    // Expire by moving the server clock past the expiry (the server expires lazily).
    let yc = backend.challenge(&f, "Too late?", None).await;
    backend.emu.set_faults(Faults {
        clock_offset_secs: 3600,
        ..Faults::default()
    });
    let e = dev.client.approve(&f.sid, &sid(&yc)).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ExpiredChallenge, "{e}");
    let ch = dev.client.get_challenge(&f.sid, &sid(&yc)).await.unwrap();
    assert_eq!(ch.status, ChallengeStatus::Expired);
}

#[tokio::test]
async fn wrong_factor_is_refused() {
    let backend = Backend::start().await;
    let dev = device();
    let service = backend.create_service().await;
    let identity = unique("user");
    let a = dev
        .client
        .enroll(EnrollRequest::new(
            backend.payload(&service, &identity).await,
            "A".parse().unwrap(),
        ))
        .await
        .unwrap();
    let b = dev
        .client
        .enroll(EnrollRequest::new(
            backend.payload(&service, &identity).await,
            "B".parse().unwrap(),
        ))
        .await
        .unwrap();
    let yc = backend.challenge(&a, "For A", None).await;
    // The emulator refuses factor B's JWT for A's challenge (401); a server that answered
    // would be caught by our own factor check (tests/stub_server.rs covers that branch).
    let e = dev.client.approve(&b.sid, &sid(&yc)).await.unwrap_err();
    assert!(
        matches!(e.code(), ErrorCode::WrongFactor | ErrorCode::Server),
        "{e}"
    );
    assert_eq!(backend.challenge_status(&a, &yc).await, "pending");
}

#[tokio::test]
async fn list_paging_both_ways() {
    let backend = Backend::start().await;
    let dev = device();
    let f = enrolled(&backend, &dev).await;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(backend.challenge(&f, &format!("Challenge {i}"), None).await);
    }
    let q = |token: Option<String>| ChallengeListQuery {
        factor: f.sid.clone(),
        status: None,
        order: Order::Asc,
        page_size: 2,
        page_token: token,
    };
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut token = None;
    loop {
        let page = dev.client.list_challenges(q(token.clone())).await.unwrap();
        assert!(page.challenges.len() <= 2);
        seen.extend(page.challenges.iter().map(|c| c.sid.to_string()));
        pages.push(page.clone());
        match page.next_page_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(pages.len(), 3);
    let mut sorted = seen.clone();
    sorted.sort();
    let mut want = created.clone();
    want.sort();
    assert_eq!(sorted, want);
    assert!(pages[0].previous_page_token.is_none());
    // Walk back from the last page.
    let back = pages[2]
        .previous_page_token
        .clone()
        .expect("previous token");
    let prev = dev.client.list_challenges(q(Some(back))).await.unwrap();
    assert_eq!(
        prev.challenges
            .iter()
            .map(|c| c.sid.clone())
            .collect::<Vec<_>>(),
        pages[1]
            .challenges
            .iter()
            .map(|c| c.sid.clone())
            .collect::<Vec<_>>()
    );

    // Status filter and desc order.
    dev.client.approve(&f.sid, &sid(&created[0])).await.unwrap();
    let pending = dev
        .client
        .list_challenges(ChallengeListQuery {
            status: Some(ChallengeStatus::Pending),
            order: Order::Desc,
            page_size: 50,
            ..ChallengeListQuery::new(f.sid.clone())
        })
        .await
        .unwrap();
    assert_eq!(pending.challenges.len(), 4);
    assert!(pending
        .challenges
        .iter()
        .all(|c| c.status == ChallengeStatus::Pending));
    let newest = dev.client.newest_pending(&f.sid).await.unwrap().unwrap();
    assert_eq!(newest.sid.as_str(), created[4]);
}

#[tokio::test]
async fn delete_factor_everywhere_and_update_name() {
    let backend = Backend::start().await;
    let dev = device();
    let f = enrolled(&backend, &dev).await;
    let renamed = dev
        .client
        .update_factor(&f.sid, Some("Renamed".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(renamed.friendly_name, "Renamed");
    assert_eq!(dev.client.factor(&f.sid).unwrap().friendly_name, "Renamed");

    assert_eq!(backend.factor_http_status(&f).await, 200);
    dev.client.delete_factor(&f.sid).await.unwrap();
    assert_eq!(backend.factor_http_status(&f).await, 404);
    assert!(dev.client.factors().unwrap().is_empty());
    assert!(verify_push::KeyStore::aliases(&*dev.keys)
        .unwrap()
        .is_empty());
    assert_eq!(
        dev.client.factor(&f.sid).unwrap_err().code(),
        ErrorCode::FactorNotFound
    );
}

#[tokio::test]
async fn delete_of_a_factor_gone_on_the_server_still_cleans_up() {
    let backend = Backend::start().await;
    let dev = device();
    let f = enrolled(&backend, &dev).await;
    // The same factor on a second device: delete from the first, then the second gets 404
    // (or 401 after the retry) and still cleans up locally.
    let other = support::twin(&dev);
    dev.client.delete_factor(&f.sid).await.unwrap();
    other.client.delete_factor(&f.sid).await.unwrap();
    assert!(other.client.factors().unwrap().is_empty());
    assert!(verify_push::KeyStore::aliases(&*other.keys)
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn clock_offset_plus_and_minus_two_hours_is_recovered() {
    for offset in [7200i64, -7200] {
        let backend = Backend::start().await;
        let dev = device();
        let f = enrolled(&backend, &dev).await;
        assert_eq!(dev.client.clock_status(&f.base_url).correction_secs, 0);
        backend.emu.set_faults(Faults {
            clock_offset_secs: offset,
            ..Faults::default()
        });
        // Challenge expiry is relative to the server clock, so create it after the shift.
        let yc = backend.challenge(&f, "Skewed?", None).await;
        let done = dev.client.approve(&f.sid, &sid(&yc)).await.unwrap();
        assert_eq!(done.status, ChallengeStatus::Approved);
        let c = dev.client.clock_status(&f.base_url).correction_secs;
        assert!(
            (c - offset).abs() <= 5,
            "correction {c} for offset {offset}"
        );
        // Persisted: a new client over the same dir starts with it.
        let again = support::builder()
            .data_dir(dev.dir.path())
            .key_store(dev.keys.clone())
            .build()
            .unwrap();
        assert_eq!(again.clock_status(&f.base_url).correction_secs, c);
        let ch = again.get_challenge(&f.sid, &sid(&yc)).await.unwrap();
        assert_eq!(ch.status, ChallengeStatus::Approved);
    }
}

#[tokio::test]
async fn injected_faults_give_typed_errors() {
    let backend = Backend::start().await;
    let dev = device();
    let f = enrolled(&backend, &dev).await;
    let yc = backend.challenge(&f, "Faulty?", None).await;

    backend.emu.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let e = dev
        .client
        .get_challenge(&f.sid, &sid(&yc))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Server);
    let api = e.api_error().unwrap();
    assert_eq!((api.status, api.code), (500, Some(20500)));

    backend.emu.set_faults(Faults {
        rate_limit_rate: 1.0,
        retry_after_secs: 7,
        ..Faults::default()
    });
    let e = dev.client.approve(&f.sid, &sid(&yc)).await.unwrap_err();
    let api = e.api_error().unwrap();
    assert_eq!(
        (api.status, api.code, api.retry_after_secs),
        (429, Some(20429), Some(7))
    );

    backend.emu.set_faults(Faults {
        garbage_rate: 1.0,
        ..Faults::default()
    });
    let e = dev
        .client
        .get_challenge(&f.sid, &sid(&yc))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Mapping, "{e}");
    let e = dev
        .client
        .list_challenges(ChallengeListQuery::new(f.sid.clone()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Mapping, "{e}");

    backend.emu.set_faults(Faults::default());
    // Nothing was answered by the failed attempts.
    assert_eq!(backend.challenge_status(&f, &yc).await, "pending");
    dev.client.approve(&f.sid, &sid(&yc)).await.unwrap();
}

#[tokio::test]
async fn failed_enrolments_leave_nothing_behind() {
    let backend = Backend::start().await;
    let dev = device();
    let service = backend.create_service().await;
    let identity = unique("user");

    // Server error on create: no key, no record.
    let payload = backend.payload(&service, &identity).await;
    backend.emu.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let e = dev
        .client
        .enroll(EnrollRequest::new(payload, "Broken".parse().unwrap()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Server);
    backend.emu.set_faults(Faults::default());
    assert!(dev.client.factors().unwrap().is_empty());
    assert!(verify_push::KeyStore::aliases(&*dev.keys)
        .unwrap()
        .is_empty());

    // A locked keychain: typed error, nothing created on the server.
    dev.keys.fail_with(Some(ErrorCode::KeychainLocked));
    let payload = backend.payload(&service, &identity).await;
    let e = dev
        .client
        .enroll(EnrollRequest::new(payload, "Locked".parse().unwrap()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::KeychainLocked);
    dev.keys.fail_with(None);
    assert_eq!(backend.server_factor_count(&service, &identity).await, 0);

    // A used (single-use) token: the second enrolment fails cleanly.
    let token = backend.access_token(&service, &identity).await;
    let api = backend.api_base();
    let p = || {
        verify_push::EnrollmentPayload::new(&token, &service, &identity, Some(api.as_str()))
            .unwrap()
    };
    dev.client
        .enroll(EnrollRequest::new(p(), "First".parse().unwrap()))
        .await
        .unwrap();
    let before = dev.client.factors().unwrap().len();
    let e = dev
        .client
        .enroll(EnrollRequest::new(p(), "Reuse".parse().unwrap()))
        .await;
    if let Err(e) = e {
        assert_eq!(e.code(), ErrorCode::Server);
        assert_eq!(dev.client.factors().unwrap().len(), before);
    }
    assert!(dev.client.check_integrity().unwrap().is_clean());
}

#[tokio::test]
async fn silent_approval_building_blocks() {
    let backend = Backend::start().await;
    let dev = device();
    let f = enrolled(&backend, &dev).await;
    assert!(dev
        .client
        .wait_for_pending_challenge(
            &f.sid,
            Duration::from_millis(300),
            Duration::from_millis(100)
        )
        .await
        .unwrap()
        .is_none());

    let yc = backend
        .challenge(
            &f,
            "Sign in?",
            Some(&json!({"transaction_id": "tx-42", "ip": "10.0.0.1"})),
        )
        .await;
    let found = dev
        .client
        .wait_for_pending_challenge(&f.sid, Duration::from_secs(10), Duration::from_millis(100))
        .await
        .unwrap()
        .expect("pending challenge");
    assert_eq!(found.sid.as_str(), yc);
    assert_eq!(
        found.hidden_details.as_ref().unwrap()["transaction_id"],
        "tx-42"
    );

    let e = dev
        .client
        .approve_if(
            &f.sid,
            &sid(&yc),
            Expectation::TransactionId("tx-41".into()),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Input);
    let other = sid("YC00000000000000000000000000000000");
    let e = dev
        .client
        .approve_if(&f.sid, &sid(&yc), Expectation::ChallengeSid(other))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Input);
    assert_eq!(backend.challenge_status(&f, &yc).await, "pending");

    let ok = dev
        .client
        .approve_if(
            &f.sid,
            &sid(&yc),
            Expectation::TransactionId("tx-42".into()),
        )
        .await
        .unwrap();
    assert_eq!(ok.status, ChallengeStatus::Approved);

    let yc2 = backend.challenge(&f, "Again?", None).await;
    let ok = dev
        .client
        .approve_if(&f.sid, &sid(&yc2), Expectation::ChallengeSid(sid(&yc2)))
        .await
        .unwrap();
    assert_eq!(ok.status, ChallengeStatus::Approved);
}

#[tokio::test]
async fn missing_key_is_reported_and_local_removal_works() {
    let backend = Backend::start().await;
    let dev = device();
    let f = enrolled(&backend, &dev).await;
    // Drop the key behind the client's back (a fresh client has no cached key).
    for a in verify_push::KeyStore::aliases(&*dev.keys).unwrap() {
        verify_push::KeyStore::delete(&*dev.keys, &a).unwrap();
    }
    let fresh = support::builder()
        .data_dir(dev.dir.path())
        .key_store(dev.keys.clone())
        .build()
        .unwrap();
    let report = fresh.check_integrity().unwrap();
    assert_eq!(report.factors_without_key, vec![f.sid.clone()]);
    let yc = backend.challenge(&f, "No key?", None).await;
    let e = fresh.approve(&f.sid, &sid(&yc)).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::KeyStorage);
    assert!(e.to_string().contains("missing"));
    fresh.forget_factor(&f.sid).unwrap();
    assert!(fresh.factors().unwrap().is_empty());

    // A key without a factor is found and cleaned up.
    verify_push::KeyStore::put(
        &*dev.keys,
        "key-orphan",
        &verify_push::SecretKeyBytes::new(vec![7; 32]),
    )
    .unwrap();
    let report = fresh.check_integrity().unwrap();
    assert_eq!(report.keys_without_factor, vec!["key-orphan".to_string()]);
    assert_eq!(fresh.remove_orphan_keys().unwrap(), 1);
    assert!(fresh.check_integrity().unwrap().is_clean());
}

#[tokio::test]
async fn locked_keychain_loses_nothing() {
    let backend = Backend::start().await;
    let dev = device();
    let f = enrolled(&backend, &dev).await;
    dev.keys.fail_with(Some(ErrorCode::KeychainLocked));
    let e = dev.client.forget_factor(&f.sid).unwrap_err();
    assert_eq!(e.code(), ErrorCode::KeychainLocked);
    assert_eq!(dev.client.factors().unwrap().len(), 1);
    let e = dev.client.clear_local_storage().unwrap_err();
    assert_eq!(e.code(), ErrorCode::KeychainLocked);
    assert_eq!(dev.client.factors().unwrap().len(), 1);
    dev.keys.fail_with(None);
    dev.client.clear_local_storage().unwrap();
    assert!(dev.client.factors().unwrap().is_empty());
    assert!(verify_push::KeyStore::aliases(&*dev.keys)
        .unwrap()
        .is_empty());
}

/// One device enrolled with two servers whose clocks differ: each keeps its own correction,
/// learnt from its responses (the one behind by a 401 retry, the one ahead from plain answers),
/// and approving works on both.
#[tokio::test]
async fn clock_corrections_are_kept_per_server() {
    let dev = device();
    let ahead = Backend::start().await;
    let behind = Backend::start().await;
    let fa = enrolled(&ahead, &dev).await;
    let fb = enrolled(&behind, &dev).await;
    assert_ne!(fa.base_url, fb.base_url);
    for (b, offset) in [(&ahead, 90i64), (&behind, -400)] {
        b.emu.set_faults(Faults {
            clock_offset_secs: offset,
            ..Faults::default()
        });
    }
    for (b, f) in [(&ahead, &fa), (&behind, &fb)] {
        let yc = b.challenge(f, "Which clock?", None).await;
        let done = dev.client.approve(&f.sid, &sid(&yc)).await.unwrap();
        assert_eq!(done.status, ChallengeStatus::Approved);
    }
    let ca = dev.client.clock_status(&fa.base_url);
    let cb = dev.client.clock_status(&fb.base_url);
    assert!((ca.correction_secs - 90).abs() <= 2, "{ca:?}");
    assert!((cb.correction_secs + 400).abs() <= 2, "{cb:?}");
    assert_eq!(
        (ca.refused_offset_secs, cb.refused_offset_secs),
        (None, None)
    );
    // Both survive a restart, still apart.
    let again = support::builder()
        .data_dir(dev.dir.path())
        .key_store(dev.keys.clone())
        .build()
        .unwrap();
    assert_eq!(again.clock_status(&fa.base_url), ca);
    assert_eq!(again.clock_status(&fb.base_url), cb);
}

/// A flood of 60 pending challenges (more than one page) does not hide the genuine one that
/// arrives last, nor the oldest: every page is read.
#[tokio::test]
async fn pending_challenges_reads_every_page() {
    let backend = Backend::start().await;
    let dev = device();
    let f = enrolled(&backend, &dev).await;
    let mut created = Vec::new();
    for i in 0..60 {
        created.push(backend.challenge(&f, &format!("Flood {i}"), None).await);
    }
    let genuine = backend.challenge(&f, "Log in to Example?", None).await;
    created.push(genuine.clone());
    assert!(created.len() > 50, "needs more than one page");
    let pending = dev.client.pending_challenges(&f.sid).await.unwrap();
    let mut got: Vec<String> = pending.iter().map(|c| c.sid.to_string()).collect();
    assert_eq!(got.len(), created.len(), "duplicates or gaps");
    got.sort();
    created.sort();
    assert_eq!(got, created);
    assert!(pending
        .iter()
        .any(|c| c.sid.as_str() == genuine && c.details.message == "Log in to Example?"));
    // Newest first: the genuine one leads.
    assert_eq!(pending[0].sid.as_str(), genuine);
    let newest = dev.client.newest_pending(&f.sid).await.unwrap().unwrap();
    assert_eq!(newest.sid.as_str(), genuine);
}

#[tokio::test]
async fn answers_carry_metadata_and_oversized_metadata_is_refused_unsent() {
    let backend = Backend::start().await;
    let dev = device();
    let f = enrolled(&backend, &dev).await;
    let path = |yc: &str| {
        format!(
            "v2/Services/{}/Entities/{}/Challenges/{yc}",
            f.service_sid, f.identity
        )
    };

    let yc = backend.challenge(&f, "Deny with a reason?", None).await;
    let m = verify_push::metadata([("deny_reason", "not_me")]);
    let done = dev
        .client
        .answer_with_metadata(
            &f.sid,
            &sid(&yc),
            verify_push::Decision::Deny,
            Some(&m),
            None,
        )
        .await
        .unwrap();
    assert_eq!(done.status, ChallengeStatus::Denied);
    let c = backend.get(&path(&yc)).await;
    assert_eq!(c["status"], "denied");
    assert_eq!(c["metadata"], json!({"deny_reason": "not_me"}));

    // Longer than Twilio's limit: refused before anything is signed or sent.
    let yc = backend.challenge(&f, "Too much metadata?", None).await;
    let big = verify_push::metadata([("k", "x".repeat(verify_push::METADATA_MAX_CHARS))]);
    let e = dev
        .client
        .answer_with_metadata(
            &f.sid,
            &sid(&yc),
            verify_push::Decision::Deny,
            Some(&big),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Input, "{e}");
    let c = backend.get(&path(&yc)).await;
    assert_eq!(c["status"], "pending");
    assert_eq!(c["metadata"], serde_json::Value::Null);

    // `shown` refusing is a content mismatch, and nothing is sent.
    let e = dev
        .client
        .answer_with_metadata(
            &f.sid,
            &sid(&yc),
            verify_push::Decision::Approve,
            None,
            Some(&|_| false),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::ContentMismatch, "{e}");
    assert_eq!(backend.challenge_status(&f, &yc).await, "pending");
}
