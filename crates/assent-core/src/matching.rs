//! Number matching and deny reasons, the push-fatigue defences a relying party can ask for.
//!
//! A relying party asks for matching through the challenge's hidden details (only the enrolled
//! device reads them): `assent_match_mode` = `choose` | `type` and `assent_match_code` = two
//! digits. The code never leaves Rust: the card gets only [`MatchView`] (the mode and, for
//! `choose`, three numbers without saying which is right), and the number the user picked or
//! typed is compared here in constant time.
//!
//! Fail-safe rules: if either key is present but the pair is not valid (unknown mode, missing
//! or malformed code), the challenge still requires matching, shown as mode `type`, and it can
//! never be approved (`match_invalid`); it can be denied. A number sent for a challenge that
//! does not ask for matching is refused (`match_not_required`), since the user believed a
//! check was made.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use hmac::{Hmac, KeyInit, Mac};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use ts_rs::TS;
use verify_push::Challenge;

/// Hidden-details key naming the matching mode (`choose` or `type`).
pub const MODE_KEY: &str = "assent_match_mode";
/// Hidden-details key holding the two-digit code the sign-in page shows.
pub const CODE_KEY: &str = "assent_match_code";
/// Metadata key carrying why a challenge was denied.
pub const DENY_REASON_KEY: &str = "deny_reason";

/// How the user proves they see the sign-in page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum MatchMode {
    /// Pick the page's number among three.
    Choose,
    /// Type the page's number.
    Type,
}

/// What the card shows for a challenge that requires matching. Never holds which number is
/// right.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct MatchView {
    /// The mode the user answers in.
    pub mode: MatchMode,
    /// For `choose`: three two-digit numbers in random order, one of them the code.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub choices: Option<Vec<String>>,
}

/// A two-digit code; Debug does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct MatchCode([u8; 2]);

impl std::fmt::Debug for MatchCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MatchCode(**)")
    }
}

impl MatchCode {
    /// Parses exactly two ASCII digits.
    pub fn parse(s: &str) -> Option<MatchCode> {
        match s.as_bytes() {
            [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => Some(MatchCode([*a, *b])),
            _ => None,
        }
    }

    /// Constant-time equality, so timing says nothing about how close a guess was.
    pub fn ct_eq(&self, other: &MatchCode) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    fn as_str(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

/// What a challenge's hidden details ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchRule {
    /// No matching asked for.
    None,
    /// Matching with a valid mode and code.
    Required {
        /// The mode.
        mode: MatchMode,
        /// The code the sign-in page shows.
        code: MatchCode,
    },
    /// A matching key is present but the pair is unusable: approval is impossible.
    Invalid,
}

impl MatchRule {
    /// Reads the rule from a challenge's hidden details.
    pub fn of(c: &Challenge) -> MatchRule {
        MatchRule::from_hidden(c.hidden_details.as_ref())
    }

    /// Reads the rule from hidden details.
    pub fn from_hidden(hidden: Option<&BTreeMap<String, String>>) -> MatchRule {
        let Some(h) = hidden else {
            return MatchRule::None;
        };
        let (mode, code) = (h.get(MODE_KEY), h.get(CODE_KEY));
        if mode.is_none() && code.is_none() {
            return MatchRule::None;
        }
        let mode = match mode.map(String::as_str) {
            Some("choose") => MatchMode::Choose,
            Some("type") => MatchMode::Type,
            _ => return MatchRule::Invalid,
        };
        match code.and_then(|c| MatchCode::parse(c)) {
            Some(code) => MatchRule::Required { mode, code },
            None => MatchRule::Invalid,
        }
    }

    /// The card's view of the rule (`None` when no matching is asked for).
    pub fn view(&self, c: &Challenge) -> Option<MatchView> {
        match self {
            MatchRule::None => None,
            MatchRule::Invalid => Some(MatchView {
                mode: MatchMode::Type,
                choices: None,
            }),
            MatchRule::Required {
                mode: MatchMode::Type,
                ..
            } => Some(MatchView {
                mode: MatchMode::Type,
                choices: None,
            }),
            MatchRule::Required {
                mode: MatchMode::Choose,
                code,
            } => Some(MatchView {
                mode: MatchMode::Choose,
                choices: Some(choices(c, code)),
            }),
        }
    }

    /// Checks what the user entered against the rule.
    pub fn check(&self, entered: Option<&MatchCode>) -> Result<(), MatchFailure> {
        match (self, entered) {
            (MatchRule::None, None) => Ok(()),
            (MatchRule::None, Some(_)) => Err(MatchFailure::NotRequired),
            (MatchRule::Invalid, _) => Err(MatchFailure::Invalid),
            (MatchRule::Required { .. }, None) => Err(MatchFailure::Required),
            (MatchRule::Required { code, .. }, Some(e)) if code.ct_eq(e) => Ok(()),
            (MatchRule::Required { .. }, Some(_)) => Err(MatchFailure::Wrong),
        }
    }
}

/// Why an approval was not allowed by the matching rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchFailure {
    /// Matching is required and no number was given.
    Required,
    /// The number given is not the sign-in page's.
    Wrong,
    /// A number was given but the challenge does not ask for matching.
    NotRequired,
    /// The challenge's matching request is malformed.
    Invalid,
}

/// Why the user denied a sign-in, told to the relying party in the update's `Metadata`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum DenyReason {
    /// "This wasn't me": someone else is trying to sign in.
    NotMe,
    /// "It was a mistake": the user started it but did not mean to.
    Mistake,
    /// The number picked or typed did not match the sign-in page (set by Assent).
    WrongMatch,
}

