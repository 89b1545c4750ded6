//! Silent approval on the same desktop, end to end: the real window, the emulator's demo site
//! in headless Chromium, and Assent's local endpoint between them. Each scenario gets its own
//! endpoint port (the app's `ASSENT_LOCAL_ADDR` and the demo's `--assent-endpoint`), so another
//! Assent on this machine never answers for it.
// Linux only, like the harness (src/lib.rs).
#![cfg(target_os = "linux")]

use assent_e2e::app::tid;
use assent_e2e::browser::{Browser, Tab};
use assent_e2e::check::{ensure, report};
use assent_e2e::scenario::{self, account, card, Options, Scenario};
use assent_e2e::wait::{self, PATIENCE};
use assent_e2e::{Error, Result};
use serde_json::Value;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A free loopback port for this scenario's local endpoint. The listener is closed before the
/// app binds it; if something else takes it meanwhile, the app says so in its log and the
/// scenario fails on "endpoint listening", never silently.
fn free_addr() -> Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Error::io("picking a port for the local endpoint", e))?;
    l.local_addr()
        .map_err(|e| Error::io("picking a port for the local endpoint", e))
}

/// Keeps the X session "active" for silent approval's idle rule: WebDriver and DevTools input
/// never reach the X server, so a real pointer nudge every second stands in for the person at
/// the desktop. Started before the app, so its first idle sample is already fresh.
struct Presence(tokio::task::JoinHandle<()>);

