//! The headless subcommands, run as the real binary against an in-process emulator.
//!
//! Separate processes cannot share an in-memory key store, so these use the OS keychain and
//! run only with `ASSENT_TEST_KEYRING=1` (scripts/headless.sh provides gnome-keyring). Without
//! it they return early and say so.

// The relying-party fixtures of the core's tests (the binary lives here, the fixtures there).
#[path = "../../crates/assent-core/tests/common/mod.rs"]
mod common;

use std::process::{Command, Output};

use common::Backend;

fn keyring_enabled() -> bool {
    if std::env::var("ASSENT_TEST_KEYRING").as_deref() == Ok("1") {
        return true;
    }
    eprintln!("skipped: set ASSENT_TEST_KEYRING=1 (inside scripts/headless.sh) to run CLI tests");
    false
}

fn assent(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_assent"))
        .args(args)
        .env("ASSENT_DATA_DIR", dir)
        .env("ASSENT_EMULATOR_ADDR", "off")
        .output()
        .expect("assent runs")
}

fn ok_json(out: Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json on stdout")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_list_approve_and_deny_from_the_terminal() {
    if !keyring_enabled() {
        return;
    }
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let payload = backend.enrollment_json("cli-user-01").await;

    let account = ok_json(assent(
        dir.path(),
        &["enroll", &payload, "--name", "CLI box", "--json"],
    ));
    assert_eq!(account["status"], "verified");
    let factor = account["factorSid"].as_str().expect("sid").to_owned();

    let accounts = ok_json(assent(dir.path(), &["accounts", "--json"]));
    assert_eq!(accounts[0]["friendlyName"], "CLI box");

    let c1 = backend
        .challenge(
            "cli-user-01",
            &factor,
            "<script>alert(1)</script>",
            &[("Where", "\u{1b}[31mred")],
        )
        .await;
    let pending = ok_json(assent(
        dir.path(),
        &["challenges", "--account", "CLI box", "--json"],
    ));
    assert_eq!(pending[0]["sid"], c1.as_str());
    assert_eq!(pending[0]["message"], "<script>alert(1)</script>");

    // Human output never passes escape sequences through.
    let text = assent(dir.path(), &["challenges"]);
    assert!(text.status.success());
    assert!(
        !text.stdout.contains(&0x1b),
        "escape byte reached the terminal"
    );

    let approved = ok_json(assent(dir.path(), &["approve", &c1, "--json"]));
    assert_eq!(approved["status"], "approved");
    assert_eq!(backend.status("cli-user-01", &c1).await, "approved");

    let c2 = backend
        .challenge("cli-user-01", &factor, "deny me", &[])
        .await;
    let denied = ok_json(assent(dir.path(), &["deny", &c2, "--json"]));
    assert_eq!(denied["status"], "denied");
    assert_eq!(backend.status("cli-user-01", &c2).await, "denied");

    // Errors are typed on stderr with a non-zero exit.
    let again = assent(dir.path(), &["approve", &c2, "--json"]);
    assert!(!again.status.success());
    let err: serde_json::Value = serde_json::from_slice(&again.stderr).expect("json error");
    assert_eq!(err["code"], "already_responded");

    // No secret in the logs.
    let token = serde_json::from_str::<serde_json::Value>(&payload).expect("json")["token"]
        .as_str()
        .expect("token")
        .to_owned();
    for entry in std::fs::read_dir(dir.path().join("logs")).expect("log dir") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("log");
        assert!(!text.contains(&token), "enrolment token in the log");
    }
}

#[test]
fn usage_errors_and_bad_input_do_not_start_the_gui() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Bad payload: typed input error, exit 1, no window (no DISPLAY needed).
    let out = Command::new(env!("CARGO_BIN_EXE_assent"))
        .args(["enroll", "definitely not a payload", "--json"])
        .env("ASSENT_DATA_DIR", dir.path())
        .env_remove("DISPLAY")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).expect("json error");
    assert_eq!(err["code"], "input");

    let out = Command::new(env!("CARGO_BIN_EXE_assent"))
        .args(["approve"])
        .env("ASSENT_DATA_DIR", dir.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "clap usage error");

    // A mistyped subcommand: a usage error with a hint, never the GUI (no DISPLAY here: a
    // GUI start would fail differently, with exit 1).
    let out = Command::new(env!("CARGO_BIN_EXE_assent"))
        .args(["aprove"])
        .env("ASSENT_DATA_DIR", dir.path())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("'aprove' is not an assent command"), "{err}");
    assert!(err.contains("'approve'"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_assent"))
        .arg("frobnicate")
        .env("ASSENT_DATA_DIR", dir.path())
        .env_remove("DISPLAY")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("similar"));
}

/// `assent` with `args`, detached from any controlling terminal (`setsid`), stdin closed.
fn assent_without_terminal(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new("setsid")
        .arg("--wait")
        .arg(env!("CARGO_BIN_EXE_assent"))
        .args(args)
        .env("ASSENT_DATA_DIR", dir)
        .env("ASSENT_EMULATOR_ADDR", "off")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("setsid runs assent")
}

