//! Notification rows (re-sent pushes for a pending challenge).

use rusqlite::{params, Connection};

use crate::error::ApiError;

/// A notification.
#[derive(Clone, Debug)]
pub struct NotificationRow {
    /// `NT…`
    pub sid: String,
    /// Owning service.
    pub service_sid: String,
    /// Owning entity.
    pub entity_sid: String,
    /// Entity identity.
    pub identity: String,
    /// Challenge it re-announces.
    pub challenge_sid: String,
    /// Always `high`.
    pub priority: String,
    /// Seconds, 0–300.
    pub ttl: i64,
    /// Unix seconds.
    pub date_created: i64,
}

/// Inserts a notification.
pub fn insert(conn: &Connection, n: &NotificationRow) -> Result<(), ApiError> {
    conn.execute(
        "INSERT INTO notifications (sid, service_sid, entity_sid, identity, challenge_sid, priority, ttl, date_created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            n.sid,
            n.service_sid,
            n.entity_sid,
            n.identity,
            n.challenge_sid,
            n.priority,
            n.ttl,
            n.date_created
        ],
    )?;
    Ok(())
}
