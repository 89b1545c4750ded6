//! Factors: create (access-token auth), fetch / verify / update / delete (account, or the
//! device JWT of that factor), list (account).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::{
    entity_path, json, list_page, max_chars, no_content, require_service, string_map, with_db,
    with_db_read, AppState,
};
use crate::auth::{self, AccountAuth, Caller, Credentials};
use crate::crypto;
use crate::db::{access_tokens, entities, factors, factors::FactorRow};
use crate::error::ApiError;
use crate::form::Params;
use crate::paging::PageQuery;
use crate::server::App;
use crate::webhook_delivery::factor_params;

/// Factor JSON (`verify.v2.service.entity.factor`); `with_binding` adds the creation-only
/// `binding` and `options` (`…new_factor`).
pub fn render(app: &App, f: &FactorRow, with_binding: bool) -> Value {
    let mut v = json!({
        "sid": f.sid,
        "account_sid": app.account_sid,
        "service_sid": f.service_sid,
        "entity_sid": f.entity_sid,
        "identity": f.identity,
        "date_created": crate::time::fmt_ts(f.date_created),
        "date_updated": crate::time::fmt_ts(f.date_updated),
        "friendly_name": f.friendly_name,
        "status": f.status,
        "factor_type": f.factor_type,
        "config": f.config,
        "metadata": f.metadata,
        "url": app.url(&format!("v2/{}/Factors/{}", entity_path(&f.service_sid, &f.identity), f.sid)),
    });
    if with_binding {
        v["binding"] = json!({"public_key": f.public_key, "alg": f.alg});
        v["options"] = Value::Null;
    }
    v
}

/// Most push factors one entity may have (Twilio's 60315).
pub const MAX_FACTORS_PER_ENTITY: usize = 20;

/// Reads and checks `Config.*` (platform apn|fcm|none; token 32–255 chars unless `none`).
///
/// `Config.AppId` counts on create only: the update operation of Twilio's OpenAPI spec does not
/// list it. The SDKs still send it on update (protocol D3) and Twilio answers them, so it is
/// ignored there, not refused; the stored `app_id` never changes after create.
fn apply_config(config: &mut Value, p: &Params, creating: bool) -> Result<(), ApiError> {
    if let Some(v) = p.get("Config.SdkVersion") {
        max_chars("Config.SdkVersion", v, 64)?;
        config["sdk_version"] = json!(v);
    } else if creating {
        return Err(ApiError::missing("Config.SdkVersion"));
    }
    match p.get("Config.AppId") {
        Some(v) if creating => {
            if v.is_empty() {
                return Err(ApiError::invalid("Config.AppId must not be empty"));
            }
            max_chars("Config.AppId", v, 100)?;
            config["app_id"] = json!(v);
        }
        None if creating => return Err(ApiError::missing("Config.AppId")),
        _ => {}
    }
    if let Some(v) = p.get("Config.NotificationPlatform") {
        if !matches!(v, "apn" | "fcm" | "none") {
            return Err(ApiError::invalid(
                "Config.NotificationPlatform must be apn, fcm or none",
            ));
        }
        config["notification_platform"] = json!(v);
        if v == "none" && !p.has("Config.NotificationToken") {
            config["notification_token"] = Value::Null;
        }
    } else if creating {
        return Err(ApiError::missing("Config.NotificationPlatform"));
    }
    if let Some(v) = p.get("Config.NotificationToken") {
        let n = v.chars().count();
        if !(32..=255).contains(&n) {
            return Err(ApiError::invalid(
                "Config.NotificationToken must be 32 to 255 characters",
            ));
        }
        config["notification_token"] = json!(v);
    }
    let platform = config["notification_platform"].as_str().unwrap_or("none");
    if platform != "none" && config["notification_token"].is_null() {
        return Err(ApiError::invalid(
            "Config.NotificationToken is required unless Config.NotificationPlatform is none",
        ));
    }
    Ok(())
}

fn friendly_name(v: &str) -> Result<String, ApiError> {
    if v.trim().is_empty() {
        return Err(ApiError::invalid("FriendlyName must not be empty"));
    }
    max_chars("FriendlyName", v, 64)?;
    Ok(v.to_string())
}

