//! Errors: [`Error`] for starting the emulator, [`ApiError`] for HTTP answers in Twilio's shape.
//!
//! Twilio error codes the emulator answers with. Codes marked *confirmed* are documented on
//! twilio.com/docs/api/errors (see the protocol reference §9.1); the others are the closest
//! generic code we could pick and are *chosen*, not confirmed for these exact situations.
//!
//! | HTTP | code  | when                                                              | source    |
//! |------|-------|-------------------------------------------------------------------|-----------|
//! | 400  | 60200 | invalid or missing parameter                                      | chosen (†) |
//! | 400  | 60305 | invalid access-token parameters (`Identity`, `FactorType`, `Ttl`…) | confirmed |
//! | 400  | 60315 | more than 20 push factors on one entity                           | confirmed |
//! | 400  | 60362 | `FactorSid` invalid or not provided                               | confirmed |
//! | 400  | 60368 | challenge details invalid (message/fields limits)                 | confirmed |
//! | 401  | 20003 | missing/wrong Basic auth, bad or expired device JWT/access token  | confirmed |
//! | 403  | 20403 | `Host` header missing or not allowed (DNS rebinding protection)   | chosen    |
//! | 403  | 60311 | factor verification failed (bad verify `AuthPayload`)             | confirmed |
//! | 403  | 60318 | factor is not verified                                            | confirmed |
//! | 403  | 60322 | challenge already responded                                       | confirmed |
//! | 403  | 60323 | challenge expired                                                 | confirmed |
//! | 403  | 60324 | challenge `AuthPayload` invalid (signature, claims, status)       | confirmed |
//! | 404  | 20404 | resource or route not found; unverified factor older than 1 h (‡) | confirmed |
//! | 405  | 20004 | method not allowed on a known route                               | chosen    |
//! | 409  | 60301 | entity already exists                                             | confirmed |
//! | 429  | 20429 | injected rate limit (with `Retry-After`)                          | confirmed |
//! | 500  | 20500 | injected or internal server error                                 | confirmed |
//!
//! (‡) Twilio may delete an unverified factor 1 to 24 hours after creation
//! (twilio.com/docs/api/errors/60318); the 1 h lifetime is chosen, see
//! [`crate::db::factors::UNVERIFIED_FACTOR_TTL_SECS`].
//!
//! (†) 60200 ("Invalid parameter") and 60300 ("Invalid Param") both exist; which one Twilio uses
//! for each Verify push parameter is not documented, so 60200 everywhere is a choice. 20001,
//! used before, is a warning code ("Unknown parameters … ignored"), not an error.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Failure to start or run an emulator instance.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Binding the listener or another I/O step failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Opening or migrating the SQLite database failed.
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    /// The configuration is inconsistent (e.g. a malformed account SID).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A background task could not be joined.
    #[error("background task failed: {0}")]
    Task(String),
}

/// An API failure, rendered as Twilio's `{code, message, more_info, status}` JSON.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Authentication missing or wrong (401, 20003).
    #[error("Authenticate")]
    Unauthenticated,
    /// Resource or route not found (404, 20404).
    #[error("The requested resource {0} was not found")]
    NotFound(String),
    /// Method not allowed on a known route (405, 20004).
    #[error("Method not allowed")]
    MethodNotAllowed,
    /// Bad input with a Twilio code (400).
    #[error("{message}")]
    BadRequest {
        /// Twilio error code (60200, 60305, 60315, 60362, 60368 …).
        code: u32,
        /// Human readable reason.
        message: String,
    },
    /// The entity already exists (409, 60301).
    #[error("{0}")]
    Conflict(String),
    /// The factor's verify `AuthPayload` does not verify (403, 60311).
    #[error("Factor verification failed: {0}")]
    FactorVerificationFailed(String),
    /// The challenge's `AuthPayload` is invalid: signature, claims or status (403, 60324).
    #[error("Challenge verification failed, AuthPayload is invalid: {0}")]
    ChallengeVerificationFailed(String),
    /// The challenge was already approved or denied (403, 60322).
    #[error("Challenge already responded (status {0})")]
    ChallengeAlreadyResponded(String),
    /// The request is refused before routing, e.g. a foreign `Host` header (403, 20403).
    #[error("{0}")]
    Forbidden(String),
    /// The factor must be verified first (403, 60318).
    #[error("Factor is not verified")]
    FactorNotVerified,
    /// The challenge has expired (403, 60323).
    #[error("Challenge expired")]
    ChallengeExpired,
    /// Injected rate limit (429, 20429).
    #[error("Too many requests")]
    RateLimited {
        /// Seconds for the `Retry-After` header.
        retry_after_secs: u64,
    },
    /// Injected or unexpected server failure (500, 20500).
    #[error("Internal server error")]
    Internal(String),
}

