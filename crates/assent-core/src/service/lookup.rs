//! Reading challenges and history from the server for the CLI and the window.

use verify_push::Challenge;

use super::{parse_challenge, parse_factor, Core};
use crate::accounts;
use crate::views::{is_verified, HistoryPage, PendingChallenge};
use crate::{history, AppError};

impl Core {
    /// Finds which account a challenge belongs to (asks each verified factor, or only
    /// `account` when given).
    pub async fn find_challenge(
        &self,
        challenge_sid: &str,
        account: Option<&str>,
    ) -> Result<Challenge, AppError> {
        let sid = parse_challenge(challenge_sid)?;
        if let Some(p) = self
            .pending()
            .into_iter()
            .find(|p| p.sid() == challenge_sid)
        {
            let factor = parse_factor(p.factor_sid())?;
            return Ok(self.client.get_challenge(&factor, &sid).await?);
        }
        let factors = match account {
            Some(a) => vec![accounts::find(&self.client, a)?],
            None => self
                .client
                .factors()?
                .into_iter()
                .filter(is_verified)
                .collect(),
        };
        let mut could_not_look = None;
        for f in factors {
            match self.client.get_challenge(&f.sid, &sid).await {
                Ok(c) => return Ok(c),
                // Only one candidate: its error says more than "not found".
                Err(e) if account.is_some() => return Err(e.into()),
                Err(e) if could_not_look.is_none() && prevents_lookup(&e) => {
                    could_not_look = Some(e)
                }
                Err(_) => {}
            }
        }
        // A locked keychain or a dead network is what the user must fix, not "not found".
        Err(could_not_look.map_or_else(
            || AppError::ChallengeNotFound(challenge_sid.to_owned()),
            AppError::from,
        ))
    }

    /// Pending challenges straight from the server (CLI `challenges`), optionally for one account.
    pub async fn fetch_pending(
        &self,
        account: Option<&str>,
    ) -> Result<Vec<PendingChallenge>, AppError> {
        let factors = match account {
            Some(a) => vec![accounts::find(&self.client, a)?],
            None => self.client.factors()?,
        };
        let mut out = Vec::new();
        for f in factors.into_iter().filter(is_verified) {
            let pending = self.client.pending_challenges(&f.sid).await?;
            out.extend(pending.iter().map(|c| PendingChallenge::new(c, &f)));
        }
        // Newest first: in a flood the request the user just caused is at the top.
        out.sort_by_key(|a| std::cmp::Reverse(a.created));
        Ok(out)
    }

    /// One page of an account's history.
    pub async fn history(
        &self,
        factor_sid: &str,
        page_token: Option<String>,
    ) -> Result<HistoryPage, AppError> {
        let factor = parse_factor(factor_sid)?;
        history::page(&self.client, &factor, page_token).await
    }
}

/// Errors that say nothing about where a challenge is, only that we could not look.
fn prevents_lookup(e: &verify_push::Error) -> bool {
    use verify_push::ErrorCode as C;
    matches!(
        e.code(),
        C::KeychainLocked | C::KeychainUnavailable | C::KeyStorage | C::Network
    )
}
