//! Readable default names for new accounts, and which enrolled account a payload repeats.
//!
//! A relying party's identity is often an opaque hash (Twilio advises against personal data in
//! it), so the default name is built from what a person recognises: the service's name and the
//! user's name when the payload gives them (`serviceName`, `userName`), else the website's or
//! the server's host, plus the identity only when it reads like a name.

use verify_push::{EnrollmentPayload, Factor, FriendlyName};

use crate::views::host_of;

/// The default name of the account a payload would add: "Example Bank (alice)",
/// "bank.example (alice)" or "verify.twilio.com"; never a hash, at most
/// [`FriendlyName::MAX_CHARS`] characters.
pub fn default_account_name(p: &EnrollmentPayload) -> String {
    let place = p
        .service_name
        .clone()
        .or_else(|| p.origin.as_deref().and_then(origin_host))
        .unwrap_or_else(|| host_of(&p.base_url));
    let user = p
        .user_name
        .clone()
        .or_else(|| readable_identity(p.identity.as_str()).map(str::to_owned));
    let name = match user {
        Some(u) => format!("{place} ({u})"),
        None => place,
    };
    clip(&name, FriendlyName::MAX_CHARS)
}

/// The host of a web origin (`https://bank.example:8443` → `bank.example:8443`).
fn origin_host(origin: &str) -> Option<String> {
    url::Url::parse(origin).ok().map(|u| host_of(&u))
}

/// `identity` when a person would read it as a name: short, and without a long run of hex
/// digits (a hash, a UUID, `user-<uuid>`).
pub fn readable_identity(identity: &str) -> Option<&str> {
    const MAX: usize = 40;
    const HEX_RUN: usize = 16;
    if identity.chars().count() > MAX {
        return None;
    }
    let mut run = 0;
    for c in identity.chars().filter(|&c| c != '-') {
        run = if c.is_ascii_hexdigit() { run + 1 } else { 0 };
        if run >= HEX_RUN {
            return None;
        }
    }
    Some(identity)
}

/// `s` cut to `max` characters, the cut marked with "…".
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// Whether `f` is the account that enrolling `identity` for `service_sid` at the server of
/// `base_url` would add again (same server origin, service and identity).
pub fn same_account(f: &Factor, service_sid: &str, identity: &str, base_url: &url::Url) -> bool {
    f.service_sid.as_str() == service_sid
        && f.identity.as_str() == identity
        && f.base_url.origin() == base_url.origin()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VA: &str = "VA0123456789abcdef0123456789abcdef";

    fn payload(extra: &str, identity: &str) -> EnrollmentPayload {
        format!(
            r#"{{"token":"t","serviceSid":"{VA}","identity":"{identity}","baseUrl":"http://127.0.0.1:8790/v2/"{extra}}}"#
        )
        .parse()
        .unwrap()
    }

    #[test]
    fn names_come_from_the_payload_then_the_hosts() {
        let hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let p = payload(r#","serviceName":"Assent Demo","userName":"alice""#, hash);
        assert_eq!(default_account_name(&p), "Assent Demo (alice)");
        let p = payload(r#","serviceName":"Assent Demo""#, hash);
        assert_eq!(default_account_name(&p), "Assent Demo");
        let p = payload(r#","origin":"https://bank.example""#, "alice_smith");
        assert_eq!(default_account_name(&p), "bank.example (alice_smith)");
        let p = payload("", hash);
        assert_eq!(default_account_name(&p), "127.0.0.1:8790");
        let uuid = format!("e2e-{}", "0123456789abcdef0123456789abcdef");
        assert_eq!(default_account_name(&payload("", &uuid)), "127.0.0.1:8790");
    }

    #[test]
    fn a_hash_identity_never_becomes_the_name() {
        for id in [
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "550e8400-e29b-41d4-a716-446655440000",
            "user-0123456789abcdef",
            &"a".repeat(41),
        ] {
            assert_eq!(readable_identity(id), None, "{id}");
        }
        for id in ["alice", "user-1", "bob_smith", "cafe-babe"] {
            assert_eq!(readable_identity(id), Some(id));
        }
    }

    #[test]
    fn long_names_are_clipped_to_a_valid_friendly_name() {
        let long = "S".repeat(64);
        let p = payload(
            &format!(r#","serviceName":"{long}","userName":"{long}""#),
            "alice",
        );
        let name = default_account_name(&p);
        assert_eq!(name.chars().count(), FriendlyName::MAX_CHARS);
        assert!(name.ends_with('…'));
        FriendlyName::new(&name).expect("a valid factor name");
    }
}
