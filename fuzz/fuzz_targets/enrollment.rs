//! Enrolment links and JSON payloads (`EnrollmentPayload::from_str`) and API base URLs.
//! Invariant: refusals are `Input` or `InsecureUrl`; anything accepted points at https or a
//! loopback `http://` base URL ending in `/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verify_push::{AccessToken, EnrollmentPayload, ErrorCode};

fn check_accepted(u: &url::Url) {
    let loopback = match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    assert!(
        u.scheme() == "https" || (u.scheme() == "http" && loopback),
        "accepted insecure base URL {u}"
    );
    assert!(u.path().ends_with('/'), "{u}");
}

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    match s.parse::<EnrollmentPayload>() {
        Ok(p) => {
            check_accepted(&p.base_url);
            assert!(!p.token.expose().is_empty());
            // Debug never shows the token: it renders the same whatever the token is. (A plain
            // substring check misfires when the token happens to occur inside the service SID.)
            let mut other = p.clone();
            other.token = AccessToken::new(format!("{}-other", p.token.expose()));
            assert_eq!(format!("{p:?}"), format!("{other:?}"));
        }
        Err(e) => assert!(
            matches!(e.code(), ErrorCode::Input | ErrorCode::InsecureUrl),
            "{e}"
        ),
    }
    match verify_push::parse_base_url(&s) {
        Ok(u) => check_accepted(&u),
        Err(e) => assert!(
            matches!(e.code(), ErrorCode::Input | ErrorCode::InsecureUrl),
            "{e}"
        ),
    }
});
