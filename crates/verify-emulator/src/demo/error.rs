//! Typed errors of the demo relying party; each has a stable code and renders as an HTML page.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::html;

/// Why a demo page could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The Verify API answered with a Twilio error body (or a non-success status).
    #[error("the Verify API answered HTTP {status}: {message}")]
    Api {
        /// HTTP status of the API answer.
        status: u16,
        /// Twilio error code from the body (`code`), when there was one.
        code: Option<i64>,
        /// Twilio error message from the body, or a summary of the raw answer.
        message: String,
        /// Twilio `more_info` link, when given.
        more_info: Option<String>,
    },
    /// The API could not be reached at all.
    #[error("could not reach the Verify API: {0}")]
    Transport(#[source] reqwest::Error),
    /// The API answered 2xx with a body the demo cannot read.
    #[error("unexpected answer from the Verify API: {0}")]
    Decode(String),
    /// A form field or URL parameter from the browser is invalid.
    #[error("invalid input: {0}")]
    Input(String),
    /// The requested user, factor or challenge does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A state-changing request failed the cross-site checks (see `csrf.rs`).
    #[error("forbidden: {0}")]
    Forbidden(String),
}

impl DemoError {
    /// Stable machine-readable code, independent of the message text.
    pub fn code(&self) -> &'static str {
        match self {
            DemoError::Api { .. } => "api",
            DemoError::Transport(_) => "transport",
            DemoError::Decode(_) => "decode",
            DemoError::Input(_) => "input",
            DemoError::NotFound(_) => "not_found",
            DemoError::Forbidden(_) => "forbidden",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            DemoError::Input(_) => StatusCode::BAD_REQUEST,
            DemoError::NotFound(_) => StatusCode::NOT_FOUND,
            DemoError::Forbidden(_) => StatusCode::FORBIDDEN,
            DemoError::Api { status: 404, .. } => StatusCode::NOT_FOUND,
            DemoError::Api { .. } | DemoError::Transport(_) | DemoError::Decode(_) => {
                StatusCode::BAD_GATEWAY
            }
        }
    }
}

impl IntoResponse for DemoError {
    fn into_response(self) -> Response {
        let mut body = format!(
            r#"<section class="error" data-error-code="{}"><h2>Something went wrong</h2>"#,
            html::esc(self.code())
        );
        if let DemoError::Api {
            status,
            code,
            message,
            more_info,
        } = &self
        {
            let code_text = code.map_or_else(|| "none".to_owned(), |c| c.to_string());
            body.push_str(&format!(
                r#"<p>The Verify API answered HTTP {status} with Twilio error <strong class="twilio-code">{}</strong>:</p><p class="twilio-message">{}</p>"#,
                html::esc(&code_text),
                html::esc(message)
            ));
            if let Some(link) = more_info {
                body.push_str(&format!(
                    r#"<p>More information: <span class="more-info">{}</span></p>"#,
                    html::esc(link)
                ));
            }
        } else {
            body.push_str(&format!("<p>{}</p>", html::esc(&self.to_string())));
        }
        body.push_str(r#"<p><a href="/demo">Back to the start page</a></p></section>"#);
        (self.status(), html::page("Error", &body, None)).into_response()
    }
}
