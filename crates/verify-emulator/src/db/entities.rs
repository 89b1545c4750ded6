//! Entity rows (one per identity within a service).

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::error::ApiError;
use crate::paging::Window;

/// An entity.
#[derive(Clone, Debug)]
pub struct EntityRow {
    /// Row id (paging order).
    pub id: i64,
    /// `YE…`
    pub sid: String,
    /// Owning service.
    pub service_sid: String,
    /// External identity.
    pub identity: String,
    /// Unix seconds.
    pub date_created: i64,
    /// Unix seconds.
    pub date_updated: i64,
}

const COLS: &str = "id, sid, service_sid, identity, date_created, date_updated";

fn from_row(r: &Row<'_>) -> rusqlite::Result<EntityRow> {
    Ok(EntityRow {
        id: r.get(0)?,
        sid: r.get(1)?,
        service_sid: r.get(2)?,
        identity: r.get(3)?,
        date_created: r.get(4)?,
        date_updated: r.get(5)?,
    })
}

/// Inserts an entity.
pub fn insert(conn: &Connection, e: &EntityRow) -> Result<(), ApiError> {
    conn.prepare_cached(
        "INSERT INTO entities (sid, service_sid, identity, date_created, date_updated)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        e.sid,
        e.service_sid,
        e.identity,
        e.date_created,
        e.date_updated
    ])?;
    Ok(())
}

/// Fetches by identity.
pub fn get(
    conn: &Connection,
    service_sid: &str,
    identity: &str,
) -> Result<Option<EntityRow>, ApiError> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLS} FROM entities WHERE service_sid = ?1 AND identity = ?2"),
            [service_sid, identity],
            from_row,
        )
        .optional()?)
}

/// Fetches or creates (create-factor makes the entity implicitly, as Twilio does).
pub fn get_or_create(
    conn: &Connection,
    service_sid: &str,
    identity: &str,
    now: i64,
) -> Result<EntityRow, ApiError> {
    if let Some(e) = get(conn, service_sid, identity)? {
        return Ok(e);
    }
    let e = EntityRow {
        id: 0,
        sid: crate::sid::new_sid("YE"),
        service_sid: service_sid.to_string(),
        identity: identity.to_string(),
        date_created: now,
        date_updated: now,
    };
    insert(conn, &e)?;
    get(conn, service_sid, identity)?.ok_or_else(|| ApiError::Internal("entity vanished".into()))
}

/// All entities of a service, ascending.
pub fn list(conn: &Connection, service_sid: &str) -> Result<Vec<EntityRow>, ApiError> {
    let mut st = conn.prepare(&format!(
        "SELECT {COLS} FROM entities WHERE service_sid = ?1 ORDER BY id"
    ))?;
    let rows = st.query_map([service_sid], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One page window of a service's entities (`(service_sid, id)` index).
pub fn list_window(
    conn: &Connection,
    service_sid: &str,
    w: &Window,
) -> Result<Vec<EntityRow>, ApiError> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM entities WHERE service_sid = ?1 AND {} {}",
        w.filter(),
        w.tail()
    ))?;
    let rows = st.query_map([service_sid], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes the entity row (factors and challenges are removed by the caller).
pub fn delete(conn: &Connection, sid: &str) -> Result<bool, ApiError> {
    Ok(conn.execute("DELETE FROM entities WHERE sid = ?1", [sid])? > 0)
}
