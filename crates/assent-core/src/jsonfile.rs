//! Small files written atomically (temp file + rename) so a crash never leaves a half-written
//! file behind: JSON in the data directory, and raw bytes ([`write_atomic`]) for other small files.

use std::io::Write;
use std::path::Path;

use serde::{de::DeserializeOwned, Serialize};

use crate::AppError;

/// Reads `path`, or `T::default()` when it does not exist yet.
pub fn load<T: DeserializeOwned + Default>(path: &Path) -> Result<T, AppError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| AppError::Storage(format!("{} is not valid: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(AppError::Storage(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Writes `value` to `path` atomically and waits for the disk.
pub fn save<T: Serialize>(path: &Path, value: &T) -> Result<(), AppError> {
    write(path, value, true)
}

/// Writes `value` to `path` atomically without waiting for the disk: a restarted process sees
/// it, only an OS crash can lose it. For writes on a latency path whose loss is harmless.
pub fn save_unsynced<T: Serialize>(path: &Path, value: &T) -> Result<(), AppError> {
    write(path, value, false)
}

fn write<T: Serialize>(path: &Path, value: &T, sync: bool) -> Result<(), AppError> {
    let bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| AppError::Storage(format!("cannot encode {}: {e}", path.display())))?;
    write_atomic(path, &bytes, sync)
        .map_err(|e| AppError::Storage(format!("cannot write {}: {e}", path.display())))
}

/// A map by key (a factor SID, say) kept in one JSON file: read once, each change written
/// atomically and synced. A missing or unreadable file starts empty (with a warning naming
/// `what`): the stores built on it hold conveniences, never secrets or the only copy of
/// anything.
#[derive(Debug)]
pub struct JsonMap<V> {
    path: std::path::PathBuf,
    what: &'static str,
    map: std::sync::Mutex<std::collections::BTreeMap<String, V>>,
}

impl<V: Serialize + DeserializeOwned> JsonMap<V> {
    /// Loads `path`; `what` names the file in log lines ("activity", "quieted accounts").
    pub fn load(path: std::path::PathBuf, what: &'static str) -> JsonMap<V> {
        let map = load(&path).unwrap_or_else(|e| {
            tracing::warn!(error = %e, file = what, "file unreadable; starting empty");
            std::collections::BTreeMap::new()
        });
        JsonMap {
            path,
            what,
            map: std::sync::Mutex::new(map),
        }
    }

    /// Reads the map.
    pub fn read<R>(&self, f: impl FnOnce(&std::collections::BTreeMap<String, V>) -> R) -> R {
        f(&self.lock())
    }

    /// Changes the map; `f` says whether it changed anything, and only then is the file
    /// written. A failed write is returned and logged; the change stays in memory.
    pub fn update<R>(
        &self,
        f: impl FnOnce(&mut std::collections::BTreeMap<String, V>) -> (R, bool),
    ) -> Result<R, AppError> {
        let mut map = self.lock();
        let (out, changed) = f(&mut map);
        if changed {
            if let Err(e) = save(&self.path, &*map) {
                tracing::warn!(error = %e, file = self.what, "cannot save");
                return Err(e);
            }
        }
        Ok(out)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<String, V>> {
        // Plain map inserts and removals cannot be left half-done by a panic.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Replaces `path` with `bytes` through a temporary file in the same folder and a rename, so
/// readers (and a process restarted after a crash) never see half a file; `sync` also waits
/// for the disk.
pub fn write_atomic(path: &Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    let dir = path.parent().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path has no folder")
    })?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    if sync {
        tmp.as_file().sync_all()?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn round_trip_and_missing_file_is_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        let empty: BTreeMap<String, u32> = load(&path).unwrap();
        assert!(empty.is_empty());
        let mut m = BTreeMap::new();
        m.insert("a".to_string(), 1u32);
        save(&path, &m).unwrap();
        assert_eq!(load::<BTreeMap<String, u32>>(&path).unwrap(), m);
    }

    #[test]
    fn a_json_map_writes_only_changes_and_survives_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        let m: JsonMap<u32> = JsonMap::load(path.clone(), "test");
        m.update(|_| ((), false)).unwrap();
        assert!(!path.exists(), "no change, no write");
        m.update(|map| {
            map.insert("a".into(), 1);
            ((), true)
        })
        .unwrap();
        let again: JsonMap<u32> = JsonMap::load(path.clone(), "test");
        assert_eq!(again.read(|map| map.get("a").copied()), Some(1));
        std::fs::write(&path, b"{not json").unwrap();
        let broken: JsonMap<u32> = JsonMap::load(path, "test");
        assert!(broken.read(|map| map.is_empty()), "unreadable starts empty");
    }

    #[test]
    fn corrupt_file_is_a_storage_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        std::fs::write(&path, b"{not json").unwrap();
        let err = load::<BTreeMap<String, u32>>(&path).unwrap_err();
        assert_eq!(err.code(), crate::error::AppErrorCode::Storage);
    }
}
