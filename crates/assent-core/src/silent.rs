//! Silent device approval bound to the sign-in page's web origin.
//!
//! A relying party that named its web origin at enrolment may ask, per challenge, for a silent
//! approval from its own sign-in page on this desktop: it puts [`ORIGIN_KEY`] and [`NONCE_KEY`]
//! in the challenge's hidden details (only the enrolled device reads them) and gives the SID
//! and nonce to its page, which posts them to the local endpoint ([`crate::local_endpoint`]).
//! The browser adds the page's `Origin` header, which a page cannot forge: a phishing page
//! that relays the sign-in sends its own origin, and is caught.
//!
//! [`evaluate`] is the whole decision, a pure function of what the request, the account, the
//! challenge fetched from the server, the desktop session and the used-nonce ledger say. Every
//! condition fails safe: when one does not hold the answer is [`Verdict::Prompt`] (the normal
//! card), never an approval. The only way to [`Verdict::DenyRelayed`] is the right nonce from
//! the wrong origin.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use verify_push::{Challenge, ChallengeStatus};

use crate::jsonfile::JsonMap;
use crate::matching::MatchRule;

/// Hidden-details key naming the web origin the sign-in page runs on.
pub const ORIGIN_KEY: &str = "assent_silent_origin";
/// Hidden-details key holding the per-challenge nonce the sign-in page sends back.
pub const NONCE_KEY: &str = "assent_silent_nonce";
/// `Metadata` key saying how a challenge was approved (`silent`).
pub const APPROVAL_KEY: &str = "assent_approval";
/// `deny_reason` of a relayed sign-in: the right nonce came from another origin.
pub const ORIGIN_MISMATCH: &str = "origin_mismatch";

/// Input more than this long ago means the person is not at the desktop.
pub const MAX_INPUT_IDLE: Duration = Duration::from_secs(60);

/// Shortens [`MAX_INPUT_IDLE`], in seconds (1 to 60; it can only tighten the rule): end-to-end
/// tests see an idle desktop without waiting a minute.
pub const IDLE_SECS_ENV: &str = "ASSENT_SILENT_IDLE_SECS";

/// The idle limit: [`MAX_INPUT_IDLE`], or [`IDLE_SECS_ENV`] when set to a valid value.
pub fn max_input_idle() -> Duration {
    idle_limit(std::env::var(IDLE_SECS_ENV).ok().as_deref())
}

/// [`max_input_idle`] for the variable's value.
fn idle_limit(value: Option<&str>) -> Duration {
    let Some(v) = value else {
        return MAX_INPUT_IDLE;
    };
    match v.trim().parse::<u64>() {
        Ok(secs @ 1..=60) => Duration::from_secs(secs),
        _ => {
            tracing::warn!(value = %v, "{IDLE_SECS_ENV} must be 1 to 60 seconds; using 60");
            MAX_INPUT_IDLE
        }
    }
}
/// Longest nonce accepted (the endpoint's body cap bounds it anyway).
pub const MAX_NONCE: usize = 256;

/// What the desktop session says about the person in front of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionState {
    /// Time since the last keyboard or mouse input; `None` when unknown.
    pub input_idle: Option<Duration>,
    /// Whether the screen is locked; `None` when unknown.
    pub locked: Option<bool>,
}

/// Reads the desktop session's state when a silent approval is asked for.
pub trait SessionProbe: Send + Sync + 'static {
    /// The state now.
    fn session(&self) -> SessionState;
}

/// A session probe that knows nothing: silent approval always falls back to the card.
#[derive(Debug, Default, Clone, Copy)]
pub struct UnknownSession;

impl SessionProbe for UnknownSession {
    fn session(&self) -> SessionState {
        SessionState::default()
    }
}

