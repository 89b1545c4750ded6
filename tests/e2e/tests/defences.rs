//! Push-fatigue defences on the real window: number matching, deny reasons and the app PIN.
//! Each scenario needs `ASSENT_E2E=1` inside `scripts/headless.sh` (else it prints a SKIP notice
//! and passes). Outcomes are read from the emulator (status and `metadata` of the challenge),
//! the window's DOM and the dbus-monitor log of notifications.
// Linux only, like the harness (src/lib.rs).
#![cfg(target_os = "linux")]

use assent_e2e::app::tid;
use assent_e2e::check::{ensure, report};
use assent_e2e::scenario::{
    self, account, card, expect_answered, expect_card, expect_card_settled, in_card, Enrolled,
    Options, Scenario,
};
use assent_e2e::wait::{self, PATIENCE};
use assent_e2e::{Error, Result};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// The PIN the PIN scenarios set.
const PIN: &str = "246810";
/// A PIN of the right form that is not [`PIN`].
const WRONG_PIN: &str = "135799";

/// Hidden details asking for number matching in `mode` with `code`.
fn matching(mode: &str, code: &str) -> Vec<(String, String)> {
    vec![
        ("assent_match_mode".into(), mode.into()),
        ("assent_match_code".into(), code.into()),
    ]
}

/// Whether the card of `sid` has an enabled Approve button.
async fn approve_enabled(s: &Scenario, sid: &str) -> Result<bool> {
    s.app.is_enabled(&in_card(sid, "approve-button")).await
}

/// Fails unless the card of `sid` shows Approve, disabled (`why` says what is missing).
async fn expect_approve_disabled(s: &Scenario, sid: &str, why: &str) -> Result<()> {
    ensure(
        s.app.count(&in_card(sid, "approve-button")).await? == 1,
        || format!("card {sid} offers no Approve button"),
    )?;
    ensure(!approve_enabled(s, sid).await?, || {
        format!("Approve is enabled on card {sid} {why}")
    })
}

/// Waits until Approve on the card of `sid` is enabled.
async fn wait_approve_enabled(s: &Scenario, sid: &str) -> Result<()> {
    wait::until(
        &format!("Approve to be enabled on card {sid}"),
        PATIENCE,
        || async { Ok(approve_enabled(s, sid).await?.then_some(())) },
    )
    .await
}

/// The `value` of the input matching `css`, or `None` when there is none.
async fn input_value(s: &Scenario, css: &str) -> Result<Option<String>> {
    let v = s
        .app
        .js(
            "const e = document.querySelector(arguments[0]); return e ? e.value : null;",
            vec![Value::from(css)],
        )
        .await?;
    Ok(v.as_str().map(str::to_string))
}

/// Starts recording the card of `sid`'s `challenge-result` (and `challenge-result-reason`) and
/// whether its answer is in flight (`aria-busy`) as they change, so a settled card's words can
/// be read even after the list dropped the card.
async fn record_result(s: &Scenario, sid: &str) -> Result<()> {
    const RECORDER: &str = r#"
        const sid = arguments[0], sel = arguments[1];
        const seen = (window.__e2eResults = window.__e2eResults || {});
        const look = () => {
            const card = document.querySelector(sel);
            const r = card && card.querySelector('[data-testid="challenge-result"]');
            if (!r) return;
            const reason = card.querySelector('[data-testid="challenge-result-reason"]');
            seen[sid] = {
                result: r.textContent,
                reason: reason ? reason.textContent : null,
                busy: card.getAttribute('aria-busy'),
            };
        };
        look();
        new MutationObserver(look).observe(document.body, {
            subtree: true, childList: true, characterData: true, attributeFilter: ['aria-busy'],
        });
        return true;"#;
    s.app
        .js(RECORDER, vec![Value::from(sid), Value::from(card(sid))])
        .await
        .map(|_| ())
}

