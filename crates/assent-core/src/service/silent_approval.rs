//! Requests from sign-in pages on this desktop through the local endpoint: wake-ups and
//! silent approval ([`crate::silent`]), and the per-account switch for it.

use std::sync::Mutex;

use chrono::Utc;
use serde::Serialize;
use subtle::ConstantTimeEq;
use verify_push::{Challenge, ChallengeSid, Decision};

use super::{parse_challenge, parse_factor, Core};
use crate::events::{AppEvent, RelayedSignInEvent};
use crate::silent::{self, Verdict};
use crate::views::{is_verified, Account, ChallengeKey, ChallengeView};
use crate::AppError;

/// What a silent-approval request led to; the page learns only this word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SilentOutcome {
    /// Approved without a prompt.
    Approved,
    /// Left to the normal card.
    Prompt,
    /// Denied as a relayed sign-in.
    Denied,
}

impl Core {
    /// Allows or forbids silent approval for one account (`assent silent`, the account's
    /// switch), and publishes the account list. An account without an enrolled origin can be
    /// switched on, but nothing is ever approved silently for it.
    pub async fn set_silent_allowed(
        &self,
        factor_sid: &str,
        allowed: bool,
    ) -> Result<Account, AppError> {
        let factor = parse_factor(factor_sid)?;
        if !self.client.factors()?.iter().any(|f| f.sid == factor) {
            return Err(AppError::AccountNotFound(factor_sid.to_owned()));
        }
        self.silent.set_allowed(factor_sid, allowed)?;
        tracing::info!(factor = %factor, allowed, "silent approval switched");
        let list = self.accounts().await?;
        self.sink.emit(AppEvent::AccountsChanged(list.clone()));
        list.into_iter()
            .find(|a| a.factor_sid == factor_sid)
            .ok_or_else(|| AppError::AccountNotFound(factor_sid.to_owned()))
    }

    /// Whether an account enrolled with this web origin (the local endpoint answers CORS
    /// preflights only for those).
    pub fn knows_origin(&self, origin: &str) -> bool {
        self.silent.knows_origin(origin)
    }

    /// A sign-in page on this desktop says a challenge was just created: poll now if some
    /// account enrolled with the page's origin. Returns whether it did.
    pub fn wake(&self, origin: &str) -> bool {
        if !self.silent.knows_origin(origin) {
            return false;
        }
        tracing::info!(origin = %origin, "woken by a sign-in page; polling now");
        self.watcher.check_now();
        true
    }

    /// A sign-in page asks to approve `challenge_sid` without a prompt ([`crate::silent`]).
    /// The challenge is looked for on the accounts that enrolled with an origin: first the one
    /// whose card shows it or holds it back, then those of the request's origin, then the
    /// others (a relayed sign-in comes from an origin no account has). Approval and denial go
    /// through the library's check of the challenge fetched for signing, which applies the
    /// rules again to exactly what is signed. The challenge's card, held back while the
    /// request was due, is shown unless the request approved or denied it.
    pub async fn silent_approval(
        &self,
        origin: Option<&str>,
        challenge_sid: &str,
        nonce: &str,
    ) -> SilentOutcome {
        let Ok(sid) = parse_challenge(challenge_sid) else {
            tracing::info!("silent approval: not a challenge SID");
            return SilentOutcome::Prompt;
        };
        let deciding = self.watcher.silent_deciding(&sid);
        let outcome = self.decide_silently(origin, &sid, nonce).await;
        deciding.decided().await;
        outcome
    }

    /// [`Core::silent_approval`] once the SID is known to be one.
    async fn decide_silently(
        &self,
        origin: Option<&str>,
        sid: &ChallengeSid,
        nonce: &str,
    ) -> SilentOutcome {
        if nonce.len() > silent::MAX_NONCE {
            tracing::info!(challenge = %sid, "silent approval: nonce too long");
            return SilentOutcome::Prompt;
        }
        let mut candidates = self.watcher.factors_with_card(sid);
        if let Some(o) = origin {
            candidates.extend(self.silent.factors_with_origin(o));
        }
        candidates.extend(self.silent.factors_with_any_origin());
        let mut seen = std::collections::BTreeSet::new();
        candidates.retain(|f| seen.insert(f.clone()));
        let verified: Vec<verify_push::Factor> = match self.client.factors() {
            Ok(fs) => fs.into_iter().filter(is_verified).collect(),
            Err(e) => {
                tracing::warn!(code = %e.code().as_str(), "silent approval: cannot read accounts");
                return SilentOutcome::Prompt;
            }
        };
        for factor_sid in candidates {
            let Some(factor) = verified.iter().find(|f| f.sid.as_ref() == factor_sid) else {
                continue;
            };
            let key = ChallengeKey {
                factor: factor.sid.clone(),
                challenge: sid.clone(),
            };
            if let Some(outcome) = self.silent_for(factor, &key, origin, nonce).await {
                return outcome;
            }
        }
        tracing::info!(challenge = %sid, "silent approval: no account with an origin has this challenge");
        SilentOutcome::Prompt
    }

