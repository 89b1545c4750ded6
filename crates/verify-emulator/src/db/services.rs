//! Service rows.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::Value;

use super::json_col;
use crate::error::ApiError;
use crate::paging::Window;

/// A Verify service; settings hold every optional field as Twilio names them in JSON.
#[derive(Clone, Debug)]
pub struct ServiceRow {
    /// Row id (paging order).
    pub id: i64,
    /// `VA…`
    pub sid: String,
    /// `friendly_name`
    pub friendly_name: String,
    /// JSON object of the remaining fields (`code_length`, `push`, `totp`, …).
    pub settings: Value,
    /// Unix seconds.
    pub date_created: i64,
    /// Unix seconds.
    pub date_updated: i64,
}

const COLS: &str = "id, sid, friendly_name, settings, date_created, date_updated";

fn from_row(r: &Row<'_>) -> rusqlite::Result<(i64, String, String, String, i64, i64)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn build(t: (i64, String, String, String, i64, i64)) -> Result<ServiceRow, ApiError> {
    Ok(ServiceRow {
        id: t.0,
        sid: t.1,
        friendly_name: t.2,
        settings: json_col(&t.3)?,
        date_created: t.4,
        date_updated: t.5,
    })
}

/// Inserts a service.
pub fn insert(conn: &Connection, s: &ServiceRow) -> Result<(), ApiError> {
    conn.execute(
        "INSERT INTO services (sid, friendly_name, settings, date_created, date_updated)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            s.sid,
            s.friendly_name,
            s.settings.to_string(),
            s.date_created,
            s.date_updated
        ],
    )?;
    Ok(())
}

/// Fetches by SID.
pub fn get(conn: &Connection, sid: &str) -> Result<Option<ServiceRow>, ApiError> {
    let t = conn
        .query_row(
            &format!("SELECT {COLS} FROM services WHERE sid = ?1"),
            [sid],
            from_row,
        )
        .optional()?;
    t.map(build).transpose()
}

/// All services, ascending.
pub fn list(conn: &Connection) -> Result<Vec<ServiceRow>, ApiError> {
    let mut st = conn.prepare(&format!("SELECT {COLS} FROM services ORDER BY id"))?;
    let rows = st.query_map([], from_row)?;
    rows.map(|r| build(r?)).collect()
}

/// One page window of the services.
pub fn list_window(conn: &Connection, w: &Window) -> Result<Vec<ServiceRow>, ApiError> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM services WHERE {} {}",
        w.filter(),
        w.tail()
    ))?;
    let rows = st.query_map([], from_row)?;
    rows.map(|r| build(r?)).collect()
}

/// Stores new name/settings.
pub fn update(conn: &Connection, s: &ServiceRow) -> Result<(), ApiError> {
    conn.execute(
        "UPDATE services SET friendly_name = ?2, settings = ?3, date_updated = ?4 WHERE sid = ?1",
        params![
            s.sid,
            s.friendly_name,
            s.settings.to_string(),
            s.date_updated
        ],
    )?;
    Ok(())
}

/// Deletes a service and everything below it.
pub fn delete_cascade(conn: &Connection, sid: &str) -> Result<bool, ApiError> {
    for t in [
        "access_tokens",
        "entities",
        "factors",
        "challenges",
        "notifications",
        "webhooks",
    ] {
        conn.execute(&format!("DELETE FROM {t} WHERE service_sid = ?1"), [sid])?;
    }
    Ok(conn.execute("DELETE FROM services WHERE sid = ?1", [sid])? > 0)
}
