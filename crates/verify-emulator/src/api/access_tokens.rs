//! Access tokens: create and fetch (account auth). The token looks like Twilio's: a compact
//! JWE with five dot-separated parts and an empty encrypted-key part (protocol §5); the
//! emulator only remembers it (service, identity, expiry, single use) and never decrypts it.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use super::{int_between, json, max_chars, require_service, required_identity, with_db, AppState};
use crate::auth::AccountAuth;
use crate::db::access_tokens::{self, AccessTokenRow};
use crate::error::ApiError;
use crate::form::Params;
use crate::server::App;

/// Default and allowed token lifetimes (OAI: 60–300 s, default 60).
pub const TTL_DEFAULT: i64 = 60;
const TTL_MIN: i64 = 60;
const TTL_MAX: i64 = 300;

fn random_b64(n: usize) -> String {
    let bytes: Vec<u8> = (0..n).map(|_| rand::random::<u8>()).collect();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A fresh JWE-shaped opaque token.
fn new_token() -> String {
    let header = URL_SAFE_NO_PAD.encode(
        br#"{"zip":"DEF","kid":"EMULATOR_local_v1","cty":"twilio-fpa;v=1","enc":"A256GCM","alg":"dir"}"#,
    );
    format!(
        "{header}..{}.{}.{}",
        random_b64(12),
        random_b64(192),
        random_b64(16)
    )
}

fn render(app: &App, t: &AccessTokenRow) -> Value {
    json!({
        "sid": t.sid,
        "account_sid": app.account_sid,
        "service_sid": t.service_sid,
        "entity_identity": t.identity,
        "factor_type": t.factor_type,
        "factor_friendly_name": t.factor_friendly_name,
        "token": t.token,
        "url": app.url(&format!("v2/Services/{}/AccessTokens/{}", t.service_sid, t.sid)),
        "ttl": t.ttl,
        "date_created": crate::time::fmt_ts(t.date_created),
    })
}

/// `POST /v2/Services/{sid}/AccessTokens`
pub async fn create(
    State(app): State<AppState>,
    Path(service_sid): Path<String>,
    _account: AccountAuth,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::parse(&body);
    // Every parameter problem of this request is Twilio's 60305.
    let (identity, friendly, ttl) = (|| {
        let identity = required_identity(&p)?;
        match p.get("FactorType") {
            None => return Err(ApiError::missing("FactorType")),
            Some("push") => {}
            Some(_) => return Err(ApiError::invalid("FactorType must be push")),
        }
        let friendly = p.get("FactorFriendlyName").map(str::to_string);
        if let Some(f) = &friendly {
            max_chars("FactorFriendlyName", f, 64)?;
        }
        let ttl = match p.get("Ttl") {
            None => TTL_DEFAULT,
            Some(v) => int_between("Ttl", v, TTL_MIN, TTL_MAX)?,
        };
        Ok((identity, friendly, ttl))
    })()
    .map_err(ApiError::access_token)?;
    with_db(&app, move |a, conn| {
        require_service(conn, &service_sid)?;
        let now = a.now();
        let row = AccessTokenRow {
            sid: crate::sid::new_sid("YK"),
            service_sid,
            identity,
            factor_type: "push".into(),
            factor_friendly_name: friendly,
            token: new_token(),
            ttl,
            date_created: now,
            expires_at: now + ttl,
            used_at: None,
        };
        access_tokens::insert(conn, &row)?;
        Ok(json(StatusCode::CREATED, render(&a, &row)))
    })
    .await
}

/// `GET /v2/Services/{sid}/AccessTokens/{YK}`
pub async fn fetch(
    State(app): State<AppState>,
    Path((service_sid, sid)): Path<(String, String)>,
    _account: AccountAuth,
) -> Result<Response, ApiError> {
    with_db(&app, move |a, conn| {
        let t = access_tokens::get(conn, &service_sid, &sid)?.ok_or_else(|| {
            super::not_found(&format!("Services/{service_sid}/AccessTokens/{sid}"))
        })?;
        Ok(json(StatusCode::OK, render(&a, &t)))
    })
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn token_looks_like_a_jwe() {
        let t = super::new_token();
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 5);
        assert!(parts[1].is_empty());
        assert_ne!(t, super::new_token());
    }
}