/// `assent` with `args` on a pseudo-terminal (`script`), typing `typed` at it.
fn assent_on_terminal(dir: &std::path::Path, args: &[&str], typed: &str) -> Output {
    use std::io::Write;
    let mut cmd = String::from(env!("CARGO_BIN_EXE_assent"));
    for a in args {
        cmd.push(' ');
        cmd.push_str(a);
    }
    let mut child = Command::new("script")
        .args(["--quiet", "--return", "--command", &cmd, "/dev/null"])
        .env("ASSENT_DATA_DIR", dir)
        .env("ASSENT_EMULATOR_ADDR", "off")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("script runs assent");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(typed.as_bytes())
        .expect("typed");
    child.wait_with_output().expect("script ends")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_asks_for_the_pin_on_the_terminal_and_refuses_without_one() {
    if !keyring_enabled() {
        return;
    }
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let payload = backend.enrollment_json("cli-pin-01").await;
    let account = ok_json(assent(dir.path(), &["enroll", &payload, "--json"]));
    let factor = account["factorSid"].as_str().expect("sid").to_owned();
    // The PIN as the window's settings would set it.
    assent_core::verification::VerificationStore::load(dir.path().join("verification.json"))
        .set_pin(
            None,
            &assent_core::verification::Pin::new("246810".into()).expect("pin"),
            assent_core::verification::Scope::All,
            chrono::Utc::now(),
        )
        .expect("pin set");
    let sid = backend
        .challenge("cli-pin-01", &factor, "PIN on the terminal", &[])
        .await;

    // No terminal: refused with the typed code, a sentence on stderr, nothing sent.
    let out = assent_without_terminal(dir.path(), &["approve", &sid, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no terminal"), "{stderr}");
    assert!(stderr.contains("\"verification_required\""), "{stderr}");
    assert_eq!(backend.status("cli-pin-01", &sid).await, "pending");

    // A wrong PIN typed at the prompt: refused, nothing sent. (The PIN is typed before the
    // prompt turns echo off, so the terminal may echo it here; a person types after it.)
    let out = assent_on_terminal(dir.path(), &["approve", &sid], "135799\n");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Assent PIN:"), "{text}");
    assert!(text.contains("[pin_wrong]"), "{text}");
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert_eq!(backend.status("cli-pin-01", &sid).await, "pending");

    // The right one approves.
    let out = assent_on_terminal(dir.path(), &["approve", &sid], "246810\n");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(backend.status("cli-pin-01", &sid).await, "approved");

    // Denying never asks.
    let other = backend
        .challenge("cli-pin-01", &factor, "Deny without PIN", &[])
        .await;
    let denied = assent_without_terminal(dir.path(), &["deny", &other, "--json"]);
    assert!(denied.status.success(), "{:?}", denied);
    assert_eq!(backend.status("cli-pin-01", &other).await, "denied");
}

/// Every subcommand a person can type (the core's and the binary's own).
const SUBCOMMANDS: &[&str] = &[
    "enroll",
    "accounts",
    "challenges",
    "approve",
    "deny",
    "silent",
    "watch",
    "completions",
    "man",
];

#[test]
fn completion_scripts_parse_and_offer_every_subcommand() {
    let dir = tempfile::tempdir().expect("tempdir");
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = assent(dir.path(), &["completions", shell]);
        assert!(out.status.success(), "{shell}: {out:?}");
        let script = String::from_utf8(out.stdout).expect("utf-8");
        for sub in SUBCOMMANDS {
            assert!(script.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    // bash is on every machine that runs this: the script must parse.
    let script = dir.path().join("assent.bash");
    std::fs::write(&script, assent(dir.path(), &["completions", "bash"]).stdout).expect("write");
    let check = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash");
    assert!(check.status.success(), "bash -n: {check:?}");
}

#[test]
fn an_unknown_shell_is_a_usage_error_naming_the_choices() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = assent(dir.path(), &["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tcsh") && err.contains("bash"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn man_page_is_roff_with_a_section_per_subcommand() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = assent(dir.path(), &["man"]);
    assert!(out.status.success(), "{out:?}");
    let page = String::from_utf8(out.stdout).expect("utf-8");
    assert!(page.contains(".TH assent 1"), "no title line");
    for section in ["NAME", "SYNOPSIS", "OPTIONS", "SUBCOMMANDS"] {
        assert!(page.contains(&format!(".SH {section}")), "no {section}");
    }
    for sub in SUBCOMMANDS
        .iter()
        .filter(|s| **s != "man" && **s != "completions")
    {
        let heading = format!(".SH \"ASSENT {}\"", sub.to_uppercase());
        assert!(page.contains(&heading), "no section {heading}");
    }
    // The options of a subcommand are on the page, not only its name.
    assert!(page.contains("\\-\\-reason"), "deny's --reason missing");
}