impl Presence {
    fn start() -> Result<Presence> {
        if assent_e2e::env::which("xdotool").is_none() {
            return Err(Error::Environment(
                "xdotool is not on PATH (run scripts/setup.sh test)".into(),
            ));
        }
        Ok(Presence(tokio::spawn(async {
            let mut step = 1;
            loop {
                let _ = Command::new("xdotool")
                    .args(["mousemove_relative", "--", &step.to_string(), "0"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
                step = -step;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })))
    }
}

impl Drop for Presence {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What enrolment from the demo produced.
struct DemoAccount {
    factor_sid: String,
    identity: String,
    service: String,
    /// The demo's origin, as its enrolment payload names it.
    origin: String,
}

/// Creates a demo user in Chromium, mints its enrolment payload on the demo's page (which
/// must carry the page's origin), and pastes it into the window, which must show the origin
/// before the account is added.
async fn enrol_from_demo(s: &Scenario, tab: &Tab<'_>, user: &str) -> Result<DemoAccount> {
    let demo = s
        .emulator_url()
        .join("demo")
        .map_err(|e| Error::Assertion(format!("bad demo URL: {e}")))?;
    tab.navigate(demo.as_str()).await?;
    tab.eval(&format!(
        "document.querySelector('input[name=username]').value = {user:?}; \
         document.querySelector('form[action=\"/demo/users\"]').requestSubmit(); true"
    ))
    .await?;
    tab.wait_for(
        "the demo's enrolment button",
        "document.querySelector('[data-testid=create-token]') ? true : null",
    )
    .await?;
    tab.eval("document.querySelector('[data-testid=create-token]').click(); true")
        .await?;
    let payload = tab
        .wait_for(
            "the demo's enrolment payload",
            "(() => { const p = document.querySelector('[data-testid=enroll-payload]'); \
             return p ? p.textContent : null; })()",
        )
        .await?;
    let payload = payload.as_str().unwrap_or_default().to_string();
    let parsed: Value = serde_json::from_str(&payload)
        .map_err(|e| Error::Assertion(format!("payload {payload:?} is not JSON: {e}")))?;
    let origin = demo.origin().ascii_serialization();
    ensure(parsed["origin"] == origin.as_str(), || {
        format!(
            "enrolment payload names origin {}, expected {origin}",
            parsed["origin"]
        )
    })?;
    let field = |k: &str| parsed[k].as_str().unwrap_or_default().to_string();

    if s.app.count(&tid("enroll-input")).await? == 0 {
        s.app.click(&tid("add-account-button")).await?;
    }
    s.app.type_into(&tid("enroll-input"), &payload).await?;
    s.app.wait_css(&tid("enroll-origin")).await?;
    let shown = s.app.text_content(&tid("enroll-origin")).await?;
    ensure(
        shown.as_deref().map(str::trim) == Some(origin.as_str()),
        || format!("the window shows website {shown:?} before adding, expected {origin}"),
    )?;
    s.app.type_into(&tid("enroll-name"), user).await?;
    s.app.click(&tid("enroll-submit")).await?;
    let factor_sid = s.wait_account_named(user).await?;
    let shown = s
        .app
        .text_content(&format!(
            "{} {}",
            account(&factor_sid),
            tid("account-origin")
        ))
        .await?;
    ensure(
        shown.as_deref().map(str::trim) == Some(origin.as_str()),
        || format!("the account shows website {shown:?}, expected {origin}"),
    )?;
    Ok(DemoAccount {
        factor_sid,
        identity: field("identity"),
        service: field("serviceSid"),
        origin,
    })
}

/// Flips the account's silent-approval switch in the window to `on` and waits until it shows.
async fn set_silent(s: &Scenario, who: &DemoAccount, on: bool) -> Result<()> {
    let switch = format!("{} {}", account(&who.factor_sid), tid("silent-switch"));
    let checked = || async {
        s.app
            .js(
                "const e = document.querySelector(arguments[0]); return e ? e.checked : null;",
                vec![Value::from(switch.as_str())],
            )
            .await
    };
    if checked().await? != Value::Bool(on) {
        s.app.click(&switch).await?;
    }
    wait::until("the silent-approval switch to settle", PATIENCE, || async {
        Ok((checked().await? == Value::Bool(on)).then_some(()))
    })
    .await?;
    // The endpoint decides from what the app stored, which it logs once done.
    let allowed = format!("allowed={on}");
    s.app
        .wait_log(&["silent approval switched", &who.factor_sid, &allowed])
        .await?;
    Ok(())
}

/// The challenge as the relying party's backend sees it.
async fn server_challenge(s: &Scenario, who: &DemoAccount, sid: &str) -> Result<Value> {
    let path = format!(
        "Services/{}/Entities/{}/Challenges/{sid}",
        who.service, who.identity
    );
    let (status, v) = s.rp.get("fetch challenge", &path).await?;
    ensure(status == 200, || format!("GET {path}: {status} {v}"))?;
    Ok(v)
}

/// Opens the demo's sign-in page for `who` in `tab`: the demo's page whose content security
/// policy lets its script reach Assent's endpoint.
async fn open_sign_in(s: &Scenario, tab: &Tab<'_>, who: &DemoAccount) -> Result<()> {
    let url = s
        .emulator_url()
        .join(&format!("demo/signin?identity={}", who.identity))
        .map_err(|e| Error::Assertion(format!("bad sign-in URL: {e}")))?;
    tab.navigate(url.as_str()).await
}

/// Clicks "Sign in with Assent on this computer" on the demo's sign-in page; returns the
/// challenge SID the page's script was given.
async fn silent_sign_in(s: &Scenario, tab: &Tab<'_>, who: &DemoAccount) -> Result<String> {
    open_sign_in(s, tab, who).await?;
    tab.eval("document.querySelector('[data-testid=silent-signin]').click(); true")
        .await?;
    let sid = tab
        .wait_for(
            "the sign-in page's script to get its challenge",
            // The script either stays (approved) or goes on to the waiting view at once.
            "(() => { const f = document.querySelector('form[data-assent-silent]'); \
             if (f && f.dataset.challengeSid) return f.dataset.challengeSid; \
             const m = location.pathname.match(/^\\/demo\\/challenges\\/[^/]+\\/(YC[0-9a-f]{32})$/); \
             return m ? m[1] : null; })()",
        )
        .await?;
    Ok(sid.as_str().unwrap_or_default().to_string())
}

/// A page on another local origin that relays a challenge SID and nonce it was handed (from
/// its URL fragment) to Assent, as a phishing proxy would. It cannot send the demo's `Origin`,
/// and as an unknown origin it gets no CORS answer, so it posts "simple" requests (`no-cors`,
/// text/plain) that need no preflight and whose answer it cannot read.
const RELAY_HTML: &str = r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sign in</title><script src="/relay.js" defer></script></head><body><p id="relay">relaying</p></body></html>"#;
const RELAY_JS: &str = r#""use strict";
(async () => {
  const q = new URLSearchParams(location.hash.slice(1));
  const post = (route, body) =>
    fetch(q.get("endpoint") + route, {
      method: "POST",
      mode: "no-cors",
      headers: { "Content-Type": "text/plain" },
      body: JSON.stringify(body),
    }).then(() => "sent", (e) => "failed: " + e);
  // First as the real page would (JSON, CORS): Assent must not answer this origin's preflight.
  const cors = await fetch(q.get("endpoint") + "silent-approval", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ challenge_sid: q.get("sid"), nonce: "0".repeat(64) }),
  }).then((r) => "answered " + r.status, (e) => "refused: " + e);
  const wake = await post("wake", { challenge_sid: q.get("sid") });
  const silent = await post("silent-approval", { challenge_sid: q.get("sid"), nonce: q.get("nonce") });
  document.body.dataset.result = JSON.stringify({ cors, wake, silent });
})();
"#;

/// Serves [`RELAY_HTML`] and [`RELAY_JS`] on 127.0.0.1 (a port of its own: another origin).
async fn relay_site() -> Result<(url::Url, tokio::task::JoinHandle<()>)> {
    use axum::http::header;
    let app = axum::Router::new()
        .route(
            "/relay.html",
            axum::routing::get(|| async { axum::response::Html(RELAY_HTML) }),
        )
        .route(
            "/relay.js",
            axum::routing::get(|| async {
                ([(header::CONTENT_TYPE, "text/javascript")], RELAY_JS)
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Error::io("binding the relay site", e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("relay site address", e))?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let url = url::Url::parse(&format!("http://{addr}/"))
        .map_err(|e| Error::Assertion(format!("relay URL: {e}")))?;
    Ok((url, task))
}

/// Starts a scenario with its own endpoint port, the presence nudger and a browser.
async fn with_browser<F>(name: &str, body: F) -> Result<()>
where
    F: AsyncFnOnce(&Scenario, &Browser, SocketAddr) -> Result<()>,
{
    with_browser_in(name, Desk::Present, body).await
}

/// Who is at the desktop while a scenario runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Desk {
    /// A pointer nudge every second ([`Presence`]).
    Present,
    /// No input at all, and silent approval's idle limit shortened to [`SHORT_IDLE_SECS`].
    Away,
    /// No nudges (they would end a screen saver); the scenario moves the pointer itself.
    Quiet,
}

/// The idle limit (`ASSENT_SILENT_IDLE_SECS`) of a [`Desk::Away`] scenario.
const SHORT_IDLE_SECS: u64 = 2;

/// [`with_browser`] with `desk` deciding the input the X session sees.
async fn with_browser_in<F>(name: &str, desk: Desk, body: F) -> Result<()>
where
    F: AsyncFnOnce(&Scenario, &Browser, SocketAddr) -> Result<()>,
{
    if !assent_e2e::env::e2e_requested() {
        println!("SKIP {name}: ASSENT_E2E is not set");
        return Ok(());
    }
    let addr = free_addr()?;
    let _presence = match desk {
        Desk::Present => Some(Presence::start()?),
        Desk::Away | Desk::Quiet => None,
    };
    let mut options = Options {
        local_addr: Some(addr),
        ..Options::default()
    };
    if desk == Desk::Away {
        options
            .app_env
            .push(("ASSENT_SILENT_IDLE_SECS", SHORT_IDLE_SECS.to_string()));
    }
    scenario::run_with(name, options, async |s| {
        s.app
            .wait_log(&["local endpoint listening", &addr.to_string()])
            .await?;
        let browser = Browser::launch(&s.env.logs_dir.join(format!("{name}.chromium.log"))).await?;
        body(s, &browser, addr).await
    })
    .await
}

/// Has the backend create a silent-approval challenge for `who` the way the demo's sign-in
/// script does (the page's form, asked for JSON); returns its SID and nonce. Nothing is sent
/// to Assent.
async fn demo_challenge(
    s: &Scenario,
    tab: &Tab<'_>,
    who: &DemoAccount,
) -> Result<(String, String)> {
    open_sign_in(s, tab, who).await?;
    let started = tab
        .eval(
            "(async () => { const f = document.querySelector('form[data-assent-silent]'); \
             const r = await fetch(f.action, {method: 'POST', headers: {Accept: 'application/json'}, \
               body: new URLSearchParams(new FormData(f))}); return await r.json(); })()",
        )
        .await?;
    let sid = started["challenge_sid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let nonce = started["nonce"].as_str().unwrap_or_default().to_string();
    ensure(sid.starts_with("YC") && nonce.len() >= 32, || {
        format!("the demo answered {started}")
    })?;
    Ok((sid, nonce))
}

/// Posts a silent-approval request from `tab`'s page (its own `Origin`, JSON, CORS, as the
/// demo's script does; the page must be the sign-in page, see [`open_sign_in`]); returns the
/// `status` Assent answered.
async fn ask_silently(tab: &Tab<'_>, addr: SocketAddr, sid: &str, nonce: &str) -> Result<String> {
    let body = serde_json::json!({ "challenge_sid": sid, "nonce": nonce });
    let answer = tab
        .eval(&format!(
            "(async () => {{ const r = await fetch('http://{addr}/assent/v1/silent-approval', \
               {{method: 'POST', headers: {{'Content-Type': 'application/json'}}, \
                 body: JSON.stringify({body})}}); return (await r.json()).status; }})()"
        ))
        .await?;
    Ok(answer.as_str().unwrap_or_default().to_string())
}

/// Waits for the log line saying why the request for `sid` fell back to the card.
async fn expect_declined(s: &Scenario, sid: &str, reason: &str) -> Result<()> {
    let reason = format!("reason=\"{reason}\"");
    s.app
        .wait_log(&["silent approval declined", sid, &reason])
        .await
        .map(|_| ())
}

/// The fallback as the user and the backend see it: the card is shown and the challenge is
/// still pending.
async fn expect_left_to_the_card(s: &Scenario, who: &DemoAccount, sid: &str) -> Result<()> {
    s.app.wait_css(&card(sid)).await?;
    let c = server_challenge(s, who, sid).await?;
    ensure(c["status"] == "pending", || format!("server: {c}"))
}

/// Starts recording, in the window, the SID of every challenge card that is ever rendered
/// (a card shown for a moment and removed again is still caught).
async fn record_cards(s: &Scenario) -> Result<()> {
    s.app
        .js(
            "if (!window.__cardsSeen) { const seen = window.__cardsSeen = []; \
               const note = () => { for (const c of document.querySelectorAll(arguments[0])) { \
                 const sid = c.getAttribute('data-challenge-sid'); \
                 if (!seen.includes(sid)) seen.push(sid); } }; \
               note(); new MutationObserver(note).observe(document.body, \
                 {subtree: true, childList: true, attributes: true}); } return true;",
            vec![Value::from(tid("challenge-card"))],
        )
        .await
        .map(|_| ())
}

/// The SIDs [`record_cards`] saw; fails if the page was reloaded meanwhile (nothing recorded).
async fn cards_seen(s: &Scenario) -> Result<Vec<String>> {
    let seen = s
        .app
        .js("return window.__cardsSeen ?? null;", vec![])
        .await?;
    let Value::Array(seen) = seen else {
        return Err(Error::Assertion(
            "the window's page was reloaded: its card recorder is gone".into(),
        ));
    };
    Ok(seen
        .into_iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect())
}

/// Enrolment from the demo names its origin; with the switch on, "Sign in with Assent on this
/// computer" in Chromium is approved without a prompt: the server says approved with
/// `assent_approval=silent` and the demo's origin, the page says so, and no card is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_approval_from_the_demo_origin() {
    report(
        with_browser("silent_from_demo", async |s, browser, _| {
            let tab = browser.open("about:blank").await?;
            let who = enrol_from_demo(s, &tab, "silent-alice").await?;
            set_silent(s, &who, true).await?;
            record_cards(s).await?;
            let sid = silent_sign_in(s, &tab, &who).await?;
            let shown = tab
                .wait_for(
                    "the page's silent-approval answer",
                    "(() => { const e = document.getElementById('silent-status'); \
                     return e && ['approved','prompt'].includes(e.dataset.status) \
                       ? e.dataset.status + ': ' + e.textContent : null; })()",
                )
                .await?;
            let shown = shown.as_str().unwrap_or_default();
            ensure(
                shown.starts_with("approved: Approved silently (origin verified)"),
                || format!("the demo page shows {shown:?}, expected the silent approval"),
            )?;
            let c = server_challenge(s, &who, &sid).await?;
            ensure(c["status"] == "approved", || format!("server: {c}"))?;
            ensure(c["metadata"]["assent_approval"] == "silent", || {
                format!(
                    "server metadata {} lacks assent_approval=silent",
                    c["metadata"]
                )
            })?;
            ensure(c["metadata"]["origin"] == who.origin.as_str(), || {
                format!("server metadata {} names another origin", c["metadata"])
            })?;
            // Held while the request was decided: never on screen, never announced.
            let seen = cards_seen(s).await?;
            ensure(!seen.contains(&sid), || {
                format!(
                    "the window showed the card of {sid}, approved silently (cards seen: {seen:?})"
                )
            })?;
            let told = s.app.notifications_shown(&sid)?;
            ensure(told.is_empty(), || {
                format!("a notification announced {sid}, approved silently: {told:?}")
            })
        })
        .await,
    );
}

/// A page on another local origin relays the demo's SID and nonce: Assent denies the challenge
/// with `origin_mismatch` naming that origin, and the window warns about the relayed sign-in.
/// Its CORS request gets no answer at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relayed_nonce_from_another_origin_is_denied_and_shown() {
    report(
        with_browser("silent_relayed", async |s, browser, addr| {
            let tab = browser.open("about:blank").await?;
            let who = enrol_from_demo(s, &tab, "silent-bob").await?;
            set_silent(s, &who, true).await?;
            // The real backend creates the challenge for its real page (as the script does)…
            let (sid, nonce) = demo_challenge(s, &tab, &who).await?;
            // …and the phishing page relays them from its own origin.
            let (relay, _server) = relay_site().await?;
            let relay_origin = relay.origin().ascii_serialization();
            let page = format!(
                "{relay}relay.html#sid={sid}&nonce={nonce}&endpoint=http://{addr}/assent/v1/"
            );
            let relay_tab = browser.open(&page).await?;
            let result = relay_tab
                .wait_for(
                    "the relay page to finish",
                    "document.body.dataset.result || null",
                )
                .await?;
            println!("relay page: {result}");
            let c = wait::until("the relayed challenge to be denied", PATIENCE, || async {
                let c = server_challenge(s, &who, &sid).await?;
                Ok((c["status"] != "pending").then_some(c))
            })
            .await?;
            ensure(c["status"] == "denied", || format!("server: {c}"))?;
            ensure(c["metadata"]["deny_reason"] == "origin_mismatch", || {
                format!("server metadata {}", c["metadata"])
            })?;
            ensure(c["metadata"]["origin"] == relay_origin.as_str(), || {
                format!(
                    "server metadata {} should name {relay_origin}",
                    c["metadata"]
                )
            })?;
            s.app.wait_css(&tid("relayed-warning")).await?;
            let shown = s.app.text_content(&tid("relayed-origin")).await?;
            ensure(
                shown.as_deref().map(str::trim) == Some(relay_origin.as_str()),
                || format!("the warning names {shown:?}, expected {relay_origin}"),
            )?;
            let cors =
                serde_json::from_str::<Value>(result.as_str().unwrap_or("{}")).unwrap_or_default();
            ensure(
                cors["cors"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("refused")),
                || format!("the relay page's CORS request was answered: {cors}"),
            )
        })
        .await,
    );
}

/// With the switch off (the default), the same click falls back: the endpoint answers
/// `prompt`, the page shows the ordinary waiting view, the card appears, nothing is approved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switched_off_account_falls_back_to_the_card() {
    report(
        with_browser("silent_switched_off", async |s, browser, _| {
            let tab = browser.open("about:blank").await?;
            let who = enrol_from_demo(s, &tab, "silent-carol").await?;
            let sid = silent_sign_in(s, &tab, &who).await?;
            tab.wait_loaded("the ordinary waiting view", |href| {
                href.contains(&format!("/demo/challenges/{}/{sid}", who.identity))
            })
            .await?;
            let view = tab
                .eval(
                    "(() => { const st = document.getElementById('challenge-status'); \
                     const fb = document.querySelector('[data-testid=silent-fallback]'); \
                     return (st ? st.dataset.status : '') + ' / ' + (fb ? fb.textContent : ''); })()",
                )
                .await?;
            ensure(view == "pending / Approve the request in Assent.", || {
                format!("the waiting view shows {view}")
            })?;
            expect_declined(s, &sid, "not_allowed").await?;
            expect_left_to_the_card(s, &who, &sid).await
        })
        .await,
    );
}

/// A nonce is good for one request: the first, while the switch is off, falls back; once the
/// switch is on, the same nonce again still falls back (`nonce_used`), and nothing is approved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_used_nonce_falls_back_to_the_card() {
    report(
        with_browser("silent_used_nonce", async |s, browser, addr| {
            let tab = browser.open("about:blank").await?;
            let who = enrol_from_demo(s, &tab, "silent-dan").await?;
            let (sid, nonce) = demo_challenge(s, &tab, &who).await?;
            let first = ask_silently(&tab, addr, &sid, &nonce).await?;
            ensure(first == "prompt", || {
                format!("switched off, Assent answered {first:?}")
            })?;
            expect_declined(s, &sid, "not_allowed").await?;
            set_silent(s, &who, true).await?;
            let again = ask_silently(&tab, addr, &sid, &nonce).await?;
            ensure(again == "prompt", || format!("a used nonce got {again:?}"))?;
            expect_declined(s, &sid, "nonce_used").await?;
            expect_left_to_the_card(s, &who, &sid).await
        })
        .await,
    );
}

