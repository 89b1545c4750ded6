//! Services: create, fetch (account or device JWT, as Android's internal D8), list, update,
//! delete.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::{
    int_between, json, list_page, max_chars, no_content, parse_bool, require_service, with_db,
    with_db_read, AppState,
};
use crate::auth::{self, AccountAuth, Caller, Credentials};
use crate::db::services::{self, ServiceRow};
use crate::error::ApiError;
use crate::form::Params;
use crate::paging::PageQuery;
use crate::server::App;

pub(crate) fn default_settings() -> Value {
    json!({
        "code_length": 6,
        "lookup_enabled": false,
        "psd2_enabled": false,
        "skip_sms_to_landlines": false,
        "dtmf_input_required": false,
        "tts_name": null,
        "do_not_share_warning_enabled": false,
        "custom_code_enabled": false,
        "push": {"include_date": false, "apn_credential_sid": null, "fcm_credential_sid": null},
        "totp": {"issuer": null, "time_step": 30, "code_length": 6, "skew": 1},
        "default_template_sid": null,
        "whatsapp": {"msg_service_sid": null, "from": null},
        "passkeys": {
            "relying_party": {"id": null, "name": null, "origins": null},
            "authenticator_attachment": null,
            "discoverable_credentials": null,
            "user_verification": null
        },
        "verify_event_subscription_enabled": false,
    })
}

fn set(settings: &mut Value, path: &[&str], v: Value) {
    let mut cur = settings;
    for (i, k) in path.iter().enumerate() {
        if i + 1 == path.len() {
            cur[*k] = v;
            return;
        }
        cur = &mut cur[*k];
    }
}

fn int_in(name: &str, v: &str, lo: i64, hi: i64) -> Result<Value, ApiError> {
    int_between(name, v, lo, hi).map(|n| json!(n))
}

fn credential_sid(name: &str, v: &str, prefix: &str) -> Result<Value, ApiError> {
    if crate::sid::is_sid(v, prefix) {
        Ok(json!(v))
    } else {
        Err(ApiError::invalid(format!("{name} must be a {prefix} SID")))
    }
}

/// Applies create/update form fields to a service's settings.
fn apply(settings: &mut Value, p: &Params) -> Result<(), ApiError> {
    let bools: [(&str, &[&str]); 8] = [
        ("LookupEnabled", &["lookup_enabled"]),
        ("SkipSmsToLandlines", &["skip_sms_to_landlines"]),
        ("DtmfInputRequired", &["dtmf_input_required"]),
        ("Psd2Enabled", &["psd2_enabled"]),
        (
            "DoNotShareWarningEnabled",
            &["do_not_share_warning_enabled"],
        ),
        ("CustomCodeEnabled", &["custom_code_enabled"]),
        ("Push.IncludeDate", &["push", "include_date"]),
        (
            "VerifyEventSubscriptionEnabled",
            &["verify_event_subscription_enabled"],
        ),
    ];
    for (name, path) in bools {
        if let Some(v) = p.get(name) {
            set(settings, path, json!(parse_bool(name, v)?));
        }
    }
    if let Some(v) = p.get("CodeLength") {
        set(settings, &["code_length"], int_in("CodeLength", v, 4, 10)?);
    }
    if let Some(v) = p.get("TtsName") {
        set(settings, &["tts_name"], json!(v));
    }
    if let Some(v) = p.get("Push.ApnCredentialSid") {
        set(
            settings,
            &["push", "apn_credential_sid"],
            credential_sid("Push.ApnCredentialSid", v, "CR")?,
        );
    }
    if let Some(v) = p.get("Push.FcmCredentialSid") {
        set(
            settings,
            &["push", "fcm_credential_sid"],
            credential_sid("Push.FcmCredentialSid", v, "CR")?,
        );
    }
    if let Some(v) = p.get("Totp.Issuer") {
        set(settings, &["totp", "issuer"], json!(v));
    }
    if let Some(v) = p.get("Totp.TimeStep") {
        set(
            settings,
            &["totp", "time_step"],
            int_in("Totp.TimeStep", v, 20, 60)?,
        );
    }
    if let Some(v) = p.get("Totp.CodeLength") {
        set(
            settings,
            &["totp", "code_length"],
            int_in("Totp.CodeLength", v, 3, 8)?,
        );
    }
    if let Some(v) = p.get("Totp.Skew") {
        set(settings, &["totp", "skew"], int_in("Totp.Skew", v, 0, 2)?);
    }
    if let Some(v) = p.get("DefaultTemplateSid") {
        set(
            settings,
            &["default_template_sid"],
            credential_sid("DefaultTemplateSid", v, "HJ")?,
        );
    }
    if let Some(v) = p.get("Whatsapp.MsgServiceSid") {
        set(
            settings,
            &["whatsapp", "msg_service_sid"],
            credential_sid("Whatsapp.MsgServiceSid", v, "MG")?,
        );
    }
    if let Some(v) = p.get("Whatsapp.From") {
        set(settings, &["whatsapp", "from"], json!(v));
    }
    Ok(())
}

