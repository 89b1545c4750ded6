//! The announced-once record (`announced.json`): which (factor, challenge) keys were announced,
//! so neither later polls nor restarts notify twice.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::jsonfile;
use crate::views::ChallengeKey;

/// Announced challenge keys (`YF…/YC…`) and their expiry, persisted so restarts do not notify
/// twice.
#[derive(Debug)]
pub(super) struct AnnouncedStore {
    path: PathBuf,
    map: BTreeMap<String, DateTime<Utc>>,
}

/// Announced entries are kept this long past their expiry, then pruned.
const ANNOUNCED_RETENTION: chrono::Duration = chrono::Duration::days(1);

impl AnnouncedStore {
    pub(super) fn load(path: PathBuf) -> AnnouncedStore {
        let mut map: BTreeMap<String, DateTime<Utc>> = jsonfile::load(&path).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "announced file unreadable; starting empty");
            BTreeMap::new()
        });
        let cutoff = Utc::now() - ANNOUNCED_RETENTION;
        // Entries keyed by a bare SID (older versions) are dropped: honouring them would let
        // any server suppress another account's notification by listing its SID first. The
        // cost is at most one repeated notification per pending challenge after an upgrade.
        map.retain(|key, exp| *exp > cutoff && key.parse::<ChallengeKey>().is_ok());
        AnnouncedStore { path, map }
    }

    /// Records `key`; returns false when it was already announced.
    pub(super) fn insert(&mut self, key: &ChallengeKey, expires: DateTime<Utc>) -> bool {
        let key = key.to_string();
        if self.map.contains_key(&key) {
            return false;
        }
        let cutoff = Utc::now() - ANNOUNCED_RETENTION;
        self.map.retain(|_, exp| *exp > cutoff);
        self.map.insert(key, expires);
        if let Err(e) = jsonfile::save_unsynced(&self.path, &self.map) {
            // Worst case after a restart: one duplicate notification.
            tracing::warn!(error = %e, "cannot save announced challenges");
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announced_store_prunes_old_entries_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("announced.json");
        let mut s = AnnouncedStore::load(path.clone());
        let old = Utc::now() - chrono::Duration::days(3);
        let (k_old, k_new) = (key(1, 1), key(1, 2));
        assert!(s.insert(&k_old, old));
        assert!(s.insert(&k_new, Utc::now() + chrono::Duration::minutes(5)));
        assert!(!s.insert(&k_new, Utc::now()));
        let again = AnnouncedStore::load(path);
        assert!(again.map.contains_key(&k_new.to_string()));
        assert!(
            !again.map.contains_key(&k_old.to_string()),
            "expired long ago: pruned"
        );
    }

    /// The same challenge SID listed for two accounts is two announcements: one server cannot
    /// use up another account's notification by listing its SID first.
    #[test]
    fn announcements_are_per_account() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = AnnouncedStore::load(dir.path().join("announced.json"));
        let soon = Utc::now() + chrono::Duration::minutes(5);
        assert!(s.insert(&key(1, 7), soon));
        assert!(
            s.insert(&key(2, 7), soon),
            "same SID, other factor: announced again"
        );
        assert!(!s.insert(&key(1, 7), soon));
    }

    /// Files of older versions keyed by the bare SID are not trusted (see `load`).
    #[test]
    fn announced_entries_keyed_by_a_bare_sid_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("announced.json");
        let soon = Utc::now() + chrono::Duration::minutes(5);
        let legacy: BTreeMap<String, DateTime<Utc>> =
            [(key(1, 7).challenge.to_string(), soon)].into();
        jsonfile::save_unsynced(&path, &legacy).unwrap();
        let mut s = AnnouncedStore::load(path);
        assert!(s.map.is_empty());
        assert!(s.insert(&key(1, 7), soon));
    }

    fn key(factor: u8, challenge: u8) -> ChallengeKey {
        ChallengeKey {
            factor: format!("YF{factor:032x}").parse().unwrap(),
            challenge: format!("YC{challenge:032x}").parse().unwrap(),
        }
    }
}
