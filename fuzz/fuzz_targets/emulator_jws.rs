//! The emulator's JWT/JWS parsing and signature checks (device JWT, challenge AuthPayload),
//! SPKI public keys and DER signatures. Invariant: typed `CryptoError`s, never a panic, and
//! nothing verifies under a key that did not sign it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verify_emulator::crypto::{
    decode_jws_unverified, parse_spki_b64, spki_b64_canonical, verify_der_b64, verify_jws,
};

/// SPKI of the RFC 6979 A.2.5 key that signed the seed vectors (protocol reference §13).
const SPKI: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Z5A/4QCLi8maQa6elWKLxk8vGyDC1+n1F3o8KU1EYimQ==";

static KEY: std::sync::LazyLock<Option<p256::ecdsa::VerifyingKey>> =
    std::sync::LazyLock::new(|| parse_spki_b64(SPKI).ok());

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Ok(jws) = decode_jws_unverified(&s) {
        assert!(jws.header.is_object() && jws.claims.is_object());
    }
    if let Some(key) = KEY.as_ref() {
        if let Ok(jws) = verify_jws(&s, key) {
            // Only inputs carrying the reference key's real signature can get here.
            assert_eq!(
                jws.header.get("alg").and_then(|v| v.as_str()),
                Some("ES256")
            );
        }
        // The same text as a DER signature over a fixed message, and as a public key.
        let _ = verify_der_b64(key, b"YF00000000000000000000000000000001", &s);
    }
    if let Ok(k) = parse_spki_b64(&s) {
        let canon = spki_b64_canonical(&s);
        assert!(canon.is_ok());
        let _ = k;
    }
});
