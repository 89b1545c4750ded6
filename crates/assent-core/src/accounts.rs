//! Accounts = local push factors, plus the bits the app adds: last activity and key problems.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use verify_push::{Factor, VerifyPush};

use crate::jsonfile::JsonMap;
use crate::quiet::QuietStore;
use crate::silent::SilentStore;
use crate::views::Account;
use crate::AppError;

/// Last activity (challenge seen or answered) per factor SID, kept in `activity.json`.
#[derive(Debug)]
pub struct ActivityStore(JsonMap<DateTime<Utc>>);

impl ActivityStore {
    /// Loads the file (empty when missing or unreadable: activity is cosmetic).
    pub fn load(path: PathBuf) -> ActivityStore {
        ActivityStore(JsonMap::load(path, "activity"))
    }

    /// Last activity of a factor.
    pub fn get(&self, factor_sid: &str) -> Option<DateTime<Utc>> {
        self.0.read(|m| m.get(factor_sid).copied())
    }

    /// Records activity at `t` if it is newer than what is stored.
    pub fn touch(&self, factor_sid: &str, t: DateTime<Utc>) {
        // A lost write only dates an account; JsonMap logs it.
        let _ = self.0.update(|m| {
            if m.get(factor_sid).is_some_and(|old| *old >= t) {
                return ((), false);
            }
            m.insert(factor_sid.to_owned(), t);
            ((), true)
        });
    }

    /// Forgets a removed account.
    pub fn remove(&self, factor_sid: &str) {
        let _ = self.0.update(|m| ((), m.remove(factor_sid).is_some()));
    }
}

/// Builds the account list: local factors, newest activity, key problems, quiet.
///
/// Blocking (reads the keychain for the integrity check): call from `spawn_blocking`.
pub fn list(
    client: &VerifyPush,
    activity: &ActivityStore,
    quiet: &QuietStore,
    silent: &SilentStore,
) -> Result<Vec<Account>, AppError> {
    let now = Utc::now();
    let factors = client.factors()?;
    let missing: Vec<String> = match client.check_integrity() {
        Ok(report) => report
            .factors_without_key
            .iter()
            .map(|s| s.to_string())
            .collect(),
        Err(e) => {
            // A locked or absent keychain must not hide the account list.
            tracing::warn!(code = ?e.code(), "integrity check failed");
            Vec::new()
        }
    };
    let mut accounts: Vec<Account> = factors
        .iter()
        .map(|f| {
            let sid = f.sid.to_string();
            let mut a = Account::from_factor(f, activity.get(&sid), missing.contains(&sid));
            a.quieted_until = quiet.until(&sid, now).map(crate::views::rfc3339);
            let s = silent.get(&sid);
            a.origin = s.origin;
            a.silent_allowed = s.allowed;
            a
        })
        .collect();
    accounts.sort_by(|a, b| {
        a.friendly_name
            .to_lowercase()
            .cmp(&b.friendly_name.to_lowercase())
            .then_with(|| a.factor_sid.cmp(&b.factor_sid))
    });
    Ok(accounts)
}

/// Finds a local factor by SID, friendly name or identity (case-insensitive for names).
/// More than one match by name is an input error naming the SIDs to choose from.
pub fn find(client: &VerifyPush, needle: &str) -> Result<Factor, AppError> {
    let factors = client.factors()?;
    if let Some(f) = factors.iter().find(|f| f.sid.to_string() == needle) {
        return Ok(f.clone());
    }
    let lower = needle.to_lowercase();
    let hits: Vec<&Factor> = factors
        .iter()
        .filter(|f| {
            f.friendly_name.to_lowercase() == lower
                || f.identity.to_string().to_lowercase() == lower
        })
        .collect();
    match hits.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(AppError::AccountNotFound(needle.to_owned())),
        many => Err(AppError::Input(format!(
            "{needle} matches several accounts; use a factor SID: {}",
            many.iter()
                .map(|f| f.sid.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_only_moves_forward_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("activity.json");
        let store = ActivityStore::load(path.clone());
        let t1 = Utc::now();
        let t0 = t1 - chrono::Duration::seconds(10);
        store.touch("YF1", t1);
        store.touch("YF1", t0);
        assert_eq!(store.get("YF1"), Some(t1));
        let again = ActivityStore::load(path);
        assert_eq!(again.get("YF1"), Some(t1));
        again.remove("YF1");
        assert_eq!(again.get("YF1"), None);
    }
}
