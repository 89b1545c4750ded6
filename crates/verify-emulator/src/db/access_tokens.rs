//! Access-token rows (enrolment tokens for create-factor).

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::error::ApiError;

/// An issued access token. `Debug` leaves the token out.
#[derive(Clone)]
pub struct AccessTokenRow {
    /// `YK…`
    pub sid: String,
    /// Service it is bound to.
    pub service_sid: String,
    /// Identity it is bound to.
    pub identity: String,
    /// Always `push`.
    pub factor_type: String,
    /// Optional name for the factor to create.
    pub factor_friendly_name: Option<String>,
    /// The opaque JWE-shaped token.
    pub token: String,
    /// Lifetime in seconds.
    pub ttl: i64,
    /// Unix seconds.
    pub date_created: i64,
    /// Unix seconds after which it is refused.
    pub expires_at: i64,
    /// When it was consumed by create-factor.
    pub used_at: Option<i64>,
}

impl std::fmt::Debug for AccessTokenRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokenRow")
            .field("sid", &self.sid)
            .field("service_sid", &self.service_sid)
            .field("identity", &self.identity)
            .field("token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .field("used_at", &self.used_at)
            .finish()
    }
}

const COLS: &str = "sid, service_sid, identity, factor_type, factor_friendly_name, token, ttl, date_created, expires_at, used_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<AccessTokenRow> {
    Ok(AccessTokenRow {
        sid: r.get(0)?,
        service_sid: r.get(1)?,
        identity: r.get(2)?,
        factor_type: r.get(3)?,
        factor_friendly_name: r.get(4)?,
        token: r.get(5)?,
        ttl: r.get(6)?,
        date_created: r.get(7)?,
        expires_at: r.get(8)?,
        used_at: r.get(9)?,
    })
}

/// Inserts a token.
pub fn insert(conn: &Connection, t: &AccessTokenRow) -> Result<(), ApiError> {
    conn.execute(
        &format!(
            "INSERT INTO access_tokens ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ),
        params![
            t.sid,
            t.service_sid,
            t.identity,
            t.factor_type,
            t.factor_friendly_name,
            t.token,
            t.ttl,
            t.date_created,
            t.expires_at,
            t.used_at
        ],
    )?;
    Ok(())
}

/// Fetches by SID within a service.
pub fn get(
    conn: &Connection,
    service_sid: &str,
    sid: &str,
) -> Result<Option<AccessTokenRow>, ApiError> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLS} FROM access_tokens WHERE sid = ?1 AND service_sid = ?2"),
            [sid, service_sid],
            from_row,
        )
        .optional()?)
}

/// Looks a token up by its value.
pub fn by_token(conn: &Connection, token: &str) -> Result<Option<AccessTokenRow>, ApiError> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLS} FROM access_tokens WHERE token = ?1"),
            [token],
            from_row,
        )
        .optional()?)
}

/// Marks the token used if it was not; false when someone else consumed it first.
pub fn consume(conn: &Connection, sid: &str, now: i64) -> Result<bool, ApiError> {
    Ok(conn.execute(
        "UPDATE access_tokens SET used_at = ?2 WHERE sid = ?1 AND used_at IS NULL",
        params![sid, now],
    )? == 1)
}
