//! One error type for the whole crate, with stable codes the UI and CLI can branch on.
//!
//! Categories mirror the Twilio SDKs' `TwilioVerifyError` codes (60401–60407, see the protocol
//! reference §9.2) and add finer codes for the cases a desktop app shows differently.

use crate::challenge::ChallengeStatus;
use crate::ids::{ChallengeSid, FactorSid};
use serde::Serialize;

/// The error body Twilio's REST API sends (`{code, message, more_info, status}`, reference §4),
/// kept whole so callers can show or log it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    /// Twilio error code (e.g. 20404, 60323), when the body carried one.
    pub code: Option<i64>,
    /// Human-readable message from the server (or the HTTP reason when the body had none).
    pub message: String,
    /// Link to Twilio's error documentation, when given.
    pub more_info: Option<String>,
    /// HTTP status of the response.
    pub status: u16,
    /// `Retry-After` in seconds, when the server sent one (429).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            Some(code) => write!(f, "HTTP {} (code {}): {}", self.status, code, self.message),
            None => write!(f, "HTTP {}: {}", self.status, self.message),
        }
    }
}

/// Stable, serializable classification of an [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Transport failure: connection, TLS, timeout, oversized response (SDK 60401).
    Network,
    /// The server answered with an error status (SDK 60401 with an API error).
    Server,
    /// A response could not be decoded into the expected shape (SDK 60402).
    Mapping,
    /// The local factor store could not be read or written (SDK 60403).
    Storage,
    /// Bad input from the caller or a payload (SDK 60404).
    Input,
    /// A required argument (e.g. of the builder) is missing or invalid (SDK 60404).
    InvalidArgument,
    /// The key store failed in a way not covered by the keychain codes (SDK 60405).
    KeyStorage,
    /// The client could not be set up (SDK 60406).
    Initialization,
    /// Building or signing a JWT failed (SDK 60407).
    AuthenticationToken,
    /// The challenge has expired.
    ExpiredChallenge,
    /// The challenge was already approved or denied.
    AlreadyResponded,
    /// The server refused the signed answer (bad signature or claims, Twilio 60324).
    SignatureRejected,
    /// The challenge belongs to another factor.
    WrongFactor,
    /// The server accepted the update but the challenge status did not change.
    NotUpdated,
    /// No local factor with that SID.
    FactorNotFound,
    /// No keychain is reachable (no Secret Service / D-Bus, platform failure).
    KeychainUnavailable,
    /// The keychain exists but is locked or refused access.
    KeychainLocked,
    /// A plain `http://` URL that is not loopback.
    InsecureUrl,
    /// The challenge fetched for signing is not the one the user was shown.
    ContentMismatch,
    /// Enrolment returned the SID of a factor already stored (never replaced).
    FactorExists,
}