/// Waits until the recorded result of `sid` contains `word` with the card's own answer back
/// (not busy); returns the (result, reason) texts.
async fn recorded_result(s: &Scenario, sid: &str, word: &str) -> Result<(String, Option<String>)> {
    wait::until(
        &format!("card {sid} to show a result containing {word:?}"),
        PATIENCE,
        || async {
            let v = s
                .app
                .js(
                    "return (window.__e2eResults || {})[arguments[0]] || null;",
                    vec![Value::from(sid)],
                )
                .await?;
            let result = v["result"].as_str().unwrap_or_default().to_string();
            let reason = v["reason"].as_str().map(str::to_string);
            let done = result.to_lowercase().contains(word) && v["busy"] == "false";
            Ok(done.then_some((result, reason)))
        },
    )
    .await
}

/// Waits for the notification of `who`'s request `message` and checks it offers Deny but no
/// one-click Approve (dbus-monitor prints the Notify call's actions as `string "…"` lines).
async fn expect_notification_without_approve(
    s: &Scenario,
    who: &Enrolled,
    message: &str,
) -> Result<()> {
    let summary = format!("Sign-in request: {}", who.name);
    s.notifications
        .wait_for_notify(&[&summary, message], PATIENCE)
        .await?;
    let log = s.notifications.since_mark()?;
    let blocks: Vec<&str> = log
        .split("method call")
        .filter(|b| b.contains("member=Notify") && b.contains(&summary) && b.contains(message))
        .collect();
    for b in &blocks {
        ensure(
            b.contains("string \"deny\"") && !b.contains("string \"approve\""),
            || format!("the notification should offer Deny and no Approve:\n{b}"),
        )?;
    }
    Ok(())
}

/// Waits until the emulator reports `sid` denied, then checks the `deny_reason` it was told.
async fn expect_denied_with(s: &Scenario, who: &Enrolled, sid: &str, reason: &str) -> Result<()> {
    s.wait_server_status(who, sid, "denied").await?;
    let c = s.rp.fetch_challenge(&s.service, &who.identity, sid).await?;
    let metadata = &c["metadata"];
    ensure(metadata["deny_reason"] == reason, || {
        format!(
            "challenge {sid} was denied with metadata {metadata}, expected deny_reason {reason:?}"
        )
    })?;
    s.webhook
        .wait_for(&[sid, "challenge.denied"], PATIENCE)
        .await
        .map(|_| ())
}

/// Fails unless the emulator still lists `sid` as pending (`after` says what just happened).
async fn expect_still_pending(s: &Scenario, who: &Enrolled, sid: &str, after: &str) -> Result<()> {
    let status = s.server_status(who, sid).await?;
    ensure(status == "pending", || {
        format!("challenge {sid} is {status} at the server after {after}, expected pending")
    })
}

/// The numbers a `choose` card offers, in order.
async fn choices(s: &Scenario, sid: &str) -> Result<Vec<String>> {
    let v = s
        .app
        .js(
            "return Array.from(document.querySelectorAll(arguments[0])).map(b => b.textContent.trim());",
            vec![Value::from(in_card(sid, "match-choice"))],
        )
        .await?;
    serde_json::from_value(v).map_err(|e| Error::Assertion(format!("match-choice texts: {e}")))
}

/// Clicks the choice showing `number` on the card of `sid`.
async fn pick(s: &Scenario, sid: &str, number: &str) -> Result<()> {
    let offered = choices(s, sid).await?;
    let i = offered
        .iter()
        .position(|n| n == number)
        .ok_or_else(|| Error::Assertion(format!("no choice {number:?} among {offered:?}")))?;
    let css = format!("{}:nth-of-type({})", in_card(sid, "match-choice"), i + 1);
    s.app.click(&css).await?;
    let pressed = s
        .app
        .js(
            "const e = document.querySelector(arguments[0]); return e && e.getAttribute('aria-pressed');",
            vec![Value::from(css.as_str())],
        )
        .await?;
    ensure(pressed == "true", || {
        format!("choice {number} shows aria-pressed={pressed} after the click")
    })
}

