//! The `verify-emulator serve` contract: one JSON ready line on stdout, credentials from flags,
//! env or the DB, port 0, graceful exit on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

fn serve(args: &[&str], env: &[(&str, &str)]) -> (Child, Value) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_verify-emulator"));
    cmd.arg("serve")
        .args(args)
        .env_remove("VERIFY_EMULATOR_ACCOUNT_SID")
        .env_remove("VERIFY_EMULATOR_AUTH_TOKEN")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("binary starts");
    let stdout = child.stdout.take().expect("stdout piped");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("ready line");
    let v: Value =
        serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"));
    (child, v)
}

fn terminate(mut child: Child) {
    let pid = child.id().to_string();
    let ok = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(ok.success());
    let status = child.wait().expect("child exits");
    assert!(status.success(), "graceful exit on SIGTERM: {status:?}");
}

#[tokio::test]
async fn prints_ready_line_and_serves() {
    let sid = "AC0123456789abcdef0123456789abcdef";
    let (child, ready) = serve(
        &["--listen", "127.0.0.1:0", "--db", ":memory:"],
        &[
            ("VERIFY_EMULATOR_ACCOUNT_SID", sid),
            ("VERIFY_EMULATOR_AUTH_TOKEN", "secret-token"),
        ],
    );
    assert_eq!(ready["account_sid"], sid);
    assert_eq!(ready["auth_token"], "secret-token");
    let base = ready["base_url"].as_str().unwrap();
    assert!(
        base.starts_with("http://127.0.0.1:") && base.ends_with('/'),
        "{base}"
    );
    assert!(!base.ends_with(":0/"), "port 0 resolved to a real port");
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}v2/Services"))
        .basic_auth(sid, Some("secret-token"))
        .form(&[("FriendlyName", "CLI")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    assert!(body["url"].as_str().unwrap().starts_with(base));
    terminate(child);
}

#[tokio::test]
async fn flags_override_env_and_generated_credentials_persist() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.sqlite");
    let db = db.to_str().unwrap();
    let (child, first) = serve(&["--listen", "127.0.0.1:0", "--db", db], &[]);
    let sid = first["account_sid"].as_str().unwrap().to_string();
    assert!(sid.starts_with("AC") && sid.len() == 34);
    assert!(!first["auth_token"].as_str().unwrap().is_empty());
    terminate(child);
    let (child, second) = serve(&["--listen", "127.0.0.1:0", "--db", db], &[]);
    assert_eq!(second["account_sid"], first["account_sid"]);
    assert_eq!(second["auth_token"], first["auth_token"]);
    terminate(child);
    let flag_sid = "ACffffffffffffffffffffffffffffffff";
    let (child, third) = serve(
        &[
            "--listen",
            "127.0.0.1:0",
            "--db",
            ":memory:",
            "--account-sid",
            flag_sid,
            "--auth-token",
            "t",
        ],
        &[(
            "VERIFY_EMULATOR_ACCOUNT_SID",
            "AC00000000000000000000000000000000",
        )],
    );
    assert_eq!(third["account_sid"], flag_sid);
    terminate(child);
}

#[test]
fn rejects_a_malformed_account_sid() {
    let out = Command::new(env!("CARGO_BIN_EXE_verify-emulator"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            ":memory:",
            "--account-sid",
            "nope",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "no ready line on failure");
    assert!(String::from_utf8_lossy(&out.stderr).contains("account SID"));
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let emu = verify_emulator::spawn(verify_emulator::EmulatorConfig::default())
        .await
        .unwrap();
    let url = format!("{}v2/Services", emu.base_url());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    assert_eq!(http.get(&url).send().await.unwrap().status(), 401);
    drop(emu);
    // The listener closes once the server task has seen the stop signal.
    let mut refused = false;
    for _ in 0..200 {
        if http.get(&url).send().await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        refused,
        "server still answering after the handle was dropped"
    );
}

/// `--no-demo` drops the demo routes; `--allow-host` adds a Host name; any other name is
/// refused with 403.
#[tokio::test]
async fn no_demo_and_allow_host_flags() {
    let (child, ready) = serve(
        &[
            "--listen",
            "127.0.0.1:0",
            "--db",
            ":memory:",
            "--no-demo",
            "--allow-host",
            "lab.assent.test",
        ],
        &[],
    );
    let base = ready["base_url"].as_str().unwrap().to_owned();
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http.get(format!("{base}demo")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let account = (
        ready["account_sid"].as_str().unwrap().to_owned(),
        ready["auth_token"].as_str().unwrap().to_owned(),
    );
    for (host, want) in [("lab.assent.test", 200), ("other.assent.test", 403)] {
        let r = http
            .get(format!("{base}v2/Services"))
            .header("Host", host)
            .basic_auth(&account.0, Some(&account.1))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), want, "{host}");
    }
    terminate(child);
}
