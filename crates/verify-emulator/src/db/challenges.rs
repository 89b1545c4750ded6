//! Challenge rows. Expiry is lazy and per row: a pending challenge past its
//! `expiration_date` reads as `expired` ([`ChallengeRow::settled`]), list filters and the
//! answer's check-and-set compare the date, and the periodic sweep ([`super::retention`])
//! writes the status down. No request scans the table.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::Value;

use super::json_col;
use crate::error::ApiError;
use crate::paging::Window;

/// A push challenge.
#[derive(Clone, Debug)]
pub struct ChallengeRow {
    /// Row id (paging order).
    pub id: i64,
    /// `YC…`
    pub sid: String,
    /// Owning service.
    pub service_sid: String,
    /// Owning entity.
    pub entity_sid: String,
    /// Entity identity.
    pub identity: String,
    /// Factor it is for.
    pub factor_sid: String,
    /// Unix seconds.
    pub date_created: i64,
    /// Unix seconds.
    pub date_updated: i64,
    /// Unix seconds, once answered.
    pub date_responded: Option<i64>,
    /// Unix seconds.
    pub expiration_date: i64,
    /// `pending` | `expired` | `approved` | `denied`.
    pub status: String,
    /// `none` | `not_needed` | `not_requested`.
    pub responded_reason: String,
    /// `{message, fields[, date]}` exactly as rendered (so signatures stay stable).
    pub details: Value,
    /// String map or null.
    pub hidden_details: Option<Value>,
    /// String map the device sent with its answer (`Metadata` on update), or null.
    pub metadata: Option<Value>,
    /// The `Twilio-Verify-Signature-Fields` list of this challenge (comma-separated).
    pub signature_fields: String,
    /// Whether the answer's claims must be exactly the listed fields plus `status`.
    pub signature_exact_set: bool,
    /// Whether the answer's claims must come in the listed order (`status` in place or last).
    pub signature_order_strict: bool,
}

const COLS: &str = "id, sid, service_sid, entity_sid, identity, factor_sid, date_created, date_updated, date_responded, expiration_date, status, responded_reason, details, hidden_details, metadata, signature_fields, signature_order_strict, signature_exact_set";

type Raw = (
    ChallengeRow,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn from_row(r: &Row<'_>) -> rusqlite::Result<Raw> {
    Ok((
        ChallengeRow {
            id: r.get(0)?,
            sid: r.get(1)?,
            service_sid: r.get(2)?,
            entity_sid: r.get(3)?,
            identity: r.get(4)?,
            factor_sid: r.get(5)?,
            date_created: r.get(6)?,
            date_updated: r.get(7)?,
            date_responded: r.get(8)?,
            expiration_date: r.get(9)?,
            status: r.get(10)?,
            responded_reason: r.get(11)?,
            details: Value::Null,
            hidden_details: None,
            metadata: None,
            signature_fields: String::new(),
            signature_order_strict: r.get(16)?,
            signature_exact_set: r.get(17)?,
        },
        r.get(12)?,
        r.get(13)?,
        r.get(14)?,
        r.get(15)?,
    ))
}

fn build((mut c, details, hidden, metadata, fields): Raw) -> Result<ChallengeRow, ApiError> {
    c.signature_fields =
        fields.unwrap_or_else(|| crate::api::challenges::SIGNATURE_FIELDS.to_string());
    c.details = json_col(&details)?;
    c.hidden_details = hidden.as_deref().map(json_col).transpose()?;
    c.metadata = metadata.as_deref().map(json_col).transpose()?;
    Ok(c)
}

impl ChallengeRow {
    /// The row as of `now`: a pending challenge past its expiration date is `expired`, updated
    /// at its expiration date (what the sweep stores).
    pub fn settled(mut self, now: i64) -> Self {
        if self.status == "pending" && self.expiration_date <= now {
            self.status = "expired".into();
            self.date_updated = self.expiration_date;
        }
        self
    }
}

/// Stores `expired` on pending challenges whose `expiration_date` has passed (the sweep; reads
/// do not need it). Uses the `(status, expiration_date)` index. Returns the rows changed.
pub fn expire_due(conn: &Connection, now: i64) -> Result<usize, ApiError> {
    Ok(conn.execute(
        "UPDATE challenges SET status = 'expired', date_updated = expiration_date
         WHERE status = 'pending' AND expiration_date <= ?1",
        [now],
    )?)
}

/// Inserts a challenge.
pub fn insert(conn: &Connection, c: &ChallengeRow) -> Result<(), ApiError> {
    let mut st = conn.prepare_cached(
        "INSERT INTO challenges (sid, service_sid, entity_sid, identity, factor_sid, date_created, date_updated,
            date_responded, expiration_date, status, responded_reason, details, hidden_details, metadata,
            signature_fields, signature_order_strict, signature_exact_set)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )?;
    st.execute(params![
        c.sid,
        c.service_sid,
        c.entity_sid,
        c.identity,
        c.factor_sid,
        c.date_created,
        c.date_updated,
        c.date_responded,
        c.expiration_date,
        c.status,
        c.responded_reason,
        c.details.to_string(),
        c.hidden_details.as_ref().map(Value::to_string),
        c.metadata.as_ref().map(Value::to_string),
        c.signature_fields,
        c.signature_order_strict,
        c.signature_exact_set
    ])?;
    Ok(())
}

/// Fetches by SID as stored (see [`ChallengeRow::settled`] for the status as of now).
pub fn get(conn: &Connection, sid: &str) -> Result<Option<ChallengeRow>, ApiError> {
    conn.prepare_cached(&format!("SELECT {COLS} FROM challenges WHERE sid = ?1"))?
        .query_row([sid], from_row)
        .optional()?
        .map(build)
        .transpose()
}

/// One page window of an entity's challenges, filtered by factor and by status as of `now`
/// (so `expired` includes pending rows past their date), settled to `now`. Reads only the
/// rows of the window through the `(service_sid, identity, id)` index.
pub fn list_window(
    conn: &Connection,
    service_sid: &str,
    identity: &str,
    factor_sid: Option<&str>,
    status: Option<&str>,
    now: i64,
    w: &Window,
) -> Result<Vec<ChallengeRow>, ApiError> {
    let status_sql = match status {
        None => "1",
        Some("pending") => "status = 'pending' AND expiration_date > ?4",
        Some("expired") => "(status = 'expired' OR (status = 'pending' AND expiration_date <= ?4))",
        Some(_) => "status = ?3",
    };
    let mut st = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM challenges
         WHERE service_sid = ?1 AND identity = ?2
           AND (?5 IS NULL OR factor_sid = ?5) AND {status_sql} AND {}
         {}",
        w.filter(),
        w.tail()
    ))?;
    let rows = st.query_map(
        params![service_sid, identity, status, now, factor_sid],
        from_row,
    )?;
    rows.map(|r| build(r?).map(|c| c.settled(now))).collect()
}

/// Check-and-set answer: only a still-pending, unexpired challenge changes, taking the
/// device's `metadata` along. False if it was not pending.
pub fn answer(
    conn: &Connection,
    sid: &str,
    status: &str,
    metadata: Option<&Value>,
    now: i64,
) -> Result<bool, ApiError> {
    Ok(conn.execute(
        "UPDATE challenges SET status = ?2, date_responded = ?3, date_updated = ?3, responded_reason = 'none',
            metadata = ?4
         WHERE sid = ?1 AND status = 'pending' AND expiration_date > ?3",
        params![sid, status, now, metadata.map(Value::to_string)],
    )? == 1)
}
