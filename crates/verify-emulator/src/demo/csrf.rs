//! Cross-site request forgery defence for every state-changing demo route (any method other
//! than GET and HEAD). Three checks, all required to pass:
//!
//! 1. `Sec-Fetch-Site`, when the browser sends it, is `same-origin` or `none` (typed by the
//!    user). `same-site` is refused too: another port on localhost is the same site.
//! 2. `Origin`, when sent, is this site (`http(s)://` + the request's `Host`, which the host
//!    allowlist has already vetted); `Origin: null` is refused.
//! 3. The form field `csrf_token` is HMAC-SHA256(per-process key, the `assent_demo_csrf`
//!    cookie). Pages set the cookie (`SameSite=Strict`, `HttpOnly`) and embed the token in
//!    their forms. A page elsewhere can neither read the token nor compute it: cookies are not
//!    isolated by port, so another local site could plant a cookie, but not the matching HMAC.
//!
//! Clients without `Origin`/`Sec-Fetch-Site` (scripts, tests) pass 1 and 2 and still need 3.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::error::DemoError;
use super::html::esc;
use super::state::DemoState;

/// Name of the cookie that carries the per-browser seed.
pub const COOKIE: &str = "assent_demo_csrf";
/// Name of the hidden form field that carries the token.
pub const FIELD: &str = "csrf_token";
/// Largest demo form body read while checking the token.
const BODY_MAX: usize = 64 * 1024;

/// The token this request's forms must carry (put in the request extensions by
/// [`middleware`]).
#[derive(Clone, Debug)]
pub struct CsrfToken(String);

impl CsrfToken {
    /// The hidden `<input>` to put in every POST form.
    pub fn hidden_input(&self) -> String {
        format!(
            r#"<input type="hidden" name="{FIELD}" value="{}">"#,
            esc(&self.0)
        )
    }
}

/// Per-process secret the tokens are derived from. `Debug` never shows it.
pub struct CsrfKey([u8; 32]);

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey([redacted])")
    }
}

impl CsrfKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        CsrfKey(rand::random())
    }

    fn token_for(&self, seed: &str) -> String {
        // HMAC accepts keys of any length; this cannot fail for 32 bytes.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(b"assent-demo-csrf:");
        mac.update(seed.as_bytes());
        hex(&mac.finalize().into_bytes())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The seed from the `Cookie` header, if it has the shape we issue (64 hex digits).
fn seed_from(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Checks 1 and 2 of the module docs. `public_origin` is the configured public base URL's
/// origin: behind a reverse proxy the browser's `Origin` names it while `Host` may not.
fn check_browser_headers(headers: &HeaderMap, public_origin: &str) -> Result<(), DemoError> {
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("");
        if !matches!(site, "same-origin" | "none") {
            return Err(DemoError::Forbidden(format!(
                "cross-site request refused (Sec-Fetch-Site: {})",
                site.chars().take(40).collect::<String>()
            )));
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let origin_lc = origin.to_ascii_lowercase();
        let same = origin_lc == public_origin
            || (!host.is_empty()
                && (origin_lc == format!("http://{host}")
                    || origin_lc == format!("https://{host}")));
        if !same {
            return Err(DemoError::Forbidden(format!(
                "cross-site request refused (Origin {:?} is not this site)",
                origin.chars().take(100).collect::<String>()
            )));
        }
    }
    Ok(())
}

/// Middleware for the demo router: issues the cookie, exposes the request's [`CsrfToken`],
/// and refuses state-changing requests that fail any check.
pub async fn middleware(State(state): State<DemoState>, req: Request, next: Next) -> Response {
    let cookie_seed = seed_from(req.headers());
    let fresh = cookie_seed.is_none();
    let seed = cookie_seed.unwrap_or_else(|| hex(&rand::random::<[u8; 32]>()));
    let token = state.csrf_key().token_for(&seed);
    let req = if matches!(*req.method(), Method::GET | Method::HEAD) {
        req
    } else {
        match check_unsafe(req, fresh, &token, state.public_origin()).await {
            Ok(req) => req,
            Err(e) => return e.into_response(),
        }
    };
    let mut req = req;
    req.extensions_mut().insert(CsrfToken(token));
    let mut response = next.run(req).await;
    if fresh {
        // `Secure` only when the site is served over https: on plain-http loopback a browser
        // would drop a Secure cookie and every form would fail.
        let secure = if state.public_origin().starts_with("https://") {
            "; Secure"
        } else {
            ""
        };
        let cookie = format!("{COOKIE}={seed}; Path=/demo; HttpOnly; SameSite=Strict{secure}");
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

async fn check_unsafe(
    req: Request,
    fresh: bool,
    token: &str,
    public_origin: &str,
) -> Result<Request, DemoError> {
    check_browser_headers(req.headers(), public_origin)?;
    if fresh {
        return Err(DemoError::Forbidden(
            "missing CSRF cookie: load the page again and resubmit the form".into(),
        ));
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, BODY_MAX)
        .await
        .map_err(|_| DemoError::Input(format!("form body larger than {BODY_MAX} bytes")))?;
    let sent = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == FIELD)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    if sent.is_empty() || !ct_eq(sent.as_bytes(), token.as_bytes()) {
        return Err(DemoError::Forbidden(
            "missing or wrong CSRF token: load the page again and resubmit the form".into(),
        ));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_depend_on_key_and_seed() {
        let (a, b) = (CsrfKey::generate(), CsrfKey::generate());
        assert_eq!(a.token_for("s1"), a.token_for("s1"));
        assert_ne!(a.token_for("s1"), a.token_for("s2"));
        assert_ne!(a.token_for("s1"), b.token_for("s1"));
        assert_eq!(format!("{a:?}"), "CsrfKey([redacted])");
    }

    #[test]
    fn cookie_parsing_wants_our_shape() {
        let mut h = HeaderMap::new();
        let seed = "ab".repeat(32);
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("x=1; {COOKIE}={seed}; y=2")).unwrap(),
        );
        assert_eq!(seed_from(&h), Some(seed));
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("{COOKIE}=short")).unwrap(),
        );
        assert_eq!(seed_from(&h), None);
    }

    #[test]
    fn browser_header_rules() {
        let with = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8790"));
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_static(v));
            }
            check_browser_headers(&h, "https://verify.example.test").is_ok()
        };
        assert!(with(&[]));
        assert!(with(&[("sec-fetch-site", "same-origin")]));
        assert!(with(&[("sec-fetch-site", "none")]));
        assert!(with(&[("origin", "http://127.0.0.1:8790")]));
        assert!(!with(&[("sec-fetch-site", "cross-site")]));
        assert!(!with(&[("sec-fetch-site", "same-site")]));
        assert!(!with(&[("origin", "http://127.0.0.1:3000")]));
        assert!(!with(&[("origin", "http://evil.example")]));
        assert!(!with(&[("origin", "null")]));
        assert!(with(&[("origin", "https://verify.example.test")]));
        assert!(!with(&[("origin", "http://verify.example.test")]));
    }
}
