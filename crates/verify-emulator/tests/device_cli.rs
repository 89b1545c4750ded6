//! `verify-emulator device …` against a spawned `verify-emulator serve`, and the serve flags
//! `--seed` / `--reset`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

use serde_json::{json, Value};

const VA: &str = "VA0123456789abcdef0123456789abcdef";
const IDENTITY: &str = "cli-device-user-0001";

struct Server {
    child: Child,
    base: String,
    sid: String,
    token: String,
    http: reqwest::Client,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_verify-emulator"))
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--no-demo"])
            .args(args)
            .env_remove("VERIFY_EMULATOR_ACCOUNT_SID")
            .env_remove("VERIFY_EMULATOR_AUTH_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("binary starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("ready line");
        let v: Value = serde_json::from_str(line.trim()).expect("ready JSON");
        Server {
            child,
            base: v["base_url"].as_str().unwrap().to_string(),
            sid: v["account_sid"].as_str().unwrap().to_string(),
            token: v["auth_token"].as_str().unwrap().to_string(),
            http: reqwest::Client::new(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, form: &[(&str, &str)]) -> Value {
        let r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .basic_auth(&self.sid, Some(&self.token))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    async fn challenge(&self, va: &str, factor: &str) -> String {
        self.call(
            reqwest::Method::POST,
            &format!("v2/Services/{va}/Entities/{IDENTITY}/Challenges"),
            &[("FactorSid", factor), ("Details.Message", "Sign in to CI")],
        )
        .await["sid"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn device(state: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_verify-emulator"))
        .arg("device")
        .arg("--state")
        .arg(state)
        .args(args)
        .output()
        .expect("device runs")
}

fn ok_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "status {:?}, stderr {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON document on stdout")
}

fn failed(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(needle), "stderr {err:?} lacks {needle:?}");
    assert!(out.stdout.is_empty(), "nothing on stdout on failure");
}

#[tokio::test]
async fn device_enrolls_lists_approves_and_denies_through_the_library() {
    let srv = Server::start(&["--db", ":memory:"]);
    let va = srv
        .call(
            reqwest::Method::POST,
            "v2/Services",
            &[("FriendlyName", "CI")],
        )
        .await["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let token = srv
        .call(
            reqwest::Method::POST,
            &format!("v2/Services/{va}/AccessTokens"),
            &[("Identity", IDENTITY), ("FactorType", "push")],
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("device");
    let payload = json!({
        "token": token, "serviceSid": va, "identity": IDENTITY,
        "factorType": "push", "baseUrl": format!("{}v2/", srv.base),
    })
    .to_string();
    let enrolled = ok_json(&device(
        &state,
        &["enroll", &payload, "--name", "CI runner"],
    ));
    assert_eq!(enrolled["status"], "verified");
    assert_eq!(enrolled["identity"], IDENTITY);
    let factor = enrolled["factor_sid"].as_str().unwrap().to_string();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&state), 0o700);
        assert_eq!(mode(&state.join("keys.json")), 0o600);
    }
    // The token was single-use: enrolling again with it is refused and adds nothing.
    failed(&device(&state, &["enroll", &payload]), "code 20003");
    assert_eq!(
        ok_json(&device(&state, &["factors"]))
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let yc1 = srv.challenge(&va, &factor).await;
    let yc2 = srv.challenge(&va, &factor).await;
    let pending = ok_json(&device(&state, &["pending"]));
    let sids: Vec<&str> = pending
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sid"].as_str().unwrap())
        .collect();
    assert_eq!(sids.len(), 2, "{pending}");
    assert!(sids.contains(&yc1.as_str()) && sids.contains(&yc2.as_str()));

    let approved = ok_json(&device(&state, &["approve", &yc1]));
    assert_eq!(approved["status"], "approved");
    let denied = ok_json(&device(&state, &["deny", &yc2, "--factor", &factor]));
    assert_eq!(denied["status"], "denied");
    for (sid, want) in [(&yc1, "approved"), (&yc2, "denied")] {
        let c = srv
            .call(
                reqwest::Method::GET,
                &format!("v2/Services/{va}/Entities/{IDENTITY}/Challenges/{sid}"),
                &[],
            )
            .await;
        assert_eq!(c["status"], want, "backend sees the answer");
    }
    assert_eq!(ok_json(&device(&state, &["pending", &factor])), json!([]));

    // Hostile and mistaken input: typed errors on stderr, exit 1, state unchanged.
    failed(&device(&state, &["deny", &yc1]), "(already_responded)");
    failed(
        &device(&state, &["approve", "YC' OR 1=1"]),
        "ChallengeSid must be",
    );
    failed(
        &device(&state, &["approve", "YC00000000000000000000000000000000"]),
        "code 20404",
    );
    failed(
        &device(&state, &["enroll", "not a payload"]),
        "neither JSON nor a link",
    );
    let foreign = json!({
        "token": "t", "serviceSid": va, "identity": IDENTITY,
        "factorType": "push", "baseUrl": "http://example.com/v2/",
    })
    .to_string();
    failed(&device(&state, &["enroll", &foreign]), "(insecure_url)");
    failed(
        &device(&state, &["approve", &yc1, "--factor", "YFnope"]),
        "FactorSid must be",
    );
    let c = srv
        .call(
            reqwest::Method::GET,
            &format!("v2/Services/{va}/Entities/{IDENTITY}/Challenges/{yc1}"),
            &[],
        )
        .await;
    assert_eq!(c["status"], "approved");
    // A second state directory has no factor and says so.
    let empty = dir.path().join("empty");
    failed(&device(&empty, &["pending"]), "no factor enrolled");
}

#[tokio::test]
async fn serve_seed_and_reset_flags_give_a_known_state() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("seed.sqlite");
    let db = db.to_str().unwrap();
    let seed = dir.path().join("seed.json");
    std::fs::write(
        &seed,
        json!({"services": [{"sid": VA, "friendly_name": "Seeded", "entities": [IDENTITY]}]})
            .to_string(),
    )
    .unwrap();
    {
        let srv = Server::start(&["--db", db, "--seed", seed.to_str().unwrap()]);
        let s = srv
            .call(reqwest::Method::GET, &format!("v2/Services/{VA}"), &[])
            .await;
        assert_eq!(s["friendly_name"], "Seeded");
        srv.call(
            reqwest::Method::POST,
            "v2/Services",
            &[("FriendlyName", "Extra")],
        )
        .await;
    }
    {
        // --reset drops both services and --seed puts the seeded one back.
        let srv = Server::start(&["--db", db, "--reset", "--seed", seed.to_str().unwrap()]);
        let list = srv.call(reqwest::Method::GET, "v2/Services", &[]).await;
        let names: Vec<&str> = list["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["friendly_name"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec!["Seeded"]);
    }
    // A bad seed file stops the start with a message, before anything listens.
    std::fs::write(
        &seed,
        r#"{"services":[{"sid":"VAbad","friendly_name":"x"}]}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_verify-emulator"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            ":memory:",
            "--seed",
        ])
        .arg(&seed)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("VA + 32 hex"));
    assert!(out.stdout.is_empty(), "no ready line");
}

/// `deny --reason not_me|mistake` sends the reason as the answer's `Metadata`; a plain deny
/// sends none; an unknown reason is a usage error and leaves the challenge pending.
#[tokio::test]
async fn deny_reason_travels_as_answer_metadata() {
    let srv = Server::start(&["--db", ":memory:"]);
    let va = srv
        .call(
            reqwest::Method::POST,
            "v2/Services",
            &[("FriendlyName", "CI")],
        )
        .await["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let token = srv
        .call(
            reqwest::Method::POST,
            &format!("v2/Services/{va}/AccessTokens"),
            &[("Identity", IDENTITY), ("FactorType", "push")],
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("device");
    let payload = json!({
        "token": token, "serviceSid": va, "identity": IDENTITY,
        "factorType": "push", "baseUrl": format!("{}v2/", srv.base),
    })
    .to_string();
    let factor = ok_json(&device(&state, &["enroll", &payload]))["factor_sid"]
        .as_str()
        .unwrap()
        .to_string();
    let fetch = |sid: String| {
        let path = format!("v2/Services/{va}/Entities/{IDENTITY}/Challenges/{sid}");
        let srv = &srv;
        async move { srv.call(reqwest::Method::GET, &path, &[]).await }
    };

    let hostile = srv.challenge(&va, &factor).await;
    let out = device(&state, &["deny", &hostile, "--reason", "because"]);
    assert_eq!(out.status.code(), Some(2), "clap usage error: {out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not_me"));
    let c = fetch(hostile.clone()).await;
    assert_eq!(c["status"], "pending", "nothing was sent: {c}");

    for reason in ["not_me", "mistake"] {
        let yc = srv.challenge(&va, &factor).await;
        let denied = ok_json(&device(&state, &["deny", &yc, "--reason", reason]));
        assert_eq!(denied["status"], "denied");
        let c = fetch(yc).await;
        assert_eq!(c["status"], "denied");
        assert_eq!(c["metadata"], json!({"deny_reason": reason}), "{c}");
    }
    let denied = ok_json(&device(&state, &["deny", &hostile]));
    assert_eq!(denied["status"], "denied");
    assert_eq!(fetch(hostile).await["metadata"], Value::Null);
}
