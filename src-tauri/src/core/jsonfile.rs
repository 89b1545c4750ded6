//! Small JSON files in the data directory, written atomically (temp file + rename) so a crash
//! never leaves a half-written file behind.

use std::io::Write;
use std::path::Path;

use serde::{de::DeserializeOwned, Serialize};

use crate::core::AppError;

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

/// Writes `value` to `path` atomically.
pub fn save<T: Serialize>(path: &Path, value: &T) -> Result<(), AppError> {
    let dir = path
        .parent()
        .ok_or_else(|| AppError::Storage(format!("{} has no parent", path.display())))?;
    let err =
        |e: std::io::Error| AppError::Storage(format!("cannot write {}: {e}", path.display()));
    let bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| AppError::Storage(format!("cannot encode {}: {e}", path.display())))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    tmp.write_all(&bytes).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
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
        assert_eq!(err.code(), "storage");
    }
}
