//! Challenges: create and list (account; list also with the device JWT, limited to that
//! factor), fetch (sends `Twilio-Verify-Signature-Fields`) and update (approve/deny with a
//! signed `AuthPayload`).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::{
    entity_path, json, list_page, require_service, string_map, with_db, with_db_read, AppState,
};
use crate::auth::{self, AccountAuth, Caller, Credentials};
use crate::crypto;
use crate::db::challenges::{self, ChallengeRow};
use crate::db::factors::{self, FactorRow};
use crate::error::ApiError;
use crate::form::Params;
use crate::paging::PageQuery;
use crate::server::App;
use crate::webhook_delivery::challenge_params;

/// Name of the response header listing the fields the device must sign.
pub const SIGNATURE_FIELDS_HEADER: &str = "Twilio-Verify-Signature-Fields";
/// The default list sent on fetch. `status` is listed because the SDKs overwrite it with the
/// new status; it is therefore not compared against the stored value.
pub const SIGNATURE_FIELDS: &str =
    "sid,factor_sid,details,hidden_details,expiration_date,date_created,status";
/// Top-level challenge fields that may be listed: those that do not change while the
/// challenge is pending.
pub const SIGNABLE_FIELDS: &[&str] = &[
    "sid",
    "account_sid",
    "service_sid",
    "entity_sid",
    "identity",
    "factor_sid",
    "date_created",
    "date_updated",
    "expiration_date",
    "status",
    "responded_reason",
    "details",
    "hidden_details",
    "factor_type",
];

/// Validates a configured signature-field list: known signable names, no repeats, `sid`
/// included (it binds the signature to this challenge). Returns it without blanks.
pub fn check_signature_fields(list: &str) -> Result<String, ApiError> {
    let names: Vec<&str> = list.split(',').map(str::trim).collect();
    for (i, n) in names.iter().enumerate() {
        if !SIGNABLE_FIELDS.contains(n) {
            return Err(ApiError::invalid(format!(
                "SignatureFields: {n:?} is not one of {}",
                SIGNABLE_FIELDS.join(",")
            )));
        }
        if names[..i].contains(n) {
            return Err(ApiError::invalid(format!(
                "SignatureFields: {n:?} is listed twice"
            )));
        }
    }
    if !names.contains(&"sid") {
        return Err(ApiError::invalid("SignatureFields must include sid"));
    }
    Ok(names.join(","))
}

/// A random order and subset (at least three fields, always `sid`) of [`SIGNABLE_FIELDS`].
fn random_signature_fields() -> String {
    use rand::seq::SliceRandom;
    let mut rng = rand::rng();
    let mut names: Vec<&str> = SIGNABLE_FIELDS.to_vec();
    names.shuffle(&mut rng);
    let keep = rand::Rng::random_range(&mut rng, 3..=names.len());
    names.truncate(keep);
    if !names.contains(&"sid") {
        let at = rand::Rng::random_range(&mut rng, 0..=names.len());
        names.insert(at, "sid");
    }
    names.join(",")
}

/// How a new challenge's answer is checked, under the current faults.
struct SignaturePolicy {
    fields: String,
    exact_set: bool,
    strict_order: bool,
}

fn signature_policy_for_new(f: &crate::faults::Faults) -> SignaturePolicy {
    let (fields, exact_set) = if f.vary_signature_fields {
        (random_signature_fields(), true)
    } else if let Some(list) = &f.signature_fields {
        (list.clone(), true)
    } else {
        (SIGNATURE_FIELDS.to_string(), false)
    };
    SignaturePolicy {
        fields,
        exact_set,
        strict_order: f.strict_signature_order,
    }
}

/// Default lifetime of a challenge (5 min) and the longest allowed (60 min).
pub const EXPIRY_DEFAULT_SECS: i64 = 300;
const EXPIRY_MAX_SECS: i64 = 3600;
const MESSAGE_MAX: usize = 256;
const FIELDS_MAX: usize = 20;
const LABEL_MAX: usize = 36;
const VALUE_MAX: usize = 128;
const HIDDEN_MAX: usize = 1024;
const AUTH_PAYLOAD_MAX: usize = 5456;

/// Challenge JSON (`verify.v2.service.entity.challenge`).
pub fn render(app: &App, c: &ChallengeRow) -> Value {
    let url = app.url(&format!(
        "v2/{}/Challenges/{}",
        entity_path(&c.service_sid, &c.identity),
        c.sid
    ));
    json!({
        "sid": c.sid,
        "account_sid": app.account_sid,
        "service_sid": c.service_sid,
        "entity_sid": c.entity_sid,
        "identity": c.identity,
        "factor_sid": c.factor_sid,
        "date_created": crate::time::fmt_ts(c.date_created),
        "date_updated": crate::time::fmt_ts(c.date_updated),
        "date_responded": c.date_responded.map(crate::time::fmt_ts),
        "expiration_date": crate::time::fmt_ts(c.expiration_date),
        "status": c.status,
        "responded_reason": c.responded_reason,
        "details": c.details,
        "hidden_details": c.hidden_details,
        "metadata": c.metadata,
        "factor_type": "push",
        "url": url,
        "links": {"notifications": format!("{url}/Notifications")},
    })
}

