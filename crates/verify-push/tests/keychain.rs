//! The real OS keychain (Linux: gnome-keyring's Secret Service on the session D-Bus).
//!
//! Gated on `ASSENT_TEST_KEYRING=1`; when set these tests fail (never skip) if the Secret
//! Service is missing. Run them inside `scripts/headless.sh` or `crates/verify-push/scripts/keyring-test.sh`.
//! `secret-tool` checks independently that the key is really stored and really gone.

mod support;

use std::process::Command;
use std::sync::Arc;
use support::{unique, Backend};
use verify_push::keystore::INDEX_USER;
use verify_push::{ChallengeSid, EnrollRequest, ErrorCode, KeyStore, OsKeyStore};

/// Whether the real-keychain tests run; says so when they are skipped.
fn enabled() -> bool {
    let on = std::env::var("ASSENT_TEST_KEYRING").as_deref() == Ok("1");
    if !on {
        eprintln!("ASSENT_TEST_KEYRING is not 1: skipping the real-keychain test");
    }
    on
}

/// The secret `secret-tool lookup service S username U` finds, if any (non-empty).
fn secret_tool_lookup(service: &str, user: &str) -> Option<String> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", service, "username", user])
        .output()
        .expect("secret-tool is installed (apt-get install libsecret-tools)");
    (out.status.success() && !out.stdout.is_empty())
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `secret-tool lookup service S username U` succeeded with a non-empty secret.
fn secret_tool_has(service: &str, user: &str) -> bool {
    secret_tool_lookup(service, user).is_some()
}

/// Removes the entry behind our back, as another program (or a lost write) would.
fn secret_tool_clear(service: &str, user: &str) {
    let status = Command::new("secret-tool")
        .args(["clear", "service", service, "username", user])
        .status()
        .expect("secret-tool runs");
    assert!(status.success(), "secret-tool clear {user}: {status}");
}

/// `secret-tool search` shows the item with keyring 3's attributes.
fn secret_tool_attributes(service: &str, user: &str) -> String {
    let out = Command::new("secret-tool")
        .args(["search", "--all", "service", service, "username", user])
        .output()
        .expect("secret-tool runs");
    // Attributes go to stderr or stdout depending on the libsecret version.
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn keys_live_in_the_secret_service_and_go_away_on_delete() {
    if !enabled() {
        return;
    }
    let service = unique("dev.assent.Assent.test");
    let ks = Arc::new(OsKeyStore::new(service.clone()));
    // Fails (not skips) when there is no Secret Service.
    assert!(ks.aliases().expect("Secret Service reachable").is_empty());

    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = support::builder()
        .data_dir(dir.path())
        .key_store(ks.clone())
        .build()
        .unwrap();
    let svc = backend.create_service().await;
    let identity = unique("user");
    let payload = backend.payload(&svc, &identity).await;
    let f = client
        .enroll(EnrollRequest::new(
            payload,
            "Keyring laptop".parse().unwrap(),
        ))
        .await
        .unwrap();

    let aliases = ks.aliases().unwrap();
    assert_eq!(aliases.len(), 1);
    let alias = &aliases[0];
    assert!(secret_tool_has(&service, alias), "key is in gnome-keyring");
    let attrs = secret_tool_attributes(&service, alias);
    assert!(attrs.contains("rust-keyring"), "attributes: {attrs}");
    // The private key is nowhere in the data directory.
    let secret = ks.get(alias).unwrap().unwrap();
    assert_eq!(secret.expose().len(), 32);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(32).any(|w| w == secret.expose()));
        let b64 =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, secret.expose());
        assert!(!String::from_utf8_lossy(&bytes).contains(&b64));
    }
    drop(secret);

    // A fresh client (no cached key) signs with the key read back from the keychain.
    let fresh = support::builder()
        .data_dir(dir.path())
        .key_store(ks.clone())
        .build()
        .unwrap();
    let yc = backend.challenge(&f, "From the keychain?", None).await;
    let done = fresh
        .approve(&f.sid, &yc.parse::<ChallengeSid>().unwrap())
        .await
        .unwrap();
    assert_eq!(done.status, verify_push::ChallengeStatus::Approved);
    assert!(fresh.check_integrity().unwrap().is_clean());

    fresh.delete_factor(&f.sid).await.unwrap();
    assert!(
        !secret_tool_has(&service, alias),
        "key is gone after delete"
    );
    assert!(
        !secret_tool_has(&service, INDEX_USER),
        "empty index removed"
    );
    assert!(ks.aliases().unwrap().is_empty());
    assert!(fresh.factors().unwrap().is_empty());
}