/// Why a silent approval fell back to the normal card. For the log and the user, never for the
/// page (it learns only `prompt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptReason {
    /// The challenge carries no `assent_silent_*` keys.
    NotRequested,
    /// The challenge's nonce is shorter than 128 bits or not URL-safe text.
    WeakNonce,
    /// The request's nonce is not the challenge's.
    WrongNonce,
    /// This nonce was already used once.
    NonceUsed,
    /// The request has no `Origin` header (not from a web page).
    NoRequestOrigin,
    /// The account named no origin at enrolment.
    NoAccountOrigin,
    /// The challenge's origin is not the one the account enrolled with.
    OriginNotEnrolled,
    /// The user has not allowed silent approval for this account.
    NotAllowed,
    /// The challenge is not listed for this account.
    ForeignChallenge,
    /// The challenge is no longer pending.
    NotPending,
    /// The challenge's expiry has passed.
    Expired,
    /// The challenge asks for number matching.
    MatchRequired,
    /// Approving this account requires the user's verification.
    UserVerificationRequired,
    /// No input in the last minute, or the idle time is unknown.
    SessionIdle,
    /// The screen is locked, or whether it is is unknown.
    SessionLocked,
}

impl PromptReason {
    /// Stable snake_case name for the log.
    pub fn as_str(self) -> &'static str {
        match self {
            PromptReason::NotRequested => "not_requested",
            PromptReason::WeakNonce => "weak_nonce",
            PromptReason::WrongNonce => "wrong_nonce",
            PromptReason::NonceUsed => "nonce_used",
            PromptReason::NoRequestOrigin => "no_request_origin",
            PromptReason::NoAccountOrigin => "no_account_origin",
            PromptReason::OriginNotEnrolled => "origin_not_enrolled",
            PromptReason::NotAllowed => "not_allowed",
            PromptReason::ForeignChallenge => "foreign_challenge",
            PromptReason::NotPending => "not_pending",
            PromptReason::Expired => "expired",
            PromptReason::MatchRequired => "match_required",
            PromptReason::UserVerificationRequired => "user_verification_required",
            PromptReason::SessionIdle => "session_idle",
            PromptReason::SessionLocked => "session_locked",
        }
    }
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Approve without a prompt; the origin goes into the approval's `Metadata`.
    Approve {
        /// The verified origin.
        origin: String,
    },
    /// Leave the challenge to the normal card.
    Prompt(PromptReason),
    /// The right nonce from another origin: a relayed sign-in. Deny it.
    DenyRelayed {
        /// The origin the request came from (the relaying page's).
        origin: String,
    },
}

/// The page's request to the local endpoint.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The `Origin` header, if the request had one.
    pub origin: Option<&'a str>,
    /// The nonce the page sent.
    pub nonce: &'a str,
}

/// What the account allows.
#[derive(Debug, Clone, Copy)]
pub struct AccountFacts<'a> {
    /// The factor SID the challenge was fetched for.
    pub factor_sid: &'a str,
    /// The origin stored at enrolment.
    pub origin: Option<&'a str>,
    /// The user's switch.
    pub allowed: bool,
    /// The user asked to verify themselves before any approval of this account.
    pub user_verification: bool,
}

/// Everything [`evaluate`] looks at.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The page's request.
    pub request: Request<'a>,
    /// The account.
    pub account: AccountFacts<'a>,
    /// The challenge as fetched from the server (for signing).
    pub challenge: &'a Challenge,
    /// The desktop session.
    pub session: SessionState,
    /// Input longer ago than this means nobody is at the desktop ([`max_input_idle`]).
    pub max_idle: Duration,
    /// Whether the request's nonce was used before.
    pub nonce_used: bool,
    /// The time to judge expiry by.
    pub now: DateTime<Utc>,
}

/// The decision, and whether the request proved knowledge of the nonce (then the nonce is
/// spent, whatever the verdict).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// What to do.
    pub verdict: Verdict,
    /// The request carried the challenge's nonce.
    pub nonce_matched: bool,
}