fn parse_fields(raw: Vec<&str>) -> Result<Vec<Value>, ApiError> {
    if raw.len() > FIELDS_MAX {
        return Err(ApiError::details(format!(
            "Details.Fields allows at most {FIELDS_MAX} fields"
        )));
    }
    raw.into_iter()
        .map(|s| {
            let v: Value = serde_json::from_str(s).map_err(|_| {
                ApiError::details("Each Details.Fields entry must be a JSON object")
            })?;
            let label = v.get("label").and_then(Value::as_str);
            let value = v.get("value").and_then(Value::as_str);
            match (label, value) {
                (Some(l), Some(val)) => {
                    if l.is_empty() || l.chars().count() > LABEL_MAX {
                        return Err(ApiError::details(format!(
                            "Details.Fields label must be 1-{LABEL_MAX} characters"
                        )));
                    }
                    if val.chars().count() > VALUE_MAX {
                        return Err(ApiError::details(format!(
                            "Details.Fields value must be at most {VALUE_MAX} characters"
                        )));
                    }
                    Ok(json!({"label": l, "value": val}))
                }
                _ => Err(ApiError::details(
                    "Each Details.Fields entry needs string label and value",
                )),
            }
        })
        .collect()
}

/// `POST …/Entities/{identity}/Challenges`
pub async fn create(
    State(app): State<AppState>,
    Path((service_sid, identity)): Path<(String, String)>,
    _account: AccountAuth,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::parse(&body);
    let factor_sid = p.get("FactorSid").map(str::to_string).unwrap_or_default();
    if !crate::sid::is_sid(&factor_sid, "YF") {
        return Err(ApiError::BadRequest {
            code: 60362,
            message: "FactorSid is invalid or not provided".into(),
        });
    }
    let message = p.get("Details.Message").unwrap_or_default().to_string();
    if message.trim().is_empty() {
        return Err(ApiError::details(
            "Details.Message is required for push challenges",
        ));
    }
    if message.chars().count() > MESSAGE_MAX {
        return Err(ApiError::details(format!(
            "Details.Message must be at most {MESSAGE_MAX} characters"
        )));
    }
    let fields = parse_fields(p.get_all("Details.Fields"))?;
    let hidden = p
        .get("HiddenDetails")
        .map(|h| string_map("HiddenDetails", h, HIDDEN_MAX))
        .transpose()?;
    let expiration = p.get("ExpirationDate").map(str::to_string);
    with_db(&app, move |a, conn| {
        let service = require_service(conn, &service_sid)?;
        let now = a.now();
        let expiration_date = match &expiration {
            None => now + EXPIRY_DEFAULT_SECS,
            Some(s) => {
                let t = crate::time::parse_ts(s).ok_or_else(|| {
                    ApiError::invalid("ExpirationDate must be an ISO 8601 date-time")
                })?;
                if t <= now || t > now + EXPIRY_MAX_SECS {
                    return Err(ApiError::invalid(
                        "ExpirationDate must be in the future and at most 60 minutes away",
                    ));
                }
                t
            }
        };
        let f = super::factors::of_entity(conn, &service_sid, &identity, &factor_sid, now)?;
        if f.status != "verified" {
            return Err(ApiError::FactorNotVerified);
        }
        let policy = signature_policy_for_new(&a.faults());
        let mut details = json!({"message": message, "fields": fields});
        // `details.date` only when the service asks for it (Push.IncludeDate).
        if service.settings["push"]["include_date"].as_bool() == Some(true) {
            details["date"] = json!(crate::time::fmt_ts(now));
        }
        let c = ChallengeRow {
            id: 0,
            sid: crate::sid::new_sid("YC"),
            service_sid: service_sid.clone(),
            entity_sid: f.entity_sid.clone(),
            identity: identity.clone(),
            factor_sid: f.sid.clone(),
            date_created: now,
            date_updated: now,
            date_responded: None,
            expiration_date,
            status: "pending".into(),
            responded_reason: "none".into(),
            details,
            hidden_details: hidden,
            metadata: None,
            signature_fields: policy.fields,
            signature_exact_set: policy.exact_set,
            signature_order_strict: policy.strict_order,
        };
        challenges::insert(conn, &c)?;
        Ok(json(StatusCode::CREATED, render(&a, &c)))
    })
    .await
}

