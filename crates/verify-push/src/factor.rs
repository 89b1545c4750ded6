//! The factor model (reference §8.2, §10.1).

use crate::ids::{AccountSid, FactorSid, Identity, ServiceSid};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Factor status on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FactorStatus {
    /// Created, signature not yet verified.
    Unverified,
    /// Verified: can answer challenges.
    Verified,
}

impl FactorStatus {
    /// Wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            FactorStatus::Unverified => "unverified",
            FactorStatus::Verified => "verified",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "unverified" => Some(Self::Unverified),
            "verified" => Some(Self::Verified),
            _ => None,
        }
    }
}

/// Factor type; only push is supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FactorType {
    /// Verify Push.
    #[default]
    Push,
}

/// A push factor enrolled on this device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Factor {
    /// Factor SID (`YF…`).
    pub sid: FactorSid,
    /// Name shown to the user.
    pub friendly_name: String,
    /// Owning account (`sub` of device JWTs).
    pub account_sid: AccountSid,
    /// Verify service.
    pub service_sid: ServiceSid,
    /// Entity identity.
    pub identity: Identity,
    /// Server status.
    pub status: FactorStatus,
    /// `config.credential_sid`, the `kid` of device JWTs.
    pub credential_sid: String,
    /// API base URL including `/v2/`.
    #[serde(with = "crate::serde_url")]
    pub base_url: url::Url,
    /// When the server created it.
    pub created_at: DateTime<Utc>,
    /// Metadata sent at creation.
    pub metadata: Option<BTreeMap<String, String>>,
}