/// Decides a silent-approval request. See the module docs; the order matters only for which
/// reason is reported, except that the nonce is checked before the origin (a wrong nonce from
/// a wrong origin changes nothing) and a relayed sign-in is denied whatever the account's
/// switch and the session say.
pub fn evaluate(i: &Inputs<'_>) -> Evaluation {
    let prompt = |r, matched| Evaluation {
        verdict: Verdict::Prompt(r),
        nonce_matched: matched,
    };
    let hidden = i.challenge.hidden_details.as_ref();
    let (Some(want_origin), Some(want_nonce)) = (
        hidden.and_then(|h| h.get(ORIGIN_KEY)),
        hidden.and_then(|h| h.get(NONCE_KEY)),
    ) else {
        return prompt(PromptReason::NotRequested, false);
    };
    if !strong_nonce(want_nonce) {
        return prompt(PromptReason::WeakNonce, false);
    }
    if !nonce_eq(i.request.nonce, want_nonce) {
        return prompt(PromptReason::WrongNonce, false);
    }
    if i.nonce_used {
        return prompt(PromptReason::NonceUsed, true);
    }
    if i.challenge.factor_sid.as_ref() != i.account.factor_sid {
        return prompt(PromptReason::ForeignChallenge, true);
    }
    if i.challenge.status != ChallengeStatus::Pending {
        return prompt(PromptReason::NotPending, true);
    }
    if i.challenge.expires_at <= i.now {
        return prompt(PromptReason::Expired, true);
    }
    let Some(origin) = i.request.origin else {
        return prompt(PromptReason::NoRequestOrigin, true);
    };
    if origin != want_origin {
        return Evaluation {
            verdict: Verdict::DenyRelayed {
                origin: clip(origin),
            },
            nonce_matched: true,
        };
    }
    match i.account.origin {
        None => return prompt(PromptReason::NoAccountOrigin, true),
        Some(enrolled) if enrolled != want_origin => {
            return prompt(PromptReason::OriginNotEnrolled, true)
        }
        Some(_) => {}
    }
    if !i.account.allowed {
        return prompt(PromptReason::NotAllowed, true);
    }
    if MatchRule::of(i.challenge) != MatchRule::None {
        return prompt(PromptReason::MatchRequired, true);
    }
    if i.account.user_verification {
        return prompt(PromptReason::UserVerificationRequired, true);
    }
    if i.session.input_idle.is_none_or(|d| d >= i.max_idle) {
        return prompt(PromptReason::SessionIdle, true);
    }
    if i.session.locked != Some(false) {
        return prompt(PromptReason::SessionLocked, true);
    }
    Evaluation {
        verdict: Verdict::Approve {
            origin: origin.to_owned(),
        },
        nonce_matched: true,
    }
}

/// Whether a silent-approval request could settle `challenge` without its card: it asks for
/// silent approval with a strong nonce, and its account enrolled with the origin it names,
/// allows silent approval and asks for neither the PIN nor number matching. The watcher holds
/// back such a card until the page's request is decided, so nothing flashes on screen for a
/// sign-in approved a moment later. The session is not looked at: it is judged when the request
/// comes.
pub fn may_skip_the_card(
    challenge: &Challenge,
    account: &AccountSilent,
    user_verification: bool,
) -> bool {
    let hidden = challenge.hidden_details.as_ref();
    let (Some(origin), Some(nonce)) = (
        hidden.and_then(|h| h.get(ORIGIN_KEY)),
        hidden.and_then(|h| h.get(NONCE_KEY)),
    ) else {
        return false;
    };
    strong_nonce(nonce)
        && account.origin.as_deref() == Some(origin.as_str())
        && account.allowed
        && !user_verification
        && MatchRule::of(challenge) == MatchRule::None
}

/// At least 128 bits of URL-safe text: 32 hex digits, or 22 base64url characters (what
/// Python's `secrets.token_hex(16)` and `secrets.token_urlsafe(16)` give).
pub fn strong_nonce(n: &str) -> bool {
    let url_safe = n
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let hex = n.bytes().all(|b| b.is_ascii_hexdigit());
    let min = if hex { 32 } else { 22 };
    url_safe && n.len() >= min && n.len() <= MAX_NONCE
}

/// Constant-time comparison (the length is not secret).
fn nonce_eq(got: &str, want: &str) -> bool {
    got.as_bytes().ct_eq(want.as_bytes()).into()
}

/// Origins come from the page; keep what the log and the UI show short.
fn clip(s: &str) -> String {
    s.chars().take(300).collect()
}

/// The `Metadata` of a silent approval.
pub fn approval_metadata(origin: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (APPROVAL_KEY.to_owned(), "silent".to_owned()),
        ("origin".to_owned(), origin.to_owned()),
    ])
}

/// The `Metadata` of a relayed sign-in's denial.
pub fn relayed_metadata(origin: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            crate::matching::DENY_REASON_KEY.to_owned(),
            ORIGIN_MISMATCH.to_owned(),
        ),
        ("origin".to_owned(), origin.to_owned()),
    ])
}

