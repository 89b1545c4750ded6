//! `AppError`: what every command returns to the UI and every CLI subcommand prints.
//!
//! Serialized as `{code, message, server}` (docs/design.md). `code` is stable: the library's
//! `ErrorCode` in snake_case for library errors, or one of this file's own codes. The UI
//! branches on `code`, never on `message`.

use serde::{Serialize, Serializer};
use ts_rs::TS;

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
    /// A one-click Approve (a notification's button) while several requests are pending for
    /// the account; nothing was sent (code `several_pending`).
    #[error("{pending} sign-in requests are waiting for this account; open Assent and read them before approving one")]
    SeveralPending {
        /// Requests pending for the account.
        pending: usize,
    },
    /// Approving this account's requests asks for the app PIN and none was given; nothing was
    /// sent (code `verification_required`).
    #[error("approving asks for your Assent PIN")]
    VerificationRequired,
    /// The PIN was wrong; nothing was sent (code `pin_wrong`).
    #[error("wrong PIN; {remaining} more wrong tries lock approving for a while")]
    PinWrong {
        /// Wrong tries left before approving locks.
        remaining: u32,
    },
    /// The server refused the enrolment code (HTTP 401): it expired or was already used
    /// (code `enroll_token_rejected`). Carries the server's answer for the details.
    #[error("this enrolment code has expired or was already used; get a new one from the website")]
    EnrollTokenRejected(Box<verify_push::Error>),
    /// This desktop already has the account the payload would add: same server, service and
    /// identity (code `already_enrolled`). Nothing was sent.
    #[error(
        "this account is already in Assent as {name:?}; remove it there first to add it again"
    )]
    AlreadyEnrolled {
        /// The existing account's name.
        name: String,
    },
    /// Too many wrong PINs: approving is locked until `until` (code `pin_locked`).
    #[error("too many wrong PINs; approving is locked until {until}")]
    PinLocked {
        /// RFC 3339 time the lock ends.
        until: String,
    },
}

/// The server's own error body, passed through for the UI (`AppError.server`).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ServerErrorView {
    /// Twilio error code, e.g. 60323.
    #[ts(type = "number | null")]
    pub code: Option<i64>,
    /// The server's message.
    pub message: String,
    /// Link to the error's documentation.
    pub more_info: Option<String>,
    /// HTTP status.
    pub status: u16,
}

/// The stable code of an [`AppError`]: every library [`verify_push::ErrorCode`] under the same
/// snake_case name, plus the app's own codes. The UI gets it as a string union.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum AppErrorCode {
    /// Library: transport failure.
    Network,
    /// Library: the server answered with an error status.
    Server,
    /// Library: a response could not be decoded.
    Mapping,
    /// A local file could not be read or written (library or app).
    Storage,
    /// Bad input from the user, the UI or a payload (library or app).
    Input,
    /// Library: a required argument is missing or invalid.
    InvalidArgument,
    /// Library: the key store failed.
    KeyStorage,
    /// Library: the client could not be set up.
    Initialization,
    /// Library: building or signing a JWT failed.
    AuthenticationToken,
    /// Library: the challenge has expired.
    ExpiredChallenge,
    /// Library: the challenge was already approved or denied.
    AlreadyResponded,
    /// Library: the server refused the signed answer.
    SignatureRejected,
    /// Library: the challenge belongs to another factor.
    WrongFactor,
    /// Library: the server accepted the update but the status did not change.
    NotUpdated,
    /// Library: no local factor with that SID.
    FactorNotFound,
    /// Library: no keychain is reachable.
    KeychainUnavailable,
    /// Library: the keychain is locked or refused access.
    KeychainLocked,
    /// Library: a plain `http://` URL that is not loopback.
    InsecureUrl,
    /// Library: the challenge fetched for signing is not the one the user was shown.
    ContentMismatch,
    /// Library: enrolment returned the SID of a factor already stored.
    FactorExists,
    /// No local account matches.
    AccountNotFound,
    /// No account has this challenge.
    ChallengeNotFound,
    /// The server did not verify the new factor; enrolment was undone.
    FactorNotVerified,
    /// The desktop integration failed.
    Desktop,
    /// The embedded demo is not running.
    NoDemo,
    /// No deep-link enrolment request has this id.
    EnrollRequestNotFound,
    /// The request asks for number matching and no number was given.
    MatchRequired,
    /// The number did not match; the request was denied.
    WrongMatch,
    /// The number did not match, and denying the request failed too.
    WrongMatchDenyFailed,
    /// A number was given for a request that does not ask for matching.
    MatchNotRequired,
    /// The request's number-matching data is malformed: it can only be denied.
    MatchInvalid,
    /// A one-click Approve while several requests are pending for the account.
    SeveralPending,
    /// Approving asks for the app PIN and none was given.
    VerificationRequired,
    /// The app PIN was wrong.
    PinWrong,
    /// Too many wrong PINs: approving is locked for a while.
    PinLocked,
    /// The enrolment code expired or was already used.
    EnrollTokenRejected,
    /// The account is already enrolled on this desktop.
    AlreadyEnrolled,
}