/// Checks the card of `sid` offers three distinct two-digit numbers, `code` once among them.
async fn expect_three_choices_with(s: &Scenario, sid: &str, code: &str) -> Result<()> {
    let offered = choices(s, sid).await?;
    let distinct: std::collections::BTreeSet<&String> = offered.iter().collect();
    ensure(
        offered.len() == 3
            && distinct.len() == 3
            && offered
                .iter()
                .all(|n| n.len() == 2 && n.bytes().all(|b| b.is_ascii_digit()))
            && offered.iter().filter(|n| *n == code).count() == 1,
        || {
            format!(
                "card offers {offered:?}, expected three distinct two-digit numbers, {code} once"
            )
        },
    )?;
    ensure(
        s.app.count(&in_card(sid, "match-input")).await? == 0,
        || "a choose card also shows match-input".into(),
    )
}

/// Sets the app PIN in Settings (all accounts, the default scope) and goes back home.
async fn set_pin(s: &Scenario, who: &Enrolled, pin: &str) -> Result<()> {
    s.app.click(&tid("settings-button")).await?;
    s.app.wait_css(&tid("pin-settings")).await?;
    s.app.type_into(&tid("pin-new"), pin).await?;
    s.app.type_into(&tid("pin-repeat"), pin).await?;
    let save = tid("pin-save");
    s.app.wait_enabled(&save).await?;
    s.app.click(&save).await?;
    let state = tid("pin-state");
    wait::until("the PIN to be on for all accounts", PATIENCE, || async {
        if let Some(err) = s.app.text_content(&tid("pin-error")).await? {
            return Err(Error::Assertion(format!("setting the PIN failed: {err}")));
        }
        let text = s.app.text_content(&state).await?.unwrap_or_default();
        Ok(text.contains("all accounts").then_some(()))
    })
    .await?;
    s.app.click(&tid("settings-button")).await?;
    s.app.wait_css(&account(&who.factor_sid)).await.map(|_| ())
}

/// Types `pin` into the card's PIN field, presses Approve and waits until the app refused it:
/// the field is emptied (the card does that only on a PIN error) and the result box names
/// `code`. Fails at once if the request stops being pending meanwhile.
async fn approve_with_refused_pin(
    s: &Scenario,
    who: &Enrolled,
    sid: &str,
    pin: &str,
    code: &str,
) -> Result<String> {
    let field = in_card(sid, "pin-input");
    s.app.type_into(&field, pin).await?;
    wait_approve_enabled(s, sid).await?;
    s.app.click(&in_card(sid, "approve-button")).await?;
    let result_css = in_card(sid, "challenge-result");
    let text = wait::until(
        &format!("card {sid} to refuse the PIN with {code}"),
        PATIENCE,
        || async {
            let emptied = input_value(s, &field).await?.is_some_and(|v| v.is_empty());
            let result = s.app.text_content(&result_css).await?.unwrap_or_default();
            if emptied && result.contains(code) {
                return Ok(Some(result));
            }
            let status = s.server_status(who, sid).await?;
            if status != "pending" {
                return Err(Error::Assertion(format!(
                    "challenge {sid} became {status} after Approve with a PIN that should be \
                     refused ({code}); card says {result:?}"
                )));
            }
            Ok(None)
        },
    )
    .await?;
    expect_still_pending(s, who, sid, &format!("a refused PIN ({code})")).await?;
    ensure(
        s.app.count(&in_card(sid, "approve-button")).await? == 1,
        || format!("card {sid} no longer offers Approve after a refused PIN"),
    )?;
    Ok(text)
}

