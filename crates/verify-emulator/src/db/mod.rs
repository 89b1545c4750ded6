//! SQLite state, used from `spawn_blocking`. A file DB uses WAL with one writer connection
//! behind a mutex and a small pool of read-only connections, so reads do not queue behind
//! writes; an in-memory DB is one connection (a second one would see another database).
//! Check-and-set steps (consuming an access token, answering a challenge) run in transactions.

pub mod access_tokens;
pub mod challenges;
pub mod entities;
pub mod factors;
pub mod meta;
pub mod notifications;
pub mod retention;
pub mod services;
pub mod webhooks;

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};

use rusqlite::Connection;

use crate::error::ApiError;

/// Where the emulator keeps its state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum DbLocation {
    /// In memory; gone when the emulator stops (tests).
    #[default]
    Memory,
    /// A SQLite file, created if absent; survives restarts.
    File(PathBuf),
}

/// Read-only connections opened next to the writer of a file DB.
const READERS: usize = 4;

/// Shared handle on the writer connection and the reader pool.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
    readers: Option<Arc<ReaderPool>>,
}

/// Idle read-only connections; a reader waits on the condvar when all are in use.
struct ReaderPool {
    idle: Mutex<Vec<Connection>>,
    freed: Condvar,
}

/// Returns its reader to the pool when dropped, also when the closure panics.
struct Lease<'a> {
    conn: Option<Connection>,
    pool: &'a ReaderPool,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            self.pool.give_back(c);
        }
    }
}

impl ReaderPool {
    fn take(&self) -> Connection {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(c) = idle.pop() {
                return c;
            }
            idle = self.freed.wait(idle).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn give_back(&self, c: Connection) {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(c);
        self.freed.notify_one();
    }
}

/// Schema versions, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE services (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sid TEXT NOT NULL UNIQUE,
    friendly_name TEXT NOT NULL,
    settings TEXT NOT NULL,
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL
);
CREATE TABLE access_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sid TEXT NOT NULL UNIQUE,
    service_sid TEXT NOT NULL,
    identity TEXT NOT NULL,
    factor_type TEXT NOT NULL,
    factor_friendly_name TEXT,
    token TEXT NOT NULL UNIQUE,
    ttl INTEGER NOT NULL,
    date_created INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE TABLE entities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sid TEXT NOT NULL UNIQUE,
    service_sid TEXT NOT NULL,
    identity TEXT NOT NULL,
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL,
    UNIQUE (service_sid, identity)
);
CREATE TABLE factors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sid TEXT NOT NULL UNIQUE,
    service_sid TEXT NOT NULL,
    entity_sid TEXT NOT NULL,
    identity TEXT NOT NULL,
    friendly_name TEXT NOT NULL,
    status TEXT NOT NULL,
    factor_type TEXT NOT NULL,
    public_key TEXT NOT NULL,
    alg TEXT NOT NULL,
    credential_sid TEXT NOT NULL UNIQUE,
    config TEXT NOT NULL,
    metadata TEXT,
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL
);
CREATE TABLE challenges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sid TEXT NOT NULL UNIQUE,
    service_sid TEXT NOT NULL,
    entity_sid TEXT NOT NULL,
    identity TEXT NOT NULL,
    factor_sid TEXT NOT NULL,
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL,
    date_responded INTEGER,
    expiration_date INTEGER NOT NULL,
    status TEXT NOT NULL,
    responded_reason TEXT NOT NULL,
    details TEXT NOT NULL,
    hidden_details TEXT,
    metadata TEXT
);
CREATE INDEX challenges_factor ON challenges (factor_sid, status);
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sid TEXT NOT NULL UNIQUE,
    service_sid TEXT NOT NULL,
    entity_sid TEXT NOT NULL,
    identity TEXT NOT NULL,
    challenge_sid TEXT NOT NULL,
    priority TEXT NOT NULL,
    ttl INTEGER NOT NULL,
    date_created INTEGER NOT NULL
);
CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sid TEXT NOT NULL UNIQUE,
    service_sid TEXT NOT NULL,
    friendly_name TEXT NOT NULL,
    event_types TEXT NOT NULL,
    status TEXT NOT NULL,
    version TEXT NOT NULL,
    webhook_url TEXT NOT NULL,
    webhook_method TEXT NOT NULL,
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL
);
"#,
    r#"
-- Per-challenge Twilio-Verify-Signature-Fields (NULL: the default list) and whether the signed
-- claims must come in that order (set by the signature-fields faults).
ALTER TABLE challenges ADD COLUMN signature_fields TEXT;
ALTER TABLE challenges ADD COLUMN signature_order_strict INTEGER NOT NULL DEFAULT 0;
"#,
    r#"
-- Whether the signed claims must be exactly the listed fields (none extra, none missing).
ALTER TABLE challenges ADD COLUMN signature_exact_set INTEGER NOT NULL DEFAULT 0;
"#,
    r#"
