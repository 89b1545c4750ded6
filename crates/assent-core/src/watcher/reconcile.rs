//! The pure part of a poll: what changed between the cards shown and a fresh listing. No I/O,
//! no clock, so every rule is tested directly.

use std::collections::{BTreeMap, HashSet};

use crate::views::{ChallengeKey, PendingChallenge};

/// What a poll changes on screen.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Diff {
    /// Listed now, not shown yet: new cards.
    pub added: Vec<PendingChallenge>,
    /// Shown, but their account is gone, or their account was listed without them (their
    /// final state is asked of the server before the card goes).
    pub vanished: Vec<PendingChallenge>,
    /// Shown and still listed, with the account name the listing carries (the text a card
    /// shows never changes: the answer path signs only what was shown).
    pub renamed: Vec<(ChallengeKey, String)>,
    /// Shown and still listed, but the server now lists other text for them.
    pub text_changed: Vec<ChallengeKey>,
}

/// Compares the cards `shown` with one poll's `fresh` listing. `known` holds the verified
/// accounts, `listed_ok` those whose listing succeeded (a failed listing says nothing about
/// its cards), `resolved` the keys answered here recently (a listing that raced the answer
/// must not bring them back).
pub(super) fn reconcile(
    shown: &BTreeMap<ChallengeKey, PendingChallenge>,
    fresh: &BTreeMap<ChallengeKey, PendingChallenge>,
    known: &HashSet<String>,
    listed_ok: &HashSet<String>,
    resolved: &HashSet<ChallengeKey>,
) -> Diff {
    let fresh: BTreeMap<&ChallengeKey, &PendingChallenge> = fresh
        .iter()
        .filter(|(k, _)| !resolved.contains(*k))
        .collect();
    let mut diff = Diff::default();
    for (key, card) in shown {
        let factor = key.factor.as_ref();
        match fresh.get(key) {
            _ if !known.contains(factor) => diff.vanished.push(card.clone()),
            None if listed_ok.contains(factor) => diff.vanished.push(card.clone()),
            None => {}
            Some(now) => {
                if !card.challenge.shows_same_as_view(&now.challenge) {
                    diff.text_changed.push(key.clone());
                }
                if now.account_name != card.account_name {
                    diff.renamed.push((key.clone(), now.account_name.clone()));
                }
            }
        }
    }
    diff.added = fresh
        .iter()
        .filter(|(k, _)| !shown.contains_key(**k))
        .map(|(_, p)| (*p).clone())
        .collect();
    diff
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::{ChallengeView, Field};
    use chrono::{DateTime, Utc};

    const F1: &str = "YF00000000000000000000000000000001";
    const F2: &str = "YF00000000000000000000000000000002";

    fn card(factor: &str, n: u8, message: &str) -> PendingChallenge {
        let sid = format!("YC{n:032x}");
        PendingChallenge {
            challenge: ChallengeView {
                sid: sid.clone(),
                factor_sid: factor.to_owned(),
                status: "pending",
                message: message.to_owned(),
                fields: vec![Field {
                    label: "Where".into(),
                    value: "Paris".into(),
                }],
                created_at: "2026-01-01T00:00:00Z".into(),
                expires_at: "2026-01-01T00:05:00Z".into(),
                responded_at: None,
                match_request: None,
            },
            account_name: "Bank".into(),
            server_host: "bank.example".into(),
            expires: DateTime::<Utc>::UNIX_EPOCH,
            created: DateTime::<Utc>::UNIX_EPOCH,
            key: ChallengeKey {
                factor: factor.parse().unwrap(),
                challenge: sid.parse().unwrap(),
            },
        }
    }

    fn map(cards: &[PendingChallenge]) -> BTreeMap<ChallengeKey, PendingChallenge> {
        cards.iter().map(|c| (c.key().clone(), c.clone())).collect()
    }

    fn set(factors: &[&str]) -> HashSet<String> {
        factors.iter().map(|f| f.to_string()).collect()
    }

    #[test]
    fn new_listings_are_added_and_missing_ones_vanish() {
        let shown = map(&[card(F1, 1, "old")]);
        let fresh = map(&[card(F1, 2, "new")]);
        let d = reconcile(&shown, &fresh, &set(&[F1]), &set(&[F1]), &HashSet::new());
        assert_eq!(d.added, vec![card(F1, 2, "new")]);
        assert_eq!(d.vanished, vec![card(F1, 1, "old")]);
        assert!(d.text_changed.is_empty() && d.renamed.is_empty());
    }

    #[test]
    fn a_failed_listing_keeps_its_cards_and_a_removed_account_drops_them() {
        let shown = map(&[card(F1, 1, "a"), card(F2, 2, "b")]);
        let empty = BTreeMap::new();
        // F1's listing failed: its card stays. F2 is no longer an account: its card goes.
        let d = reconcile(&shown, &empty, &set(&[F1]), &set(&[]), &HashSet::new());
        assert!(d.added.is_empty());
        assert_eq!(d.vanished, vec![card(F2, 2, "b")]);
    }

    #[test]
    fn the_same_sid_under_two_accounts_is_two_cards() {
        let shown = map(&[card(F1, 7, "bank")]);
        let fresh = map(&[card(F1, 7, "bank"), card(F2, 7, "shop")]);
        let d = reconcile(
            &shown,
            &fresh,
            &set(&[F1, F2]),
            &set(&[F1, F2]),
            &HashSet::new(),
        );
        assert_eq!(d.added, vec![card(F2, 7, "shop")]);
        assert!(d.vanished.is_empty() && d.text_changed.is_empty());
    }

    #[test]
    fn changed_text_is_reported_and_a_rename_follows_the_account() {
        let shown = map(&[card(F1, 1, "Sign in?")]);
        let mut relisted = card(F1, 1, "Transfer everything?");
        relisted.account_name = "Renamed bank".into();
        let fresh = map(&[relisted]);
        let d = reconcile(&shown, &fresh, &set(&[F1]), &set(&[F1]), &HashSet::new());
        assert_eq!(d.text_changed, vec![card(F1, 1, "").key().clone()]);
        assert_eq!(
            d.renamed,
            vec![(card(F1, 1, "").key().clone(), "Renamed bank".to_owned())]
        );
        assert!(d.added.is_empty() && d.vanished.is_empty());
    }

    #[test]
    fn a_listing_that_raced_an_answer_here_does_not_bring_the_card_back() {
        let answered = card(F1, 1, "done");
        let fresh = map(std::slice::from_ref(&answered));
        let resolved: HashSet<ChallengeKey> = [answered.key().clone()].into();
        let d = reconcile(
            &BTreeMap::new(),
            &fresh,
            &set(&[F1]),
            &set(&[F1]),
            &resolved,
        );
        assert!(d.added.is_empty());
    }
}