    /// [`Core::silent_approval`] for one account; `None` when the challenge is not its.
    async fn silent_for(
        &self,
        factor: &verify_push::Factor,
        key: &ChallengeKey,
        origin: Option<&str>,
        nonce: &str,
    ) -> Option<SilentOutcome> {
        let stored = self.silent.get(factor.sid.as_ref());
        // "Confirm it's you before approving" means no approval without the PIN, silent or not.
        let user_verification = self.needs_verification(factor.sid.as_ref());
        let session = self.session.session();
        let shown = self.watcher.displayed(key);
        let evaluation: Mutex<Option<silent::Evaluation>> = Mutex::new(None);
        let check = |c: &Challenge| {
            if shown
                .as_ref()
                .is_some_and(|card| !card.challenge.shows_same_as(c))
            {
                return false;
            }
            let e = self.nonces.spend(nonce, c.expires_at, |used| {
                let e = silent::evaluate(&silent::Inputs {
                    request: silent::Request { origin, nonce },
                    account: silent::AccountFacts {
                        factor_sid: factor.sid.as_ref(),
                        origin: stored.origin.as_deref(),
                        allowed: stored.allowed,
                        user_verification,
                    },
                    challenge: c,
                    session,
                    max_idle: self.max_input_idle,
                    nonce_used: used,
                    now: Utc::now(),
                });
                let spend = e.nonce_matched;
                (e, spend)
            });
            let approve = matches!(e.verdict, Verdict::Approve { .. });
            *evaluation.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            approve
        };
        let metadata = silent::approval_metadata(origin.unwrap_or_default());
        let result = self
            .client
            .answer_with_metadata(
                &key.factor,
                &key.challenge,
                Decision::Approve,
                Some(&metadata),
                Some(&check),
            )
            .await;
        let evaluation = evaluation.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.silent_settled(factor, key, origin, nonce, result, evaluation)
            .await
    }

    /// What the signed approval's `result` means, given the rules' `evaluation` of the
    /// challenge fetched for signing (`None` when the check stopped before the rules).
    async fn silent_settled(
        &self,
        factor: &verify_push::Factor,
        key: &ChallengeKey,
        origin: Option<&str>,
        nonce: &str,
        result: Result<Challenge, verify_push::Error>,
        evaluation: Option<silent::Evaluation>,
    ) -> Option<SilentOutcome> {
        match (result, evaluation) {
            (Ok(c), _) => {
                let view = ChallengeView::from(&c);
                tracing::info!(challenge = %key, origin = ?origin, status = view.status, "approved silently (origin verified)");
                self.activity.touch(key.factor.as_ref(), Utc::now());
                self.watcher.resolved(key, &view);
                Some(SilentOutcome::Approved)
            }
            (Err(verify_push::Error::ContentMismatch { .. }), Some(e)) => match e.verdict {
                Verdict::DenyRelayed { origin: from } => {
                    Some(self.deny_relayed(factor, key, nonce, &from).await)
                }
                Verdict::Prompt(reason) => {
                    tracing::info!(challenge = %key, reason = reason.as_str(), "silent approval declined; the card decides");
                    Some(SilentOutcome::Prompt)
                }
                Verdict::Approve { .. } => Some(SilentOutcome::Prompt),
            },
            (Err(verify_push::Error::ContentMismatch { .. }), None) => {
                tracing::warn!(challenge = %key, "silent approval: the challenge no longer shows what its card shows");
                Some(SilentOutcome::Prompt)
            }
            (Err(e), _) if e.api_error().is_some_and(|a| a.status == 404) => None,
            (Err(e), _) => {
                tracing::info!(challenge = %key, code = %e.code().as_str(), "silent approval failed; the card decides");
                Some(SilentOutcome::Prompt)
            }
        }
    }

    /// Denies a relayed sign-in with `deny_reason` `origin_mismatch` and the relaying origin,
    /// and tells the user.
    async fn deny_relayed(
        &self,
        factor: &verify_push::Factor,
        key: &ChallengeKey,
        nonce: &str,
        from: &str,
    ) -> SilentOutcome {
        let expected: Mutex<String> = Mutex::new(String::new());
        // The challenge fetched for signing must still be the one the nonce belongs to.
        let same = |c: &Challenge| {
            let h = c.hidden_details.as_ref();
            let want = h.and_then(|h| h.get(silent::ORIGIN_KEY));
            let ok = c.status == verify_push::ChallengeStatus::Pending
                && h.and_then(|h| h.get(silent::NONCE_KEY))
                    .is_some_and(|n| n.as_bytes().ct_eq(nonce.as_bytes()).into())
                && want.is_some_and(|w| w != from);
            if let Some(w) = want {
                w.clone_into(&mut expected.lock().unwrap_or_else(|p| p.into_inner()));
            }
            ok
        };
        let metadata = silent::relayed_metadata(from);
        let result = self
            .client
            .answer_with_metadata(
                &key.factor,
                &key.challenge,
                Decision::Deny,
                Some(&metadata),
                Some(&same),
            )
            .await;
        let expected = expected.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let denied = match result {
            Ok(c) => {
                let view = ChallengeView::from(&c);
                self.activity.touch(key.factor.as_ref(), Utc::now());
                self.watcher.resolved(key, &view);
                true
            }
            Err(e) => {
                tracing::warn!(challenge = %key, code = %e.code().as_str(), "denying a relayed sign-in failed");
                false
            }
        };
        tracing::warn!(challenge = %key, origin = %from, expected = %expected, denied, "relayed sign-in: the right nonce came from another origin");
        self.sink.emit(AppEvent::RelayedSignIn(RelayedSignInEvent {
            factor_sid: factor.sid.to_string(),
            account_name: factor.friendly_name.clone(),
            challenge_sid: key.challenge.to_string(),
            origin: from.to_owned(),
            expected_origin: expected,
            denied,
        }));
        SilentOutcome::Denied
    }
}