impl From<verify_push::ErrorCode> for AppErrorCode {
    fn from(c: verify_push::ErrorCode) -> Self {
        use verify_push::ErrorCode as L;
        // Exhaustive on purpose: a new library code must be given its app code here.
        match c {
            L::Network => AppErrorCode::Network,
            L::Server => AppErrorCode::Server,
            L::Mapping => AppErrorCode::Mapping,
            L::Storage => AppErrorCode::Storage,
            L::Input => AppErrorCode::Input,
            L::InvalidArgument => AppErrorCode::InvalidArgument,
            L::KeyStorage => AppErrorCode::KeyStorage,
            L::Initialization => AppErrorCode::Initialization,
            L::AuthenticationToken => AppErrorCode::AuthenticationToken,
            L::ExpiredChallenge => AppErrorCode::ExpiredChallenge,
            L::AlreadyResponded => AppErrorCode::AlreadyResponded,
            L::SignatureRejected => AppErrorCode::SignatureRejected,
            L::WrongFactor => AppErrorCode::WrongFactor,
            L::NotUpdated => AppErrorCode::NotUpdated,
            L::FactorNotFound => AppErrorCode::FactorNotFound,
            L::KeychainUnavailable => AppErrorCode::KeychainUnavailable,
            L::KeychainLocked => AppErrorCode::KeychainLocked,
            L::InsecureUrl => AppErrorCode::InsecureUrl,
            L::ContentMismatch => AppErrorCode::ContentMismatch,
            L::FactorExists => AppErrorCode::FactorExists,
        }
    }
}

impl AppErrorCode {
    /// The snake_case name, identical to the serde form.
    pub fn as_str(self) -> &'static str {
        match self {
            AppErrorCode::Network => "network",
            AppErrorCode::Server => "server",
            AppErrorCode::Mapping => "mapping",
            AppErrorCode::Storage => "storage",
            AppErrorCode::Input => "input",
            AppErrorCode::InvalidArgument => "invalid_argument",
            AppErrorCode::KeyStorage => "key_storage",
            AppErrorCode::Initialization => "initialization",
            AppErrorCode::AuthenticationToken => "authentication_token",
            AppErrorCode::ExpiredChallenge => "expired_challenge",
            AppErrorCode::AlreadyResponded => "already_responded",
            AppErrorCode::SignatureRejected => "signature_rejected",
            AppErrorCode::WrongFactor => "wrong_factor",
            AppErrorCode::NotUpdated => "not_updated",
            AppErrorCode::FactorNotFound => "factor_not_found",
            AppErrorCode::KeychainUnavailable => "keychain_unavailable",
            AppErrorCode::KeychainLocked => "keychain_locked",
            AppErrorCode::InsecureUrl => "insecure_url",
            AppErrorCode::ContentMismatch => "content_mismatch",
            AppErrorCode::FactorExists => "factor_exists",
            AppErrorCode::AccountNotFound => "account_not_found",
            AppErrorCode::ChallengeNotFound => "challenge_not_found",
            AppErrorCode::FactorNotVerified => "factor_not_verified",
            AppErrorCode::Desktop => "desktop",
            AppErrorCode::NoDemo => "no_demo",
            AppErrorCode::EnrollRequestNotFound => "enroll_request_not_found",
            AppErrorCode::MatchRequired => "match_required",
            AppErrorCode::WrongMatch => "wrong_match",
            AppErrorCode::WrongMatchDenyFailed => "wrong_match_deny_failed",
            AppErrorCode::MatchNotRequired => "match_not_required",
            AppErrorCode::MatchInvalid => "match_invalid",
            AppErrorCode::SeveralPending => "several_pending",
            AppErrorCode::VerificationRequired => "verification_required",
            AppErrorCode::PinWrong => "pin_wrong",
            AppErrorCode::PinLocked => "pin_locked",
            AppErrorCode::EnrollTokenRejected => "enroll_token_rejected",
            AppErrorCode::AlreadyEnrolled => "already_enrolled",
        }
    }
}

impl std::fmt::Display for AppErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AppError {
    /// The stable code the UI branches on.
    pub fn code(&self) -> AppErrorCode {
        match self {
            AppError::VerifyPush(e) => e.code().into(),
            AppError::Input(_) => AppErrorCode::Input,
            AppError::AccountNotFound(_) => AppErrorCode::AccountNotFound,
            AppError::ChallengeNotFound(_) => AppErrorCode::ChallengeNotFound,
            AppError::NotVerified(_) => AppErrorCode::FactorNotVerified,
            AppError::Storage(_) => AppErrorCode::Storage,
            AppError::Desktop(_) => AppErrorCode::Desktop,
            AppError::NoDemo => AppErrorCode::NoDemo,
            AppError::EnrollRequestNotFound(_) => AppErrorCode::EnrollRequestNotFound,
            AppError::MatchRequired => AppErrorCode::MatchRequired,
            AppError::WrongMatch { denied: true } => AppErrorCode::WrongMatch,
            AppError::WrongMatch { denied: false } => AppErrorCode::WrongMatchDenyFailed,
            AppError::MatchNotRequired => AppErrorCode::MatchNotRequired,
            AppError::MatchInvalid => AppErrorCode::MatchInvalid,
            AppError::SeveralPending { .. } => AppErrorCode::SeveralPending,
            AppError::VerificationRequired => AppErrorCode::VerificationRequired,
            AppError::PinWrong { .. } => AppErrorCode::PinWrong,
            AppError::PinLocked { .. } => AppErrorCode::PinLocked,
            AppError::EnrollTokenRejected(_) => AppErrorCode::EnrollTokenRejected,
            AppError::AlreadyEnrolled { .. } => AppErrorCode::AlreadyEnrolled,
        }
    }

