//! The answer path: approve or deny one challenge, or every pending one of an account, with
//! the checks against what the card shows and the number-matching rule.

use std::sync::Mutex;

use chrono::Utc;
use serde::Serialize;
use ts_rs::TS;
use verify_push::{Challenge, Decision};

use super::{parse_challenge, parse_factor, Core};
use crate::error::ErrorView;
use crate::matching::{DenyReason, MatchCode, MatchFailure, MatchRule};
use crate::verification::Pin;
use crate::views::{ChallengeKey, ChallengeView, PendingChallenge};
use crate::AppError;

/// A challenge answer's `Metadata`.
type Metadata = std::collections::BTreeMap<String, String>;

/// What the user answered, with what the defences need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Approve; `code` is the number picked or typed when the sign-in asks for matching, `pin`
    /// the app PIN when the account asks for it ([`crate::verification`]).
    Approve {
        /// Two digits, or `None` when no number was asked for.
        code: Option<String>,
        /// The app PIN, or `None`.
        pin: Option<Pin>,
    },
    /// Deny; `reason` is sent to the relying party as `Metadata` `deny_reason`.
    Deny {
        /// Why, if the user said.
        reason: Option<DenyReason>,
    },
}

/// What [`Core::deny_all`] did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, TS)]
pub struct DenyAllReport {
    /// The requests denied, as the server answered.
    pub denied: Vec<ChallengeView>,
    /// The requests that could not be denied, and why.
    pub failed: Vec<DenyAllFailure>,
}

/// One request [`Core::deny_all`] could not deny.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct DenyAllFailure {
    /// YC… SID.
    pub sid: String,
    /// Why.
    pub error: ErrorView,
}

impl Core {
    /// Approves or denies a challenge without a matching number or deny reason; see
    /// [`Core::answer_with`].
    pub async fn answer(
        &self,
        factor_sid: &str,
        challenge_sid: &str,
        decision: Decision,
    ) -> Result<ChallengeView, AppError> {
        let answer = match decision {
            Decision::Approve => Answer::Approve {
                code: None,
                pin: None,
            },
            Decision::Deny => Answer::Deny { reason: None },
        };
        self.answer_with(factor_sid, challenge_sid, answer).await
    }

    /// Approves or denies a challenge: the single path for the window's buttons, notification
    /// actions and the CLI. When the challenge is on a card (it was shown), the challenge
    /// fetched for signing must still show the card's text, else nothing is signed
    /// (`content_mismatch`). On "already answered" or "expired" the card is dropped too, and
    /// the error is returned for the UI to show.
    ///
    /// Number matching is decided on the challenge fetched for signing (see
    /// [`crate::matching`]): without a number it is `match_required`, a malformed number is
    /// `input`, a number for a challenge without matching is `match_not_required`, and in all
    /// three nothing is sent. A wrong number denies the challenge with `deny_reason`
    /// `wrong_match` and returns `wrong_match`. A deny reason goes to the server as `Metadata`;
    /// after "not me" the account is quieted ([`crate::quiet`]).
    pub async fn answer_with(
        &self,
        factor_sid: &str,
        challenge_sid: &str,
        answer: Answer,
    ) -> Result<ChallengeView, AppError> {
        let not_me = is_not_me(&answer);
        let view = self
            .answer_checked(factor_sid, challenge_sid, answer)
            .await?;
        if not_me {
            self.quiet_account(factor_sid, 1).await;
        }
        Ok(view)
    }

    /// [`Core::answer_with`] without quieting the account after "not me".
    async fn answer_checked(
        &self,
        factor_sid: &str,
        challenge_sid: &str,
        answer: Answer,
    ) -> Result<ChallengeView, AppError> {
        let key = ChallengeKey {
            factor: parse_factor(factor_sid)?,
            challenge: parse_challenge(challenge_sid)?,
        };
        let (decision, entered, metadata) = self.prepare(&key, &answer).await?;
        let shown = self.watcher.displayed(&key);
        tracing::info!(challenge = %key, decision = %decision, shown = shown.is_some(), "answering challenge");
        let failure: Mutex<Option<MatchFailure>> = Mutex::new(None);
        let check = |c: &Challenge| {
            if shown
                .as_ref()
                .is_some_and(|card| !card.challenge.shows_same_as(c))
            {
                return false;
            }
            if decision != Decision::Approve {
                return true;
            }
            match MatchRule::of(c).check(entered.as_ref()) {
                Ok(()) => true,
                Err(f) => {
                    *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(f);
                    false
                }
            }
        };
        // Not on a card (the CLI with a SID the user read elsewhere), only the matching rule
        // is checked; the key still binds the answer to this account's server and key.
        let result = self
            .client
            .answer_with_metadata(
                &key.factor,
                &key.challenge,
                decision,
                metadata.as_ref(),
                Some(&check),
            )
            .await;
        let failure = *failure.lock().unwrap_or_else(|p| p.into_inner());
        match (result, failure) {
            (Ok(c), _) => {
                let view = ChallengeView::from(&c);
                tracing::info!(challenge = %key, status = view.status, "challenge answered");
                self.activity.touch(factor_sid, Utc::now());
                self.watcher.resolved(&key, &view);
                Ok(view)
            }
            (Err(verify_push::Error::ContentMismatch { .. }), Some(f)) => {
                tracing::warn!(challenge = %key, failure = ?f, "number matching refused the approval");
                match f {
                    MatchFailure::Required => Err(AppError::MatchRequired),
                    MatchFailure::NotRequired => Err(AppError::MatchNotRequired),
                    MatchFailure::Invalid => Err(AppError::MatchInvalid),
                    MatchFailure::Wrong => Err(self.deny_wrong_match(&key, shown.as_ref()).await),
                }
            }
            (Err(e), _) => Err(self.answer_failed(&key, e).await),
        }
    }