impl ErrorCode {
    /// The snake_case name, identical to the serde form.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Network => "network",
            ErrorCode::Server => "server",
            ErrorCode::Mapping => "mapping",
            ErrorCode::Storage => "storage",
            ErrorCode::Input => "input",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::KeyStorage => "key_storage",
            ErrorCode::Initialization => "initialization",
            ErrorCode::AuthenticationToken => "authentication_token",
            ErrorCode::ExpiredChallenge => "expired_challenge",
            ErrorCode::AlreadyResponded => "already_responded",
            ErrorCode::SignatureRejected => "signature_rejected",
            ErrorCode::WrongFactor => "wrong_factor",
            ErrorCode::NotUpdated => "not_updated",
            ErrorCode::FactorNotFound => "factor_not_found",
            ErrorCode::KeychainUnavailable => "keychain_unavailable",
            ErrorCode::KeychainLocked => "keychain_locked",
            ErrorCode::InsecureUrl => "insecure_url",
            ErrorCode::ContentMismatch => "content_mismatch",
            ErrorCode::FactorExists => "factor_exists",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong in this crate. Messages never contain secrets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Transport failure (connect, TLS, timeout, reading the body).
    #[error("network error: {message}")]
    Network {
        /// What failed, with the cause chain spelled out (for display).
        message: String,
        /// The underlying transport error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The response body was larger than the client accepts.
    #[error("network error: response larger than {limit} bytes")]
    ResponseTooLarge {
        /// The cap in bytes.
        limit: usize,
    },
    /// The server answered with an error status; the body is kept.
    #[error("server error: {0}")]
    Api(ApiError),
    /// A success response that did not decode; `body` is the raw text (truncated to 4 KiB).
    #[error("could not decode the server response: {reason}")]
    Mapping {
        /// What was wrong.
        reason: String,
        /// The raw body, for diagnostics.
        body: String,
    },
    /// A list page pointed its next or previous page at another server.
    #[error("refusing a page URL on another server: {url}")]
    ForeignPageUrl {
        /// The refused URL (clipped).
        url: String,
    },
    /// A listing had more pages than the client reads.
    #[error("the server listed more than {limit} pages")]
    TooManyPages {
        /// The most pages read.
        limit: u32,
    },
    /// Local store I/O or format failure.
    #[error("local storage error: {0}")]
    Storage(String),
    /// Invalid caller input or payload.
    #[error("invalid input: {0}")]
    Input(String),
    /// A required builder or call argument is missing or out of range.
    #[error("invalid argument `{argument}`: {reason}")]
    InvalidArgument {
        /// The argument's name (e.g. `app_id`).
        argument: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Key store failure not covered by the keychain variants.
    #[error("key storage error: {0}")]
    KeyStorage(String),
    /// No keychain is reachable.
    #[error("the system keychain is not available: {0}")]
    KeychainUnavailable(String),
    /// The keychain is locked or refused access.
    #[error("the system keychain is locked or refused access: {0}")]
    KeychainLocked(String),
    /// The private key for a factor is missing from the key store.
    #[error("the key for factor {factor} is missing from the key store; remove the account or enrol again")]
    KeyMissing {
        /// The factor whose key is gone.
        factor: FactorSid,
    },
    /// Client setup failed.
    #[error("initialization error: {0}")]
    Initialization(String),
    /// JWT / JWS building or signing failed.
    #[error("authentication token error: {0}")]
    AuthenticationToken(String),
    /// The challenge has expired (by its status, its expiry date, or the server's 60323).
    #[error("challenge {challenge} has expired")]
    ExpiredChallenge {
        /// The challenge.
        challenge: ChallengeSid,
        /// The server's error, when the server said so (60323).
        api: Option<ApiError>,
    },
    /// The challenge was already answered (seen in its status, or the server's 60322).
    #[error("challenge {challenge} was already answered{}", .status.map(|s| format!(" ({s})")).unwrap_or_default())]
    AlreadyResponded {
        /// The challenge.
        challenge: ChallengeSid,
        /// Its status, when known (the server's 60322 does not say).
        status: Option<ChallengeStatus>,
        /// The server's error, when the server said so (60322).
        api: Option<ApiError>,
    },
    /// The server refused the answer's signature or its claims (60324).
    #[error("the server rejected the signed answer to challenge {challenge}: {api}")]
    SignatureRejected {
        /// The challenge.
        challenge: ChallengeSid,
        /// The server's error.
        api: ApiError,
    },
    /// The challenge belongs to another factor.
    #[error("challenge {challenge} belongs to factor {actual}, not {expected}")]
    WrongFactor {
        /// The challenge SID.
        challenge: ChallengeSid,
        /// The factor we asked for.
        expected: FactorSid,
        /// The factor the server says it belongs to.
        actual: FactorSid,
    },
    /// The update was accepted but the status did not change.
    #[error("challenge {challenge} was not updated (status is still {status})")]
    NotUpdated {
        /// The challenge.
        challenge: ChallengeSid,
        /// Its status after the update.
        status: ChallengeStatus,
    },
    /// The challenge did not match the expected SID or transaction id.
    #[error("challenge {challenge} does not match the expectation: {reason}")]
    Unexpected {
        /// The challenge.
        challenge: ChallengeSid,
        /// What did not match.
        reason: String,
    },
    /// The challenge as fetched for signing differs from what the caller showed the user
    /// (message, fields, factor or server): nothing was signed.
    #[error("challenge {challenge} is not what was shown; nothing was signed")]
    ContentMismatch {
        /// The challenge.
        challenge: ChallengeSid,
    },
    /// The server answered an enrolment with the SID of a factor already stored here; the
    /// stored factor is kept and the new key dropped.
    #[error(
        "the server returned factor {factor}, which is already enrolled here; nothing was replaced"
    )]
    FactorExists {
        /// The SID the server returned.
        factor: FactorSid,
    },
    /// No local factor with this SID.
    #[error("no local factor {factor}")]
    FactorNotFound {
        /// The factor asked for.
        factor: FactorSid,
    },
    /// `http://` URL that is not loopback.
    #[error("refusing insecure URL {url}: only https, or http to loopback, is allowed")]
    InsecureUrl {
        /// The refused URL.
        url: String,
    },
}

