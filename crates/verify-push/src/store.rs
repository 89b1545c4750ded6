//! The local factor store: one versioned JSON file (`factors.json`) in the data directory,
//! replaced atomically (temp file, fsync, rename, fsync dir) so a crash at any instant leaves
//! either the old or the new file. No secrets are written here: keys live in the key store.

use crate::error::Error;
use crate::factor::Factor;
use crate::ids::FactorSid;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Current file format version.
pub const STORE_VERSION: u32 = 1;
/// File name inside the data directory.
pub const STORE_FILE: &str = "factors.json";
const TMP_PREFIX: &str = ".factors.json.tmp-";
/// Advisory lock file shared by every process that opens the same data directory.
const LOCK_FILE: &str = "factors.lock";

/// A factor plus what only the device needs (its key alias).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredFactor {
    /// The factor.
    #[serde(flatten)]
    pub factor: Factor,
    /// Alias of the private key in the key store.
    pub key_alias: String,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreFile {
    /// Format version ([`STORE_VERSION`]).
    pub version: u32,
    /// Server minus local clock in seconds (reference §6.4), by server key
    /// ([`crate::time::server_key`], the base URL's origin).
    #[serde(default)]
    pub clock_corrections: BTreeMap<String, i64>,
    /// Factors.
    #[serde(default)]
    pub factors: Vec<StoredFactor>,
}

impl Default for StoreFile {
    fn default() -> Self {
        Self {
            version: STORE_VERSION,
            clock_corrections: BTreeMap::new(),
            factors: Vec::new(),
        }
    }
}

impl StoreFile {
    /// The record for `sid`.
    pub fn get(&self, sid: &FactorSid) -> Option<&StoredFactor> {
        self.factors.iter().find(|f| &f.factor.sid == sid)
    }

    /// Inserts or replaces the record with the same SID.
    pub fn upsert(&mut self, rec: StoredFactor) {
        match self
            .factors
            .iter_mut()
            .find(|f| f.factor.sid == rec.factor.sid)
        {
            Some(slot) => *slot = rec,
            None => self.factors.push(rec),
        }
    }

    /// Removes the record for `sid`; returns it.
    pub fn remove(&mut self, sid: &FactorSid) -> Option<StoredFactor> {
        let i = self.factors.iter().position(|f| &f.factor.sid == sid)?;
        Some(self.factors.remove(i))
    }
}

/// Reads and atomically rewrites `factors.json`. Serialized within the process by a mutex.
#[derive(Debug)]
pub struct FactorStore {
    dir: PathBuf,
    lock: Mutex<()>,
}

impl FactorStore {
    /// Opens (creating the directory) and removes temp files left by an interrupted write.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, Error> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::Storage(format!("creating {}: {e}", dir.display())))?;
        let store = Self {
            dir,
            lock: Mutex::new(()),
        };
        // Under the lock: a temp file may belong to another process that is writing right now.
        let guard = store.guard()?;
        if let Ok(entries) = std::fs::read_dir(&store.dir) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                    // Best effort: a leftover temp file is harmless, only untidy.
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        drop(guard);
        Ok(store)
    }

    /// Path of `factors.json`.
    pub fn path(&self) -> PathBuf {
        self.dir.join(STORE_FILE)
    }

    /// Loads the file; a missing file is an empty store.
    pub fn load(&self) -> Result<StoreFile, Error> {
        let _g = self.guard()?;
        read_file(&self.path())
    }

    /// Replaces the file atomically.
    pub fn save(&self, file: &StoreFile) -> Result<(), Error> {
        let _g = self.guard()?;
        write_atomic(&self.dir, file)
    }

    /// Load, change, save under one lock; returns the closure's result.
    pub fn update<R>(&self, f: impl FnOnce(&mut StoreFile) -> R) -> Result<R, Error> {
        let _g = self.guard()?;
        let mut file = read_file(&self.path())?;
        let r = f(&mut file);
        write_atomic(&self.dir, &file)?;
        Ok(r)
    }

    /// Serialises store access between threads (mutex) and between processes (an exclusive
    /// advisory lock on `factors.lock`), so the app and the CLI never lose each other's writes.
    fn guard(&self) -> Result<StoreGuard<'_>, Error> {
        // A poisoned lock only means another thread panicked mid-operation; the file itself is
        // always whole thanks to the atomic rename, so continuing is safe.
        let thread = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let path = self.dir.join(LOCK_FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::Storage(format!("opening {}: {e}", path.display())))?;
        // The kernel drops the lock when the holder dies, so a killed writer never wedges it.
        file.lock()
            .map_err(|e| Error::Storage(format!("locking {}: {e}", path.display())))?;
        Ok(StoreGuard {
            _file: file,
            _thread: thread,
        })
    }
}

/// Held while the store is read or written; dropping the file releases the process lock.
struct StoreGuard<'a> {
    _file: std::fs::File,
    _thread: std::sync::MutexGuard<'a, ()>,
}

