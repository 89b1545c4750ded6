//! Loopback traffic never goes through an environment proxy: plain `http://` is allowed only to
//! loopback, and a proxy would see the device JWTs in clear text. Proxy variables are
//! process-global, so this lives in its own test binary with a single test.

mod support;

use std::sync::{Arc, Mutex};
use support::{device, Backend};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use verify_push::{ChallengeListQuery, EnrollRequest, EnrollmentPayload, ErrorCode};

/// A "proxy" that records the first line of every request it gets and answers 502.
async fn recording_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = vec![0u8; 4096];
            let n = sock.read(&mut buf).await.unwrap_or(0);
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            s.lock()
                .unwrap()
                .push(text.lines().next().unwrap_or("").to_owned());
            let _ = sock
                .write_all(
                    b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await;
        }
    });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn loopback_requests_bypass_environment_proxies() {
    // The backend helper's own HTTP client is built before the proxy variables are set.
    let backend = Backend::start().await;
    let service = backend.create_service().await;
    let payload = backend.payload(&service, "proxy-user").await;

    let (proxy, seen) = recording_proxy().await;
    for var in [
        "NO_PROXY",
        "no_proxy",
        "http_proxy",
        "all_proxy",
        "https_proxy",
    ] {
        std::env::remove_var(var);
    }
    for var in ["HTTP_PROXY", "ALL_PROXY", "HTTPS_PROXY"] {
        std::env::set_var(var, &proxy);
    }

    let dev = device();
    let f = dev
        .client
        .enroll(EnrollRequest::new(payload, "Proxy test".parse().unwrap()))
        .await
        .expect("enrolment reaches the loopback emulator directly");
    backend.challenge(&f, "Through a proxy?", None).await;
    let page = dev
        .client
        .list_challenges(ChallengeListQuery::new(f.sid.clone()))
        .await
        .unwrap();
    assert_eq!(page.challenges.len(), 1);
    assert!(
        seen.lock().unwrap().is_empty(),
        "the proxy saw loopback traffic: {:?}",
        seen.lock().unwrap()
    );

    // The same client does use the proxy for a remote server, so the variables are in effect
    // and the bypass is specific to loopback.
    let remote = EnrollmentPayload::new(
        "t",
        "VA0123456789abcdef0123456789abcdef",
        "user-1",
        Some("https://verify.invalid/v2/"),
    )
    .unwrap();
    let e = dev
        .client
        .enroll(EnrollRequest::new(remote, "Remote".parse().unwrap()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Network, "{e}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].starts_with("CONNECT verify.invalid:443"),
        "{seen:?}"
    );
}