/// Nonces already presented, by digest, until their challenge expires. In memory: a nonce is
/// bound to a challenge that expires within minutes, and an answered challenge cannot be
/// answered again.
#[derive(Debug, Default)]
pub struct NonceLedger {
    used: Mutex<HashMap<[u8; 32], DateTime<Utc>>>,
}

impl NonceLedger {
    /// Runs `f` with whether `nonce` was used; if `f` says the request proved the nonce, it is
    /// recorded as used until `expires`. Check and record happen under one lock, so two
    /// concurrent requests cannot both spend the same nonce.
    pub fn spend<T>(
        &self,
        nonce: &str,
        expires: DateTime<Utc>,
        f: impl FnOnce(bool) -> (T, bool),
    ) -> T {
        let key: [u8; 32] = Sha256::digest(nonce.as_bytes()).into();
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        let now = Utc::now();
        used.retain(|_, t| *t > now);
        let (out, spend) = f(used.contains_key(&key));
        if spend {
            // Kept a little past expiry, so a clock that runs behind cannot reopen it.
            used.insert(key, expires.max(now) + chrono::Duration::minutes(10));
        }
        out
    }
}

/// What is stored per account (`silent.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountSilent {
    /// The relying party's web origin given at enrolment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The user allows silent approval for this account (off by default).
    #[serde(default)]
    pub allowed: bool,
}

/// Per-account origins and silent-approval switches, by factor SID, in `silent.json`.
#[derive(Debug)]
pub struct SilentStore(JsonMap<AccountSilent>);

impl SilentStore {
    /// Loads the file (empty when missing or unreadable: then no account approves silently).
    pub fn load(path: PathBuf) -> SilentStore {
        SilentStore(JsonMap::load(path, "silent-approval settings"))
    }

    /// What is stored for `factor_sid`.
    pub fn get(&self, factor_sid: &str) -> AccountSilent {
        self.0
            .read(|m| m.get(factor_sid).cloned())
            .unwrap_or_default()
    }

    /// Factor SIDs whose stored origin is `origin`.
    pub fn factors_with_origin(&self, origin: &str) -> Vec<String> {
        self.factors_where(|a| a.origin.as_deref() == Some(origin))
    }

    /// Factor SIDs that have any stored origin.
    pub fn factors_with_any_origin(&self) -> Vec<String> {
        self.factors_where(|a| a.origin.is_some())
    }

    /// Whether some account enrolled with `origin`.
    pub fn knows_origin(&self, origin: &str) -> bool {
        !self.factors_with_origin(origin).is_empty()
    }

    fn factors_where(&self, keep: impl Fn(&AccountSilent) -> bool) -> Vec<String> {
        self.0.read(|m| {
            m.iter()
                .filter(|(_, a)| keep(a))
                .map(|(k, _)| k.clone())
                .collect()
        })
    }

    /// Records a new account's origin (silent approval starts off).
    pub fn enrolled(
        &self,
        factor_sid: &str,
        origin: Option<String>,
    ) -> Result<(), crate::AppError> {
        self.0.update(|m| {
            m.insert(
                factor_sid.to_owned(),
                AccountSilent {
                    origin,
                    allowed: false,
                },
            );
            ((), true)
        })
    }

    /// Sets the user's switch; returns what is stored now.
    pub fn set_allowed(
        &self,
        factor_sid: &str,
        allowed: bool,
    ) -> Result<AccountSilent, crate::AppError> {
        self.0.update(|m| {
            let entry = m.entry(factor_sid.to_owned()).or_default();
            entry.allowed = allowed;
            (entry.clone(), true)
        })
    }

