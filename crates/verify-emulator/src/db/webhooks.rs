//! Webhook rows.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::error::ApiError;
use crate::paging::Window;

/// A webhook subscription of a service.
#[derive(Clone, Debug)]
pub struct WebhookRow {
    /// Row id (paging order).
    pub id: i64,
    /// `YW…`
    pub sid: String,
    /// Owning service.
    pub service_sid: String,
    /// Name.
    pub friendly_name: String,
    /// Subscribed event types (`*` = all).
    pub event_types: Vec<String>,
    /// `enabled` | `disabled`.
    pub status: String,
    /// `v1` | `v2`.
    pub version: String,
    /// Target URL.
    pub webhook_url: String,
    /// `POST` | `GET`.
    pub webhook_method: String,
    /// Unix seconds.
    pub date_created: i64,
    /// Unix seconds.
    pub date_updated: i64,
}

impl WebhookRow {
    /// Whether this subscription wants `event`.
    pub fn wants(&self, event: &str) -> bool {
        self.status == "enabled" && self.event_types.iter().any(|t| t == "*" || t == event)
    }
}

const COLS: &str = "id, sid, service_sid, friendly_name, event_types, status, version, webhook_url, webhook_method, date_created, date_updated";

fn from_row(r: &Row<'_>) -> rusqlite::Result<(WebhookRow, String)> {
    Ok((
        WebhookRow {
            id: r.get(0)?,
            sid: r.get(1)?,
            service_sid: r.get(2)?,
            friendly_name: r.get(3)?,
            event_types: Vec::new(),
            status: r.get(5)?,
            version: r.get(6)?,
            webhook_url: r.get(7)?,
            webhook_method: r.get(8)?,
            date_created: r.get(9)?,
            date_updated: r.get(10)?,
        },
        r.get(4)?,
    ))
}

fn build((mut w, types): (WebhookRow, String)) -> Result<WebhookRow, ApiError> {
    w.event_types = serde_json::from_str(&types)?;
    Ok(w)
}

/// Inserts a webhook.
pub fn insert(conn: &Connection, w: &WebhookRow) -> Result<(), ApiError> {
    conn.execute(
        "INSERT INTO webhooks (sid, service_sid, friendly_name, event_types, status, version, webhook_url,
            webhook_method, date_created, date_updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            w.sid,
            w.service_sid,
            w.friendly_name,
            serde_json::to_string(&w.event_types)?,
            w.status,
            w.version,
            w.webhook_url,
            w.webhook_method,
            w.date_created,
            w.date_updated
        ],
    )?;
    Ok(())
}

/// Fetches by SID within a service.
pub fn get(
    conn: &Connection,
    service_sid: &str,
    sid: &str,
) -> Result<Option<WebhookRow>, ApiError> {
    conn.query_row(
        &format!("SELECT {COLS} FROM webhooks WHERE sid = ?1 AND service_sid = ?2"),
        [sid, service_sid],
        from_row,
    )
    .optional()?
    .map(build)
    .transpose()
}

/// Webhooks of a service, ascending.
pub fn list(conn: &Connection, service_sid: &str) -> Result<Vec<WebhookRow>, ApiError> {
    let mut st = conn.prepare(&format!(
        "SELECT {COLS} FROM webhooks WHERE service_sid = ?1 ORDER BY id"
    ))?;
    let rows = st.query_map([service_sid], from_row)?;
    rows.map(|r| build(r?)).collect()
}

/// One page window of a service's webhooks.
pub fn list_window(
    conn: &Connection,
    service_sid: &str,
    w: &Window,
) -> Result<Vec<WebhookRow>, ApiError> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM webhooks WHERE service_sid = ?1 AND {} {}",
        w.filter(),
        w.tail()
    ))?;
    let rows = st.query_map([service_sid], from_row)?;
    rows.map(|r| build(r?)).collect()
}

/// Stores mutable fields.
pub fn update(conn: &Connection, w: &WebhookRow) -> Result<(), ApiError> {
    conn.execute(
        "UPDATE webhooks SET friendly_name = ?2, event_types = ?3, status = ?4, version = ?5, webhook_url = ?6,
            webhook_method = ?7, date_updated = ?8 WHERE sid = ?1",
        params![
            w.sid,
            w.friendly_name,
            serde_json::to_string(&w.event_types)?,
            w.status,
            w.version,
            w.webhook_url,
            w.webhook_method,
            w.date_updated
        ],
    )?;
    Ok(())
}

/// Deletes a webhook.
pub fn delete(conn: &Connection, sid: &str) -> Result<bool, ApiError> {
    Ok(conn.execute("DELETE FROM webhooks WHERE sid = ?1", [sid])? > 0)
}
