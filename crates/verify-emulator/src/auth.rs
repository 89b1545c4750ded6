//! Request authentication: account Basic auth for backend calls; `token:<x>` Basic auth for
//! device calls, where x is an access token (create factor) or an ES256 device JWT.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use rusqlite::Connection;
use serde_json::Value;

use crate::crypto;
use crate::db::access_tokens::{self, AccessTokenRow};
use crate::db::factors::{self, FactorRow};
use crate::error::ApiError;
use crate::server::App;

/// Allowed clock skew for device JWT `nbf` / `exp` against the server clock, in seconds. The
/// SDKs correct their clock from the `Date` header after a 401 and retry once, so a large
/// allowance is not needed; 60 s covers second rounding, request latency and the drift an
/// uncorrected clock builds up between two corrections.
pub const JWT_SKEW_SECS: i64 = 60;

/// Longest device JWT lifetime (`exp - nbf`) accepted, in seconds: the SDKs mint exactly 600
/// (protocol §6.2). No skew is added: both claims come from the same device clock, so the
/// difference does not depend on how far that clock is off.
pub const JWT_MAX_LIFETIME_SECS: i64 = 600;

/// Basic credentials as received. `Debug` never shows the password.
#[derive(Clone, Default)]
pub struct Credentials {
    user: Option<String>,
    pass: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("pass", &"[redacted]")
            .finish()
    }
}

impl Credentials {
    /// Reads `Authorization: Basic …`; anything else counts as no credentials.
    pub fn from_headers(h: &HeaderMap) -> Self {
        use base64::Engine;
        let Some(v) = h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return Self::default();
        };
        let v = v.trim();
        let Some((scheme, rest)) = v.split_once(' ') else {
            return Self::default();
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return Self::default();
        }
        let rest = rest.trim();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .or_else(|_| {
                base64::engine::general_purpose::STANDARD_NO_PAD.decode(rest.trim_end_matches('='))
            });
        let Ok(bytes) = decoded else {
            return Self::default();
        };
        let Ok(s) = String::from_utf8(bytes) else {
            return Self::default();
        };
        match s.split_once(':') {
            Some((u, p)) => Credentials {
                user: Some(u.to_string()),
                pass: p.to_string(),
            },
            None => Self::default(),
        }
    }

    fn device_token(&self) -> Option<&str> {
        (self.user.as_deref() == Some("token") && !self.pass.is_empty())
            .then_some(self.pass.as_str())
    }
}

/// Extractor for the request's Basic credentials (never fails; absent = empty). Device
/// routes resolve them to a [`Caller`] inside their database call, so the factor that
/// authenticates is the one the handler then reads, with no gap between the two.
impl<S: Send + Sync> FromRequestParts<S> for Credentials {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Credentials::from_headers(&parts.headers))
    }
}

/// Extractor for backend-only routes: the account SID and auth token, else 401 before the
/// body is read.
#[derive(Debug, Clone, Copy)]
pub struct AccountAuth;

impl FromRequestParts<Arc<App>> for AccountAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        require_account(app, &Credentials::from_headers(&parts.headers)).map(|()| AccountAuth)
    }
}

/// Who is calling.
#[derive(Debug)]
pub enum Caller {
    /// The account (backend) itself.
    Account,
    /// A device, proven by a JWT signed with this factor's key.
    Device(Box<FactorRow>),
}

