//! Prints the approve round trip (fetch, sign, post, confirm) and the cost of one poll (list
//! pending) against an in-process verify-emulator on loopback: median, p95, min, max of many
//! runs. Keys are in memory here so the figures are the protocol's, not the keychain's; one
//! extra line measures a cold key load from the OS keychain when `ASSENT_TEST_KEYRING=1`.
//!
//! `cargo bench -p verify-push --bench roundtrip` (env `VP_BENCH_RUNS`, default 200).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};
use verify_push::ChallengeSid;

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let n = samples.len();
    let pick = |q: f64| samples[((n as f64 - 1.0) * q).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<40} runs {n:>4}  median {:>7.3} ms  p95 {:>7.3} ms  min {:>7.3} ms  max {:>7.3} ms",
        ms(pick(0.5)),
        ms(pick(0.95)),
        ms(samples[0]),
        ms(samples[n - 1])
    );
}

fn main() {
    let runs: usize = std::env::var("VP_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let backend = support::Backend::start().await;
        let dev = support::device();
        let f = support::enrolled(&backend, &dev).await;

        // Warm up connections.
        for _ in 0..5 {
            let _ = dev.client.newest_pending(&f.sid).await.expect("poll");
        }

        let mut approve = Vec::with_capacity(runs);
        for i in 0..runs {
            let yc: ChallengeSid = backend
                .challenge(&f, &format!("Bench {i}"), None)
                .await
                .parse()
                .expect("sid");
            let t = Instant::now();
            dev.client.approve(&f.sid, &yc).await.expect("approve");
            approve.push(t.elapsed());
        }

        // One pending challenge so the poll returns something.
        backend.challenge(&f, "Pending for the poll", None).await;
        let mut poll = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            let c = dev.client.newest_pending(&f.sid).await.expect("poll");
            poll.push(t.elapsed());
            assert!(c.is_some());
        }

        println!("verify-push on loopback against verify-emulator (in-process, in-memory keys)");
        report("approve (fetch, sign, post, confirm)", approve);
        report("poll (list pending, 1 request)", poll);

        if std::env::var("ASSENT_TEST_KEYRING").as_deref() == Ok("1") {
            use verify_push::KeyStore;
            let ks = verify_push::OsKeyStore::new(support::unique("dev.assent.Assent.bench"));
            let key = verify_push::SecretKeyBytes::new(vec![5; 32]);
            ks.put("key-bench", &key).expect("keychain put");
            let mut get = Vec::new();
            for _ in 0..runs.min(50) {
                let t = Instant::now();
                ks.get("key-bench").expect("keychain get");
                get.push(t.elapsed());
            }
            ks.delete("key-bench").expect("keychain delete");
            report("keychain key load (Secret Service)", get);
        }
        backend.emu.shutdown().await;
    });
}