/// Loads the challenge of the path for `caller`, its status settled to now.
fn load(
    a: &App,
    conn: &rusqlite::Connection,
    caller: &Caller,
    service_sid: &str,
    identity: &str,
    sid: &str,
) -> Result<ChallengeRow, ApiError> {
    if let Some(f) = caller.factor() {
        if f.service_sid != service_sid || f.identity != identity {
            return Err(ApiError::Unauthenticated);
        }
    }
    let now = a.now();
    let c = challenges::get(conn, sid)?
        .map(|c| c.settled(now))
        .filter(|c| c.service_sid == service_sid && c.identity == identity)
        .ok_or_else(|| {
            super::not_found(&format!(
                "{}/Challenges/{sid}",
                entity_path(service_sid, identity)
            ))
        })?;
    if let Some(f) = caller.factor() {
        // A device may only see its own factor's challenges.
        if c.factor_sid != f.sid {
            return Err(ApiError::Unauthenticated);
        }
    }
    Ok(c)
}

fn with_signature_fields(mut r: Response, c: &ChallengeRow) -> Result<Response, ApiError> {
    let v = HeaderValue::from_str(&c.signature_fields)
        .map_err(|_| ApiError::Internal("stored signature fields are not a header value".into()))?;
    r.headers_mut().insert(SIGNATURE_FIELDS_HEADER, v);
    Ok(r)
}

/// `GET …/Challenges/{YC}`
pub async fn fetch(
    State(app): State<AppState>,
    Path((service_sid, identity, sid)): Path<(String, String, String)>,
    creds: Credentials,
) -> Result<Response, ApiError> {
    with_db_read(&app, move |a, conn| {
        let caller = auth::account_or_device(&a, conn, &creds)?;
        let c = load(&a, conn, &caller, &service_sid, &identity, &sid)?;
        with_signature_fields(json(StatusCode::OK, render(&a, &c)), &c)
    })
    .await
}

/// `GET …/Challenges` (filters `FactorSid`, `Status`, `Order`; paging)
pub async fn list(
    State(app): State<AppState>,
    Path((service_sid, identity)): Path<(String, String)>,
    creds: Credentials,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.unwrap_or_default().as_bytes());
    let pq = PageQuery::parse(&p)?;
    let status = p.get("Status").map(str::to_string);
    if let Some(s) = &status {
        if !matches!(s.as_str(), "pending" | "expired" | "approved" | "denied") {
            return Err(ApiError::invalid(
                "Status must be pending, expired, approved or denied",
            ));
        }
    }
    let desc = match p.get("Order") {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(ApiError::invalid("Order must be asc or desc")),
    };
    let factor_filter = p.get("FactorSid").map(str::to_string);
    with_db_read(&app, move |a, conn| {
        let caller = auth::account_or_device(&a, conn, &creds)?;
        let factor_sid = match caller.factor() {
            Some(f) => {
                if f.service_sid != service_sid || f.identity != identity {
                    return Err(ApiError::Unauthenticated);
                }
                if factor_filter.as_deref().is_some_and(|x| x != f.sid) {
                    return Err(ApiError::Unauthenticated);
                }
                Some(f.sid.clone())
            }
            None => factor_filter.clone(),
        };
        require_service(conn, &service_sid)?;
        let w = pq.window(desc);
        let rows = challenges::list_window(
            conn,
            &service_sid,
            &identity,
            factor_sid.as_deref(),
            status.as_deref(),
            a.now(),
            &w,
        )?;
        let mut filters: Vec<(&str, String)> = Vec::new();
        if let Some(f) = &factor_filter {
            filters.push(("FactorSid", f.clone()));
        }
        if let Some(s) = &status {
            filters.push(("Status", s.clone()));
        }
        if desc {
            filters.push(("Order", "desc".into()));
        }
        Ok(list_page(
            "challenges",
            &a.url(&format!(
                "v2/{}/Challenges",
                entity_path(&service_sid, &identity)
            )),
            &filters,
            &pq,
            &w,
            rows.into_iter().map(|c| (c.id, c)),
            |c| render(&a, c),
        ))
    })
    .await
}

/// The claim names of a JWS payload in the order they appear (duplicates kept).
fn claim_order(payload: &str) -> Option<Vec<String>> {
    use base64::Engine;
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
            let mut keys = Vec::new();
            while let Some(k) = m.next_key::<String>()? {
                m.next_value::<IgnoredAny>()?;
                keys.push(k);
            }
            Ok(keys)
        }
    }
    let part = payload.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .ok()?;
    serde_json::Deserializer::from_slice(&bytes)
        .deserialize_map(Keys)
        .ok()
}

