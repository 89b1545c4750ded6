//! The camelCase types that cross the IPC boundary (docs/design.md "src-tauri ↔ ui") and that
//! the CLI prints with `--json`. They hold no key, token or JWT.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use ts_rs::TS;
use verify_push::{Challenge, ChallengeSid, ChallengeStatus, Factor, FactorSid};

use crate::error::ErrorView;
use crate::matching::{MatchRule, MatchView};

/// `host[:port]` of a server URL (the port only when it is not the scheme's default).
pub fn host_of(url: &url::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => url.as_str().to_owned(),
    }
}

/// RFC 3339 UTC with second precision, the format every date in the contract uses.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// One enrolled account (a local push factor).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// YF… SID.
    pub factor_sid: String,
    /// The factor's friendly name.
    pub friendly_name: String,
    /// VA… SID of the Verify service.
    pub service_sid: String,
    /// The user's identity at the relying party.
    pub identity: String,
    /// "verified" or "unverified".
    #[ts(type = "\"verified\" | \"unverified\"")]
    pub status: &'static str,
    /// API base URL this factor talks to.
    pub base_url: String,
    /// When the factor was created.
    pub created_at: String,
    /// Last challenge seen or answered for this account.
    pub last_activity_at: Option<String>,
    /// `"key_missing"` when the private key is gone from the keychain.
    #[ts(type = "\"key_missing\" | null")]
    pub problem: Option<&'static str>,
    /// Notifications for this account are held back until then, because the user reported one
    /// of its requests as not theirs ([`crate::quiet`]); its requests are still listed.
    pub quieted_until: Option<String>,
    /// The relying party's web origin given at enrolment, if any.
    pub origin: Option<String>,
    /// The user allows silent approval from that origin's sign-in page (off by default).
    pub silent_allowed: bool,
}

impl Account {
    /// Builds the view of a factor.
    pub fn from_factor(
        f: &Factor,
        last_activity: Option<DateTime<Utc>>,
        key_missing: bool,
    ) -> Account {
        Account {
            factor_sid: f.sid.to_string(),
            friendly_name: f.friendly_name.clone(),
            service_sid: f.service_sid.to_string(),
            identity: f.identity.to_string(),
            status: factor_status_str(f),
            base_url: f.base_url.to_string(),
            created_at: rfc3339(f.created_at),
            last_activity_at: last_activity.map(rfc3339),
            problem: key_missing.then_some("key_missing"),
            quieted_until: None,
            origin: None,
            silent_allowed: false,
        }
    }
}

fn factor_status_str(f: &Factor) -> &'static str {
    if f.status == verify_push::FactorStatus::Verified {
        "verified"
    } else {
        "unverified"
    }
}

/// Whether a factor can receive challenges.
pub fn is_verified(f: &Factor) -> bool {
    f.status == verify_push::FactorStatus::Verified
}

/// One label/value line of a challenge's details.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct Field {
    /// Label, as the relying party sent it (rendered as text only).
    pub label: String,
    /// Value, as the relying party sent it (rendered as text only).
    pub value: String,
}

/// A challenge as the UI shows it (hidden details stay in Rust).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeView {
    /// YC… SID.
    pub sid: String,
    /// YF… SID of the factor it was sent to.
    pub factor_sid: String,
    /// "pending" | "approved" | "denied" | "expired".
    #[ts(type = "\"pending\" | \"approved\" | \"denied\" | \"expired\"")]
    pub status: &'static str,
    /// The relying party's message.
    pub message: String,
    /// Detail fields in order.
    pub fields: Vec<Field>,
    /// Creation time.
    pub created_at: String,
    /// Expiry time (drives the countdown).
    pub expires_at: String,
    /// When it was answered, if it was.
    pub responded_at: Option<String>,
    /// Number matching the relying party asked for (pending challenges only); never the code.
    #[serde(rename = "match")]
    pub match_request: Option<MatchView>,
}

/// The contract's status word for a challenge status.
pub fn status_str(s: ChallengeStatus) -> &'static str {
    match s {
        ChallengeStatus::Pending => "pending",
        ChallengeStatus::Approved => "approved",
        ChallengeStatus::Denied => "denied",
        ChallengeStatus::Expired => "expired",
    }
}

impl From<&Challenge> for ChallengeView {
    fn from(c: &Challenge) -> Self {
        ChallengeView {
            sid: c.sid.to_string(),
            factor_sid: c.factor_sid.to_string(),
            status: status_str(c.status),
            message: c.details.message.clone(),
            fields: c
                .details
                .fields
                .iter()
                .map(|f| Field {
                    label: f.label.clone(),
                    value: f.value.clone(),
                })
                .collect(),
            created_at: rfc3339(c.created_at),
            expires_at: rfc3339(c.expires_at),
            responded_at: c.responded_at.map(rfc3339),
            match_request: match c.status {
                ChallengeStatus::Pending => MatchRule::of(c).view(c),
                _ => None,
            },
        }
    }
}

