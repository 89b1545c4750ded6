//! A 10 MiB streamed answer is cut off with a typed error and the connection dropped, so the
//! server cannot even hand over the whole body (verify-push's own tests cover 2 MiB bodies;
//! this one checks the client stops reading, end to end).

mod common;

use common::{enrolled, point_factor_at};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use verify_push::{ChallengeListQuery, ErrorCode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_mib_answer_is_cut_off_with_a_typed_error() {
    const TOTAL: usize = 10 * 1024 * 1024;
    let (_emu, client, f, dir) = enrolled().await;
    // A raw server that streams 10 MiB of JSON-ish bytes (chunked, no Content-Length).
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let written = Arc::new(AtomicUsize::new(0));
    let w2 = written.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let w = w2.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                let _ = s.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
                if s.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b' '; 64 * 1024];
                let mut sent = 0;
                while sent < TOTAL {
                    let framed = [
                        format!("{:x}\r\n", chunk.len()).into_bytes(),
                        chunk.clone(),
                        b"\r\n".to_vec(),
                    ]
                    .concat();
                    if s.write_all(&framed).await.is_err() {
                        break;
                    }
                    sent += chunk.len();
                    w.store(sent, Ordering::SeqCst);
                }
                let _ = s.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    point_factor_at(dir.path(), &format!("http://{addr}/v2/"));
    // The enrolled client holds the key in memory and reads the re-pointed store.
    let e = client
        .list_challenges(ChallengeListQuery::new(f.sid.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(e, verify_push::Error::ResponseTooLarge { .. }),
        "expected ResponseTooLarge, got {e:?}"
    );
    assert_eq!(e.code(), ErrorCode::Network);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = written.load(Ordering::SeqCst);
    println!(
        "transport: 10 MiB answer cut off ({e}); server managed to write {} KiB",
        sent / 1024
    );
    assert!(sent < TOTAL, "the client read all {TOTAL} bytes");
}
