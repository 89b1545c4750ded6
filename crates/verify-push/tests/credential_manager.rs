//! The Windows Credential Manager behind `OsKeyStore` (keyring's windows-native backend).
//!
//! Windows only, and not gated: every Windows session has a Credential Manager. `make test` runs
//! this under Wine, whose advapi32 implements CredWrite/CredRead/CredDelete for generic
//! credentials, so the calls, the alias index and the error mapping run for real; whether the
//! real Windows vault behaves the same is not checked there.
#![cfg(windows)]

mod support;

use support::unique;
use verify_push::{ErrorCode, KeyStore, OsKeyStore, SecretKeyBytes};

#[test]
fn keys_round_trip_and_go_away_on_delete() {
    let ks = OsKeyStore::new(unique("dev.assent.Assent.wintest"));
    assert!(ks.aliases().expect("index readable").is_empty());
    let key = SecretKeyBytes::new((0u8..32).collect());
    ks.put("key-a", &key).expect("put");
    let got = ks.get("key-a").expect("get").expect("key present");
    assert_eq!(got.expose(), key.expose());
    assert_eq!(ks.aliases().expect("aliases"), vec!["key-a".to_owned()]);

    assert!(ks.delete("key-a").expect("delete"));
    assert!(ks.get("key-a").expect("get after delete").is_none());
    assert!(!ks.delete("key-a").expect("second delete"), "nothing left");
    assert!(ks.aliases().expect("aliases").is_empty());
}

#[test]
fn a_secret_too_big_for_a_credential_is_refused_and_the_other_keys_stay() {
    let ks = OsKeyStore::new(unique("dev.assent.Assent.wintest"));
    let good = SecretKeyBytes::new(vec![9; 32]);
    ks.put("key-good", &good).expect("put");
    // A Windows credential blob holds at most 2560 bytes.
    let huge = SecretKeyBytes::new(vec![1; 4096]);
    let e = ks.put("key-huge", &huge).expect_err("oversized secret");
    assert_eq!(e.code(), ErrorCode::KeyStorage, "{e}");
    assert!(e.to_string().contains("2560"), "{e}");
    assert!(ks.get("key-huge").expect("get").is_none());
    let still = ks.get("key-good").expect("get").expect("good key kept");
    assert_eq!(still.expose(), good.expose());
    assert_eq!(ks.aliases().expect("aliases"), vec!["key-good".to_owned()]);
    assert!(ks.delete("key-good").expect("cleanup"));
    ks.delete("key-huge").expect("cleanup of the index");
}
