//! Fault injection for `/v2/` (off by default): clock offset, 500s, 429s, slow and garbage
//! answers, and other `Twilio-Verify-Signature-Fields` lists for new challenges. Settable in [`crate::EmulatorConfig`], [`crate::RunningEmulator::set_faults`] and
//! over HTTP at `GET|POST /_emulator/faults`.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ApiError;
use crate::form::Params;

/// Fault knobs; every rate is a share in `0..=1` of `/v2/` requests.
#[derive(Clone, Default, Debug, Serialize, PartialEq)]
pub struct Faults {
    /// Server clock = real clock + offset (Date header, nbf/exp checks, timestamps).
    pub clock_offset_secs: i64,
    /// Share of API requests answered 500 (Twilio error body, code 20500).
    pub error_rate: f64,
    /// Share answered 429 code 20429 with `Retry-After`.
    pub rate_limit_rate: f64,
    /// Value of the `Retry-After` header on injected 429s.
    pub retry_after_secs: u64,
    /// Share delayed by `slow_ms` before being handled.
    pub slow_rate: f64,
    /// Delay for slow requests, in milliseconds.
    pub slow_ms: u64,
    /// Share answered 200 with a malformed JSON body (the request is not applied).
    pub garbage_rate: f64,
    /// `Twilio-Verify-Signature-Fields` for challenges created from now on (comma-separated,
    /// must name `sid`); `None` = the default list. Answers to such challenges must sign
    /// exactly these fields plus `status` (no others), so a client that hard-codes the list
    /// fails.
    pub signature_fields: Option<String>,
    /// Each new challenge gets its own random order and subset of signable fields (always
    /// with `sid`), checked like `signature_fields`. Wins over `signature_fields`.
    pub vary_signature_fields: bool,
    /// New challenges also require the claims in the header's order (`status` in place or
    /// last), as Android builds them. Off by default: iOS sends any order, so Twilio cannot
    /// require one; this catches a client that claims Android parity but reorders.
    pub strict_signature_order: bool,
}

impl Faults {
    /// Applies the form fields of `POST /_emulator/faults` on top of `self`.
    pub fn apply_form(&mut self, p: &Params) -> Result<(), ApiError> {
        fn rate(p: &Params, name: &str, slot: &mut f64) -> Result<(), ApiError> {
            if let Some(v) = p.get(name) {
                let r: f64 = v
                    .trim()
                    .parse()
                    .map_err(|_| ApiError::invalid(format!("{name} must be a number")))?;
                if !(0.0..=1.0).contains(&r) {
                    return Err(ApiError::invalid(format!("{name} must be between 0 and 1")));
                }
                *slot = r;
            }
            Ok(())
        }
        fn int<T: std::str::FromStr>(p: &Params, name: &str, slot: &mut T) -> Result<(), ApiError> {
            if let Some(v) = p.get(name) {
                *slot = v
                    .trim()
                    .parse()
                    .map_err(|_| ApiError::invalid(format!("{name} must be an integer")))?;
            }
            Ok(())
        }
        int(p, "ClockOffsetSecs", &mut self.clock_offset_secs)?;
        rate(p, "ErrorRate", &mut self.error_rate)?;
        rate(p, "RateLimitRate", &mut self.rate_limit_rate)?;
        int(p, "RetryAfterSecs", &mut self.retry_after_secs)?;
        rate(p, "SlowRate", &mut self.slow_rate)?;
        int(p, "SlowMs", &mut self.slow_ms)?;
        rate(p, "GarbageRate", &mut self.garbage_rate)?;
        if let Some(v) = p.get("SignatureFields") {
            self.signature_fields = if v.trim().is_empty() {
                None
            } else {
                Some(crate::api::challenges::check_signature_fields(v)?)
            };
        }
        if let Some(v) = p.get("VarySignatureFields") {
            self.vary_signature_fields = crate::api::parse_bool("VarySignatureFields", v)?;
        }
        if let Some(v) = p.get("StrictSignatureOrder") {
            self.strict_signature_order = crate::api::parse_bool("StrictSignatureOrder", v)?;
        }
        Ok(())
    }
}

fn hit(rate: f64) -> bool {
    rate > 0.0 && rand::random::<f64>() < rate
}

/// Middleware for the `/v2/` router: slow first, then 429, 500 and garbage answers.
pub async fn middleware(
    State(app): State<std::sync::Arc<crate::server::App>>,
    req: Request,
    next: Next,
) -> Response {
    let f = app.faults();
    if hit(f.slow_rate) {
        tokio::time::sleep(std::time::Duration::from_millis(f.slow_ms)).await;
    }
    if hit(f.rate_limit_rate) {
        return ApiError::RateLimited {
            retry_after_secs: f.retry_after_secs,
        }
        .into_response();
    }
    if hit(f.error_rate) {
        return ApiError::Internal("injected fault".into()).into_response();
    }
    if hit(f.garbage_rate) {
        return Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{\"sid\": \"YF0f3a<<garbage"))
            .unwrap_or_else(|_| StatusCode::OK.into_response());
    }
    next.run(req).await
}
