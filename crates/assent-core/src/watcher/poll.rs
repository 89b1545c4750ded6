//! One poll: list every verified factor, reconcile with the cards shown, announce, remove.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::Instant;

use chrono::{DateTime, Utc};
use verify_push::ChallengeStatus;

use super::reconcile::reconcile;
use super::schedule::is_keychain_error;
use super::{PollOutcome, Watcher, RESOLVED_GRACE};
use crate::alerts::{decide, AccountBatch, Alert, Gate};
use crate::error::{is_transient, retry_after, ErrorView};
use crate::events::{AppEvent, RemovalReason};
use crate::views::{is_verified, ChallengeKey, ChallengeView, ClockWarning, PendingChallenge};
use crate::AppError;

/// What listing every factor gave: the fresh cards and the errors by kind.
#[derive(Default)]
pub(super) struct Listing {
    pub(super) fresh: BTreeMap<ChallengeKey, PendingChallenge>,
    /// Fresh challenges a silent-approval request could settle ([`super::hold`]).
    pub(super) may_skip: HashSet<ChallengeKey>,
    pub(super) listed_ok: HashSet<String>,
    transient: Option<ErrorView>,
    permanent: Option<ErrorView>,
    keychain: Option<ErrorView>,
    retry_after: Option<std::time::Duration>,
    /// Every transient failure was a refused connection to a server on this machine.
    only_local_refused: Option<bool>,
}

impl Watcher {
    /// Polls every verified factor once and emits what changed.
    pub async fn poll_once(&self) -> PollOutcome {
        let _one_at_a_time = self.inner.poll_lock.lock().await;
        self.inner.polls.fetch_add(1, Ordering::SeqCst);
        let mut outcome = PollOutcome::default();
        let factors = match self.inner.client.factors() {
            Ok(f) => f.into_iter().filter(is_verified).collect::<Vec<_>>(),
            Err(e) => {
                outcome.keychain_error = is_keychain_error(&e);
                let err = AppError::from(e);
                tracing::warn!(code = %err.code(), "cannot read local factors");
                self.finish_poll(false, Some(err.view()));
                return outcome;
            }
        };
        let known: HashSet<String> = factors.iter().map(|f| f.sid.to_string()).collect();

        let started = Instant::now();
        let listing = self.list(&factors).await;
        outcome.transient_error = listing.transient.is_some();
        outcome.local_refused = listing.only_local_refused == Some(true);
        outcome.keychain_error = listing.keychain.is_some();
        outcome.retry_after = listing.retry_after;
        let listed = started.elapsed();

        let (added, vanished, held) = self.apply(&listing, &known);
        self.start_hold_timers(held);
        if !added.is_empty() {
            outcome.announced = self.show_new(&added).await;
            tracing::debug!(
                list_ms = listed.as_secs_f64() * 1000.0,
                announce_ms = started.elapsed().as_secs_f64() * 1000.0,
                added = added.len(),
                "new challenges announced"
            );
        }
        outcome.removed = self.remove_vanished(vanished, &known).await;

        let online = listing.transient.is_none() || !listing.listed_ok.is_empty();
        // The keychain error first: it is what the schedule now waits for, and the banner
        // explains it (no request can be signed until the keychain opens).
        let error = listing.keychain.or(listing.transient).or(listing.permanent);
        let clock = self.clock_warnings(&factors);
        self.finish_poll_with_clock(online, error, Some(clock));
        outcome
    }

    /// Servers of `factors` whose implausible clock was refused, one entry per server.
    fn clock_warnings(&self, factors: &[verify_push::Factor]) -> Vec<ClockWarning> {
        let mut out: Vec<ClockWarning> = Vec::new();
        for f in factors {
            let Some(offset) = self
                .inner
                .client
                .clock_status(&f.base_url)
                .refused_offset_secs
            else {
                continue;
            };
            let server = crate::views::host_of(&f.base_url);
            if !out.iter().any(|w| w.server == server) {
                out.push(ClockWarning {
                    server,
                    offset_secs: offset,
                });
            }
        }
        out
    }