    /// The server's error body when the server answered with one.
    pub fn server(&self) -> Option<ServerErrorView> {
        match self {
            AppError::VerifyPush(e) => crate::error::api_error(e),
            AppError::EnrollTokenRejected(e) => crate::error::api_error(e),
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
            host: match self {
                AppError::VerifyPush(e) => e.network_host(),
                _ => None,
            },
        }
    }
}

impl Serialize for AppError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.view().serialize(serializer)
    }
}

/// A serializable snapshot of an [`AppError`] (same JSON shape): what every command rejects
/// with.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct ErrorView {
    /// Stable code.
    pub code: AppErrorCode,
    /// Human-readable message.
    pub message: String,
    /// The server's error body, if any.
    pub server: Option<ServerErrorView>,
    /// For a network error, the host it could not reach ("verify.example.com",
    /// "127.0.0.1:8790"): the human part of the offline banner, where `message` is the detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub host: Option<String>,
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

/// Whether `e` is a refused TCP connection to `base_url` on a loopback address (nothing
/// listens there right now).
pub fn is_loopback_refused(e: &verify_push::Error, base_url: &url::Url) -> bool {
    let loopback = match base_url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    if !loopback || e.code() != verify_push::ErrorCode::Network {
        return false;
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        cause = c.source();
    }
    false
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

    /// Every library code, for the mapping test (the `From` match is exhaustive, this list is
    /// checked against it by the test below).
    const LIBRARY: &[verify_push::ErrorCode] = {
        use verify_push::ErrorCode as L;
        &[
            L::Network,
            L::Server,
            L::Mapping,
            L::Storage,
            L::Input,
            L::InvalidArgument,
            L::KeyStorage,
            L::Initialization,
            L::AuthenticationToken,
            L::ExpiredChallenge,
            L::AlreadyResponded,
            L::SignatureRejected,
            L::WrongFactor,
            L::NotUpdated,
            L::FactorNotFound,
            L::KeychainUnavailable,
            L::KeychainLocked,
            L::InsecureUrl,
            L::ContentMismatch,
            L::FactorExists,
        ]
    };

    #[test]
    fn library_codes_keep_their_snake_case_names() {
        for &c in LIBRARY {
            let app = AppErrorCode::from(c);
            assert_eq!(
                serde_json::to_value(app).unwrap(),
                serde_json::to_value(c).unwrap()
            );
            assert_eq!(app.to_string(), c.as_str());
        }
    }

    #[test]
    fn display_is_the_serde_name() {
        for e in [
            AppError::Input(String::new()),
            AppError::AccountNotFound(String::new()),
            AppError::ChallengeNotFound(String::new()),
            AppError::NotVerified(String::new()),
            AppError::Storage(String::new()),
            AppError::Desktop(String::new()),
            AppError::NoDemo,
            AppError::EnrollRequestNotFound(String::new()),
        ] {
            let code = e.code();
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::Value::String(code.to_string())
            );
        }
        assert_eq!(
            AppError::NotVerified("YF1".into()).code().to_string(),
            "factor_not_verified"
        );
    }

    #[test]
    fn own_errors_serialize_with_code_message_server() {
        let v = serde_json::to_value(AppError::Input("bad sid".into())).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"code": "input", "message": "bad sid", "server": null})
        );
    }

    #[tokio::test]
    async fn a_refused_loopback_connection_is_recognised_and_nothing_else() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let base: url::Url = format!("http://127.0.0.1:{port}/v2/").parse().unwrap();
        let refused = reqwest::get(base.clone())
            .await
            .expect_err("nothing listens");
        let e = verify_push::Error::Network {
            message: refused.to_string(),
            source: Box::new(refused),
        };
        assert!(is_loopback_refused(&e, &base));
        let localhost: url::Url = format!("http://localhost:{port}/v2/").parse().unwrap();
        assert!(is_loopback_refused(&e, &localhost));
        let remote: url::Url = "https://verify.twilio.com/v2/".parse().unwrap();
        assert!(
            !is_loopback_refused(&e, &remote),
            "only this machine's servers"
        );
        let other = verify_push::Error::Network {
            message: "timed out".into(),
            source: Box::new(std::io::Error::from(std::io::ErrorKind::TimedOut)),
        };
        assert!(
            !is_loopback_refused(&other, &base),
            "only refused connections"
        );
    }
}
