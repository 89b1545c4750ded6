//! The keychain row of the security matrix, for the CLI, against a real gnome-keyring.
//!
//! With the login keyring locked, with the Secret Service absent, and with an unlock prompt
//! that nobody answers, the command that needs the key exits non-zero with one line naming the
//! keychain, what to do and the stable code; nothing is lost (factors.json unchanged, the
//! request still pending on the server); once the keyring is unlocked or started again the same
//! command succeeds with the same factor.
//!
//! Needs `ASSENT_TEST_KEYRING=1` inside `scripts/headless.sh` (else SKIP) and the binaries built
//! with `cargo build --workspace --all-targets --features assent/custom-protocol`. Each test runs
//! its own D-Bus and gnome-keyring ([`PrivateKeyring`]): locking or stopping it touches no other
//! test, and the CLI finds it through `DBUS_SESSION_BUS_ADDRESS`.
// Linux only, like the harness (src/lib.rs).
#![cfg(target_os = "linux")]

use assent_e2e::check::{ensure, report};
use assent_e2e::emulator::Emulator;
use assent_e2e::env;
use assent_e2e::keyring::{self, PrivateKeyring};
use assent_e2e::relying_party::{ChallengeSpec, RelyingParty};
use assent_e2e::{Error, Result};
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// A CLI command that has not ended after this long hangs (the keychain deadline is 30 s).
const HANG_GUARD: Duration = Duration::from_secs(120);

/// One test's world: a private keyring, an emulator acting as Twilio, the relying party, and
/// a data dir for the CLI.
struct World {
    kr: PrivateKeyring,
    rp: RelyingParty,
    service: String,
    data: TempDir,
    app: PathBuf,
    // Last: the relying party's server goes after everything that talks to it.
    _emu: Emulator,
}

/// What the CLI printed and how it ended.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}; stdout: {:?}; stderr: {:?}",
            self.code,
            self.stdout.trim(),
            self.stderr.trim()
        )
    }
}

impl World {
    /// `None` (after a notice) when `ASSENT_TEST_KEYRING` is not set.
    async fn start(name: &str, prompter: bool) -> Result<Option<World>> {
        if !keyring::keyring_requested() {
            println!(
                "SKIP {name}: ASSENT_TEST_KEYRING is not set (run `make test`, or \
                 `scripts/headless.sh env ASSENT_TEST_KEYRING=1 cargo nextest run -p assent-e2e`)"
            );
            return Ok(None);
        }
        let app = env::built_binary("assent")?;
        let emulator = env::built_binary("verify-emulator")?;
        let kr = if prompter {
            PrivateKeyring::start_with_prompter()?
        } else {
            PrivateKeyring::start()?
        };
        let logs = std::env::var_os("ASSENT_LOG_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("assent-e2e-logs"))
            .join("e2e");
        std::fs::create_dir_all(&logs).map_err(|e| Error::io("creating the log dir", e))?;
        let emu = Emulator::start(&emulator, &logs.join(format!("{name}.emulator.log"))).await?;
        let rp = RelyingParty::new(&emu)?;
        let service = rp.create_service(&format!("keychain {name}")).await?;
        let data = tempfile::Builder::new()
            .prefix(&format!("assent-{name}-"))
            .tempdir()
            .map_err(|e| Error::io("creating the data dir", e))?;
        Ok(Some(World {
            kr,
            rp,
            service,
            data,
            app,
            _emu: emu,
        }))
    }

    /// Runs `assent ARGS…` on this world's data dir and keyring; `stdin` is piped in when given.
    /// A run that does not end within [`HANG_GUARD`] is killed and reported as a hang.
    fn cli(&self, args: &[&str], stdin: Option<&str>) -> Result<Run> {
        let what = format!("assent {}", args.join(" "));
        let mut child = Command::new(&self.app)
            .args(args)
            .env("ASSENT_DATA_DIR", self.data.path())
            .env("ASSENT_EMULATOR_ADDR", "off")
            .env("DBUS_SESSION_BUS_ADDRESS", self.kr.address())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::process(&what, format!("spawn failed: {e}")))?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes())
                .map_err(|e| Error::io("writing the CLI's stdin", e))?;
        }
        let started = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if started.elapsed() < HANG_GUARD => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Error::Assertion(format!(
                        "`{what}` hung: still running after {} s (keyring logs: {})",
                        HANG_GUARD.as_secs(),
                        self.kr.log_dir().display()
                    )));
                }
                Err(e) => return Err(Error::io(format!("waiting for {what}"), e)),
            }
        }
        let out: Output = child
            .wait_with_output()
            .map_err(|e| Error::io(format!("collecting the output of {what}"), e))?;
        Ok(Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Like [`World::cli`], failing unless the command succeeds.
    fn cli_ok(&self, args: &[&str], stdin: Option<&str>) -> Result<String> {
        let run = self.cli(args, stdin)?;
        ensure(run.code == Some(0), || {
            format!("`assent {}` failed: {run}", args.join(" "))
        })?;
        Ok(run.stdout)
    }

    /// An enrolment payload for a fresh identity (the access token is unused).
    async fn payload(&self) -> Result<(String, String)> {
        let identity = format!("kc-{}", uuid::Uuid::new_v4().simple());
        let token = self.rp.access_token(&self.service, &identity).await?;
        let payload = self.rp.enrolment_payload(&self.service, &identity, &token);
        Ok((identity, payload))
    }

    /// Enrols through `assent enroll -` (payload on stdin); returns (identity, factor SID).
    async fn enrol(&self, name: &str) -> Result<(String, String)> {
        let (identity, payload) = self.payload().await?;
        let out = self.cli_ok(&["enroll", "-", "--name", name, "--json"], Some(&payload))?;
        let account: Value = serde_json::from_str(&out)
            .map_err(|e| Error::Assertion(format!("enroll --json printed {out:?}: {e}")))?;
        let factor = account["factorSid"]
            .as_str()
            .filter(|s| s.starts_with("YF"))
            .ok_or_else(|| Error::Assertion(format!("no factorSid in {account}")))?
            .to_string();
        Ok((identity, factor))
    }

    /// `factors.json` as it is on disk now.
    fn factors_json(&self) -> Result<Vec<u8>> {
        let path = self.data.path().join("factors.json");
        std::fs::read(&path).map_err(|e| Error::io(format!("reading {}", path.display()), e))
    }

    async fn status(&self, identity: &str, sid: &str) -> Result<String> {
        self.rp.challenge_status(&self.service, identity, sid).await
    }
}