    /// What an answer sends: the decision, the number entered and the deny reason's metadata.
    /// An approval checks the app PIN first, and a malformed number is `input`; in both
    /// cases nothing is sent.
    async fn prepare(
        &self,
        key: &ChallengeKey,
        answer: &Answer,
    ) -> Result<(Decision, Option<MatchCode>, Option<Metadata>), AppError> {
        Ok(match answer {
            Answer::Approve { code, pin } => {
                self.verify_user(&key.factor, pin.as_ref()).await?;
                let entered = code
                    .as_deref()
                    .map(|c| {
                        MatchCode::parse(c.trim()).ok_or_else(|| {
                            AppError::Input("the matching number must be two digits".into())
                        })
                    })
                    .transpose()?;
                (Decision::Approve, entered, None)
            }
            Answer::Deny { reason } => (Decision::Deny, None, reason.map(DenyReason::metadata)),
        })
    }

    /// A failed answer's error. On "already answered" or "expired" the card is dropped, with
    /// the challenge's final state.
    async fn answer_failed(&self, key: &ChallengeKey, e: verify_push::Error) -> AppError {
        let err = AppError::from(e);
        tracing::warn!(challenge = %key, code = %err.code(), "answer failed");
        if matches!(
            err.code(),
            crate::error::AppErrorCode::ExpiredChallenge
                | crate::error::AppErrorCode::AlreadyResponded
        ) {
            if let Ok(c) = self.client.get_challenge(&key.factor, &key.challenge).await {
                self.watcher.resolved(key, &ChallengeView::from(&c));
            }
        }
        err
    }

    /// The answer of a notification's button. Approve is one click only while the challenge is
    /// its account's only pending one (`several_pending` otherwise, nothing sent): a flood
    /// that arrived after the notification was shown must be read in the window first.
    pub async fn answer_from_notification(
        &self,
        factor_sid: &str,
        challenge_sid: &str,
        decision: Decision,
    ) -> Result<ChallengeView, AppError> {
        if decision == Decision::Approve && self.needs_verification(factor_sid) {
            return Err(AppError::VerificationRequired);
        }
        let pending = self.watcher.pending_count(factor_sid);
        if decision == Decision::Approve && pending > 1 {
            tracing::warn!(factor = %factor_sid, pending, "one-click approve refused: several requests pending");
            return Err(AppError::SeveralPending { pending });
        }
        self.answer(factor_sid, challenge_sid, decision).await
    }

    /// Denies every pending request of one account, each through [`Core::answer_with`] (so each
    /// is checked against what its card shows), with the same reason. Returns the answered
    /// views and the errors of those that could not be denied.
    pub async fn deny_all(
        &self,
        factor_sid: &str,
        reason: Option<DenyReason>,
    ) -> Result<DenyAllReport, AppError> {
        let factor = parse_factor(factor_sid)?;
        let cards: Vec<PendingChallenge> = self
            .watcher
            .pending()
            .into_iter()
            .filter(|p| p.key().factor == factor)
            .collect();
        let mut report = DenyAllReport::default();
        for card in &cards {
            match self
                .answer_checked(factor_sid, card.sid(), Answer::Deny { reason })
                .await
            {
                Ok(view) => report.denied.push(view),
                Err(e) => report.failed.push(DenyAllFailure {
                    sid: card.sid().to_owned(),
                    error: e.view(),
                }),
            }
        }
        tracing::info!(factor = %factor, denied = report.denied.len(), failed = report.failed.len(), "denied all pending requests");
        if reason == Some(DenyReason::NotMe) && !report.denied.is_empty() {
            self.quiet_account(factor_sid, report.denied.len()).await;
        }
        Ok(report)
    }

    /// Quiets an account after `reports` requests were denied as "not me", and tells the UI.
    async fn quiet_account(&self, factor_sid: &str, reports: usize) {
        let until = Utc::now()
            + chrono::Duration::from_std(self.quiet_after_not_me)
                .unwrap_or_else(|_| chrono::Duration::minutes(20));
        self.quiet.quiet(factor_sid, until);
        tracing::info!(factor = %factor_sid, reports, until = %until, "account quieted after a not-me report");
        self.publish_accounts().await;
    }

    /// A wrong number is a sign someone else started the sign-in: deny it, telling the
    /// relying party why, instead of leaving it open for another guess.
    async fn deny_wrong_match(
        &self,
        key: &ChallengeKey,
        shown: Option<&PendingChallenge>,
    ) -> AppError {
        let same = |c: &Challenge| shown.is_none_or(|card| card.challenge.shows_same_as(c));
        let metadata = DenyReason::WrongMatch.metadata();
        match self
            .client
            .answer_with_metadata(
                &key.factor,
                &key.challenge,
                Decision::Deny,
                Some(&metadata),
                Some(&same),
            )
            .await
        {
            Ok(c) => {
                let view = ChallengeView::from(&c);
                self.activity.touch(key.factor.as_ref(), Utc::now());
                self.watcher.resolved(key, &view);
                AppError::WrongMatch { denied: true }
            }
            Err(e) => {
                tracing::warn!(challenge = %key, code = %e.code().as_str(), "denying after a wrong match failed");
                if let Ok(c) = self.client.get_challenge(&key.factor, &key.challenge).await {
                    if c.status != verify_push::ChallengeStatus::Pending {
                        self.watcher.resolved(key, &ChallengeView::from(&c));
                    }
                }
                AppError::WrongMatch { denied: false }
            }
        }
    }
}

fn is_not_me(answer: &Answer) -> bool {
    matches!(
        answer,
        Answer::Deny {
            reason: Some(DenyReason::NotMe)
        }
    )
}
