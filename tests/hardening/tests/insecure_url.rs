//! A factor whose stored base URL became plain `http://` to a non-loopback host (tampered
//! `factors.json`), or an enrolment payload built around the parser, is refused before any
//! connection: an HTTP proxy set in the environment (which reqwest honours) sees nothing,
//! while a plain reqwest client does reach it (the control).

mod common;

use common::{counting_listener, enrolled, point_factor_at};
use std::sync::atomic::Ordering;
use verify_push::{ChallengeListQuery, EnrollRequest, EnrollmentPayload, ErrorCode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_a_remote_host_is_refused_before_connecting() {
    let (proxy, connections) = counting_listener().await;
    // Every plain-http request of clients built from here on goes to the counting listener.
    // Loopback (the emulator) stays direct. This file holds one test, so setting the
    // process environment races with nothing.
    std::env::set_var("NO_PROXY", "127.0.0.1,localhost,::1");
    std::env::set_var("no_proxy", "127.0.0.1,localhost,::1");
    std::env::set_var("HTTP_PROXY", &proxy);
    std::env::set_var("http_proxy", &proxy);

    // Built after the proxy environment was set, so its HTTP client would use the proxy.
    let (_emu, client, f, dir) = enrolled().await;
    point_factor_at(dir.path(), "http://verify.example.com/v2/");
    let e = client
        .list_challenges(ChallengeListQuery::new(f.sid.clone()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InsecureUrl, "{e}");
    let e = client.delete_factor(&f.sid).await.unwrap_err();
    assert!(
        matches!(e.code(), ErrorCode::InsecureUrl | ErrorCode::KeyStorage),
        "{e}"
    );
    // An enrolment payload built around the parser is refused the same way.
    let mut p =
        EnrollmentPayload::new("t", f.service_sid.as_str(), "transport-user", None).unwrap();
    p.base_url = url::Url::parse("http://10.1.2.3/v2/").unwrap();
    let e = client
        .enroll(EnrollRequest::new(p, "x".parse().unwrap()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InsecureUrl, "{e}");
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "verify-push connected"
    );

    // Control: an ordinary reqwest client does go through the proxy, so 0 above means refused.
    let plain = reqwest::Client::builder().build().unwrap();
    let r = plain
        .get("http://verify.example.com/v2/")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 502);
    assert_eq!(connections.load(Ordering::SeqCst), 1);
    println!("transport: insecure base URL refused, 0 connections made (control: 1)");
}