/// The run failed the way the matrix asks: exit 1, one line on stderr naming the keychain,
/// containing every one of `say` (case-insensitive), ending with the stable `[code]`.
fn expect_keychain_error(run: &Run, code: &str, say: &[&str]) -> Result<()> {
    ensure(run.code == Some(1), || format!("expected exit 1: {run}"))?;
    let err = run.stderr.trim();
    let lines: Vec<&str> = err.lines().collect();
    ensure(lines.len() == 1, || {
        format!("expected one line on stderr, got {}: {run}", lines.len())
    })?;
    let line = lines[0].to_lowercase();
    ensure(
        line.starts_with("error: ") && line.contains("keychain"),
        || format!("the error does not name the keychain: {run}"),
    )?;
    for word in say {
        ensure(line.contains(&word.to_lowercase()), || {
            format!("the error does not say {word:?}: {run}")
        })?;
    }
    ensure(line.ends_with(&format!("[{code}]")), || {
        format!("the error does not end with the code [{code}]: {run}")
    })
}

/// The `--json` form carries the same stable code.
fn expect_json_code(run: &Run, code: &str) -> Result<()> {
    ensure(run.code == Some(1), || format!("expected exit 1: {run}"))?;
    let v: Value = serde_json::from_str(run.stderr.trim())
        .map_err(|e| Error::Assertion(format!("stderr is not one JSON error ({e}): {run}")))?;
    ensure(v["code"] == code, || {
        format!("JSON error code is {}, expected {code}", v["code"])
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_with_locked_keychain_says_unlock_loses_nothing_and_works_once_unlocked() {
    report(
        async {
            let Some(w) = World::start("cli_keychain_locked", false).await? else {
                return Ok(());
            };
            let (identity, factor) = w.enrol("Locked box").await?;
            let spec = ChallengeSpec::new(&factor, "Sign in while the keychain is locked?");
            let sid = w.rp.create_challenge(&w.service, &identity, &spec).await?;
            let before = w.factors_json()?;

            w.kr.lock()?;
            // Without --account (the CLI looks the challenge up), then with it, then as JSON.
            let run = w.cli(&["approve", &sid], None)?;
            expect_keychain_error(&run, "keychain_locked", &["unlock"])?;
            let run = w.cli(&["approve", &sid, "--account", "Locked box"], None)?;
            expect_keychain_error(&run, "keychain_locked", &["unlock"])?;
            expect_json_code(
                &w.cli(&["approve", &sid, "--json"], None)?,
                "keychain_locked",
            )?;
            let run = w.cli(&["challenges"], None)?;
            expect_keychain_error(&run, "keychain_locked", &["unlock"])?;

            // Nothing lost: the account is still listed, its record untouched, the request open.
            let listed = w.cli_ok(&["accounts"], None)?;
            ensure(listed.contains(&factor), || {
                format!("`assent accounts` no longer lists {factor} while locked: {listed:?}")
            })?;
            ensure(w.factors_json()? == before, || {
                "factors.json changed while the keychain was locked".into()
            })?;
            let status = w.status(&identity, &sid).await?;
            ensure(status == "pending", || {
                format!("the request is {status} on the server, expected pending")
            })?;
            ensure(w.kr.is_locked()?, || {
                "the keyring got unlocked without the password".into()
            })?;

            w.kr.unlock()?;
            let out = w.cli_ok(&["approve", &sid], None)?;
            ensure(out.trim() == format!("approved {sid}"), || {
                format!("approve after unlocking printed {out:?}")
            })?;
            let status = w.status(&identity, &sid).await?;
            ensure(status == "approved", || {
                format!("the request is {status} on the server after approving, expected approved")
            })?;
            ensure(w.factors_json()? == before, || {
                "factors.json changed: the factor is not the same one".into()
            })
        }
        .await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_without_secret_service_says_start_it_loses_nothing_and_works_once_started() {
    report(
        async {
            let Some(mut w) = World::start("cli_keychain_absent", false).await? else {
                return Ok(());
            };
            let (identity, factor) = w.enrol("Absent box").await?;
            let spec = ChallengeSpec::new(&factor, "Sign in without a keychain?");
            let sid = w.rp.create_challenge(&w.service, &identity, &spec).await?;
            let before = w.factors_json()?;
            let (new_identity, new_payload) = w.payload().await?;

            w.kr.stop_daemon()?;
            let run = w.cli(&["approve", &sid], None)?;
            expect_keychain_error(&run, "keychain_unavailable", &["start", "secret service"])?;
            expect_json_code(
                &w.cli(&["approve", &sid, "--json"], None)?,
                "keychain_unavailable",
            )?;
            // Enrolling needs the keychain first: it fails before the token is spent.
            let run = w.cli(&["enroll", "-", "--name", "Second box"], Some(&new_payload))?;
            expect_keychain_error(&run, "keychain_unavailable", &["start"])?;

            ensure(w.factors_json()? == before, || {
                "factors.json changed while the Secret Service was absent".into()
            })?;
            let status = w.status(&identity, &sid).await?;
            ensure(status == "pending", || {
                format!("the request is {status} on the server, expected pending")
            })?;

            w.kr.start_daemon()?;
            let out = w.cli_ok(&["approve", &sid], None)?;
            ensure(out.trim() == format!("approved {sid}"), || {
                format!("approve after starting the keyring printed {out:?}")
            })?;
            let status = w.status(&identity, &sid).await?;
            ensure(status == "approved", || {
                format!("the request is {status} on the server after approving, expected approved")
            })?;
            // The payload refused while the keychain was absent still works: nothing was spent.
            w.cli_ok(&["enroll", "-", "--name", "Second box"], Some(&new_payload))?;
            let accounts = w.cli_ok(&["accounts", "--json"], None)?;
            ensure(
                accounts.contains(&factor) && accounts.contains(&new_identity),
                || format!("accounts after restart miss the old or the new one: {accounts}"),
            )
        }
        .await,
    );
}

/// With a prompter on the desktop, a locked keyring answers with an unlock prompt; nobody
/// answers it here. The CLI must give up with keychain_locked rather than wait forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_gives_up_on_an_unanswered_unlock_prompt() {
    report(
        async {
            let Some(w) = World::start("cli_keychain_prompt", true).await? else {
                return Ok(());
            };
            let (identity, factor) = w.enrol("Prompt box").await?;
            let spec = ChallengeSpec::new(&factor, "Sign in while a prompt waits?");
            let sid = w.rp.create_challenge(&w.service, &identity, &spec).await?;

            w.kr.lock()?;
            let run = w.cli(&["approve", &sid, "--account", "Prompt box"], None)?;
            expect_keychain_error(&run, "keychain_locked", &["unlock"])?;
            let status = w.status(&identity, &sid).await?;
            ensure(status == "pending", || {
                format!("the request is {status} on the server, expected pending")
            })?;

            w.kr.unlock()?;
            w.cli_ok(&["approve", &sid], None)?;
            let status = w.status(&identity, &sid).await?;
            ensure(status == "approved", || {
                format!("the request is {status} after unlocking and approving")
            })
        }
        .await,
    );
}
