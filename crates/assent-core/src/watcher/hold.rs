//! Holding back the card of a challenge that may be approved silently ([`crate::silent`]).
//!
//! The sign-in page wakes the watcher and then asks for the silent approval, so the poll the
//! wake starts often lists the challenge before the approval is decided. Announcing it then
//! would flash a card and a notification for a sign-in approved a moment later, and teach the
//! user that requests come and go by themselves. A challenge that a silent request could settle
//! ([`crate::silent::may_skip_the_card`]) is therefore held: not shown, not notified, until the
//! page's request for it is decided ([`Deciding::decided`]). Approved or denied silently, it
//! is never shown; any other outcome shows its card at once. A request that never comes (a
//! page without script, a request lost on the way) shows the card after
//! [`super::WatcherConfig::silent_hold`]; one that came and is still being decided then (a slow
//! server) keeps it held until its decision.

use std::time::Instant;

use verify_push::ChallengeSid;

use super::poll::Listing;
use super::{State, Watcher, RESOLVED_GRACE};
use crate::views::{ChallengeKey, PendingChallenge};

impl Watcher {
    /// Takes a poll's new cards out of `added` when they are to wait for a silent-approval
    /// request; returns those held by this poll for the first time. Held cards a successful
    /// listing no longer has leave quietly: they were answered elsewhere or expired before
    /// anyone saw them.
    pub(super) fn hold_back(
        st: &mut State,
        added: &mut Vec<PendingChallenge>,
        listing: &Listing,
    ) -> Vec<ChallengeKey> {
        st.silent_decided
            .retain(|_, at| at.elapsed() < RESOLVED_GRACE);
        st.held.retain(|key, _| {
            !listing.listed_ok.contains(key.factor.as_ref()) || listing.fresh.contains_key(key)
        });
        let mut newly = Vec::new();
        added.retain(|p| {
            let key = p.key();
            if st.held.contains_key(key) {
                return false;
            }
            if !listing.may_skip.contains(key) || st.silent_decided.contains_key(&key.challenge) {
                return true;
            }
            tracing::info!(challenge = %key, "card held for the sign-in page's silent-approval request");
            st.held.insert(key.clone(), p.clone());
            newly.push(key.clone());
            false
        });
        newly
    }

    /// Shows each newly held card once its wait is over, unless its request was decided first.
    pub(super) fn start_hold_timers(&self, keys: Vec<ChallengeKey>) {
        for key in keys {
            let watcher = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(watcher.inner.config.silent_hold).await;
                // A request being decided shows it (or not) when it is decided.
                if watcher.state().deciding.contains_key(&key.challenge) {
                    return;
                }
                watcher
                    .release(&key, "no silent-approval request in time")
                    .await;
            });
        }
    }

    /// A silent-approval request for `sid` came: its card stays held, past the hold's wait,
    /// until the returned guard says it was decided or is dropped (a request cancelled on the
    /// way still shows the card).
    pub fn silent_deciding(&self, sid: &ChallengeSid) -> Deciding {
        *self.state().deciding.entry(sid.clone()).or_default() += 1;
        Deciding {
            watcher: self.clone(),
            sid: sid.clone(),
            done: false,
        }
    }

    /// The accounts whose card of challenge `sid` is shown or held: where a silent-approval
    /// request for it is judged first, without asking the server about other accounts.
    pub fn factors_with_card(&self, sid: &ChallengeSid) -> Vec<String> {
        let st = self.state();
        st.pending
            .keys()
            .chain(st.held.keys())
            .filter(|k| k.challenge == *sid)
            .map(|k| k.factor.to_string())
            .collect()
    }

    /// Ends one request of [`Watcher::silent_deciding`].
    fn end_deciding(&self, sid: &ChallengeSid) {
        let mut st = self.state();
        if let Some(n) = st.deciding.get_mut(sid) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                st.deciding.remove(sid);
            }
        }
    }

    /// The silent-approval request for `sid` was decided. An approval or denial already
    /// dropped the held card ([`Watcher::resolved`]); anything else shows it now. The
    /// challenge is not held again.
    async fn silent_decided(&self, sid: &ChallengeSid) {
        let keys: Vec<ChallengeKey> = {
            let mut st = self.state();
            st.silent_decided.insert(sid.clone(), Instant::now());
            st.held
                .keys()
                .filter(|k| k.challenge == *sid)
                .cloned()
                .collect()
        };
        for key in keys {
            self.release(&key, "the silent-approval request left it to the card")
                .await;
        }
    }

    /// Moves a held card to the cards shown and announces it.
    async fn release(&self, key: &ChallengeKey, why: &'static str) {
        let card = {
            let mut st = self.state();
            let Some(card) = st.held.remove(key) else {
                return;
            };
            st.pending.insert(key.clone(), card.clone());
            card
        };
        tracing::info!(challenge = %key, why, "held card shown");
        self.show_new(std::slice::from_ref(&card)).await;
    }
}

/// A silent-approval request being decided ([`Watcher::silent_deciding`]).
#[derive(Debug)]
#[must_use = "the card stays held until the guard is decided or dropped"]
pub struct Deciding {
    watcher: Watcher,
    sid: ChallengeSid,
    done: bool,
}

impl Deciding {
    /// The request was decided: shows its held card unless it was approved or denied.
    pub async fn decided(mut self) {
        self.done = true;
        self.watcher.end_deciding(&self.sid);
        self.watcher.silent_decided(&self.sid).await;
    }
}

impl Drop for Deciding {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.watcher.end_deciding(&self.sid);
        // Cancelled before its decision (the page went away): the card must not stay hidden.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (watcher, sid) = (self.watcher.clone(), self.sid.clone());
            rt.spawn(async move { watcher.silent_decided(&sid).await });
        }
    }
}