    /// Forgets a removed account.
    pub fn remove(&self, factor_sid: &str) {
        let _ = self.0.update(|m| ((), m.remove(factor_sid).is_some()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use verify_push::ChallengeDetails;

    const ORIGIN: &str = "https://bank.example";
    const NONCE: &str = "Zm9vYmFyYmF6cXV4cXV1eA";
    const YF: &str = "YF0123456789abcdef0123456789abcdef";
    const YF_OTHER: &str = "YFffffffffffffffffffffffffffffffff";

    fn challenge(hidden: &[(&str, &str)]) -> Challenge {
        let now = Utc::now();
        Challenge {
            sid: "YC0123456789abcdef0123456789abcdef".parse().unwrap(),
            factor_sid: YF.parse().unwrap(),
            status: ChallengeStatus::Pending,
            details: ChallengeDetails {
                message: "Sign in".into(),
                fields: vec![],
                date: None,
            },
            hidden_details: Some(
                hidden
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            created_at: now,
            updated_at: now,
            expires_at: now + chrono::Duration::minutes(5),
            responded_at: None,
        }
    }

    fn good_challenge() -> Challenge {
        challenge(&[(ORIGIN_KEY, ORIGIN), (NONCE_KEY, NONCE)])
    }

    fn active() -> SessionState {
        SessionState {
            input_idle: Some(Duration::from_secs(2)),
            locked: Some(false),
        }
    }

    fn inputs(c: &Challenge) -> Inputs<'_> {
        Inputs {
            request: Request {
                origin: Some(ORIGIN),
                nonce: NONCE,
            },
            account: AccountFacts {
                factor_sid: YF,
                origin: Some(ORIGIN),
                allowed: true,
                user_verification: false,
            },
            challenge: c,
            session: active(),
            max_idle: MAX_INPUT_IDLE,
            nonce_used: false,
            now: Utc::now(),
        }
    }

    #[test]
    fn everything_right_approves_with_the_origin() {
        let c = good_challenge();
        assert_eq!(
            evaluate(&inputs(&c)),
            Evaluation {
                verdict: Verdict::Approve {
                    origin: ORIGIN.into()
                },
                nonce_matched: true
            }
        );
    }

    /// Each condition failing alone falls back to the card; none of them approves.
    #[test]
    fn each_condition_failing_alone_prompts() {
        use PromptReason as R;
        type Case = (&'static str, fn(&mut Inputs<'_>), Option<Challenge>, R);
        let mut pending_not = good_challenge();
        pending_not.status = ChallengeStatus::Approved;
        let mut foreign = good_challenge();
        foreign.factor_sid = YF_OTHER.parse().unwrap();
        let mut no_hidden = good_challenge();
        no_hidden.hidden_details = None;
        let cases: Vec<Case> = vec![
            (
                "no hidden details",
                |_| {},
                Some(no_hidden),
                R::NotRequested,
            ),
            (
                "no nonce key",
                |_| {},
                Some(challenge(&[(ORIGIN_KEY, ORIGIN)])),
                R::NotRequested,
            ),
            (
                "no origin key",
                |_| {},
                Some(challenge(&[(NONCE_KEY, NONCE)])),
                R::NotRequested,
            ),
            (
                "short nonce",
                |i| i.request.nonce = "abc123",
                Some(challenge(&[(ORIGIN_KEY, ORIGIN), (NONCE_KEY, "abc123")])),
                R::WeakNonce,
            ),
            (
                "31 hex digits",
                |i| i.request.nonce = "0123456789abcdef0123456789abcde",
                Some(challenge(&[
                    (ORIGIN_KEY, ORIGIN),
                    (NONCE_KEY, "0123456789abcdef0123456789abcde"),
                ])),
                R::WeakNonce,
            ),
            (
                "wrong nonce",
                |i| i.request.nonce = "Zm9vYmFyYmF6cXV4cXV1eB",
                None,
                R::WrongNonce,
            ),
            (
                "nonce prefix",
                |i| i.request.nonce = "Zm9vYmFyYmF6cXV4cXV1e",
                None,
                R::WrongNonce,
            ),
            ("empty nonce", |i| i.request.nonce = "", None, R::WrongNonce),
            ("used nonce", |i| i.nonce_used = true, None, R::NonceUsed),
            (
                "foreign challenge",
                |_| {},
                Some(foreign),
                R::ForeignChallenge,
            ),
            ("not pending", |_| {}, Some(pending_not), R::NotPending),
            (
                "expired",
                |i| i.now += chrono::Duration::minutes(6),
                None,
                R::Expired,
            ),
            (
                "no Origin header",
                |i| i.request.origin = None,
                None,
                R::NoRequestOrigin,
            ),
            (
                "no stored origin",
                |i| i.account.origin = None,
                None,
                R::NoAccountOrigin,
            ),
            (
                "stored origin differs",
                |i| i.account.origin = Some("https://other.example"),
                None,
                R::OriginNotEnrolled,
            ),
            (
                "switched off",
                |i| i.account.allowed = false,
                None,
                R::NotAllowed,
            ),
            (
                "number matching asked",
                |_| {},
                Some(challenge(&[
                    (ORIGIN_KEY, ORIGIN),
                    (NONCE_KEY, NONCE),
                    ("assent_match_mode", "choose"),
                    ("assent_match_code", "47"),
                ])),
                R::MatchRequired,
            ),
            (
                "broken number matching",
                |_| {},
                Some(challenge(&[
                    (ORIGIN_KEY, ORIGIN),
                    (NONCE_KEY, NONCE),
                    ("assent_match_mode", "psychic"),
                ])),
                R::MatchRequired,
            ),
            (
                "user verification on",
                |i| i.account.user_verification = true,
                None,
                R::UserVerificationRequired,
            ),
            (
                "idle a minute",
                |i| i.session.input_idle = Some(MAX_INPUT_IDLE),
                None,
                R::SessionIdle,
            ),
            (
                "idle past a shortened limit",
                |i| {
                    i.max_idle = Duration::from_secs(2);
                    i.session.input_idle = Some(Duration::from_secs(2));
                },
                None,
                R::SessionIdle,
            ),
            (
                "idle unknown",
                |i| i.session.input_idle = None,
                None,
                R::SessionIdle,
            ),
            (
                "locked",
                |i| i.session.locked = Some(true),
                None,
                R::SessionLocked,
            ),
            (
                "lock unknown",
                |i| i.session.locked = None,
                None,
                R::SessionLocked,
            ),
        ];
        for (name, tweak, c, want) in cases {
            let c = c.unwrap_or_else(good_challenge);
            let mut i = inputs(&c);
            tweak(&mut i);
            let got = evaluate(&i);
            assert_eq!(got.verdict, Verdict::Prompt(want), "{name}");
            // Only a request that proved the nonce spends it.
            let proved = !matches!(want, R::NotRequested | R::WeakNonce | R::WrongNonce);
            assert_eq!(got.nonce_matched, proved, "{name}");
        }
    }

    #[test]
    fn the_idle_limit_can_only_be_shortened() {
        assert_eq!(idle_limit(None), MAX_INPUT_IDLE);
        assert_eq!(idle_limit(Some(" 5 ")), Duration::from_secs(5));
        assert_eq!(idle_limit(Some("60")), MAX_INPUT_IDLE);
        for bad in ["0", "61", "86400", "-1", "", "soon"] {
            assert_eq!(idle_limit(Some(bad)), MAX_INPUT_IDLE, "{bad:?}");
        }
    }

    #[test]
    fn the_right_nonce_from_another_origin_is_denied_as_relayed() {
        let c = good_challenge();
        for tweak in [
            (|i: &mut Inputs<'_>| i.request.origin = Some("https://bank-example.evil"))
                as fn(&mut Inputs<'_>),
            // Relayed whatever the switch and the session say.
            |i| {
                i.request.origin = Some("https://bank-example.evil");
                i.account.allowed = false;
                i.session = SessionState::default();
            },
            // Same host, another scheme or port is another origin.
            |i| i.request.origin = Some("http://bank.example"),
            |i| i.request.origin = Some("https://bank.example:8443"),
            |i| i.request.origin = Some("null"),
        ] {
            let mut i = inputs(&c);
            tweak(&mut i);
            let origin = i.request.origin.unwrap().to_owned();
            assert_eq!(
                evaluate(&i),
                Evaluation {
                    verdict: Verdict::DenyRelayed { origin },
                    nonce_matched: true
                }
            );
        }
        // A wrong nonce from the wrong origin changes nothing.
        let mut i = inputs(&c);
        i.request.origin = Some("https://bank-example.evil");
        i.request.nonce = "Zm9vYmFyYmF6cXV4cXV1eB";
        assert_eq!(
            evaluate(&i).verdict,
            Verdict::Prompt(PromptReason::WrongNonce)
        );
    }

    /// Only a challenge a silent request could settle is held back; each missing condition
    /// alone shows the card at once.
    #[test]
    fn only_a_challenge_that_may_be_approved_silently_skips_the_card() {
        let allowed = AccountSilent {
            origin: Some(ORIGIN.into()),
            allowed: true,
        };
        assert!(may_skip_the_card(&good_challenge(), &allowed, false));
        let switched_off = AccountSilent {
            allowed: false,
            ..allowed.clone()
        };
        let other_origin = AccountSilent {
            origin: Some("https://other.example".into()),
            ..allowed.clone()
        };
        let no_origin = AccountSilent {
            origin: None,
            ..allowed.clone()
        };
        for (why, account) in [
            ("switched off", &switched_off),
            ("enrolled with another origin", &other_origin),
            ("enrolled without an origin", &no_origin),
        ] {
            assert!(
                !may_skip_the_card(&good_challenge(), account, false),
                "{why}"
            );
        }
        assert!(!may_skip_the_card(&good_challenge(), &allowed, true), "PIN");
        for (why, hidden) in [
            ("not requested", vec![]),
            ("no nonce", vec![(ORIGIN_KEY, ORIGIN)]),
            (
                "weak nonce",
                vec![(ORIGIN_KEY, ORIGIN), (NONCE_KEY, "1234")],
            ),
            (
                "number matching",
                vec![
                    (ORIGIN_KEY, ORIGIN),
                    (NONCE_KEY, NONCE),
                    ("assent_match_mode", "choose"),
                    ("assent_match_code", "47"),
                ],
            ),
        ] {
            assert!(
                !may_skip_the_card(&challenge(&hidden), &allowed, false),
                "{why}"
            );
        }
    }

    #[test]
    fn nonce_strength() {
        assert!(strong_nonce("0123456789abcdef0123456789abcdef"));
        assert!(!strong_nonce("0123456789abcdef0123456789abcde"));
        assert!(strong_nonce("Zm9vYmFyYmF6cXV4cXV1eA"));
        assert!(!strong_nonce("Zm9vYmFyYmF6cXV4cXV1e"));
        assert!(!strong_nonce("Zm9vYmFyYmF6cXV4cXV1eA=="));
        assert!(!strong_nonce("Zm9vYmFyYmF6cXV4 cXV1eA"));
        assert!(!strong_nonce(&"a".repeat(MAX_NONCE + 1)));
    }

    #[test]
    fn a_nonce_is_spent_once_even_under_one_lock() {
        let ledger = NonceLedger::default();
        let exp = Utc::now() + chrono::Duration::minutes(5);
        assert!(!ledger.spend(NONCE, exp, |used| (used, false)));
        assert!(!ledger.spend(NONCE, exp, |used| (used, true)));
        assert!(ledger.spend(NONCE, exp, |used| (used, true)));
        assert!(!ledger.spend("other-nonce", exp, |used| (used, false)));
    }

    #[test]
    fn store_keeps_origin_and_switch_per_account() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("silent.json");
        let s = SilentStore::load(path.clone());
        s.enrolled("YF1", Some(ORIGIN.into())).unwrap();
        s.enrolled("YF2", None).unwrap();
        assert!(!s.get("YF1").allowed, "off by default");
        s.set_allowed("YF1", true).unwrap();
        let again = SilentStore::load(path.clone());
        assert_eq!(
            again.get("YF1"),
            AccountSilent {
                origin: Some(ORIGIN.into()),
                allowed: true
            }
        );
        assert_eq!(again.factors_with_origin(ORIGIN), vec!["YF1".to_owned()]);
        assert!(again.knows_origin(ORIGIN));
        assert!(!again.knows_origin("https://evil.example"));
        assert_eq!(again.factors_with_any_origin(), vec!["YF1".to_owned()]);
        again.remove("YF1");
        assert_eq!(SilentStore::load(path).get("YF1"), AccountSilent::default());
    }

    #[test]
    fn metadata_is_flat_strings() {
        assert_eq!(
            serde_json::to_value(approval_metadata(ORIGIN)).unwrap(),
            serde_json::json!({"assent_approval": "silent", "origin": ORIGIN})
        );
        assert_eq!(
            serde_json::to_value(relayed_metadata("https://evil.example")).unwrap(),
            serde_json::json!({"deny_reason": "origin_mismatch", "origin": "https://evil.example"})
        );
    }
}
