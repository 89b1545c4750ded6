//! Webhooks: create, fetch, list, update, delete (account auth).
//!
//! `WebhookMethod` (`POST` default, or `GET`) is an emulator extension: Twilio's API exposes
//! `webhook_method` in the JSON but has no documented parameter to set it.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::{
    json, list_page, max_chars, no_content, require_service, with_db, with_db_read, AppState,
};
use crate::auth::AccountAuth;
use crate::db::webhooks::{self, WebhookRow};
use crate::error::ApiError;
use crate::form::Params;
use crate::paging::PageQuery;
use crate::server::App;

const EVENT_TYPES: [&str; 6] = [
    "*",
    "factor.deleted",
    "factor.created",
    "factor.verified",
    "challenge.approved",
    "challenge.denied",
];

fn render(app: &App, w: &WebhookRow) -> Value {
    json!({
        "sid": w.sid,
        "service_sid": w.service_sid,
        "account_sid": app.account_sid,
        "friendly_name": w.friendly_name,
        "event_types": w.event_types,
        "status": w.status,
        "version": w.version,
        "webhook_url": w.webhook_url,
        "webhook_method": w.webhook_method,
        "date_created": crate::time::fmt_ts(w.date_created),
        "date_updated": crate::time::fmt_ts(w.date_updated),
        "url": app.url(&format!("v2/Services/{}/Webhooks/{}", w.service_sid, w.sid)),
    })
}

/// Applies form fields; `creating` makes FriendlyName, EventTypes and WebhookUrl required.
fn apply(w: &mut WebhookRow, p: &Params, creating: bool) -> Result<(), ApiError> {
    match p.get("FriendlyName") {
        Some(n) if n.trim().is_empty() => {
            return Err(ApiError::invalid("FriendlyName must not be empty"))
        }
        Some(n) => {
            max_chars("FriendlyName", n, 64)?;
            w.friendly_name = n.to_string();
        }
        None if creating => return Err(ApiError::missing("FriendlyName")),
        None => {}
    }
    let types = p.get_all("EventTypes");
    if !types.is_empty() {
        // Accept repeated keys (twilio-node) and a comma-separated single value.
        let mut list: Vec<String> = Vec::new();
        for t in types
            .iter()
            .flat_map(|t| t.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            if !EVENT_TYPES.contains(&t) {
                return Err(ApiError::invalid(format!(
                    "EventTypes: unknown event type {t}"
                )));
            }
            if !list.iter().any(|x| x == t) {
                list.push(t.to_string());
            }
        }
        if list.is_empty() {
            return Err(ApiError::invalid("EventTypes must not be empty"));
        }
        w.event_types = list;
    } else if creating {
        return Err(ApiError::missing("EventTypes"));
    }
    match p.get("WebhookUrl") {
        Some(u) => {
            let parsed = url::Url::parse(u)
                .map_err(|_| ApiError::invalid("WebhookUrl must be an absolute URL"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ApiError::invalid("WebhookUrl must be http or https"));
            }
            w.webhook_url = u.to_string();
        }
        None if creating => return Err(ApiError::missing("WebhookUrl")),
        None => {}
    }
    if let Some(s) = p.get("Status") {
        if !matches!(s, "enabled" | "disabled") {
            return Err(ApiError::invalid("Status must be enabled or disabled"));
        }
        w.status = s.to_string();
    }
    if let Some(v) = p.get("Version") {
        if !matches!(v, "v1" | "v2") {
            return Err(ApiError::invalid("Version must be v1 or v2"));
        }
        w.version = v.to_string();
    }
    if let Some(m) = p.get("WebhookMethod") {
        let m = m.to_ascii_uppercase();
        if !matches!(m.as_str(), "GET" | "POST") {
            return Err(ApiError::invalid("WebhookMethod must be GET or POST"));
        }
        w.webhook_method = m;
    }
    Ok(())
}

/// `POST /v2/Services/{sid}/Webhooks`
pub async fn create(
    State(app): State<AppState>,
    Path(service_sid): Path<String>,
    _account: AccountAuth,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::parse(&body);
    let now = app.now();
    let mut w = WebhookRow {
        id: 0,
        sid: crate::sid::new_sid("YW"),
        service_sid: service_sid.clone(),
        friendly_name: String::new(),
        event_types: Vec::new(),
        status: "enabled".into(),
        version: "v2".into(),
        webhook_url: String::new(),
        webhook_method: "POST".into(),
        date_created: now,
        date_updated: now,
    };
    apply(&mut w, &p, true)?;
    with_db(&app, move |a, conn| {
        require_service(conn, &service_sid)?;
        webhooks::insert(conn, &w)?;
        Ok(json(StatusCode::CREATED, render(&a, &w)))
    })
    .await
}

fn load(conn: &rusqlite::Connection, service_sid: &str, sid: &str) -> Result<WebhookRow, ApiError> {
    webhooks::get(conn, service_sid, sid)?
        .ok_or_else(|| super::not_found(&format!("Services/{service_sid}/Webhooks/{sid}")))
}

/// `GET /v2/Services/{sid}/Webhooks/{YW}`
pub async fn fetch(
    State(app): State<AppState>,
    Path((service_sid, sid)): Path<(String, String)>,
    _account: AccountAuth,
) -> Result<Response, ApiError> {
    with_db_read(&app, move |a, conn| {
        Ok(json(
            StatusCode::OK,
            render(&a, &load(conn, &service_sid, &sid)?),
        ))
    })
    .await
}

/// `POST /v2/Services/{sid}/Webhooks/{YW}`
pub async fn update(
    State(app): State<AppState>,
    Path((service_sid, sid)): Path<(String, String)>,
    _account: AccountAuth,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::parse(&body);
    with_db(&app, move |a, conn| {
        let mut w = load(conn, &service_sid, &sid)?;
        apply(&mut w, &p, false)?;
        w.date_updated = a.now();
        webhooks::update(conn, &w)?;
        Ok(json(StatusCode::OK, render(&a, &w)))
    })
    .await
}

/// `DELETE /v2/Services/{sid}/Webhooks/{YW}`
pub async fn delete(
    State(app): State<AppState>,
    Path((service_sid, sid)): Path<(String, String)>,
    _account: AccountAuth,
) -> Result<Response, ApiError> {
    with_db(&app, move |_, conn| {
        let w = load(conn, &service_sid, &sid)?;
        webhooks::delete(conn, &w.sid)?;
        Ok(no_content())
    })
    .await
}

/// `GET /v2/Services/{sid}/Webhooks`
pub async fn list(
    State(app): State<AppState>,
    Path(service_sid): Path<String>,
    _account: AccountAuth,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    with_db_read(&app, move |a, conn| {
        let pq = PageQuery::from_query(q.as_deref())?;
        require_service(conn, &service_sid)?;
        let w = pq.window(false);
        let rows = webhooks::list_window(conn, &service_sid, &w)?;
        Ok(list_page(
            "webhooks",
            &a.url(&format!("v2/Services/{service_sid}/Webhooks")),
            &[],
            &pq,
            &w,
            rows.into_iter().map(|w| (w.id, w)),
            |w| render(&a, w),
        ))
    })
    .await
}
