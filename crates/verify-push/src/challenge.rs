//! The challenge model (reference §8.3, D5, D6).

use crate::ids::{ChallengeSid, FactorSid};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Challenge status. Unknown server values become [`ChallengeStatus::Expired`], as on Android.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChallengeStatus {
    /// Waiting for an answer.
    Pending,
    /// Approved.
    Approved,
    /// Denied.
    Denied,
    /// Expired (or an unknown status).
    Expired,
}

impl ChallengeStatus {
    /// Wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeStatus::Pending => "pending",
            ChallengeStatus::Approved => "approved",
            ChallengeStatus::Denied => "denied",
            ChallengeStatus::Expired => "expired",
        }
    }

    /// Parses a server status; anything unknown is `Expired`.
    pub fn from_wire(s: &str) -> Self {
        match s {
            "pending" => Self::Pending,
            "approved" => Self::Approved,
            "denied" => Self::Denied,
            _ => Self::Expired,
        }
    }
}

impl std::fmt::Display for ChallengeStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An answer to a challenge: the only two statuses a device may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Approve (status `approved`).
    Approve,
    /// Deny (status `denied`).
    Deny,
}

impl Decision {
    /// The status the challenge has once answered this way.
    pub fn status(self) -> ChallengeStatus {
        match self {
            Decision::Approve => ChallengeStatus::Approved,
            Decision::Deny => ChallengeStatus::Denied,
        }
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.status().as_str())
    }
}

/// One label/value line shown with a challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// Label (≤ 36 chars on Twilio).
    pub label: String,
    /// Value (≤ 128 chars on Twilio).
    pub value: String,
}

/// What the user is asked to approve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeDetails {
    /// The question, e.g. "Log in to Example?".
    pub message: String,
    /// Extra lines.
    pub fields: Vec<Field>,
    /// Optional date (`Push.IncludeDate`).
    pub date: Option<DateTime<Utc>>,
}

/// A challenge as the device sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Challenge {
    /// Challenge SID (`YC…`).
    pub sid: ChallengeSid,
    /// Factor it was sent to.
    pub factor_sid: FactorSid,
    /// Status.
    pub status: ChallengeStatus,
    /// Shown details.
    pub details: ChallengeDetails,
    /// Hidden details (never shown; used by silent approval to match a transaction id).
    pub hidden_details: Option<BTreeMap<String, String>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last update.
    pub updated_at: DateTime<Utc>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// When it was answered.
    pub responded_at: Option<DateTime<Utc>>,
}

/// List order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Oldest first (Twilio's default).
    #[default]
    Asc,
    /// Newest first.
    Desc,
}

impl Order {
    /// Wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Order::Asc => "asc",
            Order::Desc => "desc",
        }
    }
}

/// Parameters of a challenge list request (D6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeListQuery {
    /// Factor whose challenges to list.
    pub factor: FactorSid,
    /// Only this status.
    pub status: Option<ChallengeStatus>,
    /// Order.
    pub order: Order,
    /// Page size (1–1000).
    pub page_size: u32,
    /// Opaque token from a previous page.
    pub page_token: Option<String>,
}

impl ChallengeListQuery {
    /// First page of `factor`'s challenges, newest first, 20 per page (the sample apps' choice).
    pub fn new(factor: FactorSid) -> Self {
        Self {
            factor,
            status: None,
            order: Order::Desc,
            page_size: 20,
            page_token: None,
        }
    }
}

/// One page of challenges.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChallengePage {
    /// The challenges.
    pub challenges: Vec<Challenge>,
    /// Page number as reported by the server.
    pub page: u32,
    /// Page size as reported by the server.
    pub page_size: u32,
    /// Token for the next page.
    pub next_page_token: Option<String>,
    /// Token for the previous page.
    pub previous_page_token: Option<String>,
}

/// What a silent approval must match (reference §11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    /// The challenge SID must equal this.
    ChallengeSid(ChallengeSid),
    /// `hidden_details["transaction_id"]` must equal this.
    TransactionId(String),
}
