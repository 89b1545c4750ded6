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
    fn corrupt_file_is_a_storage_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        std::fs::write(&path, b"{not json").unwrap();
        let err = load::<BTreeMap<String, u32>>(&path).unwrap_err();
        assert_eq!(err.code(), crate::error::AppErrorCode::Storage);
    }
}
