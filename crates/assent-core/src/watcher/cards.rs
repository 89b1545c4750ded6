//! Cards leaving outside a poll (answered here, account removed, expired while offline), and
//! the events that tell the UI about cards.

use std::time::Instant;

use chrono::{DateTime, Utc};

use super::Watcher;
use crate::events::{AppEvent, RemovalReason};
use crate::views::{ChallengeKey, ChallengeView};

impl Watcher {
    /// A challenge was answered here: drop it and report its final state.
    pub fn resolved(&self, key: &ChallengeKey, view: &ChallengeView) {
        let removed = {
            let mut st = self.state();
            st.resolved.insert(key.clone(), Instant::now());
            st.held.remove(key);
            st.pending.remove(key).is_some()
        };
        self.mark_announced(key, view);
        self.inner.sink.emit(AppEvent::ChallengeRemoved {
            factor_sid: key.factor.to_string(),
            sid: key.challenge.to_string(),
            reason: RemovalReason::AnsweredHere,
        });
        self.inner
            .sink
            .emit(AppEvent::ChallengeAnswered(view.clone()));
        if removed {
            self.emit_list();
        }
    }

    /// An account was removed: drop its challenges.
    pub fn forget_factor(&self, factor_sid: &str) {
        let gone: Vec<ChallengeKey> = {
            let mut st = self.state();
            let gone = st
                .pending
                .keys()
                .filter(|k| k.factor.as_ref() == factor_sid)
                .cloned()
                .collect::<Vec<_>>();
            for key in &gone {
                st.pending.remove(key);
            }
            st.held.retain(|k, _| k.factor.as_ref() != factor_sid);
            st.limiter.forget(factor_sid);
            gone
        };
        for key in &gone {
            self.emit_removed(key, RemovalReason::AccountRemoved);
        }
        if !gone.is_empty() {
            self.emit_list();
        }
    }

    /// While offline the server cannot tell us about expiry; drop cards whose time is up.
    pub(super) fn expire_locally_when_offline(&self) {
        let now = Utc::now();
        let gone: Vec<ChallengeKey> = {
            let mut st = self.state();
            if st.online {
                return;
            }
            let gone: Vec<ChallengeKey> = st
                .pending
                .values()
                .filter(|p| p.expires <= now)
                .map(|p| p.key().clone())
                .collect();
            for key in &gone {
                st.pending.remove(key);
            }
            gone
        };
        for key in &gone {
            self.emit_removed(key, RemovalReason::Expired);
        }
        if !gone.is_empty() {
            self.emit_list();
        }
    }

    fn mark_announced(&self, key: &ChallengeKey, view: &ChallengeView) {
        let expires = DateTime::parse_from_rfc3339(&view.expires_at)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|_| Utc::now());
        self.lock_announced().insert(key, expires);
    }

    pub(super) fn emit_removed(&self, key: &ChallengeKey, reason: RemovalReason) {
        self.inner.sink.emit(AppEvent::ChallengeRemoved {
            factor_sid: key.factor.to_string(),
            sid: key.challenge.to_string(),
            reason,
        });
    }

    pub(super) fn emit_list(&self) {
        self.inner
            .sink
            .emit(AppEvent::ChallengesChanged(self.pending()));
    }
}
