//! A key store with one file per alias, written like a careful keychain would (temp file,
//! fsync, rename), so a SIGKILL can land between the key write and the factor-store write.

use std::path::{Path, PathBuf};
use verify_push::{KeyStore, SecretKeyBytes};

/// Keys as files `<dir>/<alias>.key`. For tests only: the bytes are not encrypted.
#[derive(Debug, Clone)]
pub struct FileKeyStore {
    dir: PathBuf,
}

fn storage(what: &str, path: &Path, e: std::io::Error) -> verify_push::Error {
    verify_push::Error::KeyStorage(format!("{what} {}: {e}", path.display()))
}

impl FileKeyStore {
    /// Opens (creates) the directory.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, crate::Error> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| crate::Error::io(&dir, e))?;
        Ok(Self { dir })
    }

    fn path(&self, alias: &str) -> Result<PathBuf, verify_push::Error> {
        // Aliases are `key-<hex>`; anything else could escape the directory.
        if alias.is_empty() || !alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(verify_push::Error::KeyStorage(format!(
                "bad alias {alias:?}"
            )));
        }
        Ok(self.dir.join(format!("{alias}.key")))
    }
}

impl KeyStore for FileKeyStore {
    fn put(&self, alias: &str, key: &SecretKeyBytes) -> Result<(), verify_push::Error> {
        use std::io::Write;
        let path = self.path(alias)?;
        let tmp = self.dir.join(format!(".{alias}.tmp"));
        let mut f = std::fs::File::create(&tmp).map_err(|e| storage("create", &tmp, e))?;
        f.write_all(key.expose())
            .and_then(|()| f.sync_all())
            .map_err(|e| storage("write", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| storage("rename", &path, e))?;
        Ok(())
    }

    fn get(&self, alias: &str) -> Result<Option<SecretKeyBytes>, verify_push::Error> {
        let path = self.path(alias)?;
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(SecretKeyBytes::new(b))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(storage("read", &path, e)),
        }
    }

    fn delete(&self, alias: &str) -> Result<bool, verify_push::Error> {
        let path = self.path(alias)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(storage("delete", &path, e)),
        }
    }

    fn aliases(&self) -> Result<Vec<String>, verify_push::Error> {
        let rd = std::fs::read_dir(&self.dir).map_err(|e| storage("list", &self.dir, e))?;
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| storage("list", &self.dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // Temp files of an interrupted put are not keys.
            if let Some(a) = name.strip_suffix(".key") {
                out.push(a.to_owned());
            }
        }
        out.sort();
        Ok(out)
    }
}
