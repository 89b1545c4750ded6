//! What the person at the window sees and does without surprises: nothing moves under the
//! pointer, a request answered elsewhere says so and its notification goes, every screen passes
//! axe-core, and approving or denying works from the keyboard alone. Each scenario needs
//! `ASSENT_E2E=1` inside `scripts/headless.sh` (else it prints a SKIP notice and passes).
// Linux only, like the harness (src/lib.rs).
#![cfg(target_os = "linux")]

use assent_e2e::app::tid;
use assent_e2e::check::{ensure, report};
use assent_e2e::desktop;
use assent_e2e::scenario::{self, card, expect_card, in_card, Scenario};
use assent_e2e::wait::{self, PATIENCE};
use assent_e2e::{Error, Result};
use serde_json::Value;
use std::collections::BTreeMap;

/// Checks that `css` is exactly where it was (`before`) and still what a click there hits.
async fn expect_unmoved(s: &Scenario, css: &str, before: [f64; 4], after_what: &str) -> Result<()> {
    let now = s.app.rect(css).await?;
    let moved = (now[0] - before[0]).abs().max((now[1] - before[1]).abs());
    ensure(moved < 0.5, || {
        format!("{css} moved from {before:?} to {now:?} when {after_what}")
    })?;
    let hit = s
        .app
        .js(
            "const e = document.querySelector(arguments[0]); \
             const h = document.elementFromPoint(arguments[1], arguments[2]); \
             return !!(e && h && e.contains(h));",
            vec![
                Value::from(css),
                Value::from(before[0] + before[2] / 2.0),
                Value::from(before[1] + before[3] / 2.0),
            ],
        )
        .await?;
    ensure(hit == Value::Bool(true), || {
        format!("a click where {css} was would no longer hit it after {after_what}")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buttons_stay_under_the_pointer_while_requests_and_banners_arrive() {
    report(
        scenario::run("steady_pointer", async |s| {
            let alice = s.enrol("Alice at Example").await?;
            let add = tid("add-account-button");

            // About to click Add account when the first request arrives (it replaces the
            // "no pending requests" line above, with a taller card).
            s.app.hover(&add).await?;
            let add_at = s.app.rect(&add).await?;
            let first = s
                .challenge(&alice, "First request", |c| {
                    c.fields.push(("Location".into(), "Lisbon, PT".into()))
                })
                .await?;
            expect_card(s, &alice, &first, "First request").await?;
            expect_unmoved(s, &add, add_at, "the first request arrived").await?;

            // About to click Approve on it when a second, newer request arrives above it.
            let approve = in_card(&first, "approve-button");
            s.app.hover(&approve).await?;
            let approve_at = s.app.rect(&approve).await?;
            let second = s.challenge(&alice, "Second request", |_| {}).await?;
            s.app.wait_css(&card(&second)).await?;
            expect_unmoved(s, &approve, approve_at, "a second request arrived").await?;
            let offered = s.app.count(&tid("new-requests-button")).await?;
            ensure(offered == 1, || {
                format!("{offered} 'new request' buttons offer the card that arrived out of view")
            })?;

            // The server goes away: the offline banner appears at the top.
            s.stop_emulator();
            s.app.wait_css(&tid("offline-banner")).await?;
            expect_unmoved(s, &approve, approve_at, "the offline banner appeared").await?;

            // The button shows the new request when asked.
            s.app.click(&tid("new-requests-button")).await?;
            s.app
                .wait_gone(&tid("new-requests-button"), PATIENCE)
                .await?;
            let top = s.app.rect(&card(&second)).await?;
            ensure(top[1] >= 0.0, || {
                format!("the new request is still out of view at {top:?}")
            })
        })
        .await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_elsewhere_says_so_and_its_notification_closes() {
    report(
        scenario::run("steady_elsewhere", async |s| {
            let dave = s.enrol("Dave at Example").await?;
            let message = "Sign in to Example (answered elsewhere)?";
            let sid = s.challenge(&dave, message, |_| {}).await?;
            expect_card(s, &dave, &sid, message).await?;
            s.notifications
                .wait_for_notify(&[&dave.name, message, "assent.png"], PATIENCE)
                .await?;
            wait::until("dunst to display the notification", PATIENCE, || async {
                Ok((desktop::dunst_displayed()? >= 1).then_some(()))
            })
            .await?;

            // Another session of the same factor answers it: the window did not.
            s.app.run_cli(&["deny", &sid])?;
            s.wait_server_status(&dave, &sid, "denied").await?;
            let result = in_card(&sid, "challenge-result");
            let text = wait::until(
                "the card to say it was answered elsewhere",
                PATIENCE,
                || async {
                    let t = s.app.text_content(&result).await?.unwrap_or_default();
                    Ok(t.contains("Answered on another device").then_some(t))
                },
            )
            .await?;
            ensure(text.contains("Denied outside this window"), || {
                format!("the card says {text:?}")
            })?;
            ensure(
                s.app.count(&in_card(&sid, "approve-button")).await? == 0,
                || "the card still offers Approve".into(),
            )?;
            // Closed by the poll that learnt it, with the card: nothing else is displayed.
            wait::until("the notification to close", PATIENCE, || async {
                Ok((desktop::dunst_displayed()? == 0).then_some(()))
            })
            .await?;
            let history = desktop::dunst_history()?;
            let shown = history
                .iter()
                .find(|(summary, _)| summary.contains(&dave.name))
                .ok_or_else(|| {
                    Error::Assertion(format!(
                        "no notification for Dave in dunst's history: {history:?}"
                    ))
                })?;
            let icon = std::path::Path::new(&shown.1);
            let png = std::fs::read(icon).unwrap_or_default();
            ensure(png.starts_with(b"\x89PNG"), || {
                format!("the notification's icon_path {:?} is not a PNG", shown.1)
            })
        })
        .await,
    );
}

/// Violations axe-core finds on the window now, by impact; fails on a serious or critical one.
async fn axe_screen(
    s: &Scenario,
    axe: &str,
    screen: &str,
    counts: &mut BTreeMap<String, BTreeMap<String, usize>>,
) -> Result<()> {
    let found = s.app.axe(axe).await?;
    let by = counts.entry(screen.to_string()).or_default();
    for impact in ["critical", "serious", "moderate", "minor"] {
        by.insert(impact.to_string(), 0);
    }
    for (impact, _, _) in &found {
        *by.entry(impact.clone()).or_default() += 1;
    }
    println!("axe {screen}: {by:?} {found:?}");
    let bad: Vec<_> = found
        .iter()
        .filter(|(impact, _, _)| impact == "serious" || impact == "critical")
        .collect();
    ensure(bad.is_empty(), || {
        format!("axe-core on the {screen} screen: {bad:?}")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_screen_passes_axe_and_the_keyboard_alone_approves_and_denies() {
    report(
        scenario::run("steady_a11y", async |s| {
            let path = s.env.repo_root.join("ui/node_modules/axe-core/axe.min.js");
            let axe = std::fs::read_to_string(&path)
                .map_err(|e| Error::io(format!("reading {} (npm ci in ui/)", path.display()), e))?;
            let mut counts = BTreeMap::new();

            // The harness itself: a nameless button must be found, so a silent axe can't pass.
            s.app
                .js(
                    "const b = document.createElement('button'); b.id = 'axe-probe'; \
                     document.querySelector('main').append(b);",
                    vec![],
                )
                .await?;
            let probe = s.app.axe(&axe).await?;
            s.app
                .js("document.getElementById('axe-probe').remove();", vec![])
                .await?;
            ensure(
                probe
                    .iter()
                    .any(|(impact, id, _)| id == "button-name" && impact == "critical"),
                || format!("axe-core missed a nameless button: {probe:?}"),
            )?;

            axe_screen(s, &axe, "start (no accounts)", &mut counts).await?;
            if s.app.count(&tid("enroll-input")).await? == 0 {
                s.app.click(&tid("add-account-button")).await?;
            }
            s.app.wait_css(&tid("enroll-input")).await?;
            axe_screen(s, &axe, "add account", &mut counts).await?;
            // The preview of a pasted code (not submitted: enrol() below uses its own).
            let token = s.rp.access_token(&s.service, "e2e-preview").await?;
            let payload = s.rp.enrolment_payload(&s.service, "e2e-preview", &token);
            s.app.type_into(&tid("enroll-input"), &payload).await?;
            s.app.wait_css("[aria-label='What will be added']").await?;
            axe_screen(s, &axe, "add account preview", &mut counts).await?;

            let erin = s.enrol("Erin at Example").await?;
            axe_screen(s, &axe, "accounts", &mut counts).await?;
            let first = s
                .challenge(&erin, "Approve me with the keyboard", |c| {
                    c.fields
                        .push(("Browser".into(), "Firefox 140 on Linux".into()))
                })
                .await?;
            expect_card(s, &erin, &first, "Approve me with the keyboard").await?;
            axe_screen(s, &axe, "pending request", &mut counts).await?;

            // Keyboard only: from nothing focused, Tab to Approve, Enter.
            s.app
                .js(
                    "document.activeElement && document.activeElement.blur();",
                    vec![],
                )
                .await?;
            s.app.tab_to(&in_card(&first, "approve-button"), 30).await?;
            s.app.press(fantoccini::key::Key::Enter).await?;
            s.wait_server_status(&erin, &first, "approved").await?;

            let second = s
                .challenge(&erin, "Deny me with the keyboard", |_| {})
                .await?;
            expect_card(s, &erin, &second, "Deny me with the keyboard").await?;
            s.app
                .js(
                    "document.activeElement && document.activeElement.blur();",
                    vec![],
                )
                .await?;
            s.app.tab_to(&in_card(&second, "deny-button"), 30).await?;
            s.app.press(fantoccini::key::Key::Enter).await?;
            s.wait_server_status(&erin, &second, "denied").await?;
            axe_screen(s, &axe, "answered requests", &mut counts).await?;

            s.app.click(&tid("history-button")).await?;
            s.app.wait_css(&tid("history-item")).await?;
            axe_screen(s, &axe, "history", &mut counts).await?;
            s.app.click(&tid("settings-button")).await?;
            s.app.wait_css(&tid("settings-save")).await?;
            axe_screen(s, &axe, "settings", &mut counts).await?;
            println!("axe summary (violations by impact per screen): {counts:?}");
            Ok(())
        })
        .await,
    );
}
