//! Enrolment: `GET /enroll` shows a button; `POST /enroll` mints a fresh access token and
//! shows it as link, QR code and JSON payload. Minting is a state change (and hands out a
//! secret), so it never happens on GET, where a cross-site `<img>` or link could trigger it.

use axum::extract::{Extension, Form, Query, State};
use axum::http::HeaderMap;
use axum::response::Html;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use super::super::csrf::CsrfToken;
use super::super::error::DemoError;
use super::super::html::{self, esc};
use super::super::qr;
use super::super::state::{DemoState, SERVICE_NAME};
use super::{check_identity, display_name};

/// Access-token lifetime asked for: Twilio's maximum, since a person has to scan or paste it.
const TOKEN_TTL_SECS: u32 = 300;

/// Query of `GET /enroll` and form of `POST /enroll` (which also carries `csrf_token`,
/// checked by the CSRF middleware).
#[derive(Debug, Deserialize)]
pub struct EnrollQuery {
    identity: String,
}

fn token_form(csrf: &CsrfToken, identity: &str, label: &str) -> String {
    format!(
        r#"<form method="post" action="/demo/enroll" class="inline">{}<input type="hidden" name="identity" value="{}"><button type="submit" data-testid="create-token">{}</button></form>"#,
        csrf.hidden_input(),
        esc(identity),
        esc(label)
    )
}

/// `GET /enroll?identity=…`: the button that mints a token (nothing is created here).
pub async fn show(
    State(state): State<DemoState>,
    Extension(csrf): Extension<CsrfToken>,
    Query(query): Query<EnrollQuery>,
) -> Result<Html<String>, DemoError> {
    let identity = query.identity;
    check_identity(&identity)?;
    let name = display_name(state.name_of(&identity), &identity);
    let body = format!(
        r#"<p>Enrol a device for <strong>{name}</strong>. The button creates a one-time enrolment token, valid for {TOKEN_TTL_SECS} s.</p>
{form}
"#,
        name = esc(&name),
        form = token_form(&csrf, &identity, "Create an enrolment token"),
    );
    Ok(html::page("Enrol a device", &body, None))
}

/// `POST /enroll`: mints the token and shows it.
pub async fn create(
    State(state): State<DemoState>,
    Extension(csrf): Extension<CsrfToken>,
    headers: HeaderMap,
    Form(form): Form<EnrollQuery>,
) -> Result<Html<String>, DemoError> {
    let identity = form.identity;
    check_identity(&identity)?;
    let service = state.service_sid().await?.to_owned();
    let username = state.name_of(&identity);
    let name = display_name(username.clone(), &identity);
    let friendly: String = format!("{SERVICE_NAME} ({name})")
        .chars()
        .take(64)
        .collect();
    let token = state
        .api()
        .create_access_token(&service, &identity, &friendly, TOKEN_TTL_SECS)
        .await?;
    let base_url = state.api().api_base().as_str().to_owned();
    // The page the user signs in on later: Assent binds silent approval to it.
    let origin = state.origin_for(&headers);

    // Display names, so the account gets a readable name although the identity is a hash.
    let mut names = vec![("serviceName", SERVICE_NAME.to_owned())];
    if let Some(u) = username {
        names.push(("userName", u.chars().take(64).collect()));
    }
    let mut payload = serde_json::json!({
        "token": token.token,
        "serviceSid": service,
        "identity": identity,
        "factorType": "push",
        "baseUrl": base_url,
        "origin": origin,
    });
    for (k, v) in &names {
        payload[*k] = serde_json::Value::String(v.clone());
    }
    let payload = payload.to_string();
    let link = enroll_link(
        &token.token,
        &service,
        &identity,
        &base_url,
        &origin,
        &names,
    );
    let qr_svg = qr::svg(&link)?;

    let ttl = token.ttl.unwrap_or(i64::from(TOKEN_TTL_SECS));
    let created = token
        .date_created
        .as_deref()
        .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(Utc::now);
    let expires = created + Duration::seconds(ttl);

    let body = format!(
        r#"<p>Enrol a device for <strong>{name}</strong>. Three ways, whichever suits the device running Assent:</p>
<p data-testid="token-expiry">The token is valid for <strong>{ttl} s</strong>, until <time datetime="{expires_iso}">{expires_human}</time>.</p>
{again}
<h2>1. On this computer: open the link</h2>
<p>If Assent runs on this computer, open this link: Assent shows the account and asks you to confirm. If nothing happens, copy the link or the JSON below into Assent's "Add account".</p>
<p class="link"><a id="enroll-link" data-testid="enroll-link" href="{link}">{link}</a></p>
<p><button type="button" data-copy="enroll-link" data-status="copy-link-status" data-testid="copy-link" hidden>Copy link</button> <span id="copy-link-status" class="copy-status" role="status"></span></p>
<h2>2. On this computer: paste the JSON</h2>
<p>Paste it into Assent's "Add account" box, or run <code>assent enroll -</code> and paste it there.</p>
<pre id="enroll-payload" data-testid="enroll-payload">{payload}</pre>
<p><button type="button" data-copy="enroll-payload" data-status="copy-payload-status" data-testid="copy-payload" hidden>Copy JSON</button> <span id="copy-payload-status" class="copy-status" role="status"></span></p>
<h2>3. On another device: scan the QR code</h2>
<p>For a second device, not this one: the code holds the same link, for a device with a camera that handles <code>assent://</code> links.</p>
<div class="qr" data-testid="enroll-qr">{qr_svg}</div>
<p><a href="/demo/signin?identity={id}">Next: sign in with this device</a></p>
"#,
        name = esc(&name),
        ttl = ttl,
        expires_iso = esc(&expires.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        expires_human = esc(&expires.format("%H:%M:%S UTC").to_string()),
        id = esc(&identity),
        again = token_form(&csrf, &identity, "Get a new token"),
        link = esc(&link),
        payload = esc(&payload),
    );
    // The Copy buttons' script: served, never inline (the CSP forbids inline script).
    Ok(html::page_with_script(
        "Enrol a device",
        &body,
        None,
        Some("copy.js"),
    ))
}

/// `assent://enroll?…` with each value percent-encoded, `extra` pairs last.
fn enroll_link(
    token: &str,
    service: &str,
    identity: &str,
    base_url: &str,
    origin: &str,
    extra: &[(&str, String)],
) -> String {
    let enc = |v: &str| form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    let mut link = format!(
        "assent://enroll?token={}&serviceSid={}&identity={}&factorType=push&baseUrl={}&origin={}",
        enc(token),
        enc(service),
        enc(identity),
        enc(base_url),
        enc(origin)
    );
    for (k, v) in extra {
        link.push_str(&format!("&{k}={}", enc(v)));
    }
    link
}

#[cfg(test)]
mod tests {
    #[test]
    fn link_escapes_values() {
        let link = super::enroll_link(
            "a.b=c&d",
            "VA1",
            "id-1",
            "http://127.0.0.1:1/v2/",
            "http://127.0.0.1:1",
            &[("userName", "a&b c".to_owned())],
        );
        assert_eq!(
            link,
            "assent://enroll?token=a.b%3Dc%26d&serviceSid=VA1&identity=id-1&factorType=push&baseUrl=http%3A%2F%2F127.0.0.1%3A1%2Fv2%2F&origin=http%3A%2F%2F127.0.0.1%3A1&userName=a%26b+c"
        );
    }
}