    /// Lists every factor's pending challenges at once: one slow server does not hold back
    /// the others' challenges.
    async fn list(&self, factors: &[verify_push::Factor]) -> Listing {
        let tasks: Vec<_> = factors
            .iter()
            .map(|f| {
                let client = self.inner.client.clone();
                let factor = f.sid.clone();
                // Every page: a flood of old requests must not hide the one just made.
                tokio::spawn(async move { client.pending_challenges(&factor).await })
            })
            .collect();
        let mut out = Listing::default();
        for (f, task) in factors.iter().zip(tasks) {
            let result = match task.await {
                Ok(r) => r,
                Err(e) => {
                    // Only a panic gets here; the factor counts as not polled (nothing removed).
                    tracing::error!(factor = %f.sid, error = %e, "poll task failed");
                    continue;
                }
            };
            match result {
                Ok(challenges) => {
                    out.listed_ok.insert(f.sid.to_string());
                    // Read only when something is pending (most polls list nothing).
                    let mut rules = None;
                    // The library returns only this factor's challenges; the key says so too.
                    for c in challenges.iter().filter(|c| c.factor_sid == f.sid) {
                        let p = PendingChallenge::new(c, f);
                        let (silent, pin) = rules.get_or_insert_with(|| {
                            (
                                self.inner.silent.get(f.sid.as_ref()),
                                self.inner.verification.required_for(f.sid.as_ref()),
                            )
                        });
                        if crate::silent::may_skip_the_card(c, silent, *pin) {
                            out.may_skip.insert(p.key().clone());
                        }
                        out.fresh.insert(p.key().clone(), p);
                    }
                }
                Err(e) => {
                    let transient_err = is_transient(&e);
                    if transient_err {
                        let local = crate::error::is_loopback_refused(&e, &f.base_url);
                        out.only_local_refused =
                            Some(out.only_local_refused.unwrap_or(true) && local);
                    }
                    let keychain_err = is_keychain_error(&e);
                    if let Some(ra) = retry_after(&e) {
                        out.retry_after = Some(out.retry_after.map_or(ra, |o| o.max(ra)));
                    }
                    let view = AppError::from(e).view();
                    tracing::warn!(factor = %f.sid, code = %view.code, transient = transient_err, "poll failed");
                    if keychain_err {
                        out.keychain = Some(view);
                    } else if transient_err {
                        out.transient = Some(view);
                    } else {
                        out.permanent = Some(view);
                    }
                }
            }
        }
        out
    }

    /// Reconciles the listing with the cards shown; new ones join the list at once, unless
    /// held back for a silent-approval request. Returns (added, vanished, newly held).
    fn apply(
        &self,
        listing: &Listing,
        known: &HashSet<String>,
    ) -> (
        Vec<PendingChallenge>,
        Vec<PendingChallenge>,
        Vec<ChallengeKey>,
    ) {
        let mut st = self.state();
        st.resolved.retain(|_, t| t.elapsed() < RESOLVED_GRACE);
        let resolved: HashSet<ChallengeKey> = st.resolved.keys().cloned().collect();
        let mut diff = reconcile(
            &st.pending,
            &listing.fresh,
            known,
            &listing.listed_ok,
            &resolved,
        );
        let held = Self::hold_back(&mut st, &mut diff.added, listing);
        for p in &diff.added {
            st.pending.insert(p.key().clone(), p.clone());
        }
        for (key, name) in diff.renamed {
            if let Some(card) = st.pending.get_mut(&key) {
                card.account_name = name;
            }
        }
        for key in &diff.text_changed {
            tracing::warn!(challenge = %key, "server changed a pending challenge's text; keeping what was shown");
        }
        (diff.added, diff.vanished, held)
    }

    /// Announces cards that just joined the list, then sends the list and records activity.
    /// Returns how many were announced.
    pub(super) async fn show_new(&self, added: &[PendingChallenge]) -> usize {
        let announced = self.announce(added);
        // Let a task the sink just spawned (the desktop notification) start before the list
        // event and the bookkeeping below.
        tokio::task::yield_now().await;
        self.emit_list();
        self.touch_activity(added).await;
        announced
    }

