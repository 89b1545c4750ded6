//! Scenarios on the real Assent window. Each needs `ASSENT_E2E=1` inside `scripts/headless.sh`
//! (else it prints a SKIP notice and passes) and fails with a message naming what didn't happen.
// Linux only, like the harness (src/lib.rs).
#![cfg(target_os = "linux")]

use assent_e2e::app::tid;
use assent_e2e::check::{ensure, report};
use assent_e2e::desktop;
use assent_e2e::scenario::{
    self, account, card, expect_answered, expect_card, expect_card_settled, in_card, Enrolled,
    Scenario,
};
use assent_e2e::wait::{self, PATIENCE};
use assent_e2e::{Error, Result};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// Checks that a notification naming the account and message reached the desktop daemon.
async fn expect_notification(s: &Scenario, who: &Enrolled, message: &str) -> Result<()> {
    s.notifications
        .wait_for_notify(&[&who.name, message], PATIENCE)
        .await?;
    let displayed = wait::until("dunst to display the notification", PATIENCE, || async {
        let n = desktop::dunst_displayed()?;
        Ok((n >= 1).then_some(n))
    })
    .await?;
    ensure(displayed >= 1, || "dunst displays no notification".into())
}

/// Approve or deny through the window's button; the server and the webhook must agree.
async fn answer_in_window(s: &Scenario, button: &str, status: &str, event: &str) -> Result<()> {
    let alice = s.enrol("Alice at Example").await?;
    let message = format!("Sign in to Example ({status} in window)?");
    let sid = s
        .challenge(&alice, &message, |c| {
            c.fields.push(("Location".into(), "Lisbon, PT".into()));
            c.fields
                .push(("Browser".into(), "Firefox 140 on Linux".into()));
        })
        .await?;
    expect_card(s, &alice, &sid, &message).await?;
    let fields = s.app.count(&in_card(&sid, "challenge-field")).await?;
    ensure(fields == 2, || {
        format!("card shows {fields} challenge-field rows, expected 2")
    })?;
    expect_notification(s, &alice, &message).await?;
    ensure(s.server_status(&alice, &sid).await? == "pending", || {
        "challenge was answered before anyone clicked".into()
    })?;

    s.app.click(&in_card(&sid, button)).await?;
    s.wait_server_status(&alice, &sid, status).await?;
    s.webhook.wait_for(&[&sid, event], PATIENCE).await?;
    expect_card_settled(s, &sid, status).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_in_window_reaches_server_and_webhook() {
    report(
        scenario::run("approve_in_window", async |s| {
            answer_in_window(s, "approve-button", "approved", "challenge.approved").await
        })
        .await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_in_window_reaches_server_and_webhook() {
    report(
        scenario::run("deny_in_window", async |s| {
            answer_in_window(s, "deny-button", "denied", "challenge.denied").await
        })
        .await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_from_notification_action() {
    report(
        scenario::run("approve_from_notification", async |s| {
            let bob = s.enrol("Bob at Example").await?;
            let message = "Approve from the notification?";
            let sid = s.challenge(&bob, message, |_| {}).await?;
            expect_card(s, &bob, &sid, message).await?;
            expect_notification(s, &bob, message).await?;
            // The person picks "Approve" in the notification (dunst's action menu).
            desktop::dunst_choose(&s.env, r"^#Approve|,approve\]")?;
            expect_answered(s, &bob, &sid, "approved").await
        })
        .await,
    );
}

/// Any program on the session bus can emit `ActionInvoked(id, "approve")`, and notification ids
/// are small sequential numbers: such a forged signal must not approve the sign-in. The app
/// reports it (naming the forging connection), the request stays pending at the server, and
/// the person's own choice in dunst still answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_action_signal_from_another_connection_is_ignored() {
    use assent_e2e::app::log_field;
    report(
        scenario::run("forged_action_signal", async |s| {
            let mallory = s.enrol("Mallory's target").await?;
            let message = "Approve only if you asked (forged signal)?";
            let sid = s.challenge(&mallory, message, |_| {}).await?;
            expect_card(s, &mallory, &sid, message).await?;
            expect_notification(s, &mallory, message).await?;
            let shown = s
                .app
                .wait_log(&["notification shown", &format!("challenge={sid}")])
                .await?;
            let id: u32 = log_field(&shown, "notification_id")
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| Error::Assertion(format!("no notification_id in {shown:?}")))?;
            let dunst = desktop::notification_server()?;

            // Another connection forges the server's signal for that id.
            desktop::forge_action_invoked(id, "approve")?;
            let ignored = ["notification signal ignored", &format!("challenge={sid}")];
            let line = wait::until("the app to report the forged signal", PATIENCE, || async {
                if let Some(line) = s.app.log_lines(&ignored)?.into_iter().next() {
                    return Ok(Some(line));
                }
                let status = s.server_status(&mallory, &sid).await?;
                if status != "pending" {
                    return Err(Error::Assertion(format!(
                        "a forged ActionInvoked({id}, approve) from another connection made the \
                             request {status}"
                    )));
                }
                Ok(None)
            })
            .await?;
            let sender = log_field(&line, "sender").unwrap_or_default();
            let server = log_field(&line, "server").unwrap_or_default();
            ensure(
                server == dunst && !sender.is_empty() && sender != dunst,
                || format!("expected sender=<the forger> server={dunst} in {line:?}"),
            )?;
            let status = s.server_status(&mallory, &sid).await?;
            ensure(status == "pending", || {
                format!("request is {status} at the server after a forged signal")
            })?;
            ensure(
                s.app.count(&in_card(&sid, "approve-button")).await? == 1,
                || format!("card {sid} no longer offers Approve after a forged signal"),
            )?;
            let answered = s
                .app
                .log_lines(&["notification answered", &format!("challenge={sid}")])?;
            ensure(answered.is_empty(), || {
                format!("the forged signal answered the notification: {answered:?}")
            })?;

            // The person's own choice, through the server that showed it, still counts.
            desktop::dunst_choose(&s.env, r"^#Approve|,approve\]")?;
            expect_answered(s, &mallory, &sid, "approved").await
        })
        .await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_challenge_leaves_the_window() {
    report(
        scenario::run("expired_challenge", async |s| {
            let carol = s.enrol("Carol at Example").await?;
            let message = "This one will expire";
            let sid = s
                .challenge(&carol, message, |c| {
                    c.expires_in = Some(Duration::from_secs(12))
                })
                .await?;
            // It must show while still pending (the app polls every few seconds)…
            s.app
                .wait_css_for(&card(&sid), Duration::from_secs(12))
                .await
                .map_err(|e| Error::Assertion(format!("pending card never showed: {e}")))?;
            // …and leave once expired, without anyone answering.
            expect_card_settled(s, &sid, "expired").await?;
            let status = s.server_status(&carol, &sid).await?;
            ensure(status == "expired", || {
                format!("server reports {status}, expected expired")
            })?;
            let deliveries = s.webhook.received();
            ensure(deliveries.iter().all(|d| !d.contains(&sid)), || {
                format!("a webhook fired for an unanswered challenge: {deliveries:?}")
            })
        })
        .await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenge_answered_elsewhere_leaves_the_window() {
    report(
        scenario::run("answered_elsewhere", async |s| {
            let dave = s.enrol("Dave at Example").await?;
            let message = "Answered by the CLI";
            let sid = s.challenge(&dave, message, |_| {}).await?;
            expect_card(s, &dave, &sid, message).await?;
            // A second process on the same data dir (the CLI) approves it.
            s.app.run_cli(&["approve", &sid])?;
            s.wait_server_status(&dave, &sid, "approved").await?;
            expect_card_settled(s, &sid, "approved").await?;
            s.app.wait_gone(&card(&sid), PATIENCE).await
        })
        .await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_in_challenge_shows_as_text_and_runs_nothing() {
    const MESSAGE: &str = r#"<img src=x onerror="document.title='pwned'">"#;
    const LABEL: &str = "<script>alert(1)</script>";
    const VALUE: &str = r#"<a href="javascript:alert(2)">x</a><img src=y onerror=alert(3)>"#;
    report(
        scenario::run("html_payloads", async |s| {
            let title_before = s.app.js("return document.title;", vec![]).await?;
            let eve = s.enrol("Eve at Example").await?;
            let sid = s
                .challenge(&eve, MESSAGE, |c| c.fields.push((LABEL.into(), VALUE.into())))
                .await?;
            s.app.wait_css(&card(&sid)).await?;
            for (hook, want) in [
                ("challenge-message", MESSAGE),
                ("challenge-field-label", LABEL),
                ("challenge-field-value", VALUE),
            ] {
                let css = in_card(&sid, hook);
                let got = s.app.text_content(&css).await?;
                ensure(got.as_deref().map(str::trim) == Some(want), || {
                    format!("{hook} textContent is {got:?}, expected the literal {want:?}")
                })?;
                let children = s
                    .app
                    .js(
                        "const e = document.querySelector(arguments[0]); return e ? e.querySelectorAll('*').length : -1;",
                        vec![Value::from(css.as_str())],
                    )
                    .await?;
                ensure(children.as_i64() == Some(0), || {
                    format!("{hook} contains {children} element(s): the payload was parsed as HTML")
                })?;
            }
            let injected = s
                .app
                .count(r#"img[src="x"], img[src="y"], a[href^="javascript:"]"#)
                .await?;
            ensure(injected == 0, || {
                format!("{injected} injected element(s) found in the document")
            })?;
            // Give a broken image's onerror the chance to fire, were it ever created.
            tokio::time::sleep(Duration::from_secs(1)).await;
            let title_after = s.app.js("return document.title;", vec![]).await?;
            ensure(title_after == title_before, || {
                format!("document.title changed from {title_before} to {title_after}")
            })?;
            match s.app.client.get_alert_text().await {
                Ok(text) => Err(Error::Assertion(format!("an alert opened: {text:?}"))),
                Err(_) => Ok(()),
            }
        })
        .await,
    );
}

/// Whether the factor store (`factors.json` in the data dir, kept by verify-push) mentions `sid`.
fn factor_record_exists(dir: &Path, sid: &str) -> Result<bool> {
    let path = dir.join("factors.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text.contains(sid)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_account_deletes_factor_key_and_record() {
    report(
        scenario::run("remove_account", async |s| {
            let keys_before = desktop::keyring_aliases()?;
            let frank = s.enrol("Frank at Example").await?;
            let keys_after: BTreeSet<String> = desktop::keyring_aliases()?;
            let new_keys: Vec<&String> = keys_after.difference(&keys_before).collect();
            ensure(!new_keys.is_empty(), || {
                "enrolment stored no key in the Secret Service (secret-tool finds none)".into()
            })?;
            ensure(
                factor_record_exists(s.app.data_dir(), &frank.factor_sid)?,
                || {
                    format!(
                        "factors.json in the data dir has no record of {}",
                        frank.factor_sid
                    )
                },
            )?;

            let row = account(&frank.factor_sid);
            s.app
                .click(&format!("{row} {}", tid("remove-account-button")))
                .await?;
            s.app.click(&tid("confirm-remove-button")).await?;
            s.app.wait_gone(&row, PATIENCE).await?;

            let status =
                s.rp.factor_status(&s.service, &frank.identity, &frank.factor_sid)
                    .await?;
            ensure(status.is_none(), || {
                format!("server still has the factor after removal (status {status:?})")
            })?;
            let keys_left = desktop::keyring_aliases()?;
            let leftover: Vec<&&String> = new_keys
                .iter()
                .filter(|k| keys_left.contains(**k))
                .collect();
            ensure(leftover.is_empty(), || {
                format!("key(s) {leftover:?} still in the Secret Service after removal")
            })?;
            ensure(
                !factor_record_exists(s.app.data_dir(), &frank.factor_sid)?,
                || format!("factors.json still has a record of {}", frank.factor_sid),
            )
        })
        .await,
    );
}

/// Also the history check: an approved challenge shows in the account's history.
/// With `ASSENT_SCREENSHOTS=1` it saves docs/screenshots/app-{accounts,pending,history}.png.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_history_lists_answered_challenge() {
    report(
        scenario::run("history_screenshots", async |s| {
            let grace = s.enrol("Grace at Example Bank").await?;
            s.enrol("Heidi at Example Mail").await?;
            s.app.screenshot("app-accounts").await?;

            let message = "Sign in to Example Bank?";
            let sid = s
                .challenge(&grace, message, |c| {
                    c.fields.push(("Location".into(), "Lisbon, PT".into()));
                    c.fields.push(("IP address".into(), "192.0.2.10".into()));
                    c.fields.push(("Browser".into(), "Firefox on Linux".into()));
                })
                .await?;
            expect_card(s, &grace, &sid, message).await?;
            s.app.screenshot("app-pending").await?;
            s.app.click(&in_card(&sid, "approve-button")).await?;
            s.wait_server_status(&grace, &sid, "approved").await?;
            expect_card_settled(s, &sid, "approved").await?;

            let row = account(&grace.factor_sid);
            let per_row = format!("{row} {}", tid("history-button"));
            if s.app.count(&per_row).await? > 0 {
                s.app.click(&per_row).await?;
            } else {
                s.app.click(&tid("history-button")).await?;
            }
            s.app.wait_css(&tid("history-list")).await?;
            let approved = format!("{}[data-status=\"approved\"]", tid("history-item"));
            s.app.wait_css(&approved).await?;
            let listed = s
                .app
                .text_content(&tid("history-list"))
                .await?
                .unwrap_or_default();
            ensure(listed.contains(message), || {
                format!("history-list doesn't show the answered challenge's message: {listed:?}")
            })?;
            s.app.screenshot("app-history").await
        })
        .await,
    );
}

/// Every file below `dir` (recursively) that holds one of `needles` or something shaped like a
/// compact JWS/JWE (`eyJ…` `.` `eyJ…`), as "path: what".
fn secrets_below(dir: &Path, needles: &[&str], found: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            secrets_below(&path, needles, found);
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        for n in needles {
            if text.contains(n) {
                found.push(format!("{}: the access token", path.display()));
            }
        }
        if text.contains("PRIVATE KEY") {
            found.push(format!("{}: a PEM private key", path.display()));
        }
        if has_compact_jwt(&text) {
            found.push(format!("{}: a compact JWT/JWS", path.display()));
        }
    }
}

/// True when `text` holds `eyJ<b64url>.eyJ` (a JSON header then a JSON payload, base64url).
fn has_compact_jwt(text: &str) -> bool {
    let b64url = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    text.match_indices("eyJ").any(|(i, _)| {
        let rest = &text[i..];
        let head = rest.find(|c: char| !b64url(c)).unwrap_or(rest.len());
        head > 10 && rest[head..].starts_with(".eyJ")
    })
}

#[test]
fn jwt_detector_finds_tokens_and_ignores_plain_text() {
    assert!(has_compact_jwt(
        "auth=eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJBQyJ9.sig"
    ));
    assert!(!has_compact_jwt("eyJ alone, and eyJabc.notjson"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secrets_in_logs_state_or_webview_storage() {
    report(
        scenario::run("no_secrets_left", async |s| {
            let who = s.enrol("Ivan at Example").await?;
            let sid = s
                .challenge(&who, "Sign in to Example (secrets scan)?", |_| {})
                .await?;
            s.app.wait_css(&card(&sid)).await?;
            s.app.click(&in_card(&sid, "approve-button")).await?;
            s.wait_server_status(&who, &sid, "approved").await?;
            // Where the app writes: its data dir (store, settings, logs), its stdout/stderr, and
            // the web view's own storage and cache under the XDG folders of this desktop.
            let mut roots = vec![s.app.data_dir().to_path_buf(), s.app.log.clone()];
            for var in ["XDG_DATA_HOME", "XDG_CACHE_HOME"] {
                if let Some(base) = std::env::var_os(var) {
                    roots.push(Path::new(&base).join("dev.assent.Assent"));
                    roots.push(Path::new(&base).join("assent"));
                }
            }
            let mut found = Vec::new();
            let mut scanned = 0;
            for root in &roots {
                if root.is_file() {
                    scanned += 1;
                    let text = std::fs::read_to_string(root).unwrap_or_default();
                    if text.contains(&who.access_token) || has_compact_jwt(&text) {
                        found.push(format!("{}: a token", root.display()));
                    }
                } else if root.is_dir() {
                    scanned += 1;
                    secrets_below(root, &[&who.access_token], &mut found);
                }
            }
            ensure(scanned >= 2, || format!("nothing to scan among {roots:?}"))?;
            ensure(found.is_empty(), || {
                format!("secrets left behind: {found:#?}")
            })
        })
        .await,
    );
}

/// Start at login through the settings switch, with a private HOME and XDG_CONFIG_HOME: the
/// switch writes `$XDG_CONFIG_HOME/autostart/Assent.desktop` (not `~/.config`, which the
/// session would ignore) whose `Exec` starts this binary with `--hidden`; after a restart the
/// switch shows what the file says, also when the file went away behind the app's back; and
/// turning the switch off removes the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_at_login_switch_writes_the_autostart_entry() {
    report(start_at_login_scenario().await);
}

/// The private home of [`start_at_login_scenario`], shared by its restarts.
struct LoginHome {
    _root: tempfile::TempDir,
    /// `$XDG_CONFIG_HOME/autostart/Assent.desktop`.
    entry: std::path::PathBuf,
    /// `$HOME/.config/autostart/Assent.desktop` (where the plugin used to write it).
    legacy: std::path::PathBuf,
    /// The app's settings.json (same data dir across restarts).
    settings: std::path::PathBuf,
    /// Written by the wrapper: the app's PID (exec keeps it).
    pid_file: std::path::PathBuf,
    /// The `assent` binary the entry must start.
    real_bin: std::path::PathBuf,
}

impl LoginHome {
    /// Makes the folders and a wrapper that points HOME, XDG_CONFIG_HOME and ASSENT_DATA_DIR
    /// there; `env.app_bin` becomes the wrapper (AppSession's own wrapper execs it).
    fn new(env: &mut assent_e2e::env::E2eEnv) -> Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let io = |what: &'static str| move |e: std::io::Error| Error::io(what, e);
        let root = tempfile::Builder::new()
            .prefix("assent-e2e-autostart-")
            .tempdir()
            .map_err(io("creating the private home"))?;
        let home = root.path().join("home");
        let xdg = root.path().join("xdg-config");
        let data = root.path().join("data");
        for dir in [&home, &xdg, &data] {
            std::fs::create_dir_all(dir).map_err(io("creating the private folders"))?;
        }
        let real_bin = env
            .app_bin
            .canonicalize()
            .map_err(io("locating the assent binary"))?;
        let pid_file = root.path().join("app.pid");
        let quote = |p: &Path| format!("'{}'", p.to_string_lossy().replace('\'', r"'\''"));
        let wrapper = root.path().join("assent-private-home.sh");
        let script = format!(
            "#!/bin/sh\nexport HOME={}\nexport XDG_CONFIG_HOME={}\nexport ASSENT_DATA_DIR={}\n\
             echo $$ > {}\nexec {} \"$@\"\n",
            quote(&home),
            quote(&xdg),
            quote(&data),
            quote(&pid_file),
            quote(&real_bin)
        );
        std::fs::write(&wrapper, script).map_err(io("writing the wrapper"))?;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))
            .map_err(io("chmod of the wrapper"))?;
        env.app_bin = wrapper;
        Ok(LoginHome {
            entry: xdg.join("autostart").join("Assent.desktop"),
            legacy: home
                .join(".config")
                .join("autostart")
                .join("Assent.desktop"),
            settings: data.join("settings.json"),
            pid_file,
            real_bin,
            _root: root,
        })
    }

    /// Ends the window and waits until the app process is gone and the bus has dropped its
    /// single-instance name, so the next start with the same data dir is not handed to it by
    /// the single-instance check. (A process can be gone before dbus-daemon has processed its
    /// disconnect; a start in that window forwards its arguments to a dead instance.)
    async fn close(&self, app: assent_e2e::app::AppSession) -> Result<()> {
        let pid = std::fs::read_to_string(&self.pid_file)
            .map_err(|e| Error::io("reading the app's pid", e))?;
        app.close().await?;
        let proc_dir = Path::new("/proc").join(pid.trim());
        wait::until("the app process to exit", PATIENCE, || async {
            let state = std::fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
            // Gone, or a zombie waiting for tauri-driver to reap it.
            let gone =
                state.is_empty() || state.split(") ").nth(1).is_some_and(|s| s.starts_with('Z'));
            Ok(gone.then_some(()))
        })
        .await?;
        wait::until(
            "the app's single-instance bus name to be released",
            PATIENCE,
            || async {
                let held = desktop::bus_names()?
                    .iter()
                    .any(|n| n.starts_with("dev.assent.Assent") && n.ends_with(".SingleInstance"));
                Ok((!held).then_some(()))
            },
        )
        .await
    }
}

/// Opens the settings view and waits until it has loaded the saved settings.
async fn open_settings(app: &assent_e2e::app::AppSession) -> Result<()> {
    app.click(&tid("settings-button")).await?;
    // The switches stay disabled until the saved settings have loaded.
    app.wait_enabled(&tid("settings-autostart")).await
}

/// Waits until `script`, given `css` as `arguments[0]`, returns true in the window.
async fn wait_until_js(
    app: &assent_e2e::app::AppSession,
    what: &str,
    script: &str,
    css: &str,
) -> Result<()> {
    wait::until(what, PATIENCE, || async {
        let v = app.js(script, vec![Value::from(css)]).await?;
        Ok(v.as_bool().unwrap_or(false).then_some(()))
    })
    .await
}

/// Whether the "Start at login" switch is on.
async fn autostart_switch(app: &assent_e2e::app::AppSession) -> Result<bool> {
    let v = app
        .js(
            "return document.querySelector(arguments[0]).checked;",
            vec![Value::from(tid("settings-autostart"))],
        )
        .await?;
    v.as_bool()
        .ok_or_else(|| Error::Assertion(format!("settings-autostart.checked is {v}")))
}

/// Clicks the switch to `on`, saves, and waits for the entry to follow and the form to settle.
async fn save_autostart(
    app: &assent_e2e::app::AppSession,
    home: &LoginHome,
    on: bool,
) -> Result<()> {
    ensure(autostart_switch(app).await? != on, || {
        format!("the switch already shows {on}")
    })?;
    app.click(&tid("settings-autostart")).await?;
    app.click(&tid("settings-save")).await?;
    let what = format!(
        "the autostart entry to be {}",
        if on { "written" } else { "removed" }
    );
    wait::until(&what, PATIENCE, || async {
        Ok((home.entry.is_file() == on).then_some(()))
    })
    .await?;
    wait_until_js(
        app,
        "the settings form to settle",
        "const b = document.querySelector(arguments[0]); \
         return !!b && b.disabled && !b.querySelector('.spinner');",
        &tid("settings-save"),
    )
    .await?;
    ensure(app.count(&tid("error-banner")).await? == 0, || {
        "saving the settings showed an error".into()
    })?;
    ensure(autostart_switch(app).await? == on, || {
        format!("after saving, the switch does not show {on}")
    })
}

async fn start_at_login_scenario() -> Result<()> {
    let Some(mut env) = assent_e2e::env::e2e_env("start_at_login").await? else {
        return Ok(());
    };
    let home = LoginHome::new(&mut env)?;
    let launch = || assent_e2e::app::AppSession::launch(&env, "start_at_login");

    // First start: off, no entry; switching on writes it where the session looks.
    let app = launch().await?;
    let outcome = async {
        open_settings(&app).await?;
        ensure(!autostart_switch(&app).await?, || {
            "switch on before anything was saved".into()
        })?;
        ensure(!home.entry.exists(), || {
            "an entry exists before the switch was used".into()
        })?;
        save_autostart(&app, &home, true).await?;
        let text = std::fs::read_to_string(&home.entry)
            .map_err(|e| Error::io("reading the autostart entry", e))?;
        let exec = text
            .lines()
            .find_map(|l| l.strip_prefix("Exec="))
            .ok_or_else(|| Error::Assertion(format!("no Exec line in:\n{text}")))?;
        // The test binary's path has no characters the Desktop Entry spec makes us quote.
        let want = format!("{} --hidden", home.real_bin.display());
        ensure(exec == want, || {
            format!("Exec={exec}, expected Exec={want}")
        })?;
        ensure(text.contains("Type=Application"), || {
            format!("entry:\n{text}")
        })?;
        ensure(!home.legacy.exists(), || {
            format!(
                "entry also written to {} (XDG_CONFIG_HOME ignored)",
                home.legacy.display()
            )
        })
    }
    .await;
    home.close(app).await?;
    outcome?;

    // Restart: the switch shows the entry.
    let app = launch().await?;
    let outcome = async {
        open_settings(&app).await?;
        ensure(autostart_switch(&app).await?, || {
            "after a restart the switch is off although the entry exists".into()
        })
    }
    .await;
    home.close(app).await?;
    outcome?;

    // The entry goes away while the app is stopped (settings.json still says on): the next
    // start shows the switch off; on and off again write and remove the entry.
    std::fs::remove_file(&home.entry).map_err(|e| Error::io("removing the entry", e))?;
    let saved = std::fs::read_to_string(&home.settings)
        .map_err(|e| Error::io("reading settings.json", e))?;
    ensure(
        saved.contains("\"startAtLogin\":true") || saved.contains("\"startAtLogin\": true"),
        || format!("settings.json does not record start at login: {saved}"),
    )?;
    let app = launch().await?;
    let outcome = async {
        open_settings(&app).await?;
        ensure(!autostart_switch(&app).await?, || {
            "after a restart the switch is on although the entry is gone".into()
        })?;
        save_autostart(&app, &home, true).await?;
        save_autostart(&app, &home, false).await?;
        ensure(!home.legacy.exists(), || "legacy entry present".into())
    }
    .await;
    home.close(app).await?;
    outcome
}

/// Enrols `identity` with the CLI into `data_dir` (stdin payload), on the desktop's keychain;
/// returns the factor SID.
fn cli_enrol(app_bin: &Path, data_dir: &Path, payload: &str, name: &str) -> Result<String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(app_bin)
        .args(["enroll", "-", "--name", name, "--json"])
        .env("ASSENT_DATA_DIR", data_dir)
        .env("ASSENT_EMULATOR_ADDR", "off")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::process("assent enroll", format!("spawn failed: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(payload.as_bytes())
            .map_err(|e| Error::io("writing the payload to assent enroll", e))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::io("waiting for assent enroll", e))?;
    let account: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        Error::process(
            "assent enroll",
            format!(
                "{}: no JSON on stdout ({e}); stderr: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        )
    })?;
    account["factorSid"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| Error::Assertion(format!("no factorSid in {account}")))
}

/// The keychain row of the security matrix, in the window, on the desktop's real gnome-keyring.
///
/// A request can only be listed with the account's key (the device JWT), and a key the app has
/// used stays in its memory, so "Approve while locked" cannot happen in a window that already
/// showed the request. What users meet is the app finding its accounts while the keyring is
/// still locked (autostart at login before the keyring is unlocked): here the account comes
/// from an earlier enrolment into another data dir whose factors.json is handed to the running
/// app. The window must say the keychain is locked and what to do; enrolling meanwhile fails
/// with the same clear words and spends nothing; once unlocked the request shows, Approve
/// reaches the server, and the refused enrolment goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_keychain_is_explained_in_window_and_approve_works_once_unlocked() {
    use assent_e2e::keyring::LockedLogin;
    report(
        scenario::run("keychain_locked", async |s| {
            let earlier = tempfile::Builder::new()
                .prefix("assent-e2e-earlier-")
                .tempdir()
                .map_err(|e| Error::io("creating the earlier data dir", e))?;
            let identity = format!("e2e-{}", uuid::Uuid::new_v4().simple());
            let token = s.rp.access_token(&s.service, &identity).await?;
            let payload = s.rp.enrolment_payload(&s.service, &identity, &token);
            let name = "Judy at Example";
            let factor_sid = cli_enrol(&s.env.app_bin, earlier.path(), &payload, name)?;
            let judy = Enrolled {
                factor_sid,
                identity,
                name: name.into(),
                access_token: token,
            };
            let message = "Sign in to Example (keychain locked)?";
            let sid = s.challenge(&judy, message, |_| {}).await?;

            // Unlocked again when this guard goes, whatever happens below.
            let mut locked = LockedLogin::lock_desktop()?;
            let store = s.app.data_dir().join("factors.json");
            let staging = s.app.data_dir().join("factors.json.incoming");
            std::fs::copy(earlier.path().join("factors.json"), &staging)
                .map_err(|e| Error::io("copying the earlier factors.json", e))?;
            std::fs::rename(&staging, &store)
                .map_err(|e| Error::io("handing factors.json to the app", e))?;
            let record = std::fs::read(&store).map_err(|e| Error::io("reading factors.json", e))?;

            // The window says what is wrong and what to do.
            let banner = tid("keychain-banner");
            s.app.wait_css(&banner).await?;
            let code = s
                .app
                .js(
                    "const e = document.querySelector(arguments[0]); return e && e.getAttribute('data-code');",
                    vec![Value::from(banner.as_str())],
                )
                .await?;
            ensure(code == "keychain_locked", || {
                format!("keychain-banner has data-code {code}, expected keychain_locked")
            })?;
            let text = s.app.text_content(&banner).await?.unwrap_or_default();
            ensure(
                text.contains("keychain is locked") && text.contains("Unlock"),
                || format!("keychain-banner does not say it is locked and to unlock it: {text:?}"),
            )?;
            s.app.screenshot("app-keychain-locked").await?;

            // Enrolling meanwhile fails with the same clear words, before the token is spent.
            let kim = format!("e2e-{}", uuid::Uuid::new_v4().simple());
            let kim_token = s.rp.access_token(&s.service, &kim).await?;
            let kim_payload = s.rp.enrolment_payload(&s.service, &kim, &kim_token);
            if s.app.count(&tid("enroll-input")).await? == 0 {
                s.app.click(&tid("add-account-button")).await?;
            }
            s.app.type_into(&tid("enroll-input"), &kim_payload).await?;
            s.app.type_into(&tid("enroll-name"), "Kim at Example").await?;
            s.app.click(&tid("enroll-submit")).await?;
            let enroll_error = format!("{}[data-code=\"keychain_locked\"]", tid("enroll-error"));
            s.app.wait_css(&enroll_error).await?;
            let said = s.app.text_content(&enroll_error).await?.unwrap_or_default();
            ensure(said.contains("keychain") && said.contains("Unlock"), || {
                format!("enroll-error does not say the keychain is locked and to unlock it: {said:?}")
            })?;

            // Nothing lost: the request waits on the server, the account record is untouched.
            let status = s.server_status(&judy, &sid).await?;
            ensure(status == "pending", || {
                format!("the request is {status} on the server while locked, expected pending")
            })?;
            let now = std::fs::read(&store).map_err(|e| Error::io("reading factors.json", e))?;
            ensure(now == record, || {
                "factors.json changed while the keychain was locked".into()
            })?;
            ensure(locked.is_locked()?, || {
                "the keyring got unlocked behind the test's back".into()
            })?;

            // Unlocked (as at login): the request shows, Approve goes through, the banner leaves.
            locked.unlock()?;
            // As a user would: the watcher backs off after a keychain failure, "Try now" asks again.
            s.app.click(&tid("keychain-retry")).await?;
            expect_card(s, &judy, &sid, message).await?;
            s.app.click(&in_card(&sid, "approve-button")).await?;
            s.wait_server_status(&judy, &sid, "approved").await?;
            expect_card_settled(s, &sid, "approved").await?;
            s.app.wait_gone(&banner, PATIENCE).await?;

            // The enrolment refused while locked works now with the same payload.
            s.app.click(&tid("enroll-submit")).await?;
            let kim_row = format!(
                "{}[data-factor-sid^=\"YF\"]",
                tid("account-item")
            );
            wait::until("Kim's account row after unlocking", PATIENCE, || async {
                let names = s
                    .app
                    .js(
                        "return Array.from(document.querySelectorAll(arguments[0])).map(r => r.textContent);",
                        vec![Value::from(kim_row.as_str())],
                    )
                    .await?;
                let found = names
                    .as_array()
                    .is_some_and(|rows| rows.iter().any(|r| r.as_str().is_some_and(|t| t.contains("Kim at Example"))));
                Ok(found.then_some(()))
            })
            .await
        })
        .await,
    );
}

/// The `Notify` calls in `log` whose text names `account` (dbus-monitor prints one block per
/// message, starting with "method call").
fn notify_blocks(log: &str, account: &str) -> Vec<String> {
    log.split("method call")
        .filter(|b| b.contains("member=Notify") && b.contains(account))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_gives_one_grouped_notification_newest_first_and_deny_all_quiets() {
    report(
        scenario::run("flood", async |s| {
            desktop::dunst_close_all()?;
            let who = s.enrol("Flooded at Example").await?;
            let first = s.challenge(&who, "Flood 1", |_| {}).await?;
            expect_card(s, &who, &first, "Flood 1").await?;
            // Alone, it gets its own notification with Approve.
            s.notifications
                .wait_for_notify(
                    &[&format!("Sign-in request: {}", who.name), "\"approve\""],
                    PATIENCE,
                )
                .await?;
            let after_first = desktop::NotificationLog::mark(&s.env.dbus_monitor_log)?;
            let mut sids = vec![first];
            for i in 2..=30 {
                sids.push(s.challenge(&who, &format!("Flood {i}"), |_| {}).await?);
            }
            let cards = tid("challenge-card");
            wait::until("the window to list all 30 requests", PATIENCE, || async {
                Ok((s.app.count(&cards).await? == 30).then_some(()))
            })
            .await?;
            after_first
                .wait_for_notify(&[&format!("30 sign-in requests: {}", who.name)], PATIENCE)
                .await?;
            // From the second request on: only the grouped notification, never an Approve,
            // and within the rate limit (the single one was the first of 3 a minute).
            let blocks = notify_blocks(&after_first.since_mark()?, &who.name);
            ensure(!blocks.is_empty(), || "no grouped notification".into())?;
            for b in &blocks {
                ensure(
                    b.contains("sign-in requests:") && !b.contains("string \"approve\""),
                    || format!("a notification during the flood was not the group or offered Approve:\n{b}"),
                )?;
            }
            let loud = blocks.iter().filter(|b| !b.contains("suppress-sound")).count();
            ensure(loud <= 2, || {
                format!("{loud} grouped notifications with sound in the first minute, expected at most 2")
            })?;
            wait::until("dunst to show one notification (the group)", PATIENCE, || async {
                Ok((desktop::dunst_displayed()? == 1).then_some(()))
            })
            .await?;
            // Newest first.
            let times = s
                .app
                .js(
                    "return Array.from(document.querySelectorAll('[data-testid=challenge-card] time')).map(t => t.getAttribute('datetime'));",
                    vec![],
                )
                .await?;
            let times: Vec<String> = serde_json::from_value(times)
                .map_err(|e| Error::Assertion(format!("card times: {e}")))?;
            ensure(times.len() == 30, || format!("{} card times", times.len()))?;
            ensure(times.windows(2).all(|w| w[0] >= w[1]), || {
                format!("cards are not newest first: {times:?}")
            })?;

            // Deny all: every request denied at the server, then the account is quiet.
            let bar = s.app.wait_css(&tid("flood-bar")).await?;
            let text = bar.text().await.unwrap_or_default();
            ensure(text.contains("30 requests"), || format!("flood bar says {text:?}"))?;
            s.app.click(&tid("deny-all-button")).await?;
            for sid in &sids {
                s.wait_server_status(&who, sid, "denied").await?;
            }
            s.app
                .wait_css(&format!("{} {}", account(&who.factor_sid), tid("account-quieted")))
                .await?;
            let quiet_mark = desktop::NotificationLog::mark(&s.env.dbus_monitor_log)?;
            let later = s.challenge(&who, "While quiet", |_| {}).await?;
            expect_card(s, &who, &later, "While quiet").await?;
            // The watcher decided its alert (logged before any notification would start).
            wait::until("the app to announce the request silently", PATIENCE, || async {
                let log = std::fs::read_to_string(&s.app.log).unwrap_or_default();
                Ok(log
                    .lines()
                    .any(|l| l.contains("challenge announced") && l.contains(&later) && l.contains("Quieted"))
                    .then_some(()))
            })
            .await?;
            let since = quiet_mark.since_mark()?;
            ensure(!since.contains("While quiet") && notify_blocks(&since, &who.name).is_empty(), || {
                format!("a quieted account's request made a notification:\n{since}")
            })
        })
        .await,
    );
}