impl Error {
    /// For a transport failure, the host (and port, when not the scheme's default) of the
    /// request that failed: what a person can be told Assent cannot reach. `None` otherwise.
    pub fn network_host(&self) -> Option<String> {
        let Error::Network { source, .. } = self else {
            return None;
        };
        let url = source.downcast_ref::<reqwest::Error>()?.url()?;
        let host = url.host_str()?;
        Some(match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        })
    }

    /// The stable code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Network { .. } | Error::ResponseTooLarge { .. } => ErrorCode::Network,
            Error::Api(_) => ErrorCode::Server,
            Error::Mapping { .. } | Error::ForeignPageUrl { .. } | Error::TooManyPages { .. } => {
                ErrorCode::Mapping
            }
            Error::Storage(_) => ErrorCode::Storage,
            Error::Input(_) | Error::Unexpected { .. } => ErrorCode::Input,
            Error::ContentMismatch { .. } => ErrorCode::ContentMismatch,
            Error::FactorExists { .. } => ErrorCode::FactorExists,
            Error::InvalidArgument { .. } => ErrorCode::InvalidArgument,
            Error::KeyStorage(_) | Error::KeyMissing { .. } => ErrorCode::KeyStorage,
            Error::KeychainUnavailable(_) => ErrorCode::KeychainUnavailable,
            Error::KeychainLocked(_) => ErrorCode::KeychainLocked,
            Error::Initialization(_) => ErrorCode::Initialization,
            Error::AuthenticationToken(_) => ErrorCode::AuthenticationToken,
            Error::ExpiredChallenge { .. } => ErrorCode::ExpiredChallenge,
            Error::AlreadyResponded { .. } => ErrorCode::AlreadyResponded,
            Error::SignatureRejected { .. } => ErrorCode::SignatureRejected,
            Error::WrongFactor { .. } => ErrorCode::WrongFactor,
            Error::NotUpdated { .. } => ErrorCode::NotUpdated,
            Error::FactorNotFound { .. } => ErrorCode::FactorNotFound,
            Error::InsecureUrl { .. } => ErrorCode::InsecureUrl,
        }
    }

    /// The server's error body, if this error came from one.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) | Error::SignatureRejected { api: e, .. } => Some(e),
            Error::ExpiredChallenge { api, .. } | Error::AlreadyResponded { api, .. } => {
                api.as_ref()
            }
            _ => None,
        }
    }

    /// The SDK-compatible numeric category (60401–60407).
    pub fn sdk_code(&self) -> u32 {
        match self.code() {
            ErrorCode::Network | ErrorCode::Server => 60401,
            ErrorCode::Mapping => 60402,
            ErrorCode::Storage => 60403,
            ErrorCode::KeyStorage | ErrorCode::KeychainUnavailable | ErrorCode::KeychainLocked => {
                60405
            }
            ErrorCode::Initialization => 60406,
            ErrorCode::AuthenticationToken => 60407,
            _ => 60404,
        }
    }

    pub(crate) fn mapping(reason: impl Into<String>, body: &[u8]) -> Self {
        const KEEP: usize = 4096;
        let text = String::from_utf8_lossy(&body[..body.len().min(KEEP)]).into_owned();
        Error::Mapping {
            reason: reason.into(),
            body: text,
        }
    }
}