    /// Announces new cards, each once ever, with the alert each raises
    /// ([`crate::alerts::decide`], per account). The list answer carries everything a
    /// notification shows, so nothing (no further request, no key, no fsync) stands between it
    /// and the notification. Returns how many were announced.
    fn announce(&self, added: &[PendingChallenge]) -> usize {
        let settings = self.inner.settings.get();
        let now = Utc::now();
        let gate = if !settings.notifications_enabled {
            Gate::Disabled
        } else if settings.is_paused(now) {
            Gate::Paused
        } else {
            Gate::Open
        };
        // Recorded (memory and file) before any event: exactly once, restarts included.
        let mut by_account: BTreeMap<&str, Vec<&PendingChallenge>> = BTreeMap::new();
        for p in added {
            if self.lock_announced().insert(p.key(), p.expires) {
                by_account.entry(p.factor_sid()).or_default().push(p);
            } else {
                tracing::info!(challenge = %p.sid(), "challenge pending (announced before)");
            }
        }
        let mut announcements: Vec<(&PendingChallenge, Alert)> = Vec::new();
        {
            let mut st = self.state();
            for (factor, mut list) in by_account {
                list.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.key().cmp(b.key())));
                let pin = self.inner.verification.required_for(factor);
                let batch = AccountBatch {
                    needs_window: list
                        .iter()
                        .map(|p| pin || p.challenge.match_request.is_some())
                        .collect(),
                    pending: st
                        .pending
                        .keys()
                        .filter(|k| k.factor.as_ref() == factor)
                        .count(),
                    quieted: self.inner.quiet.until(factor, now).is_some(),
                };
                let alerts = decide(gate, &batch, factor, &mut st.limiter, Instant::now());
                announcements.extend(list.into_iter().zip(alerts));
            }
        }
        for (p, alert) in &announcements {
            tracing::info!(challenge = %p.sid(), factor = %p.factor_sid(), alert = ?alert, "challenge announced");
            self.inner.sink.emit(AppEvent::ChallengeAnnounced {
                challenge: (*p).clone(),
                alert: *alert,
            });
        }
        announcements.len()
    }

    /// Drops vanished cards with their final state (network calls, after the announcements).
    /// Returns how many were removed.
    async fn remove_vanished(
        &self,
        vanished: Vec<PendingChallenge>,
        known: &HashSet<String>,
    ) -> usize {
        let mut removals: Vec<(PendingChallenge, RemovalReason, Option<ChallengeView>)> =
            Vec::new();
        for p in vanished {
            if !known.contains(p.factor_sid()) {
                removals.push((p, RemovalReason::AccountRemoved, None));
                continue;
            }
            // `None`: the server still says pending (list lag); keep it.
            if let (Some(reason), view) = self.final_state(&p).await {
                removals.push((p, reason, view));
            }
        }
        if removals.is_empty() {
            return 0;
        }
        {
            let mut st = self.state();
            for (p, _, _) in &removals {
                st.pending.remove(p.key());
            }
        }
        for (p, reason, view) in &removals {
            tracing::info!(challenge = %p.key(), ?reason, "challenge no longer pending");
            self.emit_removed(p.key(), *reason);
            if let Some(v) = view {
                self.inner.sink.emit(AppEvent::ChallengeAnswered(v.clone()));
            }
        }
        self.emit_list();
        removals.len()
    }

    /// Asks the server how a vanished challenge ended. `None` reason: still pending.
    async fn final_state(
        &self,
        p: &PendingChallenge,
    ) -> (Option<RemovalReason>, Option<ChallengeView>) {
        let by_clock = if p.expires <= Utc::now() {
            RemovalReason::Expired
        } else {
            RemovalReason::AnsweredElsewhere
        };
        let key = p.key();
        match self
            .inner
            .client
            .get_challenge(&key.factor, &key.challenge)
            .await
        {
            Ok(c) => {
                let reason = match c.status {
                    ChallengeStatus::Pending => return (None, None),
                    ChallengeStatus::Expired => RemovalReason::Expired,
                    ChallengeStatus::Approved | ChallengeStatus::Denied => {
                        RemovalReason::AnsweredElsewhere
                    }
                };
                (Some(reason), Some(ChallengeView::from(&c)))
            }
            Err(e) => {
                tracing::debug!(challenge = %p.sid(), code = %e.code(), "final state unknown");
                (Some(by_clock), None)
            }
        }
    }

    /// Records activity for the accounts of new challenges (a file write with fsync, so off the
    /// async threads and after the announcement; losing it in a crash only dates an account).
    async fn touch_activity(&self, added: &[PendingChallenge]) {
        let activity = self.inner.activity.clone();
        let seen: Vec<(String, DateTime<Utc>)> = added
            .iter()
            .map(|p| (p.factor_sid().to_owned(), p.created))
            .collect();
        let done = tokio::task::spawn_blocking(move || {
            for (factor, at) in &seen {
                activity.touch(factor, *at);
            }
        })
        .await;
        if let Err(e) = done {
            tracing::warn!(error = %e, "activity not recorded");
        }
    }
}