/// What identifies a challenge in the app: the factor it was polled for and its SID. A SID
/// alone is not enough, since two servers the user is enrolled with can both list a SID.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChallengeKey {
    /// The factor (account) it was listed for.
    pub factor: FactorSid,
    /// The challenge SID.
    pub challenge: ChallengeSid,
}

impl std::fmt::Display for ChallengeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.factor, self.challenge)
    }
}

impl std::str::FromStr for ChallengeKey {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (factor, challenge) = s.split_once('/').ok_or(())?;
        Ok(ChallengeKey {
            factor: factor.parse().map_err(|_| ())?,
            challenge: challenge.parse().map_err(|_| ())?,
        })
    }
}

impl ChallengeView {
    /// Whether `c` shows the user exactly what this view showed: same challenge, factor,
    /// message and detail fields in the same order. The answer path signs only then.
    pub fn shows_same_as(&self, c: &Challenge) -> bool {
        self.shows_same_as_view(&ChallengeView::from(c))
    }

    /// [`ChallengeView::shows_same_as`] for a view already built.
    pub fn shows_same_as_view(&self, other: &ChallengeView) -> bool {
        other.sid == self.sid
            && other.factor_sid == self.factor_sid
            && other.message == self.message
            && other.fields == self.fields
    }
}

/// A pending challenge plus the account's name (the card's and the notification's title).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PendingChallenge {
    /// The challenge.
    #[serde(flatten)]
    pub challenge: ChallengeView,
    /// Friendly name of the account it belongs to.
    pub account_name: String,
    /// The host (and port, when not the default) of the account's server: every alert names
    /// the server a request came from.
    pub server_host: String,
    /// Expiry as a timestamp, for local bookkeeping (not serialized).
    #[serde(skip)]
    pub expires: DateTime<Utc>,
    /// Creation as a timestamp, for ordering (not serialized).
    #[serde(skip)]
    pub created: DateTime<Utc>,
    /// The typed (factor, challenge) key (not serialized: the view carries both SIDs).
    #[serde(skip)]
    pub key: ChallengeKey,
}

impl PendingChallenge {
    /// Builds the view of a pending challenge listed for `factor`.
    pub fn new(c: &Challenge, factor: &Factor) -> PendingChallenge {
        PendingChallenge {
            challenge: ChallengeView::from(c),
            account_name: factor.friendly_name.clone(),
            server_host: host_of(&factor.base_url),
            expires: c.expires_at,
            created: c.created_at,
            key: ChallengeKey {
                factor: c.factor_sid.clone(),
                challenge: c.sid.clone(),
            },
        }
    }

    /// The challenge SID.
    pub fn sid(&self) -> &str {
        &self.challenge.sid
    }

    /// The factor SID.
    pub fn factor_sid(&self) -> &str {
        &self.challenge.factor_sid
    }

    /// The (factor, challenge) key.
    pub fn key(&self) -> &ChallengeKey {
        &self.key
    }
}

/// One page of an account's answered and expired challenges.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HistoryPage {
    /// Newest first.
    pub items: Vec<ChallengeView>,
    /// Token for the next (older) page.
    pub next_page_token: Option<String>,
    /// Token for the previous (newer) page.
    pub previous_page_token: Option<String>,
}

/// What the watcher is doing, for the offline banner and the tray.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct WatcherStatus {
    /// False after a poll failed for network or server reasons, until one succeeds.
    pub online: bool,
    /// Notifications are paused.
    pub paused: bool,
    /// When the last poll finished.
    pub last_poll_at: Option<String>,
    /// The last poll's error, if it failed.
    pub last_error: Option<ErrorView>,
    /// Servers whose `Date` is implausibly far from this computer's clock (more than 24 h):
    /// Assent refused to correct for it, so signed requests to them may be refused.
    pub clock_warnings: Vec<ClockWarning>,
}

/// A server whose clock correction was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ClockWarning {
    /// `host[:port]` of the server.
    pub server: String,
    /// Server minus local clock, in seconds, as its last `Date` showed.
    #[ts(type = "number")]
    pub offset_secs: i64,
}

/// Steps reported while enrolling (`enroll-progress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum EnrollStep {
    /// Reading the link or JSON payload.
    Parsing,
    /// Generating the P-256 key pair.
    CreatingKey,
    /// Registering the factor with the server.
    CreatingFactor,
    /// Proving possession of the key.
    Verifying,
    /// Storing the account locally.
    Saving,
    /// Finished.
    Done,
}

/// Version, demo URL and log directory for the About/Settings view (`app_info`).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    /// App version.
    pub version: String,
    /// The embedded demo site, when it runs.
    pub demo_url: Option<String>,
    /// Where logs are written.
    pub log_dir: String,
    /// The local endpoint for same-device sign-ins ([`crate::local_endpoint`]).
    pub local_endpoint: crate::local_endpoint::EndpointStatus,
}
