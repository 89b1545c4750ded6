//! The emulator's tolerant form parser (bodies and query strings), its strict base64 and the
//! `Authorization: Basic` reader. Invariant: no panic; every pair parsed is reachable by name;
//! whatever base64 decodes re-encodes to the same text (standard, padded, nothing else).
#![no_main]

use libfuzzer_sys::fuzz_target;
use verify_emulator::auth::Credentials;
use base64::Engine as _;
use verify_emulator::form::{decode_b64_standard, Params};

fuzz_target!(|data: &[u8]| {
    let p = Params::parse(data);
    for (k, _) in form_urlencoded::parse(data) {
        assert!(p.has(&k));
        assert!(p.get(&k).is_some());
        assert!(!p.get_all(&k).is_empty());
    }
    let _ = p.get_any(&["PageToken", "pageToken"]);
    let s = String::from_utf8_lossy(data);
    if let Some(bytes) = decode_b64_standard(&s) {
        assert_eq!(base64::engine::general_purpose::STANDARD.encode(bytes), s);
    }
    if let Ok(v) = axum::http::HeaderValue::from_bytes(data) {
        let mut h = axum::http::HeaderMap::new();
        h.insert(axum::http::header::AUTHORIZATION, v);
        let c = Credentials::from_headers(&h);
        // Debug must not leak the password part.
        let _ = format!("{c:?}");
    }
});
