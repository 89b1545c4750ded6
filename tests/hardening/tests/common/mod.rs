//! Shared setup of the transport tests: an enrolled client against an in-process emulator.
#![allow(dead_code)]

use assent_hardening::Backend;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use verify_emulator::EmulatorConfig;
use verify_push::store::FactorStore;
use verify_push::{EnrollRequest, EnrollmentPayload, MemoryKeyStore, VerifyPush};

/// A loopback listener that counts accepted connections and answers each with 502.
pub async fn counting_listener() -> (String, Arc<AtomicUsize>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            n2.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    (format!("http://{addr}"), n)
}

/// An emulator, an enrolled client and its data dir.
pub async fn enrolled() -> (
    verify_emulator::RunningEmulator,
    VerifyPush,
    verify_push::Factor,
    tempfile::TempDir,
) {
    let emu = verify_emulator::spawn(EmulatorConfig::default())
        .await
        .unwrap();
    let b = Backend::new(emu.base_url().clone(), emu.account_sid(), emu.auth_token()).unwrap();
    let service = b.create_service().await.unwrap();
    let token = b.access_token(&service, "transport-user").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = VerifyPush::builder()
        .app_id("dev.assent.Hardening")
        .app("AssentHardening", "0")
        .data_dir(dir.path())
        .key_store(Arc::new(MemoryKeyStore::new()))
        .http_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let api = b.api_base().unwrap();
    let p = EnrollmentPayload::new(&token, &service, "transport-user", Some(api.as_str())).unwrap();
    let f = client
        .enroll(EnrollRequest::new(p, "Transport".parse().unwrap()))
        .await
        .unwrap();
    (emu, client, f, dir)
}

pub fn point_factor_at(dir: &std::path::Path, base: &str) {
    let u = url::Url::parse(base).unwrap();
    FactorStore::open(dir)
        .unwrap()
        .update(|f| {
            for r in &mut f.factors {
                r.factor.base_url = u.clone();
            }
        })
        .unwrap();
}
