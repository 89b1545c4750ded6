//! The periodic sweep: stores `expired` on overdue pending challenges, deletes unverified
//! factors past [`super::factors::UNVERIFIED_FACTOR_TTL_SECS`], and deletes answered or
//! expired challenges (with their notifications) and spent access tokens older than the
//! retention period. Every statement runs on an index, so a sweep costs what it removes.

use rusqlite::Connection;

use crate::error::ApiError;

/// What one sweep changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Pending challenges whose expiry was written down.
    pub expired: usize,
    /// Answered or expired challenges deleted.
    pub challenges_deleted: usize,
    /// Notifications of those challenges deleted.
    pub notifications_deleted: usize,
    /// Access tokens deleted (expired before the cutoff).
    pub access_tokens_deleted: usize,
    /// Unverified factors deleted for being too old to verify (independent of retention).
    pub unverified_factors_deleted: usize,
}

/// Runs one sweep at `now` (unix seconds), keeping `retention_secs` of history: a challenge
/// goes once it was answered or expired before `now - retention_secs`; pending challenges
/// that have not expired are never touched. `retention_secs` of `None` keeps everything
/// (expiry is still written down).
pub fn sweep(
    conn: &mut Connection,
    now: i64,
    retention_secs: Option<i64>,
) -> Result<SweepReport, ApiError> {
    let tx = conn.transaction()?;
    let mut report = SweepReport {
        expired: super::challenges::expire_due(&tx, now)?,
        unverified_factors_deleted: super::factors::delete_unverified_before(
            &tx,
            super::factors::unverified_cutoff(now),
        )?,
        ..SweepReport::default()
    };
    if let Some(keep) = retention_secs {
        let cutoff = now.saturating_sub(keep.max(0));
        // `date_updated` is the answer time (approved/denied) or the expiration date
        // (expired), so one comparison covers both.
        let old = "SELECT sid FROM challenges
                   WHERE status IN ('approved', 'denied', 'expired') AND date_updated < ?1";
        report.notifications_deleted = tx.execute(
            &format!("DELETE FROM notifications WHERE challenge_sid IN ({old})"),
            [cutoff],
        )?;
        report.challenges_deleted = tx.execute(
            "DELETE FROM challenges
             WHERE status IN ('approved', 'denied', 'expired') AND date_updated < ?1",
            [cutoff],
        )?;
        report.access_tokens_deleted =
            tx.execute("DELETE FROM access_tokens WHERE expires_at < ?1", [cutoff])?;
    }
    tx.commit()?;
    Ok(report)
}
