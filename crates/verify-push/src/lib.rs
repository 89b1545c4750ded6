//! # verify-push
//!
//! A Twilio Verify Push client for desktops, with the capabilities of Twilio's Android and iOS
//! SDKs and no GUI code: enrol a factor (key pair in the OS keychain), answer challenges by
//! signing exactly the fields the server names, poll for pending challenges (desktops register
//! `NotificationPlatform=none`), and keep factors in a small JSON file written atomically.
//! It works unchanged against `https://verify.twilio.com/v2/` and the local `verify-emulator`.
//!
//! Protocol sources: `docs/reference/verify-push-protocol.md` in the repository (§ numbers in
//! the docs refer to it).
//!
//! ## Enrol, then approve
//!
//! ```no_run
//! use std::time::Duration;
//! use verify_push::{EnrollRequest, EnrollmentPayload, VerifyPush};
//!
//! # async fn demo() -> Result<(), verify_push::Error> {
//! let client = VerifyPush::builder()
//!     .data_dir("/tmp/example-authenticator")
//!     .app_id("com.example.Authenticator")
//!     .keychain_service("com.example.Authenticator")
//!     .app("ExampleAuthenticator", "1.0.0")
//!     .build()?;
//!
//! // What the relying party showed (a link or its JSON form).
//! let payload: EnrollmentPayload = "assent://enroll?token=eyJ...&serviceSid=VA0123456789abcdef0123456789abcdef\
//!     &identity=user-1&factorType=push&baseUrl=https%3A%2F%2Fverify.twilio.com%2Fv2%2F"
//!     .parse()?;
//! let factor = client
//!     .enroll(EnrollRequest::new(payload, "My laptop".parse()?))
//!     .await?;
//!
//! // Later: poll for a pending challenge and approve it.
//! if let Some(ch) = client
//!     .wait_for_pending_challenge(&factor.sid, Duration::from_secs(60), Duration::from_secs(3))
//!     .await?
//! {
//!     println!("{}", ch.details.message);
//!     let answered = client.approve(&factor.sid, &ch.sid).await?;
//!     assert_eq!(answered.status, verify_push::ChallengeStatus::Approved);
//! }
//! # Ok(()) }
//! ```
//!
//! Errors carry a stable [`ErrorCode`]; secrets ([`AccessToken`], [`DeviceJwt`],
//! [`SecretKeyBytes`]) print as `[redacted]`.

#![warn(missing_docs)]

mod challenge;
mod client;
pub mod crypto;
mod enrollment;
mod error;
mod factor;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod ids;
pub mod jwt;
pub mod keystore;
mod secret;
mod serde_url;
pub mod store;
pub mod time;
pub mod transport;
mod wire;

pub use challenge::{
    Challenge, ChallengeDetails, ChallengeListQuery, ChallengePage, ChallengeStatus, Decision,
    Expectation, Field, Order,
};
pub use client::{
    metadata, IntegrityReport, VerifyPush, VerifyPushBuilder, MAX_PENDING_PAGES,
    METADATA_MAX_CHARS, PENDING_PAGE_SIZE, SDK_VERSION,
};
pub use enrollment::{
    parse_base_url, parse_display_text, parse_web_origin, EnrollRequest, EnrollmentPayload,
    MAX_DISPLAY_CHARS, TWILIO_BASE_URL,
};
pub use error::{ApiError, Error, ErrorCode};
pub use factor::{Factor, FactorStatus, FactorType};
pub use ids::{AccountSid, ChallengeSid, FactorSid, FriendlyName, Identity, ServiceSid};
pub use keystore::{KeyStore, MemoryKeyStore, OsKeyStore, KEYCHAIN_TIMEOUT};
pub use secret::{AccessToken, DeviceJwt, SecretKeyBytes};
pub use time::ClockStatus;
