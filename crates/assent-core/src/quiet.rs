//! Quieted accounts (`quiet.json`): after the user reports a request as "not me", that
//! account's further requests raise no notification for a while (someone is trying its
//! password; each new prompt is another chance of a tired Approve). They still appear in the
//! window and the tray, and the account says that it is quieted and why.
//!
//! Persisted so that restarting the app does not end the quiet early.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::jsonfile::JsonMap;

/// How long an account stays quiet after a "not me" report (as Duo does after a fraud report).
pub const QUIET_AFTER_NOT_ME: std::time::Duration = std::time::Duration::from_secs(20 * 60);

/// Overrides [`QUIET_AFTER_NOT_ME`], in seconds (1 to 86400): end-to-end tests watch a quiet
/// end without waiting 20 minutes.
pub const QUIET_SECS_ENV: &str = "ASSENT_QUIET_SECS";

/// The quiet period: [`QUIET_AFTER_NOT_ME`], or [`QUIET_SECS_ENV`] when set to a valid value.
pub fn quiet_after_not_me() -> std::time::Duration {
    match std::env::var(QUIET_SECS_ENV) {
        Err(_) => QUIET_AFTER_NOT_ME,
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(secs @ 1..=86_400) => std::time::Duration::from_secs(secs),
            _ => {
                tracing::warn!(value = %v, "{QUIET_SECS_ENV} must be 1 to 86400 seconds; using 20 minutes");
                QUIET_AFTER_NOT_ME
            }
        },
    }
}

/// Quiet-until times by factor SID.
#[derive(Debug)]
pub struct QuietStore(JsonMap<DateTime<Utc>>);

impl QuietStore {
    /// Loads the file (empty when missing or unreadable: the quiet is a comfort, not a lock).
    pub fn load(path: PathBuf) -> QuietStore {
        QuietStore(JsonMap::load(path, "quieted accounts"))
    }

    /// Quiets `factor_sid` until `until`, rounded up to the second so the end the account
    /// shows (RFC 3339, seconds) is the real one; a later time wins over an earlier one.
    pub fn quiet(&self, factor_sid: &str, until: DateTime<Utc>) {
        let carry = i64::from(until.timestamp_subsec_nanos() > 0);
        let until = DateTime::from_timestamp(until.timestamp() + carry, 0).unwrap_or(until);
        let now = Utc::now();
        // A lost write only ends the quiet at a restart; JsonMap logs it.
        let _ = self.0.update(|m| {
            m.retain(|_, t| *t > now);
            if m.get(factor_sid).is_some_and(|t| *t >= until) {
                return ((), false);
            }
            m.insert(factor_sid.to_owned(), until);
            ((), true)
        });
    }

    /// Until when `factor_sid` is quiet, if it is at `now`.
    pub fn until(&self, factor_sid: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.0
            .read(|m| m.get(factor_sid).copied())
            .filter(|t| *t > now)
    }

    /// Forgets a removed account.
    pub fn remove(&self, factor_sid: &str) {
        let _ = self.0.update(|m| ((), m.remove(factor_sid).is_some()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_persists_ends_on_time_and_only_lengthens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("quiet.json");
        let store = QuietStore::load(path.clone());
        let now = Utc::now();
        let until = DateTime::from_timestamp(now.timestamp() + 1200, 0).unwrap();
        store.quiet("YF1", until - chrono::Duration::milliseconds(400));
        store.quiet("YF1", now + chrono::Duration::minutes(5));
        assert_eq!(store.until("YF1", now), Some(until));
        assert_eq!(store.until("YF2", now), None);
        assert_eq!(store.until("YF1", until), None, "over at the end");
        let again = QuietStore::load(path.clone());
        assert_eq!(again.until("YF1", now), Some(until), "survives a restart");
        again.remove("YF1");
        assert_eq!(QuietStore::load(path).until("YF1", now), None);
    }
}
