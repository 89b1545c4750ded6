//! Page handlers, one file per flow, plus the input checks they share.

pub mod enroll;
pub mod requests;
pub mod signin;
pub mod users;

use axum::http::header;
use axum::response::IntoResponse;
use sha2::{Digest, Sha256};

use super::error::DemoError;
use super::html;

/// `GET /static/style.css`
pub async fn static_css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        html::STYLE_CSS,
    )
}

/// `GET /static/silent.js`
pub async fn static_silent_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        html::SILENT_JS,
    )
}

/// `GET /static/copy.js`
pub async fn static_copy_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        html::COPY_JS,
    )
}

/// Unknown demo paths: a demo-styled 404 with the same security headers.
pub async fn not_found(uri: axum::http::Uri) -> DemoError {
    DemoError::NotFound(format!("no demo page at {}", uri.path()))
}

/// Identity for a username: hex SHA-256, as in Twilio's sample backends (64 chars, no PII).
pub fn identity_for(username: &str) -> String {
    Sha256::digest(username.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Twilio's identity rule: 8–64 dash-separated alphanumerics. Checked before it goes into a
/// URL path so a crafted query cannot reach other API routes.
pub fn check_identity(identity: &str) -> Result<(), DemoError> {
    let ok = (8..=64).contains(&identity.len())
        && identity
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(DemoError::Input(
            "identity must be 8 to 64 letters, digits or dashes".into(),
        ))
    }
}

/// A Twilio SID: the two-letter `prefix` and 32 hex digits.
pub fn check_sid(sid: &str, prefix: &str) -> Result<(), DemoError> {
    let ok = sid.len() == 34
        && sid.starts_with(prefix)
        && sid[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if ok {
        Ok(())
    } else {
        Err(DemoError::Input(format!(
            "{prefix} SID must be {prefix} followed by 32 hex digits"
        )))
    }
}

/// How a user is shown: the name this process knows, else a shortened identity.
pub fn display_name(known: Option<String>, identity: &str) -> String {
    known.unwrap_or_else(|| format!("user {}…", identity.chars().take(12).collect::<String>()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_hex_sha256() {
        assert_eq!(
            identity_for("alice"),
            "2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90"
        );
        assert!(check_identity(&identity_for("bob")).is_ok());
    }

    #[test]
    fn rejects_path_tricks() {
        assert!(check_identity("../../Services").is_err());
        assert!(check_identity("short").is_err());
        assert!(check_sid("YC0123456789abcdef0123456789abcdef", "YC").is_ok());
        assert!(check_sid("YC0123456789abcdef0123456789abcde/", "YC").is_err());
        assert!(check_sid("YF0123456789abcdef0123456789abcdef", "YC").is_err());
    }
}