/// The lock end in a `pin_locked` message ("… approving is locked until <RFC 3339>").
fn locked_until(text: &str) -> Result<DateTime<Utc>> {
    let at = text
        .split("locked until ")
        .nth(1)
        .map(|rest| {
            // The text runs on into the next line of the box without a space.
            let end = rest
                .find(|c: char| !(c.is_ascii_digit() || "-:TZ+".contains(c)))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .ok_or_else(|| Error::Assertion(format!("no lock end in {text:?}")))?;
    DateTime::parse_from_rfc3339(at)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Error::Assertion(format!("lock end {at:?} in {text:?}: {e}")))
}

/// Presses Approve on `sid`, whose card holds a wrong number (`how`); checks the emulator got
/// a deny with `deny_reason` `wrong_match` and the card settled denied. Returns a complaint
/// when the card does not say why it was denied.
async fn approve_wrong_number(
    s: &Scenario,
    who: &Enrolled,
    sid: &str,
    how: &str,
) -> Result<Option<String>> {
    wait_approve_enabled(s, sid).await?;
    record_result(s, sid).await?;
    s.app.click(&in_card(sid, "approve-button")).await?;
    expect_denied_with(s, who, sid, "wrong_match").await?;
    let (result, reason) = recorded_result(s, sid, "denied").await?;
    expect_card_settled(s, sid, "denied").await?;
    let explained = reason
        .as_deref()
        .is_some_and(|r| r.contains("did not match"));
    Ok((!explained).then(|| {
        format!(
            "after {how} the card says {result:?} with reason {reason:?}, expected it to say \
             the number did not match"
        )
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn number_matching_right_number_approves_and_notification_has_no_approve() {
    report(
        scenario::run("match_right", async |s| {
            let who = s.enrol("Nina at Example").await?;

            // Choose: three numbers, Approve waits for a pick, the notification can't approve.
            let message = "Sign in to Example (pick the number)?";
            let sid = s
                .challenge(&who, message, |c| c.hidden = matching("choose", "47"))
                .await?;
            expect_card(s, &who, &sid, message).await?;
            expect_three_choices_with(s, &sid, "47").await?;
            expect_approve_disabled(s, &sid, "before a number was picked").await?;
            expect_notification_without_approve(s, &who, message).await?;
            expect_still_pending(s, &who, &sid, "showing the card").await?;
            pick(s, &sid, "47").await?;
            wait_approve_enabled(s, &sid).await?;
            s.app.click(&in_card(&sid, "approve-button")).await?;
            expect_answered(s, &who, &sid, "approved").await?;

            // Type: an input, Approve waits for two digits.
            let message = "Sign in to Example (type the number)?";
            let sid = s
                .challenge(&who, message, |c| c.hidden = matching("type", "08"))
                .await?;
            expect_card(s, &who, &sid, message).await?;
            let input = in_card(&sid, "match-input");
            s.app.wait_css(&input).await?;
            ensure(
                s.app.count(&in_card(&sid, "match-choice")).await? == 0,
                || "a type card also shows match-choice buttons".into(),
            )?;
            expect_approve_disabled(s, &sid, "before a number was typed").await?;
            s.app.type_into(&input, "0").await?;
            expect_approve_disabled(s, &sid, "with one digit typed").await?;
            expect_notification_without_approve(s, &who, message).await?;
            s.app.type_into(&input, "08").await?;
            wait_approve_enabled(s, &sid).await?;
            s.app.click(&in_card(&sid, "approve-button")).await?;
            expect_answered(s, &who, &sid, "approved").await
        })
        .await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn number_matching_wrong_number_denies_with_reason_wrong_match() {
    report(
        scenario::run("match_wrong", async |s| {
            let who = s.enrol("Oscar at Example").await?;

            // A wrong pick denies the request, tells the server why, and the card says so.
            let message = "Sign in to Example (wrong pick)?";
            let sid = s
                .challenge(&who, message, |c| c.hidden = matching("choose", "47"))
                .await?;
            expect_card(s, &who, &sid, message).await?;
            expect_three_choices_with(s, &sid, "47").await?;
            let wrong = choices(s, &sid)
                .await?
                .into_iter()
                .find(|n| n != "47")
                .ok_or_else(|| Error::Assertion("no wrong number offered".into()))?;
            pick(s, &sid, &wrong).await?;
            let mut unexplained = Vec::new();
            unexplained.extend(approve_wrong_number(s, &who, &sid, "a wrong pick").await?);

            // So does a wrong typed number.
            let message = "Sign in to Example (wrong number typed)?";
            let sid = s
                .challenge(&who, message, |c| c.hidden = matching("type", "47"))
                .await?;
            expect_card(s, &who, &sid, message).await?;
            s.app.type_into(&in_card(&sid, "match-input"), "74").await?;
            unexplained.extend(approve_wrong_number(s, &who, &sid, "a wrong typed number").await?);
            ensure(unexplained.is_empty(), || unexplained.join("\n"))
        })
        .await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_reasons_reach_the_server_and_not_me_quiets_the_account() {
    report(
        scenario::run("deny_reasons", async |s| {
            let who = s.enrol("Petra at Example").await?;
            let quieted = format!("{} {}", account(&who.factor_sid), tid("account-quieted"));

            // "It was a mistake": denied with that reason; the account is not quieted.
            let message = "Sign in to Example (a mistake)?";
            let sid = s.challenge(&who, message, |_| {}).await?;
            expect_card(s, &who, &sid, message).await?;
            s.app.click(&in_card(&sid, "deny-mistake-button")).await?;
            expect_denied_with(s, &who, &sid, "mistake").await?;
            expect_card_settled(s, &sid, "denied").await?;
            // The app quiets an account before its deny returns, so by now it would have.
            let quiet_lines = s.app.log_lines(&["account quieted", &who.factor_sid])?;
            ensure(quiet_lines.is_empty(), || {
                format!("a \"mistake\" deny quieted the account: {quiet_lines:?}")
            })?;
            ensure(s.app.count(&quieted).await? == 0, || {
                "the account shows account-quieted after a \"mistake\" deny".into()
            })?;

            // "This wasn't me": denied with that reason; the account is quieted.
            let message = "Sign in to Example (not me)?";
            let sid = s.challenge(&who, message, |_| {}).await?;
            expect_card(s, &who, &sid, message).await?;
            s.app.click(&in_card(&sid, "deny-button")).await?;
            expect_denied_with(s, &who, &sid, "not_me").await?;
            expect_card_settled(s, &sid, "denied").await?;
            s.app.wait_css(&quieted).await.map(|_| ())
        })
        .await,
    );
}

/// The `until=` of an "account quieted" log line (`2026-12-02 16:01:22.279492804 UTC`).
fn quiet_end(line: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    let text = line
        .split_once("until=")
        .map(|(_, rest)| rest.trim_end())
        .ok_or_else(|| Error::Assertion(format!("no until= in the app log line {line:?}")))?;
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f UTC")
        .map(|t| t.and_utc())
        .map_err(|e| Error::Assertion(format!("cannot read until={text:?}: {e}")))
}

/// How long "This wasn't me" quiets an account in [`a_quiet_account_is_loud_again_when_the_quiet_ends`].
const SHORT_QUIET_SECS: u64 = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_account_is_loud_again_when_the_quiet_ends() {
    let options = Options {
        app_env: vec![("ASSENT_QUIET_SECS", SHORT_QUIET_SECS.to_string())],
        ..Options::default()
    };
    report(
        scenario::run_with("quiet_ends", options, async |s| {
            let who = s.enrol("Rosa at Example").await?;
            let quieted = format!("{} {}", account(&who.factor_sid), tid("account-quieted"));
            let message = "Sign in to Example (before the quiet)?";
            let sid = s.challenge(&who, message, |_| {}).await?;
            expect_card(s, &who, &sid, message).await?;
            s.app.click(&in_card(&sid, "deny-button")).await?;
            expect_denied_with(s, &who, &sid, "not_me").await?;
            // The server learns the deny before the app records the quiet, so wait for the
            // log line (the badge may already be gone again by then).
            let line = s
                .app
                .wait_log(&["account quieted", &who.factor_sid])
                .await?;
            // A badge count of 0 proves nothing before the quiet has ended (the badge may not
            // be rendered yet): wait for the end the app logged, on the same clock.
            let until = quiet_end(&line)?;
            wait::until("the quiet to end", PATIENCE, || async {
                Ok((chrono::Utc::now() > until).then_some(()))
            })
            .await?;
            // The badge goes when the quiet ends, without a reload.
            wait::until("the quiet badge to go", PATIENCE, || async {
                Ok((s.app.count(&quieted).await? == 0).then_some(()))
            })
            .await?;
            // A request after the quiet alerts again, with its own notification and Approve.
            let mark = assent_e2e::desktop::NotificationLog::mark(&s.env.dbus_monitor_log)?;
            let message = "Sign in to Example (after the quiet)?";
            let after = s.challenge(&who, message, |_| {}).await?;
            expect_card(s, &who, &after, message).await?;
            mark.wait_for_notify(
                &[
                    &format!("Sign-in request: {}", who.name),
                    message,
                    "\"approve\"",
                ],
                PATIENCE,
            )
            .await?;
            let announced = s.app.log_lines(&["challenge announced", &after])?;
            ensure(
                !announced.is_empty() && announced.iter().all(|l| !l.contains("Quieted")),
                || format!("the request after the quiet was announced as {announced:?}"),
            )
        })
        .await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_pin_wrong_pin_keeps_the_request_and_right_pin_approves() {
    report(
        scenario::run("pin_right_wrong", async |s| {
            let who = s.enrol("Quinn at Example").await?;
            set_pin(s, &who, PIN).await?;

            let message = "Sign in to Example (PIN)?";
            let sid = s.challenge(&who, message, |_| {}).await?;
            expect_card(s, &who, &sid, message).await?;
            let field = in_card(&sid, "pin-input");
            s.app.wait_css(&field).await?;
            expect_approve_disabled(s, &sid, "before a PIN was typed").await?;
            expect_notification_without_approve(s, &who, message).await?;
            s.app.type_into(&field, "12345").await?;
            expect_approve_disabled(s, &sid, "with a 5-digit PIN").await?;

            let refused = approve_with_refused_pin(s, &who, &sid, WRONG_PIN, "pin_wrong").await?;
            ensure(refused.contains("4 more"), || {
                format!("after one wrong PIN the card says {refused:?}, expected 4 more tries")
            })?;

            s.app.type_into(&field, PIN).await?;
            wait_approve_enabled(s, &sid).await?;
            s.app.click(&in_card(&sid, "approve-button")).await?;
            expect_answered(s, &who, &sid, "approved").await
        })
        .await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_pin_lockout_refuses_even_the_right_pin_and_deny_still_works() {
    report(
        scenario::run("pin_lockout", async |s| {
            let who = s.enrol("Rosa at Example").await?;
            set_pin(s, &who, PIN).await?;

            let message = "Sign in to Example (PIN lockout)?";
            let sid = s.challenge(&who, message, |_| {}).await?;
            expect_card(s, &who, &sid, message).await?;
            s.app.wait_css(&in_card(&sid, "pin-input")).await?;

            for left in (1..=4).rev() {
                let said = approve_with_refused_pin(s, &who, &sid, WRONG_PIN, "pin_wrong").await?;
                ensure(said.contains(&format!("{left} more")), || {
                    format!("card says {said:?}, expected {left} more tries")
                })?;
            }
            let said = approve_with_refused_pin(s, &who, &sid, WRONG_PIN, "pin_locked").await?;
            let until = locked_until(&said)?;

            // Locked: the right PIN is refused too and nothing reaches the server.
            ensure(Utc::now() < until, || {
                format!("the lock (until {until}) ended before the right PIN could be tried")
            })?;
            let said = approve_with_refused_pin(s, &who, &sid, PIN, "pin_locked").await?;
            ensure(locked_until(&said)? == until, || {
                format!("the right PIN while locked changed the lock: {said:?}, was until {until}")
            })?;

            // Denying needs no PIN, even while locked.
            s.app.click(&in_card(&sid, "deny-button")).await?;
            expect_denied_with(s, &who, &sid, "not_me").await?;
            expect_card_settled(s, &sid, "denied").await
        })
        .await,
    );
}
