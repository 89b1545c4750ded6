//! Where Assent keeps its files: one data directory (or `ASSENT_DATA_DIR`) and a log directory.

use std::path::{Path, PathBuf};

use crate::AppError;

/// Environment variable that overrides the data directory (tests always set it).
pub const DATA_DIR_ENV: &str = "ASSENT_DATA_DIR";

/// The directories Assent reads and writes.
#[derive(Clone, Debug)]
pub struct Paths {
    /// factors.json (verify-push), settings.json, announced.json, activity.json, emulator DB.
    pub data_dir: PathBuf,
    /// Rotating log files.
    pub log_dir: PathBuf,
}

impl Paths {
    /// `ASSENT_DATA_DIR` when set (logs below it), else the platform directories.
    pub fn resolve() -> Result<Paths, AppError> {
        if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
            return Ok(Paths::at(PathBuf::from(dir)));
        }
        let dirs = directories::ProjectDirs::from("dev", "assent", "Assent").ok_or_else(|| {
            AppError::Storage("no home directory to keep Assent's data in".into())
        })?;
        let data_dir = dirs.data_local_dir().to_path_buf();
        // Linux has a state dir ($XDG_STATE_HOME) meant for logs; elsewhere logs sit in the data dir.
        let log_dir = dirs
            .state_dir()
            .map(|d| d.join("logs"))
            .unwrap_or_else(|| data_dir.join("logs"));
        Ok(Paths { data_dir, log_dir })
    }

    /// Everything below one directory (tests, `ASSENT_DATA_DIR`).
    pub fn at(dir: impl Into<PathBuf>) -> Paths {
        let data_dir = dir.into();
        let log_dir = data_dir.join("logs");
        Paths { data_dir, log_dir }
    }

    /// Creates the directories (owner-only on Unix: factor records live here).
    pub fn ensure(&self) -> Result<(), AppError> {
        for dir in [&self.data_dir, &self.log_dir] {
            create_private_dir(dir)?;
        }
        Ok(())
    }

    /// The app settings file.
    pub fn settings_file(&self) -> PathBuf {
        self.data_dir.join("settings.json")
    }

    /// Challenge SIDs already announced, with their expiry (no duplicate notifications).
    pub fn announced_file(&self) -> PathBuf {
        self.data_dir.join("announced.json")
    }

    /// Last activity per account.
    pub fn activity_file(&self) -> PathBuf {
        self.data_dir.join("activity.json")
    }

    /// Accounts quieted after a "not me" report, with the time the quiet ends.
    pub fn quiet_file(&self) -> PathBuf {
        self.data_dir.join("quiet.json")
    }

    /// The app PIN's hash and wrong-try count ([`crate::verification`]).
    pub fn verification_file(&self) -> PathBuf {
        self.data_dir.join("verification.json")
    }

    /// Per-account web origins and silent-approval switches.
    pub fn silent_file(&self) -> PathBuf {
        self.data_dir.join("silent.json")
    }

    /// The embedded verify-emulator's database.
    pub fn emulator_db(&self) -> PathBuf {
        self.data_dir.join("emulator.sqlite")
    }
}

fn create_private_dir(dir: &Path) -> Result<(), AppError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| AppError::Storage(format!("cannot create {}: {e}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_puts_logs_below_the_data_dir() {
        let p = Paths::at("/tmp/x");
        assert_eq!(p.log_dir, PathBuf::from("/tmp/x/logs"));
        assert_eq!(p.settings_file(), PathBuf::from("/tmp/x/settings.json"));
    }
}