impl ApiError {
    /// 400 / 60200 "Invalid parameter" with a reason.
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code: 60200,
            message: message.into(),
        }
    }

    /// 400 / 60305: a parameter of an access-token request is invalid or missing. Turns a
    /// 60200 from the shared validators into 60305; other errors pass unchanged.
    pub fn access_token(e: ApiError) -> Self {
        match e {
            ApiError::BadRequest {
                code: 60200,
                message,
            } => ApiError::BadRequest {
                code: 60305,
                message,
            },
            other => other,
        }
    }

    /// 400 / 60315: the entity already has the most push factors allowed.
    pub fn too_many_factors(max: usize) -> Self {
        ApiError::BadRequest {
            code: 60315,
            message: format!("Maximum number of push factors ({max}) for this entity reached"),
        }
    }

    /// 400 / 60200 for a required parameter that is absent.
    pub fn missing(param: &str) -> Self {
        Self::invalid(format!(
            "Missing required parameter {param} in the post body"
        ))
    }

    /// 400 / 60368: challenge details invalid or not provided.
    pub fn details(message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code: 60368,
            message: message.into(),
        }
    }

    /// The Twilio error code of this error.
    pub fn code(&self) -> u32 {
        match self {
            ApiError::Unauthenticated => 20003,
            ApiError::NotFound(_) => 20404,
            ApiError::MethodNotAllowed => 20004,
            ApiError::BadRequest { code, .. } => *code,
            ApiError::Conflict(_) => 60301,
            ApiError::FactorVerificationFailed(_) => 60311,
            ApiError::ChallengeVerificationFailed(_) => 60324,
            ApiError::ChallengeAlreadyResponded(_) => 60322,
            ApiError::Forbidden(_) => 20403,
            ApiError::FactorNotVerified => 60318,
            ApiError::ChallengeExpired => 60323,
            ApiError::RateLimited { .. } => 20429,
            ApiError::Internal(_) => 20500,
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::FactorNotVerified
            | ApiError::ChallengeExpired
            | ApiError::Forbidden(_)
            | ApiError::FactorVerificationFailed(_)
            | ApiError::ChallengeVerificationFailed(_)
            | ApiError::ChallengeAlreadyResponded(_) => StatusCode::FORBIDDEN,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body Twilio sends for this error.
    pub fn body(&self) -> serde_json::Value {
        let code = self.code();
        // Internal details stay in the log, not in the answer.
        let message = match self {
            ApiError::Internal(_) => "Internal server error".to_string(),
            other => other.to_string(),
        };
        serde_json::json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": self.status().as_u16(),
        })
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        ApiError::Internal(format!("database: {e}"))
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError::Internal(format!("json: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let mut resp = (self.status(), axum::Json(self.body())).into_response();
        if matches!(self, ApiError::Unauthenticated) {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Twilio API\""),
            );
        }
        if let ApiError::RateLimited { retry_after_secs } = self {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            resp.headers_mut().insert(
                "Twilio-Reached-Rate-Limit",
                HeaderValue::from_static("emulator"),
            );
        }
        resp
    }
}