-- Every lookup and list order has an index, so per-request cost does not grow with history.
CREATE INDEX challenges_entity ON challenges (service_sid, identity, id);
CREATE INDEX challenges_factor_id ON challenges (factor_sid, id);
CREATE INDEX challenges_status_expiry ON challenges (status, expiration_date);
CREATE INDEX challenges_status_updated ON challenges (status, date_updated);
CREATE INDEX factors_entity ON factors (service_sid, identity, id);
CREATE INDEX entities_service ON entities (service_sid, id);
CREATE INDEX access_tokens_service ON access_tokens (service_sid);
CREATE INDEX access_tokens_expiry ON access_tokens (expires_at);
CREATE INDEX notifications_challenge ON notifications (challenge_sid);
CREATE INDEX notifications_service ON notifications (service_sid);
CREATE INDEX webhooks_service ON webhooks (service_sid, id);
"#,
    r#"
-- The sweep's deletion of unverified factors past their lifetime.
CREATE INDEX factors_status_created ON factors (status, date_created);
"#,
];

/// The database holds the auth token and every factor's key binding: it and its WAL/SHM
/// side files are owner-only, on every start (an older file may have been made with a looser
/// umask). Missing directories are created owner-only. A directory that already exists keeps
/// its mode (it may be the working directory, a home or a shared temp directory that other
/// programs rely on); a warning says so when others can read or enter it.
#[cfg(unix)]
fn prepare_file(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        if dir.is_dir() {
            let mode = std::fs::metadata(dir)?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(
                    dir = %dir.display(),
                    mode = format!("{:o}", mode & 0o777),
                    "the database directory is accessible to other users; the files in it are owner-only"
                );
            }
        } else {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
    }
    // Created 0600 from the start, so there is no moment with a looser mode.
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    restrict_files(path)
}

#[cfg(unix)]
fn restrict_files(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut names = vec![path.to_path_buf()];
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut n = path.as_os_str().to_owned();
        n.push(suffix);
        names.push(PathBuf::from(n));
    }
    for n in names {
        if n.exists() {
            std::fs::set_permissions(&n, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn prepare_file(path: &std::path::Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict_files(_: &std::path::Path) -> std::io::Result<()> {
    Ok(())
}

impl Db {
    /// Opens (creating and migrating) the database; a file and its side files are owner-only.
    pub fn open(loc: &DbLocation) -> Result<Self, crate::error::Error> {
        let mut readers = None;
        let mut conn = match loc {
            DbLocation::Memory => Connection::open_in_memory()?,
            DbLocation::File(p) => {
                prepare_file(p)?;
                let c = Connection::open(p)?;
                // WAL keeps readers of the file (e.g. sqlite3 CLI) from blocking writes.
                c.pragma_update(None, "journal_mode", "WAL")?;
                c.pragma_update(None, "synchronous", "NORMAL")?;
                // SQLite gives side files the main file's mode; pre-existing ones are fixed here.
                restrict_files(p)?;
                c
            }
        };
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn)?;
        if let DbLocation::File(p) = loc {
            let mut idle = Vec::with_capacity(READERS);
            for _ in 0..READERS {
                let r = Connection::open_with_flags(
                    p,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                r.busy_timeout(std::time::Duration::from_secs(5))?;
                // Belt and braces: a handler that writes by mistake fails loudly in tests.
                r.pragma_update(None, "query_only", "ON")?;
                idle.push(r);
            }
            readers = Some(Arc::new(ReaderPool {
                idle: Mutex::new(idle),
                freed: Condvar::new(),
            }));
        }
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
            readers,
        })
    }

    /// Runs a read-only `f` on a pooled reader (file DB) or the single connection (memory).
    /// Writes through it fail (`query_only`).
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, ApiError> + Send + 'static,
    {
        let Some(pool) = self.readers.clone() else {
            return self.call(f).await;
        };
        tokio::task::spawn_blocking(move || {
            let mut lease = Lease {
                conn: Some(pool.take()),
                pool: &pool,
            };
            match lease.conn.as_mut() {
                Some(c) => f(c),
                None => Err(ApiError::Internal("reader lease empty".into())),
            }
        })
        .await
        .map_err(|e| ApiError::Internal(format!("db task: {e}")))?
    }

    /// Runs `f` with the connection on a blocking thread.
    pub async fn call<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, ApiError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock poisons it; the connection itself is still fine.
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| ApiError::Internal(format!("db task: {e}")))?
    }

    /// Runs `f` with the connection on the current thread (startup only).
    pub fn call_sync<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, rusqlite::Error> {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

fn migrate(conn: &mut Connection) -> Result<(), rusqlite::Error> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// Parses a JSON column, mapping corruption to an internal error.
pub(crate) fn json_col(s: &str) -> Result<serde_json::Value, ApiError> {
    serde_json::from_str(s).map_err(ApiError::from)
}
