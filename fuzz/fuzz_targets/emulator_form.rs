//! The emulator's tolerant form parser (bodies and query strings), its lenient base64 and the
//! `Authorization: Basic` reader. Invariant: no panic; every pair parsed is reachable by name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verify_emulator::auth::Credentials;
use verify_emulator::form::{decode_b64_lenient, Params};

fuzz_target!(|data: &[u8]| {
    let p = Params::parse(data);
    for (k, _) in form_urlencoded::parse(data) {
        assert!(p.has(&k));
        assert!(p.get(&k).is_some());
        assert!(!p.get_all(&k).is_empty());
    }
    let _ = p.get_any(&["PageToken", "pageToken"]);
    let s = String::from_utf8_lossy(data);
    let _ = decode_b64_lenient(&s);
    if let Ok(v) = axum::http::HeaderValue::from_bytes(data) {
        let mut h = axum::http::HeaderMap::new();
        h.insert(axum::http::header::AUTHORIZATION, v);
        let c = Credentials::from_headers(&h);
        // Debug must not leak the password part.
        let _ = format!("{c:?}");
    }
});
