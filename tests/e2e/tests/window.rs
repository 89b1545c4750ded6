//! Scenarios on the real Assent window. Each needs `ASSENT_E2E=1` inside `scripts/headless.sh`
//! (else it prints a SKIP notice and passes) and fails with a message naming what didn't happen.

use assent_e2e::app::tid;
use assent_e2e::desktop;
use assent_e2e::scenario::{self, account, card, Enrolled, Scenario};
use assent_e2e::wait::{self, PATIENCE};
use assent_e2e::{Error, Result};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// Turns a harness error into a readable test failure.
fn report(outcome: Result<()>) {
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Result<()> {
    if cond {
        Ok(())
    } else {
        Err(Error::Assertion(msg()))
    }
}

/// Selector of `hook` inside the card of challenge `sid`.
fn in_card(sid: &str, hook: &str) -> String {
    format!("{} {}", card(sid), tid(hook))
}

/// Waits for the card of `sid`, then checks it shows `who`'s account and `message`.
async fn expect_card(s: &Scenario, who: &Enrolled, sid: &str, message: &str) -> Result<()> {
    s.app.wait_css(&card(sid)).await?;
    let shown = s
        .app
        .text_content(&in_card(sid, "challenge-message"))
        .await?;
    ensure(shown.as_deref().map(str::trim) == Some(message), || {
        format!("challenge-message shows {shown:?}, expected {message:?}")
    })?;
    let acct = s
        .app
        .text_content(&in_card(sid, "challenge-account"))
        .await?;
    ensure(
        acct.as_deref().is_some_and(|a| a.contains(&who.name)),
        || {
            format!(
                "challenge-account shows {acct:?}, expected it to name {:?}",
                who.name
            )
        },
    )
}

/// Waits until the window no longer offers `sid` as pending: its card is gone, or it shows a
/// `challenge-result` containing `word` (approved / denied / expired).
async fn expect_card_settled(s: &Scenario, sid: &str, word: &str) -> Result<()> {
    let result_css = in_card(sid, "challenge-result");
    wait::until(
        &format!("card {sid} to leave or show {word:?}"),
        PATIENCE,
        || async {
            if s.app.count(&card(sid)).await? == 0 {
                return Ok(Some(()));
            }
            let result = s.app.text_content(&result_css).await?.unwrap_or_default();
            Ok(result.to_lowercase().contains(word).then_some(()))
        },
    )
    .await?;
    // Whatever is left must not still offer the buttons.
    let buttons = s.app.count(&in_card(sid, "approve-button")).await?;
    ensure(buttons == 0, || {
        format!("card {sid} still offers Approve after it was {word}")
    })
}

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
            s.wait_server_status(&bob, &sid, "approved").await?;
            s.webhook
                .wait_for(&[&sid, "challenge.approved"], PATIENCE)
                .await?;
            expect_card_settled(s, &sid, "approved").await
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
