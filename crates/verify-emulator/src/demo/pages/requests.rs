//! `GET /requests`: the emulator's recent API requests (method, path, status, time), read
//! from its request log over HTTP like any other backend call.

use axum::extract::State;
use axum::response::Html;

use super::super::error::DemoError;
use super::super::html::{self, esc};
use super::super::state::DemoState;

/// Rows shown (the log keeps more).
const SHOWN: usize = 100;

/// The newest requests first; the page itself is the top row after a reload.
pub async fn index(State(state): State<DemoState>) -> Result<Html<String>, DemoError> {
    let rows = state.api().recent_requests().await?;
    let mut body = String::from(
        r#"<p class="muted">The emulator's last requests, newest first: method, path, status and time. Queries, headers and bodies are never recorded.</p>
<table data-testid="request-log"><thead><tr><th>Time (UTC)</th><th>Method</th><th>Path</th><th>Status</th><th>ms</th></tr></thead><tbody>"#,
    );
    for r in rows.iter().take(SHOWN) {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{:.2}</td></tr>",
            esc(r.at.get(11..23).unwrap_or(&r.at)),
            esc(&r.method),
            esc(&r.path),
            r.status,
            r.ms
        ));
    }
    body.push_str("</tbody></table>");
    Ok(html::page("API requests", &body, None))
}
