//! A `verify-emulator serve` child process on an ephemeral loopback port, one per scenario.

use crate::error::{Error, Result};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;
use url::Url;

/// A running emulator; killed when dropped.
pub struct Emulator {
    child: Child,
    // Kept open so a late write by the emulator never hits a closed pipe.
    _stdout: BufReader<ChildStdout>,
    /// Root URL, e.g. `http://127.0.0.1:41234/` (API under `v2/`, demo under `demo/`).
    pub base_url: Url,
    /// The account SID the relying party authenticates with.
    pub account_sid: String,
    auth_token: String,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("base_url", &self.base_url.as_str())
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"[redacted]")
            .finish()
    }
}

#[derive(serde::Deserialize)]
struct Ready {
    base_url: String,
    account_sid: String,
    auth_token: String,
}

impl Emulator {
    /// Starts `bin serve --listen 127.0.0.1:0 --db :memory:` and waits for its ready line.
    /// The emulator's stderr goes to `log`.
    pub async fn start(bin: &Path, log: &Path) -> Result<Self> {
        Self::start_with(bin, log, &[]).await
    }

    /// [`Self::start`] with extra `serve` arguments.
    pub async fn start_with(bin: &Path, log: &Path, extra: &[String]) -> Result<Self> {
        Self::start_at(bin, log, "127.0.0.1:0", ":memory:", extra).await
    }

    /// [`Self::start_with`] listening on `listen` with its state in `db` (a file survives a
    /// restart: same services, factors and credentials).
    pub async fn start_at(
        bin: &Path,
        log: &Path,
        listen: &str,
        db: &str,
        extra: &[String],
    ) -> Result<Self> {
        let stderr = std::fs::File::create(log)
            .map_err(|e| Error::io(format!("creating {}", log.display()), e))?;
        let mut child = Command::new(bin)
            .args(["serve", "--listen", listen, "--db", db])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| Error::process("verify-emulator", format!("spawn failed: {e}")))?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            return Err(Error::process("verify-emulator", "no stdout pipe"));
        };
        // The ready line is read on a blocking thread; a hung emulator ends the wait by timeout.
        let read = tokio::task::spawn_blocking(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let n = reader.read_line(&mut line);
            (reader, line, n)
        });
        let outcome = tokio::time::timeout(Duration::from_secs(60), read).await;
        let (reader, line) = match outcome {
            Ok(Ok((reader, line, Ok(n)))) if n > 0 => (reader, line),
            other => {
                let _ = child.kill();
                let _ = child.wait();
                let why = match other {
                    Err(_) => "no ready line within 60s".to_string(),
                    Ok(Err(e)) => format!("reader thread failed: {e}"),
                    Ok(Ok((_, _, Err(e)))) => format!("reading stdout: {e}"),
                    Ok(Ok(_)) => "exited before printing its ready line".to_string(),
                };
                return Err(Error::process(
                    "verify-emulator",
                    format!("{why} (log: {})", log.display()),
                ));
            }
        };
        let ready: Ready = serde_json::from_str(line.trim()).map_err(|e| {
            Error::process("verify-emulator", format!("bad ready line {line:?}: {e}"))
        })?;
        let mut base = ready.base_url;
        if !base.ends_with('/') {
            base.push('/');
        }
        let base_url = Url::parse(&base)
            .map_err(|e| Error::process("verify-emulator", format!("bad base_url {base}: {e}")))?;
        Ok(Emulator {
            child,
            _stdout: reader,
            base_url,
            account_sid: ready.account_sid,
            auth_token: ready.auth_token,
        })
    }

    /// The API base the app is given in enrolment payloads (`<base>v2/`).
    pub fn api_base(&self) -> Result<Url> {
        self.base_url
            .join("v2/")
            .map_err(|e| Error::process("verify-emulator", format!("joining v2/: {e}")))
    }

    /// The account auth token (secret; never log it).
    pub fn auth_token(&self) -> &str {
        &self.auth_token
    }
}

impl Emulator {
    /// Kills the process and waits for it (idempotent).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}