impl Caller {
    /// The factor of a device caller.
    pub fn factor(&self) -> Option<&FactorRow> {
        match self {
            Caller::Account => None,
            Caller::Device(f) => Some(f),
        }
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    // Constant time for equal lengths; the token length is not secret.
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Backend-only routes: account SID + auth token.
pub fn require_account(app: &App, c: &Credentials) -> Result<(), ApiError> {
    match &c.user {
        Some(u) if u == &app.account_sid && ct_eq(c.pass.as_bytes(), app.auth_token.as_bytes()) => {
            Ok(())
        }
        _ => Err(ApiError::Unauthenticated),
    }
}

/// Routes the SDK also calls: account auth, or a device JWT (checked against the DB).
pub fn account_or_device(
    app: &App,
    conn: &Connection,
    c: &Credentials,
) -> Result<Caller, ApiError> {
    if require_account(app, c).is_ok() {
        return Ok(Caller::Account);
    }
    let jwt = c.device_token().ok_or(ApiError::Unauthenticated)?;
    verify_device_jwt(app, conn, jwt).map(|f| Caller::Device(Box::new(f)))
}

/// Checks a device JWT: `kid` names a factor's credential SID, the ES256 signature verifies
/// with that factor's key over the received bytes, `typ` is `JWT`, `cty` is `twilio-pba;v=1`,
/// `sub` is the account SID, `nbf`/`exp` hold within [`JWT_SKEW_SECS`], and the lifetime
/// `exp - nbf` is at most [`JWT_MAX_LIFETIME_SECS`] (a stolen long-lived JWT is refused).
pub fn verify_device_jwt(app: &App, conn: &Connection, jwt: &str) -> Result<FactorRow, ApiError> {
    let deny = |why: &str| {
        tracing::debug!(why, "device JWT refused");
        ApiError::Unauthenticated
    };
    let unverified = crypto::decode_jws_unverified(jwt).map_err(|_| deny("malformed"))?;
    let kid = unverified
        .header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or_else(|| deny("no kid"))?;
    let now = app.now();
    let factor = factors::by_credential(conn, kid, now)?.ok_or_else(|| deny("unknown kid"))?;
    let key =
        crypto::parse_spki_b64(&factor.public_key).map_err(|_| deny("stored key unreadable"))?;
    let jws = crypto::verify_jws(jwt, &key).map_err(|_| deny("bad signature"))?;
    if jws.header.get("typ").and_then(Value::as_str) != Some("JWT") {
        return Err(deny("typ"));
    }
    if jws.header.get("cty").and_then(Value::as_str) != Some("twilio-pba;v=1") {
        return Err(deny("cty"));
    }
    if jws.claims.get("sub").and_then(Value::as_str) != Some(app.account_sid.as_str()) {
        return Err(deny("sub"));
    }
    let nbf = jws
        .claims
        .get("nbf")
        .and_then(Value::as_i64)
        .ok_or_else(|| deny("no nbf"))?;
    let exp = jws
        .claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or_else(|| deny("no exp"))?;
    if nbf > now + JWT_SKEW_SECS || exp <= now - JWT_SKEW_SECS || exp < nbf {
        return Err(deny("outside nbf/exp"));
    }
    if exp - nbf > JWT_MAX_LIFETIME_SECS {
        return Err(deny("lifetime over 10 minutes"));
    }
    Ok(factor)
}

/// Create-factor auth: `token:<access token>` bound to this service and identity, unexpired
/// and unused. (Consumption happens in the caller's transaction.)
pub fn access_token(
    conn: &Connection,
    c: &Credentials,
    service_sid: &str,
    identity: &str,
    now: i64,
) -> Result<AccessTokenRow, ApiError> {
    let token = c.device_token().ok_or(ApiError::Unauthenticated)?;
    let row = access_tokens::by_token(conn, token)?.ok_or(ApiError::Unauthenticated)?;
    if row.service_sid != service_sid || row.identity != identity {
        return Err(ApiError::Unauthenticated);
    }
    if now >= row.expires_at || row.used_at.is_some() {
        return Err(ApiError::Unauthenticated);
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn parses_basic() {
        let mut h = HeaderMap::new();
        // Reference §13: base64("token:<jwt>").
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic dG9rZW46PGp3dD4="),
        );
        let c = Credentials::from_headers(&h);
        assert_eq!(c.device_token(), Some("<jwt>"));
        assert!(!format!("{c:?}").contains("jwt"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert!(Credentials::from_headers(&h).user.is_none());
        assert!(ct_eq(b"abc", b"abc") && !ct_eq(b"abc", b"abd") && !ct_eq(b"ab", b"abc"));
    }
}
