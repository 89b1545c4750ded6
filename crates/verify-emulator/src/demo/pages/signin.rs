//! Sign-in: pick a user and factor, create a push challenge, then watch its status.

use std::net::SocketAddr;

use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::{header, Extensions, HeaderMap};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::super::api::{Field, NewChallenge};
use super::super::csrf::CsrfToken;
use super::super::error::DemoError;
use super::super::html::{self, esc, ConnectAssent};
use super::super::state::{DemoState, SERVICE_NAME};
use super::{check_identity, check_sid, display_name};

/// Seconds between status-page reloads while the challenge is pending.
const REFRESH_SECS: u32 = 2;

/// Query of `GET /signin`.
#[derive(Debug, Deserialize)]
pub struct PickQuery {
    identity: Option<String>,
}

/// `GET /signin[?identity=…]`: user list, or the chosen user's factors.
pub async fn pick(
    State(state): State<DemoState>,
    Extension(csrf): Extension<CsrfToken>,
    Query(query): Query<PickQuery>,
) -> Result<Response, DemoError> {
    let service = state.service_sid().await?.to_owned();
    let Some(identity) = query.identity.filter(|i| !i.is_empty()) else {
        let entities = state.api().list_entities(&service).await?;
        let mut body = String::from("<p>Who is signing in?</p>");
        if entities.is_empty() {
            body.push_str(
                r#"<p data-testid="no-users">No users yet. <a href="/demo">Create one first.</a></p>"#,
            );
        } else {
            body.push_str(r#"<ul data-testid="user-list">"#);
            for entity in &entities {
                let id = &entity.identity;
                body.push_str(&format!(
                    r#"<li><a href="/demo/signin?identity={}">{}</a></li>"#,
                    esc(id),
                    esc(&display_name(state.name_of(id), id))
                ));
            }
            body.push_str("</ul>");
        }
        return Ok(html::page("Sign in", &body, None).into_response());
    };
    check_identity(&identity)?;
    let name = display_name(state.name_of(&identity), &identity);
    let factors = match state.api().list_factors(&service, &identity).await {
        // Twilio creates the entity with the first factor; before that it has none.
        Err(DemoError::Api { status: 404, .. }) => Vec::new(),
        other => other?,
    };
    let mut body = format!("<p>Signing in as <strong>{}</strong>.</p>", esc(&name));
    if factors.is_empty() {
        body.push_str(&format!(
            r#"<p data-testid="no-factors">This user has no devices yet. <a href="/demo/enroll?identity={}">Enrol one.</a></p>"#,
            esc(&identity)
        ));
    } else {
        body.push_str(
            r#"<table data-testid="factor-list"><thead><tr><th>Device</th><th>Status</th><th>Created</th><th></th></tr></thead><tbody>"#,
        );
        for factor in &factors {
            let status = factor.status.as_deref().unwrap_or("unknown");
            let action = if status == "verified" {
                // The second form is the same-device path: `silent.js` takes it over (SID and
                // nonce by fetch, then Assent's local endpoint); without script it submits as
                // an ordinary sign-in.
                format!(
                    r#"<form method="post" action="/demo/signin">{csrf}<input type="hidden" name="identity" value="{id}"><input type="hidden" name="factor_sid" value="{sid}"><label><input type="checkbox" name="match_number" value="on" data-testid="match-option"> Ask for number matching</label> <button type="submit">Send sign-in request</button></form><form method="post" action="/demo/signin" data-assent-silent data-assent-endpoint="{endpoint}">{csrf}<input type="hidden" name="identity" value="{id}"><input type="hidden" name="factor_sid" value="{sid}"><input type="hidden" name="silent" value="on"><button type="submit" data-testid="silent-signin">Sign in with Assent on this computer</button></form>"#,
                    csrf = csrf.hidden_input(),
                    id = esc(&identity),
                    sid = esc(&factor.sid),
                    endpoint = esc(&format!("http://{}/assent/v1/", state.assent_endpoint())),
                )
            } else {
                r#"<button type="button" disabled>Not verified</button>"#.to_owned()
            };
            body.push_str(&format!(
                r#"<tr data-factor-sid="{sid}"><td>{name}<br><code class="muted">{sid}</code></td><td>{status}</td><td>{created}</td><td>{action}</td></tr>"#,
                sid = esc(&factor.sid),
                name = esc(factor.friendly_name.as_deref().unwrap_or("(unnamed)")),
                status = esc(status),
                created = esc(factor.date_created.as_deref().unwrap_or("")),
            ));
        }
        body.push_str("</tbody></table>");
        body.push_str(
            r#"<p id="silent-status" data-testid="silent-status" data-status="idle" class="status" hidden></p>"#,
        );
    }
    let mut response =
        html::page_with_script("Sign in", &body, None, Some("silent.js")).into_response();
    response
        .extensions_mut()
        .insert(ConnectAssent(state.assent_endpoint()));
    Ok(response)
}

/// Form body of `POST /signin`.
#[derive(Debug, Deserialize)]
pub struct StartForm {
    identity: String,
    factor_sid: String,
    /// The "Ask for number matching" checkbox (absent when unticked).
    #[serde(default)]
    match_number: Option<String>,
    /// "Sign in with Assent on this computer" (`on`); honoured only for the page's script,
    /// which asks for JSON: the SID and nonce go to that page and nowhere else.
    #[serde(default)]
    silent: Option<String>,
}

/// What `POST /signin` answers `silent.js` (it asked with `Accept: application/json`).
#[derive(Debug, serde::Serialize)]
struct SilentStart {
    challenge_sid: String,
    nonce: String,
    status_url: String,
}

/// Hidden-details keys Assent reads for silent approval (see the README).
const SILENT_ORIGIN_KEY: &str = "assent_silent_origin";
const SILENT_NONCE_KEY: &str = "assent_silent_nonce";

/// A fresh 256-bit nonce as 64 hex digits (Assent wants at least 128 bits, URL-safe).
fn silent_nonce() -> String {
    rand::random::<[u8; 32]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Hidden-details keys Assent reads for number matching (see the README, "For relying parties").
const MATCH_MODE_KEY: &str = "assent_match_mode";
const MATCH_CODE_KEY: &str = "assent_match_code";

/// What Assent tells the relying party in `metadata.deny_reason`, in the page's words.
fn deny_reason_text(reason: &str) -> Option<&'static str> {
    match reason {
        "not_me" => Some("The device owner says this wasn't them."),
        "mistake" => Some("The device owner says it was a mistake."),
        "wrong_match" => Some("The number chosen on the device did not match this page."),
        "origin_mismatch" => {
            Some("Assent refused a relayed sign-in: another web page sent this request's code.")
        }
        _ => None,
    }
}

/// `POST /signin`: creates the challenge and redirects to its status page.
pub async fn start(
    State(state): State<DemoState>,
    headers: HeaderMap,
    extensions: Extensions,
    Form(form): Form<StartForm>,
) -> Result<Response, DemoError> {
    check_identity(&form.identity)?;
    check_sid(&form.factor_sid, "YF")?;
    let service = state.service_sid().await?.to_owned();
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let ip = peer_ip(&extensions);
    let now = chrono::Utc::now();
    let transaction_id = format!("tx-{}", uuid::Uuid::new_v4().simple());
    let mut hidden = serde_json::Map::new();
    hidden.insert("transaction_id".into(), transaction_id.into());
    if form.match_number.as_deref() == Some("on") {
        let code = format!("{:02}", rand::random_range(0..100u8));
        hidden.insert(MATCH_MODE_KEY.into(), "choose".into());
        hidden.insert(MATCH_CODE_KEY.into(), code.into());
    }
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    let silent = (form.silent.as_deref() == Some("on") && wants_json).then(silent_nonce);
    if let Some(nonce) = &silent {
        hidden.insert(SILENT_ORIGIN_KEY.into(), state.origin_for(&headers).into());
        hidden.insert(SILENT_NONCE_KEY.into(), nonce.clone().into());
    }
    let new = NewChallenge {
        factor_sid: form.factor_sid,
        message: format!("Sign in to {SERVICE_NAME}"),
        fields: vec![
            field("Browser", &browser_name(user_agent)),
            field("IP", &ip),
            field("Location", "Localhost"),
            field("Time", &now.format("%Y-%m-%d %H:%M:%S UTC").to_string()),
        ],
        hidden_details: hidden,
    };
    let challenge = state
        .api()
        .create_challenge(&service, &form.identity, &new)
        .await?;
    check_sid(&challenge.sid, "YC")
        .map_err(|_| DemoError::Decode("challenge SID has an unexpected shape".into()))?;
    let status_url = format!("/demo/challenges/{}/{}", form.identity, challenge.sid);
    Ok(match silent {
        Some(nonce) => axum::Json(SilentStart {
            challenge_sid: challenge.sid,
            nonce,
            status_url,
        })
        .into_response(),
        None => Redirect::to(&status_url).into_response(),
    })
}

/// `GET /challenges/{identity}/{sid}`: shows the answer; reloads itself while pending.
pub async fn status(
    State(state): State<DemoState>,
    Path((identity, sid)): Path<(String, String)>,
) -> Result<Html<String>, DemoError> {
    check_identity(&identity)?;
    check_sid(&sid, "YC")?;
    let service = state.service_sid().await?.to_owned();
    let challenge = state
        .api()
        .fetch_challenge(&service, &identity, &sid)
        .await?;
    let (headline, refresh) = match challenge.status.as_str() {
        "pending" => ("Waiting for approval on your device…", Some(REFRESH_SECS)),
        "approved" => ("Approved: you are signed in.", None),
        "denied" => ("Denied: the sign-in was rejected on the device.", None),
        "expired" => ("Expired: the device did not answer in time.", None),
        _ => ("Unknown status.", None),
    };
    let details = challenge.details.unwrap_or_default();
    let mut fields = String::new();
    for f in details.fields.unwrap_or_default() {
        fields.push_str(&format!(
            r#"<tr data-testid="challenge-field"><th>{}</th><td>{}</td></tr>"#,
            esc(&f.label),
            esc(&f.value)
        ));
    }
    let transaction = challenge
        .hidden_details
        .as_ref()
        .and_then(|h| h.get("transaction_id"))
        .and_then(|t| t.as_str())
        .unwrap_or("");
    let code = challenge
        .hidden_details
        .as_ref()
        .and_then(|h| h.get(MATCH_CODE_KEY))
        .and_then(|t| t.as_str());
    let match_html = match code {
        Some(code) if challenge.status == "pending" => format!(
            r#"<p class="match">On your device, pick the number <strong data-testid="match-code">{}</strong>.</p>"#,
            esc(code)
        ),
        _ => String::new(),
    };
    let hidden_str = |key: &str| {
        challenge
            .hidden_details
            .as_ref()
            .and_then(|h| h.get(key))
            .and_then(|t| t.as_str())
            .map(str::to_owned)
    };
    let meta_str = |key: &str| {
        challenge
            .metadata
            .as_ref()
            .and_then(|m| m.get(key))
            .and_then(|t| t.as_str())
            .map(str::to_owned)
    };
    let silent_html = match challenge.status.as_str() {
        "pending" if hidden_str(SILENT_ORIGIN_KEY).is_some() => {
            r#"<p data-testid="silent-fallback">Approve the request in Assent.</p>"#.to_owned()
        }
        "approved" if meta_str("assent_approval").as_deref() == Some("silent") => format!(
            r#"<p data-testid="silent-approved" data-origin="{o}">Approved silently (origin verified: {o}).</p>"#,
            o = esc(&meta_str("origin").unwrap_or_default())
        ),
        "denied" if meta_str("deny_reason").as_deref() == Some("origin_mismatch") => format!(
            r#"<p data-testid="relayed-origin" data-origin="{o}">The request came from {o}, not from this site.</p>"#,
            o = esc(&meta_str("origin").unwrap_or_default())
        ),
        _ => String::new(),
    };
    let reason = challenge
        .metadata
        .as_ref()
        .and_then(|m| m.get("deny_reason"))
        .and_then(|r| r.as_str());
    let reason_html = match reason {
        Some(r) if challenge.status == "denied" => format!(
            r#"<p data-testid="deny-reason" data-reason="{}">{}</p>"#,
            esc(r),
            esc(deny_reason_text(r).unwrap_or("The device gave a reason this page does not know."))
        ),
        _ => String::new(),
    };
    let body = format!(
        r#"<p id="challenge-status" data-testid="challenge-status" data-status="{status}" class="status status-{status}">{headline}</p>
{match_html}{reason_html}{silent_html}
<table>
<tr><th>Message</th><td>{message}</td></tr>
{fields}
<tr><th>Challenge</th><td><code>{sid}</code></td></tr>
<tr><th>Factor</th><td><code>{factor}</code></td></tr>
<tr><th>Transaction</th><td><code data-testid="transaction-id">{transaction}</code></td></tr>
<tr><th>Created</th><td>{created}</td></tr>
<tr><th>Expires</th><td>{expires}</td></tr>
<tr><th>Answered</th><td>{responded}</td></tr>
</table>
<p>{hint}<a href="/demo/signin?identity={identity}">Start another sign-in</a></p>
"#,
        status = esc(&challenge.status),
        headline = esc(headline),
        message = esc(details.message.as_deref().unwrap_or("")),
        sid = esc(&challenge.sid),
        factor = esc(challenge.factor_sid.as_deref().unwrap_or("")),
        transaction = esc(transaction),
        created = esc(challenge.date_created.as_deref().unwrap_or("")),
        expires = esc(challenge.expiration_date.as_deref().unwrap_or("")),
        responded = esc(challenge.date_responded.as_deref().unwrap_or("–")),
        hint = if refresh.is_some() {
            "This page reloads every few seconds. "
        } else {
            ""
        },
        identity = esc(&identity),
    );
    Ok(html::page("Sign-in request", &body, refresh))
}

/// The address of the TCP peer, as the server saw it (`server.rs` serves with connect info).
///
/// `X-Forwarded-For` is deliberately not read: any client can send it, and this value is shown
/// on the device as a reason to approve or deny, so trusting it would let an attacker display
/// whatever address looks reassuring. Behind a reverse proxy the demo therefore shows the
/// proxy's address; honouring the header would need an explicit list of trusted proxies.
/// A router served without connect info (the demo embedded elsewhere) says so instead of
/// inventing an address.
fn peer_ip(extensions: &Extensions) -> String {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn field(label: &str, value: &str) -> Field {
    Field {
        label: label.to_owned(),
        value: value.chars().take(128).collect(),
    }
}

/// A short, human name for the browser behind a User-Agent string.
fn browser_name(user_agent: &str) -> String {
    let ua = user_agent;
    let browser = if ua.contains("Edg/") {
        "Edge"
    } else if ua.contains("OPR/") {
        "Opera"
    } else if ua.contains("Firefox/") {
        "Firefox"
    } else if ua.contains("Chrome/") || ua.contains("Chromium/") {
        "Chrome"
    } else if ua.contains("Safari/") {
        "Safari"
    } else if ua.is_empty() {
        return "Unknown browser".to_owned();
    } else {
        // Tools like curl or reqwest: their product token.
        return ua
            .split(['/', ' '])
            .next()
            .unwrap_or("Unknown")
            .chars()
            .take(64)
            .collect();
    };
    let os = if ua.contains("Android") {
        Some("Android")
    } else if ua.contains("iPhone") || ua.contains("iPad") {
        Some("iOS")
    } else if ua.contains("Windows") {
        Some("Windows")
    } else if ua.contains("Mac OS X") {
        Some("macOS")
    } else if ua.contains("Linux") || ua.contains("X11") {
        Some("Linux")
    } else {
        None
    };
    match os {
        Some(os) => format!("{browser} on {os}"),
        None => browser.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::browser_name;

    #[test]
    fn names_common_browsers() {
        assert_eq!(
            browser_name("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
            "Firefox on Linux"
        );
        assert_eq!(
            browser_name("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0"),
            "Edge on Windows"
        );
        assert_eq!(browser_name("curl/8.5.0"), "curl");
        assert_eq!(browser_name(""), "Unknown browser");
    }
}
