//! Hostile-environment cases over real loopback HTTP: DNS-rebinding style `Host` headers,
//! `--no-demo`, and owner-only state files.

#[cfg(unix)]
use std::os::unix::fs::PermissionsExt;

use serde_json::Value;
use verify_emulator::{spawn, EmulatorConfig};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn get(url: &str, host: Option<&str>, auth: Option<(&str, &str)>) -> (u16, String) {
    let mut rb = client().get(url);
    if let Some(h) = host {
        rb = rb.header("Host", h);
    }
    if let Some((u, p)) = auth {
        rb = rb.basic_auth(u, Some(p));
    }
    let r = rb.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.text().await.expect("body"))
}

/// A page on `rebind.attacker.example` that resolved to 127.0.0.1 sends its own name as
/// `Host`: refused everywhere (API with valid credentials included, demo, control routes),
/// while the loopback names with the right port keep working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_host_headers_are_refused() {
    let emu = spawn(EmulatorConfig {
        allowed_hosts: vec!["assent-lab.test".into()],
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator starts");
    let port = emu.local_addr().port();
    let base = emu.base_url().as_str().to_owned();
    let auth = Some((emu.account_sid(), emu.auth_token()));
    let wrong_port = format!("127.0.0.1:{}", port ^ 1);
    for host in [
        "rebind.attacker.example",
        "rebind.attacker.example:8790",
        wrong_port.as_str(),
        "localhost",
        "127.0.0.1.attacker.example",
    ] {
        for path in ["v2/Services", "demo", "demo/signin", "_emulator/faults"] {
            let (status, text) = get(&format!("{base}{path}"), Some(host), auth).await;
            assert_eq!(status, 403, "{host} {path}: {text}");
            let body: Value = serde_json::from_str(&text).expect("JSON error body");
            assert_eq!(body["code"], 20403, "{text}");
            assert!(
                body["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("not allowed")),
                "{text}"
            );
        }
    }
    let localhost = format!("localhost:{port}");
    let ipv6 = format!("[::1]:{port}");
    for host in [localhost.as_str(), ipv6.as_str(), "assent-lab.test"] {
        let (status, text) = get(&format!("{base}v2/Services"), Some(host), auth).await;
        assert_eq!(status, 200, "{host}: {text}");
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_demo_serves_the_api_only() {
    let emu = spawn(EmulatorConfig {
        demo: false,
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator starts");
    let base = emu.base_url().as_str().to_owned();
    for path in ["demo", "demo/", "demo/signin", "demo/static/style.css"] {
        let (status, text) = get(&format!("{base}{path}"), None, None).await;
        assert_eq!(status, 404, "{path}: {text}");
        let body: Value = serde_json::from_str(&text).expect("JSON 404");
        assert_eq!(body["code"], 20404, "{text}");
    }
    let r = client()
        .post(format!("{base}demo/users"))
        .form(&[("username", "x")])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status().as_u16(), 404);
    let (status, text) = get(
        &format!("{base}v2/Services"),
        None,
        Some((emu.account_sid(), emu.auth_token())),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    emu.shutdown().await;
}

#[cfg(unix)]
fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).expect("stat").permissions().mode() & 0o777
}

/// The DB (it holds the auth token) and its WAL/SHM files end up 0600 on every start: in a
/// directory that already existed, over a file a loose umask once made 0644, and in a fresh
/// nested directory, which is created 0700. Unix modes only; Windows has ACLs instead.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_files_are_owner_only() {
    use verify_emulator::DbLocation;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let existing = dir.path().join("old.sqlite");
    std::fs::write(&existing, b"").expect("pre-create");
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let nested = dir.path().join("a").join("b").join("new.sqlite");
    for db in [
        dir.path().join("fresh.sqlite"),
        existing.clone(),
        nested.clone(),
    ] {
        let emu = spawn(EmulatorConfig {
            db: DbLocation::File(db.clone()),
            ..EmulatorConfig::default()
        })
        .await
        .expect("emulator starts");
        // A write makes sure the WAL and SHM files exist.
        let r = client()
            .post(format!("{}v2/Services", emu.base_url()))
            .basic_auth(emu.account_sid(), Some(emu.auth_token()))
            .form(&[("FriendlyName", "Modes")])
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status().as_u16(), 201);
        for suffix in ["", "-wal", "-shm"] {
            let f = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
            assert!(f.exists(), "{} missing", f.display());
            assert_eq!(mode(&f), 0o600, "{}", f.display());
        }
        emu.shutdown().await;
    }
    assert_eq!(mode(&dir.path().join("a")), 0o700);
    assert_eq!(mode(&dir.path().join("a").join("b")), 0o700);
    // A directory the emulator did not create keeps its mode (see db/mod.rs for why).
    assert_eq!(mode(dir.path()), 0o755);
}
