//! What only touches this device: the factor store and the key store.

use super::{blocking, VerifyPush};
use crate::error::Error;
use crate::factor::Factor;
use crate::ids::FactorSid;

/// Local consistency between factors and keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrityReport {
    /// Factors whose private key is gone: remove them or enrol again.
    pub factors_without_key: Vec<FactorSid>,
    /// Key aliases no factor refers to: safe to delete with [`VerifyPush::remove_orphan_keys`].
    pub keys_without_factor: Vec<String>,
}

impl IntegrityReport {
    /// True when nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.factors_without_key.is_empty() && self.keys_without_factor.is_empty()
    }
}

impl VerifyPush {
    pub(super) async fn forget_factor_async(&self, sid: &FactorSid) -> Result<(), Error> {
        let me = self.clone();
        let sid = sid.clone();
        blocking(move || me.forget_factor(&sid)).await
    }

    /// Removes a factor locally only (record, then key). Blocking (key store).
    pub fn forget_factor(&self, sid: &FactorSid) -> Result<(), Error> {
        let rec = self.record(sid)?;
        // Probe first: a locked or absent keychain fails here, before anything changes.
        self.inner.keys.aliases()?;
        // Record before key: a crash in between leaves a spare key, which
        // `remove_orphan_keys` cleans up, never a factor that can no longer sign.
        self.inner.store.update(|f| f.remove(sid))?;
        self.evict_key(&rec.key_alias);
        self.inner.keys.delete(&rec.key_alias)?;
        tracing::info!(factor = %sid, "factor removed locally");
        Ok(())
    }

    /// All local factors.
    pub fn factors(&self) -> Result<Vec<Factor>, Error> {
        Ok(self
            .inner
            .store
            .load()?
            .factors
            .into_iter()
            .map(|r| r.factor)
            .collect())
    }

    /// One local factor.
    pub fn factor(&self, sid: &FactorSid) -> Result<Factor, Error> {
        Ok(self.record(sid)?.factor)
    }

    /// Compares factors and keys. Blocking (key store).
    pub fn check_integrity(&self) -> Result<IntegrityReport, Error> {
        let file = self.inner.store.load()?;
        let aliases = self.inner.keys.aliases()?;
        let mut report = IntegrityReport::default();
        for r in &file.factors {
            if !aliases.contains(&r.key_alias) {
                report.factors_without_key.push(r.factor.sid.clone());
            }
        }
        for a in aliases {
            if !file.factors.iter().any(|r| r.key_alias == a) {
                report.keys_without_factor.push(a);
            }
        }
        Ok(report)
    }

    /// Deletes keys no factor refers to, and the key store's bookkeeping for keys that are
    /// gone (both left by interrupted writes); returns how many keys went. Blocking (key
    /// store). Not while another process may be enrolling with the same store: its new key
    /// has no factor yet.
    pub fn remove_orphan_keys(&self) -> Result<usize, Error> {
        let report = self.check_integrity()?;
        for a in &report.keys_without_factor {
            self.evict_key(a);
            self.inner.keys.delete(a)?;
        }
        let stale = self.inner.keys.prune()?;
        if stale > 0 {
            tracing::info!(
                entries = stale,
                "dropped key index entries whose key is gone"
            );
        }
        Ok(report.keys_without_factor.len())
    }

    /// Deletes all local factors and their keys (the server is not touched). Blocking.
    pub fn clear_local_storage(&self) -> Result<(), Error> {
        let file = self.inner.store.load()?;
        let mut aliases: Vec<String> = file.factors.iter().map(|r| r.key_alias.clone()).collect();
        for a in self.inner.keys.aliases()? {
            if !aliases.contains(&a) {
                aliases.push(a);
            }
        }
        // Same order as `forget_factor`: records first, so a crash leaves only spare keys.
        self.inner.store.update(|f| {
            f.factors.clear();
            f.clock_corrections.clear();
        })?;
        for a in &aliases {
            self.evict_key(a);
            self.inner.keys.delete(a)?;
        }
        self.inner.clock.clear();
        Ok(())
    }
}