impl DenyReason {
    /// The `deny_reason` value.
    pub fn as_str(self) -> &'static str {
        match self {
            DenyReason::NotMe => "not_me",
            DenyReason::Mistake => "mistake",
            DenyReason::WrongMatch => "wrong_match",
        }
    }

    /// The update's `Metadata`.
    pub fn metadata(self) -> BTreeMap<String, String> {
        BTreeMap::from([(DENY_REASON_KEY.to_owned(), self.as_str().to_owned())])
    }
}

impl std::str::FromStr for DenyReason {
    type Err = ();

    /// Accepts the reasons a user can give (`not_me`, `mistake`); `wrong_match` is Assent's own.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "not_me" => Ok(DenyReason::NotMe),
            "mistake" => Ok(DenyReason::Mistake),
            _ => Err(()),
        }
    }
}

/// A per-process key: decoys are stable for a challenge while the app runs (the card does not
/// reshuffle on each poll) but cannot be predicted from the challenge.
fn process_key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(rand::random)
}

/// The code and two distinct decoys, in an order derived from the challenge and the process key.
fn choices(c: &Challenge, code: &MatchCode) -> Vec<String> {
    let mut seed = [0u8; 32];
    if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(process_key()) {
        mac.update(b"assent-match:");
        mac.update(c.factor_sid.as_ref().as_bytes());
        mac.update(b"/");
        mac.update(c.sid.as_ref().as_bytes());
        mac.update(b"/");
        mac.update(&code.0);
        seed.copy_from_slice(&mac.finalize().into_bytes());
    }
    let mut rng = rand::rngs::StdRng::from_seed(seed);
    let right = code.as_str();
    let mut out = vec![right];
    while out.len() < 3 {
        let n = format!("{:02}", rng.random_range(0..100u8));
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out.shuffle(&mut rng);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hidden(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn valid_pairs_are_required() {
        let h = hidden(&[(MODE_KEY, "choose"), (CODE_KEY, "07")]);
        assert!(matches!(
            MatchRule::from_hidden(Some(&h)),
            MatchRule::Required {
                mode: MatchMode::Choose,
                ..
            }
        ));
        let h = hidden(&[(MODE_KEY, "type"), (CODE_KEY, "99")]);
        assert!(matches!(
            MatchRule::from_hidden(Some(&h)),
            MatchRule::Required {
                mode: MatchMode::Type,
                ..
            }
        ));
        assert_eq!(MatchRule::from_hidden(None), MatchRule::None);
        let h = hidden(&[("transaction_id", "tx")]);
        assert_eq!(MatchRule::from_hidden(Some(&h)), MatchRule::None);
    }

    #[test]
    fn malformed_requests_fail_safe() {
        for pairs in [
            vec![(MODE_KEY, "choose")],
            vec![(CODE_KEY, "47")],
            vec![(MODE_KEY, "pick"), (CODE_KEY, "47")],
            vec![(MODE_KEY, "Choose"), (CODE_KEY, "47")],
            vec![(MODE_KEY, "type"), (CODE_KEY, "4")],
            vec![(MODE_KEY, "type"), (CODE_KEY, "470")],
            vec![(MODE_KEY, "type"), (CODE_KEY, "4a")],
            vec![(MODE_KEY, "type"), (CODE_KEY, "٤٧")],
            vec![(MODE_KEY, "type"), (CODE_KEY, "")],
        ] {
            let rule = MatchRule::from_hidden(Some(&hidden(&pairs)));
            assert_eq!(rule, MatchRule::Invalid, "{pairs:?}");
            let any = MatchCode::parse("47");
            assert_eq!(rule.check(any.as_ref()), Err(MatchFailure::Invalid));
            assert_eq!(rule.check(None), Err(MatchFailure::Invalid));
        }
    }

    #[test]
    fn checks() {
        let rule = MatchRule::from_hidden(Some(&hidden(&[(MODE_KEY, "type"), (CODE_KEY, "47")])));
        assert_eq!(rule.check(MatchCode::parse("47").as_ref()), Ok(()));
        assert_eq!(
            rule.check(MatchCode::parse("74").as_ref()),
            Err(MatchFailure::Wrong)
        );
        assert_eq!(rule.check(None), Err(MatchFailure::Required));
        assert_eq!(
            MatchRule::None.check(MatchCode::parse("47").as_ref()),
            Err(MatchFailure::NotRequired)
        );
        assert_eq!(MatchRule::None.check(None), Ok(()));
    }

    #[test]
    fn entered_codes_are_exactly_two_ascii_digits() {
        for bad in ["", "4", "470", " 47", "47 ", "4a", "٤٧", "+4"] {
            assert!(MatchCode::parse(bad).is_none(), "{bad:?}");
        }
        assert_eq!(
            format!("{:?}", MatchCode::parse("47")),
            "Some(MatchCode(**))"
        );
    }

    #[test]
    fn deny_reasons_parse_only_user_reasons() {
        assert_eq!("not_me".parse(), Ok(DenyReason::NotMe));
        assert_eq!("mistake".parse(), Ok(DenyReason::Mistake));
        assert_eq!("wrong_match".parse::<DenyReason>(), Err(()));
        assert_eq!("NOT_ME".parse::<DenyReason>(), Err(()));
        assert_eq!(
            DenyReason::NotMe.metadata(),
            hidden(&[(DENY_REASON_KEY, "not_me")])
        );
    }
}
