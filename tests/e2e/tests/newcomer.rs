//! What a newcomer meets first, in the real window: pausing says what it does and ends from the
//! banner; an expired enrolment code says so in one sentence, and a new paste clears it.
// Linux only, like the harness (src/lib.rs).
#![cfg(target_os = "linux")]

use assent_e2e::app::tid;
use assent_e2e::check::{ensure, report};
use assent_e2e::scenario::{self, expect_card};
use assent_e2e::wait::{self, PATIENCE};
use assent_e2e::Result;

/// The banner's title while paused (ui/src/lib/pause.ts).
const PAUSED_TITLE: &str = "Notifications are paused — requests still appear here";
/// The enrolment error's sentence (ui/src/lib/errors.ts).
const CODE_EXPIRED: &str =
    "This enrolment code has expired or was already used — get a new one from the website.";

/// The text the window shows (rendered text: closed "Details" are not in it).
async fn visible_text(s: &scenario::Scenario) -> Result<String> {
    let v = s.app.js("return document.body.innerText;", vec![]).await?;
    Ok(v.as_str().unwrap_or_default().to_string())
}

/// Paused from Settings for an hour: the banner says notifications are paused and requests
/// still appear; a request shows its card with no notification; "Resume notifications" on the
/// banner ends the pause, and the next request is notified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_holds_back_notifications_and_the_banner_resumes_them() {
    report(
        scenario::run("pause_and_resume", async |s| {
            let who = s.enrol("pause-ann").await?;
            s.app.click(&tid("settings-button")).await?;
            s.app.wait_enabled(&tid("pause-hour")).await?;
            s.app.click(&tid("pause-hour")).await?;
            let state = wait::until("Settings to say it is paused", PATIENCE, || async {
                let t = s
                    .app
                    .text_content(&tid("pause-state"))
                    .await?
                    .unwrap_or_default();
                Ok(t.contains("paused until").then_some(t))
            })
            .await?;
            println!("pause state: {}", state.trim());
            s.app.click(&tid("settings-back")).await?;
            s.app.wait_css(&tid("paused-banner")).await?;
            let banner = s
                .app
                .text_content(&tid("paused-banner"))
                .await?
                .unwrap_or_default();
            ensure(banner.contains(PAUSED_TITLE), || {
                format!("the paused banner says {banner:?}")
            })?;

            let sid = s.challenge(&who, "Sign in while paused", |_| {}).await?;
            expect_card(s, &who, &sid, "Sign in while paused").await?;
            let line = s.app.wait_log(&["challenge announced", &sid]).await?;
            ensure(line.contains("Paused"), || {
                format!("announced while paused, but not held back: {line}")
            })?;
            let shown = s.app.notifications_shown(&sid)?;
            ensure(shown.is_empty(), || {
                format!("a notification was shown while paused: {shown:?}")
            })?;

            s.app.click(&tid("paused-resume")).await?;
            s.app.wait_gone(&tid("paused-banner"), PATIENCE).await?;
            let after = s.challenge(&who, "Sign in after resuming", |_| {}).await?;
            s.app
                .wait_log(&["notification shown", &format!("challenge={after}")])
                .await?;
            Ok(())
        })
        .await,
    );
}

/// The server's clock says the enrolment code has expired: the window says so once, in words
/// (no "HTTP 401"); pasting a new code clears the old error at once, and the new code enrols.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_enrolment_code_says_so_once_and_a_new_paste_clears_it() {
    report(
        scenario::run("expired_enrol_code", async |s| {
            let identity = format!("e2e-{}", uuid::Uuid::new_v4().simple());
            let token = s.rp.access_token(&s.service, &identity).await?;
            let stale = s.rp.enrolment_payload(&s.service, &identity, &token);
            // A day later, by the server's clock.
            s.rp.set_faults(&[("ClockOffsetSecs", "86400".into())])
                .await?;
            if s.app.count(&tid("enroll-input")).await? == 0 {
                s.app.click(&tid("add-account-button")).await?;
            }
            s.app.type_into(&tid("enroll-input"), &stale).await?;
            s.app.type_into(&tid("enroll-name"), "late-lee").await?;
            s.app.click(&tid("enroll-submit")).await?;
            s.app.wait_css(&tid("enroll-error")).await?;
            let text = visible_text(s).await?;
            ensure(text.matches(CODE_EXPIRED).count() == 1, || {
                format!("the window should say {CODE_EXPIRED:?} once; it shows:\n{text}")
            })?;
            ensure(
                !text.contains("HTTP 401") && !text.contains("20003"),
                || format!("raw details are in plain sight:\n{text}"),
            )?;

            s.rp.set_faults(&[("ClockOffsetSecs", "0".into())]).await?;
            let fresh = s.rp.access_token(&s.service, &identity).await?;
            let payload = s.rp.enrolment_payload(&s.service, &identity, &fresh);
            s.app.type_into(&tid("enroll-input"), &payload).await?;
            s.app.wait_gone(&tid("enroll-error"), PATIENCE).await?;
            s.app.type_into(&tid("enroll-name"), "late-lee").await?;
            s.app.click(&tid("enroll-submit")).await?;
            s.wait_account_named("late-lee").await.map(|_| ())
        })
        .await,
    );
}

/// The server goes away and comes back: the window says it is offline, and once the server is
/// back a new request shows its card without the user doing anything, and the offline banner
/// goes. The time from the restart to the card is printed (the target, within 5 s, is the
/// watcher's short back-off for a refused local server; its schedule has unit tests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_comes_back_is_noticed_without_a_click() {
    let options = scenario::Options {
        durable_emulator: true,
        ..scenario::Options::default()
    };
    report(
        scenario::run_with("server_returns", options, async |s| {
            let who = s.enrol("back-bo").await?;
            s.stop_emulator();
            s.app.wait_css(&tid("offline-banner")).await?;
            // Offline for several failed checks, so any back-off has grown.
            wait::until("five failed checks", PATIENCE, || async {
                let failed = s.app.log_lines(&["poll failed", &who.factor_sid])?.len();
                Ok((failed >= 5).then_some(()))
            })
            .await?;
            let back = std::time::Instant::now();
            s.restart_emulator().await?;
            let sid = s
                .challenge(&who, "Sign in after the outage", |_| {})
                .await?;
            expect_card(s, &who, &sid, "Sign in after the outage").await?;
            println!(
                "server restart -> card shown: {} ms",
                back.elapsed().as_millis()
            );
            s.app.wait_gone(&tid("offline-banner"), PATIENCE).await
        })
        .await,
    );
}