/// A page on the demo's origin asks to approve, silently, a challenge of another account (one
/// enrolled without an origin, at another service) that names the demo's origin and a nonce:
/// it falls back to that account's card.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_of_another_account_falls_back_to_the_card() {
    report(
        with_browser("silent_foreign", async |s, browser, addr| {
            let tab = browser.open("about:blank").await?;
            let who = enrol_from_demo(s, &tab, "silent-erin").await?;
            set_silent(s, &who, true).await?;
            let other = s.enrol("plain-frank").await?;
            let nonce = "4f".repeat(32);
            let sid = s
                .challenge(&other, "Sign in to Frank's shop", |c| {
                    c.hidden = vec![
                        ("assent_silent_origin".into(), who.origin.clone()),
                        ("assent_silent_nonce".into(), nonce.clone()),
                    ];
                })
                .await?;
            // Listed first, so the request is judged against the account it belongs to.
            scenario::expect_card(s, &other, &sid, "Sign in to Frank's shop").await?;
            open_sign_in(s, &tab, &who).await?;
            let answer = ask_silently(&tab, addr, &sid, &nonce).await?;
            ensure(answer == "prompt", || format!("Assent answered {answer:?}"))?;
            expect_declined(s, &sid, "no_account_origin").await?;
            s.app.wait_css(&card(&sid)).await?;
            let status = s.server_status(&other, &sid).await?;
            ensure(status == "pending", || format!("server: {status}"))
        })
        .await,
    );
}

