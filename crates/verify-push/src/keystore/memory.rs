//! In-memory key store for unit tests and benchmarks; never use it for real keys.

use super::KeyStore;
use crate::error::Error;
use crate::secret::SecretKeyBytes;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Keeps keys in a map. `fail_with` makes every call fail, to test error paths.
#[derive(Debug, Default)]
pub struct MemoryKeyStore {
    keys: Mutex<BTreeMap<String, SecretKeyBytes>>,
    failing: Mutex<Option<crate::ErrorCode>>,
}

impl MemoryKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// From now on every call fails with this code (`KeychainLocked` or `KeychainUnavailable`);
    /// `None` heals it.
    pub fn fail_with(&self, code: Option<crate::ErrorCode>) {
        *self.failing.lock().unwrap_or_else(|p| p.into_inner()) = code;
    }

    fn check(&self) -> Result<(), Error> {
        match *self.failing.lock().unwrap_or_else(|p| p.into_inner()) {
            None => Ok(()),
            Some(crate::ErrorCode::KeychainLocked) => {
                Err(Error::KeychainLocked("test store is locked".into()))
            }
            Some(_) => Err(Error::KeychainUnavailable(
                "test store is unavailable".into(),
            )),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, SecretKeyBytes>> {
        // Poisoning cannot leave the map half-updated: every operation is one map call.
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl KeyStore for MemoryKeyStore {
    fn put(&self, alias: &str, key: &SecretKeyBytes) -> Result<(), Error> {
        self.check()?;
        self.map().insert(alias.to_owned(), key.clone());
        Ok(())
    }

    fn get(&self, alias: &str) -> Result<Option<SecretKeyBytes>, Error> {
        self.check()?;
        Ok(self.map().get(alias).cloned())
    }

    fn delete(&self, alias: &str) -> Result<bool, Error> {
        self.check()?;
        Ok(self.map().remove(alias).is_some())
    }

    fn aliases(&self) -> Result<Vec<String>, Error> {
        self.check()?;
        Ok(self.map().keys().cloned().collect())
    }
}
