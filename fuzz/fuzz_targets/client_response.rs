//! Every server response the client decodes. The first byte picks the decoder, the rest is the
//! body (or header value). Invariant: malformed input is a typed error (decoders: `Mapping`),
//! never a panic; whatever decodes serializes again for the UI.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verify_push::{fuzzing, ErrorCode};

/// A fixed key: signatures almost never verify, but the verify path still runs on every input.
static KEY: std::sync::LazyLock<Option<p256::ecdsa::VerifyingKey>> =
    std::sync::LazyLock::new(|| {
        p256::ecdsa::SigningKey::from_slice(&[7u8; 32])
            .ok()
            .map(|k| *k.verifying_key())
    });

fn assert_mapping(e: &verify_push::Error) {
    assert_eq!(e.code(), ErrorCode::Mapping, "{e}");
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    match sel % 7 {
        0 => {
            if let Err(e) = fuzzing::decode_factor(body) {
                assert_mapping(&e);
            }
        }
        1 => match fuzzing::decode_challenge(body) {
            Ok(c) => {
                let _ = serde_json::to_string(&c);
            }
            Err(e) => assert_mapping(&e),
        },
        2 => match fuzzing::decode_challenge_page(body) {
            Ok(p) => {
                let _ = serde_json::to_string(&p.challenges);
            }
            Err(e) => assert_mapping(&e),
        },
        3 => {
            // Error bodies never fail: they degrade to the body's first bytes.
            let status = u16::from(body.first().copied().unwrap_or(0)) + 300;
            let e = verify_push::transport::parse_api_error(status, body);
            assert_eq!(e.status, status);
            // Only a server that sent `"message": ""` gets an empty message back (the code
            // and status still say what happened).
            let sent_empty = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::is_empty))
                .unwrap_or(false);
            assert!(!e.message.is_empty() || sent_empty, "{e:?}");
        }
        4 => {
            // `Date` header (clock correction) and body timestamps.
            let s = String::from_utf8_lossy(body);
            let _ = verify_push::time::parse_http_date(&s);
            let clock = verify_push::time::Clock::default();
            let server = "https://verify.twilio.com";
            if let verify_push::time::ClockObservation::Learned(c) =
                clock.observe(server, &s, 1_700_000_000)
            {
                // Whatever the header says, no learnt correction exceeds the bound.
                assert!(c.abs() <= verify_push::time::MAX_CLOCK_OFFSET_SECS);
                assert_eq!(clock.correction(server), c);
            }
            if let Err(e) = verify_push::time::parse_date(&s) {
                assert_eq!(e.code(), ErrorCode::Input);
            }
        }
        5 => {
            let s = String::from_utf8_lossy(body);
            let _ = fuzzing::page_token(&s);
        }
        _ => {
            // A JWS as the client decodes one, and claims built from a decoded challenge.
            let s = String::from_utf8_lossy(body);
            if let Ok(jws) = verify_push::jwt::decode_jws(&s) {
                if let Some(key) = KEY.as_ref() {
                    let _ = jws.verify(key);
                }
                let fields = jws
                    .header
                    .get("fields")
                    .and_then(|v| v.as_str())
                    .unwrap_or("sid,status");
                let _ = verify_push::jwt::challenge_claims(fields, &jws.claims, "approved");
            }
        }
    }
});