/// Nobody at the desktop (no input for longer than the idle limit, shortened here to
/// [`SHORT_IDLE_SECS`]): the demo's silent sign-in falls back to the card.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_desktop_falls_back_to_the_card() {
    report(
        with_browser_in("silent_idle", Desk::Away, async |s, browser, _| {
            let tab = browser.open("about:blank").await?;
            let who = enrol_from_demo(s, &tab, "silent-gina").await?;
            set_silent(s, &who, true).await?;
            s.app
                .wait_log(&["desktop idle", &format!("secs={SHORT_IDLE_SECS}")])
                .await?;
            let sid = silent_sign_in(s, &tab, &who).await?;
            expect_declined(s, &sid, "session_idle").await?;
            expect_left_to_the_card(s, &who, &sid).await
        })
        .await,
    );
}

/// The screen saver is on (what screen lockers run under): the demo's silent sign-in falls
/// back to the card, though there was input a moment ago.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_screen_falls_back_to_the_card() {
    report(
        with_browser_in("silent_locked", Desk::Quiet, async |s, browser, _| {
            let tab = browser.open("about:blank").await?;
            let who = enrol_from_demo(s, &tab, "silent-hal").await?;
            set_silent(s, &who, true).await?;
            // Fresh input first, so only the lock rule can refuse.
            x11_tool("xdotool", &["mousemove_relative", "--", "1", "0"])?;
            let _saver = ScreenSaver::activate()?;
            s.app
                .wait_log(&["screen lock state changed", "state=\"locked\""])
                .await?;
            let sid = silent_sign_in(s, &tab, &who).await?;
            expect_declined(s, &sid, "session_locked").await?;
            expect_left_to_the_card(s, &who, &sid).await
        })
        .await,
    );
}

/// Runs an X client tool, failing on a non-zero exit.
fn x11_tool(tool: &str, args: &[&str]) -> Result<()> {
    let out = Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Environment(format!("{tool} (run scripts/setup.sh test): {e}")))?;
    ensure(out.status.success(), || {
        format!(
            "{tool} {}: {} {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })
}

/// The X screen saver forced on (`xset s activate`) until dropped, so a failing scenario does
/// not leave the next one on a "locked" screen.
struct ScreenSaver;

impl ScreenSaver {
    fn activate() -> Result<ScreenSaver> {
        x11_tool("xset", &["s", "activate"])?;
        Ok(ScreenSaver)
    }
}

impl Drop for ScreenSaver {
    fn drop(&mut self) {
        let _ = x11_tool("xset", &["s", "reset"]);
    }
}
