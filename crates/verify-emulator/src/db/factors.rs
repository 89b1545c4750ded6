//! Factor rows.
//!
//! An unverified factor lives [`UNVERIFIED_FACTOR_TTL_SECS`] after creation: every read below
//! takes `now` and treats an older unverified row as absent (as if deleted), and the periodic
//! sweep ([`super::retention`]) deletes such rows.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::Value;

use super::json_col;
use crate::error::ApiError;
use crate::paging::Window;

/// A push factor. `config` holds `sdk_version`, `app_id`, `notification_platform`,
/// `notification_token`, `credential_sid` as Twilio names them.
#[derive(Clone, Debug)]
pub struct FactorRow {
    /// Row id (paging order).
    pub id: i64,
    /// `YF…`
    pub sid: String,
    /// Owning service.
    pub service_sid: String,
    /// Owning entity `YE…`.
    pub entity_sid: String,
    /// Entity identity.
    pub identity: String,
    /// Device name.
    pub friendly_name: String,
    /// `unverified` | `verified`.
    pub status: String,
    /// Always `push` here.
    pub factor_type: String,
    /// Canonical base64 SPKI.
    pub public_key: String,
    /// `ES256`.
    pub alg: String,
    /// `CR…`, the device JWT `kid`.
    pub credential_sid: String,
    /// Push config JSON object.
    pub config: Value,
    /// String map or null.
    pub metadata: Option<Value>,
    /// Unix seconds.
    pub date_created: i64,
    /// Unix seconds.
    pub date_updated: i64,
}

/// How long a factor may stay unverified: one hour, the shortest of the "1 to 24 hours after
/// creation" within which Twilio may delete an unverified factor or stop accepting its
/// verification (<https://www.twilio.com/docs/api/errors/60318>). Twilio names a range, not a
/// figure; taking its lower end is the emulator's choice, so a client that verifies late
/// fails here before it fails in production.
pub const UNVERIFIED_FACTOR_TTL_SECS: i64 = 3600;

/// Creation times at or before this are too old for an unverified factor at `now`.
pub fn unverified_cutoff(now: i64) -> i64 {
    now.saturating_sub(UNVERIFIED_FACTOR_TTL_SECS)
}

/// Rows alive at the cutoff bound to the parameter `?{n}`.
fn alive(n: u8) -> String {
    format!("(status <> 'unverified' OR date_created > ?{n})")
}

const COLS: &str = "id, sid, service_sid, entity_sid, identity, friendly_name, status, factor_type, public_key, alg, credential_sid, config, metadata, date_created, date_updated";

type Raw = (FactorRow, String, Option<String>);

fn from_row(r: &Row<'_>) -> rusqlite::Result<Raw> {
    Ok((
        FactorRow {
            id: r.get(0)?,
            sid: r.get(1)?,
            service_sid: r.get(2)?,
            entity_sid: r.get(3)?,
            identity: r.get(4)?,
            friendly_name: r.get(5)?,
            status: r.get(6)?,
            factor_type: r.get(7)?,
            public_key: r.get(8)?,
            alg: r.get(9)?,
            credential_sid: r.get(10)?,
            config: Value::Null,
            metadata: None,
            date_created: r.get(13)?,
            date_updated: r.get(14)?,
        },
        r.get(11)?,
        r.get(12)?,
    ))
}

fn build((mut f, config, metadata): Raw) -> Result<FactorRow, ApiError> {
    f.config = json_col(&config)?;
    f.metadata = metadata.as_deref().map(json_col).transpose()?;
    Ok(f)
}