fn read_file(path: &Path) -> Result<StoreFile, Error> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(StoreFile::default()),
        Err(e) => return Err(Error::Storage(format!("reading {}: {e}", path.display()))),
    };
    let file: StoreFile = serde_json::from_slice(&bytes)
        .map_err(|e| Error::Storage(format!("{} is not a valid store: {e}", path.display())))?;
    if file.version > STORE_VERSION {
        return Err(Error::Storage(format!(
            "{} has version {}, newer than this build understands ({STORE_VERSION})",
            path.display(),
            file.version
        )));
    }
    Ok(file)
}

fn write_atomic(dir: &Path, file: &StoreFile) -> Result<(), Error> {
    let err = |what: &str, e: std::io::Error| Error::Storage(format!("{what}: {e}"));
    let data = serde_json::to_vec_pretty(file)
        .map_err(|e| Error::Storage(format!("serializing the store: {e}")))?;
    let tmp = dir.join(format!(
        "{TMP_PREFIX}{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| err("creating the temp file", e))?;
        f.write_all(&data)
            .map_err(|e| err("writing the temp file", e))?;
        f.sync_all().map_err(|e| err("syncing the temp file", e))?;
        drop(f);
        std::fs::rename(&tmp, dir.join(STORE_FILE)).map_err(|e| err("replacing the store", e))?;
        // Make the rename itself durable (directory entry).
        #[cfg(unix)]
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::factor::FactorStatus;

    pub(crate) fn sample_factor(n: u8) -> Factor {
        Factor {
            sid: format!("YF{:032x}", n).parse().unwrap(),
            friendly_name: format!("Laptop {n}"),
            account_sid: format!("AC{:032x}", 1).parse().unwrap(),
            service_sid: format!("VA{:032x}", 1).parse().unwrap(),
            identity: "user-1".parse().unwrap(),
            status: FactorStatus::Verified,
            credential_sid: "CR00000000000000000000000000000001".into(),
            base_url: url::Url::parse("http://127.0.0.1:8790/v2/").unwrap(),
            created_at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            metadata: None,
        }
    }

    /// Two handles on one directory stand for the app and the CLI: each handle's file lock is
    /// separate (flock is per open file), so lost updates would show here without it.
    #[test]
    fn concurrent_writers_through_separate_handles_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let writers: Vec<_> = (0..2u8)
            .map(|w| {
                let path = dir.path().to_path_buf();
                std::thread::spawn(move || {
                    let store = FactorStore::open(path).unwrap();
                    for i in 0..20u8 {
                        store
                            .update(|f| {
                                f.upsert(StoredFactor {
                                    factor: sample_factor(w * 100 + i),
                                    key_alias: format!("k{w}-{i}"),
                                })
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let loaded = FactorStore::open(dir.path()).unwrap().load().unwrap();
        assert_eq!(loaded.factors.len(), 40);
    }

    #[test]
    fn round_trip_and_update() {
        let dir = tempfile::tempdir().unwrap();
        let store = FactorStore::open(dir.path()).unwrap();
        assert_eq!(store.load().unwrap(), StoreFile::default());
        store
            .update(|f| {
                f.clock_corrections
                    .insert("http://127.0.0.1:8790".into(), -42);
                f.upsert(StoredFactor {
                    factor: sample_factor(1),
                    key_alias: "k1".into(),
                });
            })
            .unwrap();
        let loaded = FactorStore::open(dir.path()).unwrap().load().unwrap();
        assert_eq!(loaded.clock_corrections["http://127.0.0.1:8790"], -42);
        assert_eq!(loaded.factors.len(), 1);
        assert_eq!(loaded.factors[0].key_alias, "k1");
        let text = std::fs::read_to_string(store.path()).unwrap();
        assert!(text.contains("\"version\": 1"));
        assert!(text.contains("\"keyAlias\": \"k1\""));
        let sid = sample_factor(1).sid;
        assert!(store.update(|f| f.remove(&sid)).unwrap().is_some());
        assert!(store.load().unwrap().factors.is_empty());
    }

    /// Files from before per-server clocks carry one `timeCorrectionSecs`; they still load
    /// (that value is dropped: it is relearnt from the first response of each server).
    #[test]
    fn files_with_the_old_single_correction_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let store = FactorStore::open(dir.path()).unwrap();
        std::fs::write(
            store.path(),
            br#"{"version":1,"timeCorrectionSecs":7200,"factors":[]}"#,
        )
        .unwrap();
        let file = store.load().unwrap();
        assert!(file.clock_corrections.is_empty());
        assert!(file.factors.is_empty());
    }

    #[test]
    fn corrupt_or_future_files_are_storage_errors_and_temp_files_are_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(format!("{TMP_PREFIX}1-2")), b"{half").unwrap();
        let store = FactorStore::open(dir.path()).unwrap();
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, vec![LOCK_FILE.to_string()], "temp file not cleaned");
        std::fs::write(store.path(), b"{not json").unwrap();
        assert_eq!(store.load().unwrap_err().code(), crate::ErrorCode::Storage);
        std::fs::write(store.path(), br#"{"version":99,"factors":[]}"#).unwrap();
        assert_eq!(store.load().unwrap_err().code(), crate::ErrorCode::Storage);
    }
}