/// Checks the JWS `AuthPayload` for `c`: signed by `f`'s key, `status` approved|denied, and
/// every signature field (except `status`) semantically equal to the stored JSON value. When
/// the challenge asks for it, the claims must also be exactly the listed fields plus `status`
/// (`signature_exact_set`) and in the listed order, `status` in place or else last, as the
/// SDKs build them (`signature_order_strict`).
fn check_payload(
    app: &App,
    f: &FactorRow,
    c: &ChallengeRow,
    payload: &str,
) -> Result<String, ApiError> {
    let key = crypto::parse_spki_b64(&f.public_key)
        .map_err(|_| ApiError::Internal("stored public key unreadable".into()))?;
    let jws = crypto::verify_jws(payload, &key)
        .map_err(|e| ApiError::ChallengeVerificationFailed(e.to_string()))?;
    let status = jws
        .claims
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if !matches!(status.as_str(), "approved" | "denied") {
        return Err(ApiError::ChallengeVerificationFailed(
            "status must be approved or denied".into(),
        ));
    }
    let mut want: Vec<&str> = c.signature_fields.split(',').collect();
    if !want.contains(&"status") {
        want.push("status");
    }
    let got = claim_order(payload).unwrap_or_default();
    if c.signature_exact_set {
        let (mut w, mut g) = (want.clone(), got.clone());
        w.sort_unstable();
        g.sort_unstable();
        if g != w {
            return Err(ApiError::ChallengeVerificationFailed(format!(
                "signed claims {} are not the fields of {SIGNATURE_FIELDS_HEADER} ({}) plus status",
                got.join(","),
                c.signature_fields
            )));
        }
    }
    if c.signature_order_strict && got != want {
        return Err(ApiError::ChallengeVerificationFailed(format!(
            "signed claims {} are not in the order of {SIGNATURE_FIELDS_HEADER} ({})",
            got.join(","),
            c.signature_fields
        )));
    }
    let expected = render(app, c);
    for field in c.signature_fields.split(',').filter(|f| *f != "status") {
        let got = jws.claims.get(field).unwrap_or(&Value::Null);
        if got != expected.get(field).unwrap_or(&Value::Null) {
            return Err(ApiError::ChallengeVerificationFailed(format!(
                "signed {field} does not match the challenge"
            )));
        }
    }
    Ok(status)
}

/// Longest `Metadata` on a challenge answer (the spec's limit).
const METADATA_MAX: usize = 1024;

/// `POST …/Challenges/{YC}` with `AuthPayload` (compact JWS ES256) and optional `Metadata`
/// (stringified JSON object of string values, kept on the challenge and sent with the
/// `challenge.approved`/`challenge.denied` webhook).
pub async fn update(
    State(app): State<AppState>,
    Path((service_sid, identity, sid)): Path<(String, String, String)>,
    creds: Credentials,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::parse(&body);
    with_db(&app, move |a, conn| {
        let caller = auth::account_or_device(&a, conn, &creds)?;
        let payload = p
            .get("AuthPayload")
            .ok_or_else(|| ApiError::missing("AuthPayload"))?
            .to_string();
        if payload.len() > AUTH_PAYLOAD_MAX {
            return Err(ApiError::invalid(format!(
                "AuthPayload must be at most {AUTH_PAYLOAD_MAX} characters"
            )));
        }
        // Checked before anything changes: a refused answer leaves the challenge pending.
        let metadata = p
            .get("Metadata")
            .map(|m| string_map("Metadata", m, METADATA_MAX))
            .transpose()?;
        let tx = conn.transaction()?;
        let c = load(&a, &tx, &caller, &service_sid, &identity, &sid)?;
        let f = factors::get(&tx, &c.factor_sid, a.now())?
            .ok_or_else(|| ApiError::Internal("challenge without factor".into()))?;
        if f.status != "verified" {
            return Err(ApiError::FactorNotVerified);
        }
        match c.status.as_str() {
            "pending" => {}
            "expired" => return Err(ApiError::ChallengeExpired),
            other => return Err(ApiError::ChallengeAlreadyResponded(other.to_string())),
        }
        let status = check_payload(&a, &f, &c, &payload)?;
        // Check-and-set: exactly one concurrent answer can move it off `pending`.
        if !challenges::answer(&tx, &c.sid, &status, metadata.as_ref(), a.now())? {
            let now = challenges::get(&tx, &c.sid)?.map(|c| c.status);
            return Err(ApiError::ChallengeAlreadyResponded(
                now.unwrap_or_else(|| "unknown".into()),
            ));
        }
        let c = challenges::get(&tx, &c.sid)?
            .ok_or_else(|| ApiError::Internal("challenge vanished".into()))?;
        tx.commit()?;
        let event = format!("challenge.{status}");
        a.hooks.emit(
            conn,
            &a.auth_token,
            &service_sid,
            &event,
            challenge_params(&a.account_sid, &f, &c),
        )?;
        Ok(json(StatusCode::OK, render(&a, &c)))
    })
    .await
}