/// `POST …/Entities/{identity}/Factors` with `token:<access token>`.
pub async fn create(
    State(app): State<AppState>,
    Path((service_sid, identity)): Path<(String, String)>,
    creds: Credentials,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::parse(&body);
    with_db(&app, move |a, conn| {
        let now = a.now();
        // Authenticate before validating, as Twilio does (bad token → 401 regardless of body).
        let token = auth::access_token(conn, &creds, &service_sid, &identity, now)?;
        require_service(conn, &service_sid)?;
        match p.get("FactorType") {
            Some("push") => {}
            None => return Err(ApiError::missing("FactorType")),
            Some(_) => return Err(ApiError::invalid("FactorType must be push")),
        }
        // Required by Twilio's spec even when the access token carries a factor name.
        let name = friendly_name(
            p.get("FriendlyName")
                .ok_or_else(|| ApiError::missing("FriendlyName"))?,
        )?;
        match p.get("Binding.Alg") {
            Some("ES256") => {}
            None => return Err(ApiError::missing("Binding.Alg")),
            Some(_) => return Err(ApiError::invalid("Binding.Alg must be ES256")),
        }
        let pk = p
            .get("Binding.PublicKey")
            .ok_or_else(|| ApiError::missing("Binding.PublicKey"))?;
        let public_key = crypto::spki_b64_canonical(pk).map_err(|e| {
            ApiError::invalid(format!(
                "Binding.PublicKey is not a base64 DER P-256 public key ({e})"
            ))
        })?;
        let mut config = json!({
            "sdk_version": null, "app_id": null, "notification_platform": null,
            "notification_token": null, "credential_sid": crate::sid::new_sid("CR"),
        });
        apply_config(&mut config, &p, true)?;
        let metadata = p
            .get("Metadata")
            .map(|m| string_map("Metadata", m, 1024))
            .transpose()?;

        let tx = conn.transaction()?;
        // Checked before the token is spent, so a refused enrolment can be retried with it.
        if factors::list(&tx, &service_sid, &identity, now)?.len() >= MAX_FACTORS_PER_ENTITY {
            return Err(ApiError::too_many_factors(MAX_FACTORS_PER_ENTITY));
        }
        // Single use: whoever consumes first wins; a concurrent second request gets 401.
        if !access_tokens::consume(&tx, &token.sid, now)? {
            return Err(ApiError::Unauthenticated);
        }
        let entity = entities::get_or_create(&tx, &service_sid, &identity, now)?;
        let mut f = FactorRow {
            id: 0,
            sid: crate::sid::new_sid("YF"),
            service_sid: service_sid.clone(),
            entity_sid: entity.sid,
            identity: identity.clone(),
            friendly_name: name,
            status: "unverified".into(),
            factor_type: "push".into(),
            public_key,
            alg: "ES256".into(),
            credential_sid: config["credential_sid"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            config,
            metadata,
            date_created: now,
            date_updated: now,
        };
        factors::insert(&tx, &f)?;
        tx.commit()?;
        f = factors::get(conn, &f.sid, now)?
            .ok_or_else(|| ApiError::Internal("factor vanished".into()))?;
        emit_event(&a, conn, &service_sid, "factor.created", &f)?;
        Ok(json(StatusCode::CREATED, render(&a, &f, true)))
    })
    .await
}

/// Loads the factor of the path and checks the caller may touch it.
fn load(
    a: &App,
    conn: &rusqlite::Connection,
    creds: &Credentials,
    service_sid: &str,
    identity: &str,
    sid: &str,
) -> Result<FactorRow, ApiError> {
    let caller = auth::account_or_device(a, conn, creds)?;
    if let Caller::Device(f) = &caller {
        if f.sid != sid || f.service_sid != service_sid || f.identity != identity {
            return Err(ApiError::Unauthenticated);
        }
    }
    of_entity(conn, service_sid, identity, sid, a.now())
}

/// The factor `sid` of the entity `identity` in `service_sid` alive at `now`, else 404 (an
/// unverified factor past its lifetime answers as a deleted one).
pub(super) fn of_entity(
    conn: &rusqlite::Connection,
    service_sid: &str,
    identity: &str,
    sid: &str,
    now: i64,
) -> Result<FactorRow, ApiError> {
    factors::get(conn, sid, now)?
        .filter(|f| f.service_sid == service_sid && f.identity == identity)
        .ok_or_else(|| {
            super::not_found(&format!(
                "{}/Factors/{sid}",
                entity_path(service_sid, identity)
            ))
        })
}

/// Sends the webhook `event` (`factor.created`, `factor.verified`, `factor.deleted`) for `f`.
pub(super) fn emit_event(
    a: &App,
    conn: &rusqlite::Connection,
    service_sid: &str,
    event: &str,
    f: &FactorRow,
) -> Result<(), ApiError> {
    a.hooks.emit(
        conn,
        &a.auth_token,
        service_sid,
        event,
        factor_params(&a.account_sid, f),
    )
}

/// `GET …/Factors/{YF}`
pub async fn fetch(
    State(app): State<AppState>,
    Path((service_sid, identity, sid)): Path<(String, String, String)>,
    creds: Credentials,
) -> Result<Response, ApiError> {
    with_db_read(&app, move |a, conn| {
        let f = load(&a, conn, &creds, &service_sid, &identity, &sid)?;
        Ok(json(StatusCode::OK, render(&a, &f, false)))
    })
    .await
}

/// `POST …/Factors/{YF}`: verify (`AuthPayload` = base64 DER signature of the factor SID)
/// and/or update `FriendlyName` / `Config.*`.
pub async fn update(
    State(app): State<AppState>,
    Path((service_sid, identity, sid)): Path<(String, String, String)>,
    creds: Credentials,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::parse(&body);
    with_db(&app, move |a, conn| {
        let tx = conn.transaction()?;
        let mut f = load(&a, &tx, &creds, &service_sid, &identity, &sid)?;
        let mut newly_verified = false;
        if let Some(payload) = p.get("AuthPayload") {
            if f.status == "unverified" {
                let key = crypto::parse_spki_b64(&f.public_key)
                    .map_err(|_| ApiError::Internal("stored public key unreadable".into()))?;
                crypto::verify_der_b64(&key, f.sid.as_bytes(), payload)
                    .map_err(|e| ApiError::FactorVerificationFailed(e.to_string()))?;
                f.status = "verified".into();
                newly_verified = true;
            }
        }
        if let Some(n) = p.get("FriendlyName") {
            f.friendly_name = friendly_name(n)?;
        }
        apply_config(&mut f.config, &p, false)?;
        f.date_updated = a.now();
        factors::update(&tx, &f)?;
        tx.commit()?;
        if newly_verified {
            emit_event(&a, conn, &service_sid, "factor.verified", &f)?;
        }
        Ok(json(StatusCode::OK, render(&a, &f, false)))
    })
    .await
}

/// `DELETE …/Factors/{YF}`
pub async fn delete(
    State(app): State<AppState>,
    Path((service_sid, identity, sid)): Path<(String, String, String)>,
    creds: Credentials,
) -> Result<Response, ApiError> {
    with_db(&app, move |a, conn| {
        let tx = conn.transaction()?;
        let f = load(&a, &tx, &creds, &service_sid, &identity, &sid)?;
        factors::delete_cascade(&tx, &f.sid)?;
        tx.commit()?;
        emit_event(&a, conn, &service_sid, "factor.deleted", &f)?;
        Ok(no_content())
    })
    .await
}

/// `GET …/Factors` (account auth)
pub async fn list(
    State(app): State<AppState>,
    Path((service_sid, identity)): Path<(String, String)>,
    _account: AccountAuth,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    with_db_read(&app, move |a, conn| {
        let pq = PageQuery::from_query(q.as_deref())?;
        require_service(conn, &service_sid)?;
        let w = pq.window(false);
        let rows = factors::list_window(conn, &service_sid, &identity, &w, a.now())?;
        Ok(list_page(
            "factors",
            &a.url(&format!(
                "v2/{}/Factors",
                entity_path(&service_sid, &identity)
            )),
            &[],
            &pq,
            &w,
            rows.into_iter().map(|f| (f.id, f)),
            |f| render(&a, f, false),
        ))
    })
    .await
}
