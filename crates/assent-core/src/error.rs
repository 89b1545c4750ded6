//! `AppError`: what every command returns to the UI and every CLI subcommand prints.
//!
//! Serialized as `{code, message, server}` (docs/design.md). `code` is stable: the library's
//! `ErrorCode` in snake_case for library errors, or one of this file's own codes. The UI
//! branches on `code`, never on `message`.

use serde::{Serialize, Serializer};

/// An error the UI or the terminal can act on. Never carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Anything from the verify-push library (network, server, key store, input, ...).
    #[error(transparent)]
    VerifyPush(#[from] verify_push::Error),
    /// Bad input from the user or the UI (code `input`).
    #[error("{0}")]
    Input(String),
    /// No local account matches (code `account_not_found`).
    #[error("no account matches {0}")]
    AccountNotFound(String),
    /// No account has this challenge (code `challenge_not_found`).
    #[error("no account has challenge {0}")]
    ChallengeNotFound(String),
    /// The server did not mark the new factor `verified` after the proof of possession
    /// (code `factor_not_verified`); the factor was removed again.
    #[error("the server did not verify factor {0}; enrolment was undone")]
    NotVerified(String),
    /// A local file could not be read or written (code `storage`).
    #[error("{0}")]
    Storage(String),
    /// The desktop integration failed: tray, window, autostart, opener (code `desktop`).
    #[error("{0}")]
    Desktop(String),
    /// The embedded emulator is not running, so there is no demo site (code `no_demo`).
    #[error("the embedded demo is not running")]
    NoDemo,
    /// No deep-link enrolment request has this id: it was confirmed, dismissed or replaced
    /// (code `enroll_request_not_found`).
    #[error("no enrolment request {0:?} is waiting")]
    EnrollRequestNotFound(String),
    /// The sign-in asks for number matching and no number was given; nothing was sent
    /// (code `match_required`).
    #[error("this sign-in asks you to match the number shown on the sign-in page; approve with that number")]
    MatchRequired,
    /// The number did not match the sign-in page's. `denied`: the challenge was then denied
    /// with `deny_reason` `wrong_match` (code `wrong_match`); otherwise that deny failed and the
    /// challenge may still be pending (code `wrong_match_deny_failed`).
    #[error("{}", if *denied { "the number did not match the sign-in page, so the sign-in was denied" } else { "the number did not match the sign-in page; the sign-in was not approved, but denying it failed too" })]
    WrongMatch {
        /// Whether the deny reached the server.
        denied: bool,
    },
    /// A number was given for a sign-in that does not ask for matching; nothing was sent
    /// (code `match_not_required`).
    #[error("this sign-in does not ask for number matching; approve it without a number")]
    MatchNotRequired,
    /// The sign-in asks for number matching but its request is malformed, so it can only be
    /// denied (code `match_invalid`).
    #[error("this sign-in asks for number matching but its number is malformed, so it cannot be approved; deny it and sign in again")]
    MatchInvalid,
}

/// The server's own error body, passed through for the UI (`AppError.server`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerErrorView {
    /// Twilio error code, e.g. 60323.
    pub code: Option<i64>,
    /// The server's message.
    pub message: String,
    /// Link to the error's documentation.
    pub more_info: Option<String>,
    /// HTTP status.
    pub status: u16,
}

impl AppError {
    /// The stable code the UI branches on.
    pub fn code(&self) -> String {
        match self {
            AppError::VerifyPush(e) => e.code().as_str().into(),
            AppError::Input(_) => "input".into(),
            AppError::AccountNotFound(_) => "account_not_found".into(),
            AppError::ChallengeNotFound(_) => "challenge_not_found".into(),
            AppError::NotVerified(_) => "factor_not_verified".into(),
            AppError::Storage(_) => "storage".into(),
            AppError::Desktop(_) => "desktop".into(),
            AppError::NoDemo => "no_demo".into(),
            AppError::EnrollRequestNotFound(_) => "enroll_request_not_found".into(),
            AppError::MatchRequired => "match_required".into(),
            AppError::WrongMatch { denied: true } => "wrong_match".into(),
            AppError::WrongMatch { denied: false } => "wrong_match_deny_failed".into(),
            AppError::MatchNotRequired => "match_not_required".into(),
            AppError::MatchInvalid => "match_invalid".into(),
        }
    }

    /// The server's error body when the server answered with one.
    pub fn server(&self) -> Option<ServerErrorView> {
        match self {
            AppError::VerifyPush(e) => crate::error::api_error(e),
            _ => None,
        }
    }

    /// A copy for status reports (`WatcherStatus.lastError`); `AppError` itself is not `Clone`
    /// because library errors are not.
    pub fn view(&self) -> ErrorView {
        ErrorView {
            code: self.code(),
            message: self.to_string(),
            server: self.server(),
        }
    }
}

impl Serialize for AppError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.view().serialize(serializer)
    }
}

/// A serializable snapshot of an [`AppError`] (same JSON shape).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorView {
    /// Stable code.
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// The server's error body, if any.
    pub server: Option<ServerErrorView>,
}

impl std::fmt::Display for ErrorView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

/// The server's error body inside a library error, if any.
pub fn api_error(e: &verify_push::Error) -> Option<ServerErrorView> {
    e.api_error().map(|a| ServerErrorView {
        code: a.code,
        message: a.message.clone(),
        more_info: a.more_info.clone(),
        status: a.status,
    })
}

/// How long the server asked us to wait (HTTP `Retry-After`), if it did.
pub fn retry_after(e: &verify_push::Error) -> Option<std::time::Duration> {
    e.api_error()
        .and_then(|a| a.retry_after_secs)
        .map(std::time::Duration::from_secs)
}

/// Whether an error is worth retrying later with backoff (network trouble, 5xx, 429, garbage),
/// as opposed to a permanent problem with one account (factor deleted, key missing, ...).
pub fn is_transient(e: &verify_push::Error) -> bool {
    use verify_push::ErrorCode as C;
    match e.code() {
        C::Network | C::Mapping => true,
        C::Server => api_error(e).is_none_or(|a| a.status >= 500 || a.status == 429),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_errors_serialize_with_code_message_server() {
        let v = serde_json::to_value(AppError::Input("bad sid".into())).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"code": "input", "message": "bad sid", "server": null})
        );
    }
}