#[test]
fn key_store_round_trip_and_orphans() {
    if !enabled() {
        return;
    }
    let service = unique("dev.assent.Assent.test");
    let ks = OsKeyStore::new(service.clone());
    let key = verify_push::SecretKeyBytes::new(vec![9u8; 32]);
    ks.put("key-a", &key).unwrap();
    ks.put("key-b", &key).unwrap();
    assert_eq!(ks.aliases().unwrap(), ["key-a", "key-b"]);
    assert_eq!(ks.get("key-a").unwrap().unwrap().expose(), key.expose());
    assert!(ks.get("key-missing").unwrap().is_none());
    assert!(secret_tool_has(&service, "key-b"));
    // An alias in the index whose entry was removed by someone else is not reported.
    secret_tool_clear(&service, "key-b");
    assert_eq!(ks.aliases().unwrap(), ["key-a"]);
    assert!(ks.delete("key-a").unwrap());
    assert!(!ks.delete("key-a").unwrap());
    assert!(!secret_tool_has(&service, "key-a"));
    // Clean the stale index entry for key-b.
    assert!(!ks.delete("key-b").unwrap());
    assert!(!secret_tool_has(&service, INDEX_USER));
}

/// The alias index as stored in the keychain, one alias a line.
fn secret_tool_index(service: &str) -> Vec<String> {
    secret_tool_lookup(service, INDEX_USER)
        .map(|s| s.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

#[test]
fn cleanup_drops_index_entries_whose_key_is_gone() {
    if !enabled() {
        return;
    }
    let service = unique("dev.assent.Assent.test");
    let ks = Arc::new(OsKeyStore::new(service.clone()));
    let key = verify_push::SecretKeyBytes::new(vec![7u8; 32]);
    for a in ["key-gone", "key-kept", "key-spare"] {
        ks.put(a, &key).unwrap();
    }
    // What a crash between the index write and the key write leaves: an alias without key.
    secret_tool_clear(&service, "key-gone");
    assert_eq!(
        secret_tool_index(&service),
        ["key-gone", "key-kept", "key-spare"]
    );

    let dir = tempfile::tempdir().unwrap();
    let client = support::builder()
        .data_dir(dir.path())
        .key_store(ks.clone())
        .build()
        .unwrap();
    // No factor refers to any key here: both real keys are orphans; the dead alias is not a
    // key, so it is not counted, but it leaves the index.
    assert_eq!(client.remove_orphan_keys().unwrap(), 2);
    assert!(ks.aliases().unwrap().is_empty());
    assert!(
        !secret_tool_has(&service, INDEX_USER),
        "index left: {:?}",
        secret_tool_index(&service)
    );

    // With a live key beside a dead alias, only the dead alias goes.
    ks.put("key-live", &key).unwrap();
    ks.put("key-dead", &key).unwrap();
    secret_tool_clear(&service, "key-dead");
    assert_eq!(ks.prune().unwrap(), 1);
    assert_eq!(secret_tool_index(&service), ["key-live"]);
    assert_eq!(ks.prune().unwrap(), 0, "nothing more to drop");
    assert!(ks.delete("key-live").unwrap());
    assert!(!secret_tool_has(&service, INDEX_USER));
}

/// Re-invoked child: with no reachable session bus the error is `KeychainUnavailable`.
#[test]
fn no_session_bus_child() {
    if std::env::var("VERIFY_PUSH_NO_BUS_CHILD").is_err() {
        return; // Only runs when re-invoked by the test below.
    }
    let ks = OsKeyStore::new("dev.assent.Assent.nobus");
    let e = ks
        .put("key-x", &verify_push::SecretKeyBytes::new(vec![1; 32]))
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::KeychainUnavailable, "{e}");
    assert!(e.to_string().contains("keychain"));
    let e = ks.get("key-x").unwrap_err();
    assert_eq!(e.code(), ErrorCode::KeychainUnavailable, "{e}");
}

#[cfg(target_os = "linux")]
#[test]
fn no_session_bus_is_keychain_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "no_session_bus_child", "--test-threads=1"])
        .env("VERIFY_PUSH_NO_BUS_CHILD", "1")
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}/no-such-bus", dir.path().display()),
        )
        .env_remove("DISPLAY")
        .status()
        .unwrap();
    assert!(status.success());
}
