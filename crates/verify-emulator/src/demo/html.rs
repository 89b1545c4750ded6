//! HTML escaping, the page frame and the response headers every demo page carries.

use axum::http::header::{self, HeaderValue};
use axum::response::{Html, Response};

/// Strict policy: no inline script or style; the inline QR code is SVG markup, not a script.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The site's stylesheet, served from `/demo/static/style.css`.
pub const STYLE_CSS: &str = include_str!("style.css");

/// The sign-in page's "on this computer" script, served from `/demo/static/silent.js`.
pub const SILENT_JS: &str = include_str!("silent.js");

/// The enrolment page's Copy buttons, served from `/demo/static/copy.js`.
pub const COPY_JS: &str = include_str!("copy.js");

/// Put in a response's extensions by the one page that may call Assent's local endpoint:
/// [`security_headers`] then allows `connect-src` to exactly that origin (and `'self'`).
#[derive(Clone, Debug)]
pub struct ConnectAssent(pub std::net::SocketAddr);

/// Escapes text for use in HTML element content and double-quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Wraps an already-escaped body in the common page frame. `refresh_secs` adds a meta refresh
/// (used by the challenge status page, since inline script is forbidden by the CSP).
pub fn page(title: &str, body: &str, refresh_secs: Option<u32>) -> Html<String> {
    page_with_script(title, body, refresh_secs, None)
}

/// [`page`] that also loads one of the site's own scripts (`/demo/static/…`, never inline).
pub fn page_with_script(
    title: &str,
    body: &str,
    refresh_secs: Option<u32>,
    script: Option<&str>,
) -> Html<String> {
    let script = script
        .map(|s| format!(r#"<script src="/demo/static/{}" defer></script>"#, esc(s)))
        .unwrap_or_default();
    let refresh = refresh_secs
        .map(|s| format!(r#"<meta http-equiv="refresh" content="{s}">"#))
        .unwrap_or_default();
    Html(format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{refresh}<title>{title} · Assent Demo</title>
<link rel="stylesheet" href="/demo/static/style.css">
{script}</head>
<body>
<header><a class="brand" href="/demo">Assent Demo</a><nav><a href="/demo">Users</a><a href="/demo/signin">Sign in</a><a href="/demo/requests">API requests</a></nav></header>
<main>
<h1>{title}</h1>
{body}
</main>
<footer>A relying party that talks to the local Verify emulator exactly as a real backend talks to Twilio.</footer>
</body>
</html>
"#,
        title = esc(title),
    ))
}

/// Adds the security headers to every demo response.
pub async fn security_headers(mut response: Response) -> Response {
    let connect = response.extensions().get::<ConnectAssent>().cloned();
    let headers = response.headers_mut();
    let csp = match connect {
        Some(ConnectAssent(addr)) => {
            HeaderValue::from_str(&format!("{CSP}; connect-src 'self' http://{addr}"))
                .unwrap_or_else(|_| HeaderValue::from_static(CSP))
        }
        None => HeaderValue::from_static(CSP),
    };
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Not `no-referrer`: under it browsers send `Origin: null` on the site's own form posts,
    // which the CSRF check (rightly) refuses. `same-origin` still sends nothing elsewhere.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Enrolment pages carry short-lived secrets; nothing here is worth caching.
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<a href="x" title='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(esc("plain"), "plain");
    }
}