fn friendly_name(v: &str) -> Result<String, ApiError> {
    if v.trim().is_empty() {
        return Err(ApiError::invalid("FriendlyName must not be empty"));
    }
    // The create parameter allows 32 characters (the resource text says 30); we take 32.
    max_chars("FriendlyName", v, 32)?;
    Ok(v.to_string())
}

/// Service JSON as in `verify.v2.service`.
pub fn render(app: &App, s: &ServiceRow) -> Value {
    let base = app.url(&format!("v2/Services/{}", s.sid));
    let mut v = s.settings.clone();
    if let Value::Object(m) = &mut v {
        m.insert("sid".into(), json!(s.sid));
        m.insert("account_sid".into(), json!(app.account_sid));
        m.insert("friendly_name".into(), json!(s.friendly_name));
        m.insert(
            "date_created".into(),
            json!(crate::time::fmt_ts(s.date_created)),
        );
        m.insert(
            "date_updated".into(),
            json!(crate::time::fmt_ts(s.date_updated)),
        );
        m.insert("url".into(), json!(base));
        m.insert(
            "links".into(),
            json!({
                "verification_checks": format!("{base}/VerificationCheck"),
                "verifications": format!("{base}/Verifications"),
                "rate_limits": format!("{base}/RateLimits"),
                "messaging_configurations": format!("{base}/MessagingConfigurations"),
                "entities": format!("{base}/Entities"),
                "webhooks": format!("{base}/Webhooks"),
                "access_tokens": format!("{base}/AccessTokens"),
            }),
        );
    }
    v
}

/// `POST /v2/Services`
pub async fn create(
    State(app): State<AppState>,
    _account: AccountAuth,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::parse(&body);
    let name = friendly_name(
        p.get("FriendlyName")
            .ok_or_else(|| ApiError::missing("FriendlyName"))?,
    )?;
    let mut settings = default_settings();
    apply(&mut settings, &p)?;
    let now = app.now();
    let row = ServiceRow {
        id: 0,
        sid: crate::sid::new_sid("VA"),
        friendly_name: name,
        settings,
        date_created: now,
        date_updated: now,
    };
    with_db(&app, move |a, conn| {
        services::insert(conn, &row)?;
        Ok(json(StatusCode::CREATED, render(&a, &row)))
    })
    .await
}

/// `GET /v2/Services/{sid}` (account, or device JWT of a factor in this service)
pub async fn fetch(
    State(app): State<AppState>,
    Path(sid): Path<String>,
    creds: Credentials,
) -> Result<Response, ApiError> {
    with_db_read(&app, move |a, conn| {
        let caller = auth::account_or_device(&a, conn, &creds)?;
        if let Caller::Device(f) = &caller {
            if f.service_sid != sid {
                return Err(ApiError::Unauthenticated);
            }
        }
        let s = require_service(conn, &sid)?;
        Ok(json(StatusCode::OK, render(&a, &s)))
    })
    .await
}

/// `GET /v2/Services`
pub async fn list(
    State(app): State<AppState>,
    _account: AccountAuth,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    with_db_read(&app, move |a, conn| {
        let pq = PageQuery::from_query(q.as_deref())?;
        let w = pq.window(false);
        let rows = services::list_window(conn, &w)?;
        Ok(list_page(
            "services",
            &a.url("v2/Services"),
            &[],
            &pq,
            &w,
            rows.into_iter().map(|s| (s.id, s)),
            |s| render(&a, s),
        ))
    })
    .await
}

/// `POST /v2/Services/{sid}`
pub async fn update(
    State(app): State<AppState>,
    Path(sid): Path<String>,
    _account: AccountAuth,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::parse(&body);
    with_db(&app, move |a, conn| {
        let mut s = require_service(conn, &sid)?;
        if let Some(v) = p.get("FriendlyName") {
            s.friendly_name = friendly_name(v)?;
        }
        apply(&mut s.settings, &p)?;
        s.date_updated = a.now();
        services::update(conn, &s)?;
        Ok(json(StatusCode::OK, render(&a, &s)))
    })
    .await
}

/// `DELETE /v2/Services/{sid}`
pub async fn delete(
    State(app): State<AppState>,
    Path(sid): Path<String>,
    _account: AccountAuth,
) -> Result<Response, ApiError> {
    with_db(&app, move |_, conn| {
        let tx = conn.transaction()?;
        if !services::delete_cascade(&tx, &sid)? {
            return Err(super::not_found(&format!("Services/{sid}")));
        }
        tx.commit()?;
        Ok(no_content())
    })
    .await
}
