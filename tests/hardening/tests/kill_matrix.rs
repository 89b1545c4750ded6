//! SIGKILL matrix: a child process (`store_churn`) enrols, renames and removes factors against
//! an emulator in a loop and is killed at random points, `KILLS` times (default 100). After
//! every kill the factor store must load, and after the library's cleanup
//! (`remove_orphan_keys`) no factor may be left without its key nor a key without its factor.
//!
//! Keys live in a file-backed key store, or in the real keychain (gnome-keyring) when
//! `ASSENT_TEST_KEYRING=1` (run under `scripts/headless.sh`).

use assent_hardening::{Backend, FileKeyStore};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use verify_emulator::EmulatorConfig;
use verify_push::keystore::INDEX_USER;
use verify_push::{KeyStore, OsKeyStore, VerifyPush};

/// The alias index entry of keychain service `service`, read with `secret-tool`.
fn keychain_index(service: &str) -> Vec<String> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", service, "username", INDEX_USER])
        .output()
        .expect("secret-tool is installed (apt-get install libsecret-tools)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_never_leaves_a_factor_without_key_or_a_key_without_factor() {
    let kills: usize = std::env::var("KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let real_keyring = std::env::var("ASSENT_TEST_KEYRING").is_ok_and(|v| v == "1");
    let emu = verify_emulator::spawn(EmulatorConfig::default())
        .await
        .unwrap();
    let backend =
        Backend::new(emu.base_url().clone(), emu.account_sid(), emu.auth_token()).unwrap();
    let service = backend.create_service().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let keys_dir = tmp.path().join("keys");
    let keyring_service = format!("dev.assent.Assent.hardening-{:016x}", rand::random::<u64>());
    let keys: Arc<dyn KeyStore> = if real_keyring {
        Arc::new(OsKeyStore::new(keyring_service.clone()))
    } else {
        Arc::new(FileKeyStore::open(&keys_dir).unwrap())
    };

    let mut survived = 0usize;
    let mut orphan_keys_removed = 0usize;
    let mut max_factors = 0usize;
    let mut kills_with_factors = 0usize;
    let mut keyless: Vec<(usize, Vec<String>)> = Vec::new();
    let mut check_times: Vec<Duration> = Vec::new();
    for i in 0..kills {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_store_churn"));
        cmd.env("HARDENING_BASE", emu.base_url().as_str())
            .env("HARDENING_ACCOUNT_SID", emu.account_sid())
            .env("HARDENING_AUTH_TOKEN", emu.auth_token())
            .env("HARDENING_SERVICE", &service)
            .env("HARDENING_DATA_DIR", &data)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if real_keyring {
            cmd.env("HARDENING_KEYRING_SERVICE", &keyring_service);
        } else {
            cmd.env("HARDENING_KEYS_DIR", &keys_dir);
        }
        let mut child = cmd.spawn().unwrap();
        // D-Bus keychain calls are slower than file writes: wait longer so kills spread over
        // enrolments, renames and removals there too.
        let wait_ms = if real_keyring {
            rand::random_range(300..3000)
        } else {
            rand::random_range(30..400)
        };
        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        let exited = child.try_wait().unwrap();
        assert!(
            exited.is_none(),
            "kill {i}: the churn child exited early: {exited:?}"
        );
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let checked_from = Instant::now();

        let (d, k) = (data.clone(), keys.clone());
        let (loaded, report, removed, after) = tokio::task::spawn_blocking(move || {
            let client = VerifyPush::builder()
                .app_id("dev.assent.Hardening")
                .app("AssentHardening", "0")
                .data_dir(&d)
                .key_store(k)
                .build()
                .unwrap();
            let factors = client.factors();
            let report = client.check_integrity();
            let removed = client.remove_orphan_keys();
            let after = client.check_integrity();
            (factors, report, removed, after)
        })
        .await
        .unwrap();
        let factors = loaded.unwrap_or_else(|e| panic!("kill {i}: store does not load: {e}"));
        max_factors = max_factors.max(factors.len());
        if !factors.is_empty() {
            kills_with_factors += 1;
        }
        report.unwrap_or_else(|e| panic!("kill {i}: integrity check failed: {e}"));
        orphan_keys_removed += removed.unwrap_or_else(|e| panic!("kill {i}: cleanup failed: {e}"));
        let after = after.unwrap();
        assert!(after.keys_without_factor.is_empty(), "kill {i}: {after:?}");
        if real_keyring {
            // The cleanup also drops index entries whose key never got written: left behind,
            // they pile up over crashes and cost a keychain lookup each on every listing.
            let (k, svc) = (keys.clone(), keyring_service.clone());
            let (mut index, mut present) =
                tokio::task::spawn_blocking(move || (keychain_index(&svc), k.aliases().unwrap()))
                    .await
                    .unwrap();
            index.sort();
            present.sort();
            assert_eq!(
                index, present,
                "kill {i}: the index lists keys that are gone"
            );
        }
        check_times.push(checked_from.elapsed());
        if !after.factors_without_key.is_empty() {
            keyless.push((
                i,
                after
                    .factors_without_key
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ));
            // Keep going with a clean slate so every later kill is judged on its own.
            let (d, k) = (data.clone(), keys.clone());
            let sids = after.factors_without_key.clone();
            tokio::task::spawn_blocking(move || {
                let c = VerifyPush::builder()
                    .app_id("dev.assent.Hardening")
                    .app("AssentHardening", "0")
                    .data_dir(&d)
                    .key_store(k)
                    .build()
                    .unwrap();
                for s in sids {
                    verify_push::store::FactorStore::open(&d)
                        .unwrap()
                        .update(|f| f.remove(&s))
                        .unwrap();
                }
                drop(c);
            })
            .await
            .unwrap();
        } else {
            survived += 1;
        }
    }
    check_times.sort();
    println!(
        "kill matrix ({}): {survived}/{kills} kills left a consistent store; orphan keys cleaned {orphan_keys_removed}; {kills_with_factors} kills found factors (up to {max_factors}); factors left without key after {} kills: {keyless:?}; check after a kill: median {:?}, max {:?}",
        if real_keyring { "real keychain" } else { "file key store" },
        keyless.len(),
        check_times.get(check_times.len() / 2).copied().unwrap_or_default(),
        check_times.last().copied().unwrap_or_default(),
    );
    if real_keyring {
        let k: Arc<dyn KeyStore> = Arc::new(OsKeyStore::new(keyring_service));
        let d = data.clone();
        tokio::task::spawn_blocking(move || {
            let c = VerifyPush::builder()
                .app_id("dev.assent.Hardening")
                .app("AssentHardening", "0")
                .data_dir(&d)
                .key_store(k)
                .build()
                .unwrap();
            c.clear_local_storage().unwrap();
        })
        .await
        .unwrap();
    }
    assert!(
        keyless.is_empty(),
        "factors left without their key: {keyless:?}"
    );
    assert_eq!(survived, kills);
    emu.shutdown().await;
}
