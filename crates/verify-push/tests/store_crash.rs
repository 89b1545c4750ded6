//! A process killed (SIGKILL) at random moments while rewriting `factors.json` must always
//! leave a store that loads, holding one whole version (old or new).
//!
//! The test binary re-invokes itself: with `VERIFY_PUSH_STORE_WRITER=<dir>` set, the
//! `store_writer_child` test becomes an endless writer.

use std::time::Duration;
use verify_push::store::{FactorStore, StoreFile, StoredFactor};
use verify_push::{Factor, FactorStatus};

const ENV: &str = "VERIFY_PUSH_STORE_WRITER";

fn factor(n: usize) -> Factor {
    Factor {
        sid: format!("YF{n:032x}").parse().unwrap(),
        friendly_name: format!("Factor number {n} with a longer name to make writes bigger"),
        account_sid: format!("AC{:032x}", 1).parse().unwrap(),
        service_sid: format!("VA{:032x}", 1).parse().unwrap(),
        identity: "user-1".parse().unwrap(),
        status: FactorStatus::Verified,
        credential_sid: format!("CR{n:032x}"),
        base_url: url::Url::parse("http://127.0.0.1:8790/v2/").unwrap(),
        created_at: chrono::Utc::now(),
        metadata: Some(verify_push::metadata([("n", n.to_string())])),
    }
}

/// Every version written satisfies `clock_corrections["n"] == factors.len()`, so a torn or
/// mixed file would be detected.
fn version(i: usize) -> StoreFile {
    let count = i % 40 + 1;
    StoreFile {
        clock_corrections: [("n".to_owned(), count as i64)].into(),
        factors: (0..count)
            .map(|n| StoredFactor {
                factor: factor(n),
                key_alias: format!("key-{n}"),
            })
            .collect(),
        ..StoreFile::default()
    }
}

#[test]
fn store_writer_child() {
    let Ok(dir) = std::env::var(ENV) else {
        return; // Only does something when re-invoked by the test below.
    };
    let store = FactorStore::open(&dir).unwrap();
    let mut i = 0usize;
    loop {
        store.save(&version(i)).unwrap();
        i += 1;
    }
}

#[test]
fn killed_writer_never_corrupts_the_store() {
    let dir = tempfile::tempdir().unwrap();
    FactorStore::open(dir.path())
        .unwrap()
        .save(&version(0))
        .unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..50 {
        let mut child = std::process::Command::new(&exe)
            .args([
                "--exact",
                "store_writer_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ENV, dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rand::random_range(5..80)));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();

        let store = FactorStore::open(dir.path()).unwrap();
        let file = store.load().expect("store loads after a kill");
        assert_eq!(file.clock_corrections["n"] as usize, file.factors.len());
        assert!(!file.factors.is_empty());
        seen.insert(file.factors.len());
        // Leftover temp files were cleaned by `open`.
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["factors.json", "factors.lock"]);
    }
    // The writer really ran: several different versions were observed.
    assert!(seen.len() > 3, "only saw {seen:?}");
}