/// Inserts a factor.
pub fn insert(conn: &Connection, f: &FactorRow) -> Result<(), ApiError> {
    let mut st = conn.prepare_cached(
        "INSERT INTO factors (sid, service_sid, entity_sid, identity, friendly_name, status, factor_type,
            public_key, alg, credential_sid, config, metadata, date_created, date_updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?;
    st.execute(params![
        f.sid,
        f.service_sid,
        f.entity_sid,
        f.identity,
        f.friendly_name,
        f.status,
        f.factor_type,
        f.public_key,
        f.alg,
        f.credential_sid,
        f.config.to_string(),
        f.metadata.as_ref().map(Value::to_string),
        f.date_created,
        f.date_updated
    ])?;
    Ok(())
}

fn one(
    conn: &Connection,
    where_: &str,
    arg: &str,
    now: i64,
) -> Result<Option<FactorRow>, ApiError> {
    conn.prepare_cached(&format!(
        "SELECT {COLS} FROM factors WHERE {where_} AND {}",
        alive(2)
    ))?
    .query_row(params![arg, unverified_cutoff(now)], from_row)
    .optional()?
    .map(build)
    .transpose()
}

/// Fetches by SID, alive at `now`.
pub fn get(conn: &Connection, sid: &str, now: i64) -> Result<Option<FactorRow>, ApiError> {
    one(conn, "sid = ?1", sid, now)
}

/// Fetches by credential SID (the device JWT `kid`), alive at `now`.
pub fn by_credential(
    conn: &Connection,
    credential_sid: &str,
    now: i64,
) -> Result<Option<FactorRow>, ApiError> {
    one(conn, "credential_sid = ?1", credential_sid, now)
}

/// Factors of an entity alive at `now`, ascending.
pub fn list(
    conn: &Connection,
    service_sid: &str,
    identity: &str,
    now: i64,
) -> Result<Vec<FactorRow>, ApiError> {
    let mut st = conn.prepare(&format!(
        "SELECT {COLS} FROM factors WHERE service_sid = ?1 AND identity = ?2 AND {} ORDER BY id",
        alive(3)
    ))?;
    let rows = st.query_map(
        params![service_sid, identity, unverified_cutoff(now)],
        from_row,
    )?;
    rows.map(|r| build(r?)).collect()
}

/// One page window of an entity's factors alive at `now` (`(service_sid, identity, id)` index).
pub fn list_window(
    conn: &Connection,
    service_sid: &str,
    identity: &str,
    w: &Window,
    now: i64,
) -> Result<Vec<FactorRow>, ApiError> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM factors WHERE service_sid = ?1 AND identity = ?2 AND {} AND {} {}",
        alive(3),
        w.filter(),
        w.tail()
    ))?;
    let rows = st.query_map(
        params![service_sid, identity, unverified_cutoff(now)],
        from_row,
    )?;
    rows.map(|r| build(r?)).collect()
}

/// Deletes unverified factors created at or before `cutoff` (the sweep). They cannot have
/// challenges: a challenge needs a verified factor.
pub fn delete_unverified_before(conn: &Connection, cutoff: i64) -> Result<usize, ApiError> {
    Ok(conn.execute(
        "DELETE FROM factors WHERE status = 'unverified' AND date_created <= ?1",
        [cutoff],
    )?)
}

/// Deletes every factor row of an entity, expired ones included (entity deletion).
pub fn delete_of_entity(
    conn: &Connection,
    service_sid: &str,
    identity: &str,
) -> Result<usize, ApiError> {
    Ok(conn.execute(
        "DELETE FROM factors WHERE service_sid = ?1 AND identity = ?2",
        [service_sid, identity],
    )?)
}

/// Stores mutable fields.
pub fn update(conn: &Connection, f: &FactorRow) -> Result<(), ApiError> {
    conn.execute(
        "UPDATE factors SET friendly_name = ?2, status = ?3, config = ?4, metadata = ?5, date_updated = ?6
         WHERE sid = ?1",
        params![
            f.sid,
            f.friendly_name,
            f.status,
            f.config.to_string(),
            f.metadata.as_ref().map(Value::to_string),
            f.date_updated
        ],
    )?;
    Ok(())
}

/// Deletes a factor with its challenges and their notifications.
pub fn delete_cascade(conn: &Connection, sid: &str) -> Result<bool, ApiError> {
    conn.execute(
        "DELETE FROM notifications WHERE challenge_sid IN (SELECT sid FROM challenges WHERE factor_sid = ?1)",
        [sid],
    )?;
    conn.execute("DELETE FROM challenges WHERE factor_sid = ?1", [sid])?;
    Ok(conn.execute("DELETE FROM factors WHERE sid = ?1", [sid])? > 0)
}
