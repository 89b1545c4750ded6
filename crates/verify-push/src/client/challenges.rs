//! Challenges: fetch (D5), list (D6), answer (D7).

use super::{route, VerifyPush, MAX_PENDING_PAGES, PENDING_PAGE_SIZE};
use crate::challenge::{
    Challenge, ChallengeListQuery, ChallengePage, ChallengeStatus, Decision, Expectation, Order,
};
use crate::error::Error;
use crate::ids::{ChallengeSid, FactorSid};
use crate::jwt::{challenge_claims, challenge_jws};
use crate::store::StoredFactor;
use crate::time::server_key;
use crate::transport::Method;
use crate::wire;
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

/// A D5 response with what signing needs.
struct Fetched {
    challenge: Challenge,
    raw: serde_json::Map<String, serde_json::Value>,
    signature_fields: Option<String>,
}

impl VerifyPush {
    /// D5: fetches a challenge of a local factor.
    pub async fn get_challenge(
        &self,
        factor: &FactorSid,
        sid: &ChallengeSid,
    ) -> Result<Challenge, Error> {
        let rec = self.record(factor)?;
        Ok(self.fetch(&rec, sid).await?.challenge)
    }

    async fn fetch(&self, rec: &StoredFactor, sid: &ChallengeSid) -> Result<Fetched, Error> {
        let url = route(&rec.factor, &format!("Challenges/{sid}"))?;
        let (resp, _) = self.device_call(rec, Method::Get, url, &[]).await?;
        let resp = resp.success()?;
        let (challenge, raw) = wire::challenge(&resp.body)?;
        if challenge.factor_sid != rec.factor.sid {
            return Err(Error::WrongFactor {
                challenge: sid.clone(),
                expected: rec.factor.sid.clone(),
                actual: challenge.factor_sid.clone(),
            });
        }
        Ok(Fetched {
            challenge,
            raw,
            signature_fields: resp.signature_fields,
        })
    }

    /// D6: one page of a factor's challenges. Items of another factor are dropped; a page URL
    /// on another server is refused ([`Error::ForeignPageUrl`]).
    pub async fn list_challenges(&self, q: ChallengeListQuery) -> Result<ChallengePage, Error> {
        if q.page_size == 0 || q.page_size > 1000 {
            return Err(Error::Input("page size must be 1-1000".into()));
        }
        let rec = self.record(&q.factor)?;
        self.list_page(&rec, &q).await
    }

    async fn list_page(
        &self,
        rec: &StoredFactor,
        q: &ChallengeListQuery,
    ) -> Result<ChallengePage, Error> {
        let mut url = route(&rec.factor, "Challenges")?;
        {
            let mut qp = url.query_pairs_mut();
            qp.append_pair("FactorSid", q.factor.as_str());
            qp.append_pair("PageSize", &q.page_size.to_string());
            qp.append_pair("Order", q.order.as_str());
            if let Some(s) = q.status {
                qp.append_pair("Status", s.as_str());
            }
            if let Some(t) = &q.page_token {
                qp.append_pair("PageToken", t);
            }
        }
        let (resp, _) = self.device_call(rec, Method::Get, url, &[]).await?;
        let resp = resp.success()?;
        let mut page = wire::challenge_page(&resp.body, &rec.factor.base_url)?;
        // Same rule as `fetch`: a server may list a challenge of a factor it does not own
        // (learnt from another server the user is enrolled with) under its own text.
        page.challenges.retain(|c| {
            let own = c.factor_sid == rec.factor.sid;
            if !own {
                tracing::warn!(
                    factor = %rec.factor.sid,
                    challenge = %c.sid,
                    listed_factor = %c.factor_sid,
                    "dropping a listed challenge of another factor"
                );
            }
            own
        });
        Ok(page)
    }

    /// Approves a pending challenge (D5, sign, D7, D5 to confirm).
    pub async fn approve(
        &self,
        factor: &FactorSid,
        sid: &ChallengeSid,
    ) -> Result<Challenge, Error> {
        self.respond(factor, sid, Decision::Approve, None).await
    }

    /// Denies a pending challenge.
    pub async fn deny(&self, factor: &FactorSid, sid: &ChallengeSid) -> Result<Challenge, Error> {
        self.respond(factor, sid, Decision::Deny, None).await
    }

    /// Answers a challenge.
    pub async fn update_challenge(
        &self,
        factor: &FactorSid,
        sid: &ChallengeSid,
        decision: Decision,
    ) -> Result<Challenge, Error> {
        self.respond(factor, sid, decision, None).await
    }

    /// Silent approval: approves only if the challenge's SID equals the expected one or its
    /// `hidden_details["transaction_id"]` equals the expected transaction id.
    pub async fn approve_if(
        &self,
        factor: &FactorSid,
        sid: &ChallengeSid,
        expect: Expectation,
    ) -> Result<Challenge, Error> {
        self.respond(factor, sid, Decision::Approve, Some(&expect))
            .await
    }

    /// Answers a challenge only if the challenge fetched for signing is still what the user
    /// was shown: `shown` is asked about the fetched challenge before anything is signed, and
    /// `false` is [`Error::ContentMismatch`]. This binds a decision to its text, so a server
    /// cannot show one sign-in and have another signed.
    pub async fn answer_if_shown(
        &self,
        factor: &FactorSid,
        sid: &ChallengeSid,
        decision: Decision,
        shown: &(dyn Fn(&Challenge) -> bool + Send + Sync),
    ) -> Result<Challenge, Error> {
        self.respond_checked(factor, sid, decision, None, Some(shown), None)
            .await
    }

    /// Answers a challenge, sending `metadata` as the update's `Metadata` (a JSON object of
    /// flat strings the relying party reads back, at most [`METADATA_MAX_CHARS`] characters
    /// encoded) and, when `shown` is given, signing only if it accepts the fetched challenge
    /// (as [`VerifyPush::answer_if_shown`]). Metadata is not part of the signed claims.
    pub async fn answer_with_metadata(
        &self,
        factor: &FactorSid,
        sid: &ChallengeSid,
        decision: Decision,
        metadata: Option<&BTreeMap<String, String>>,
        shown: Option<&(dyn Fn(&Challenge) -> bool + Send + Sync)>,
    ) -> Result<Challenge, Error> {
        let metadata = metadata.map(encode_metadata).transpose()?;
        self.respond_checked(factor, sid, decision, None, shown, metadata)
            .await
    }

    /// Polls until the factor has an unexpired pending challenge (the newest is returned) or
    /// `timeout` passes (`Ok(None)`).
    pub async fn wait_for_pending_challenge(
        &self,
        factor: &FactorSid,
        timeout: Duration,
        interval: Duration,
    ) -> Result<Option<Challenge>, Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(c) = self.newest_pending(factor).await? {
                return Ok(Some(c));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(interval.min(deadline - now)).await;
        }
    }

    /// Every unexpired pending challenge of a factor, newest first, read across all pages
    /// (at most [`MAX_PENDING_PAGES`] of [`PENDING_PAGE_SIZE`]; more is
    /// [`Error::TooManyPages`], so a flood cannot hide a genuine challenge behind the first
    /// page, nor keep the client paging forever).
    pub async fn pending_challenges(&self, factor: &FactorSid) -> Result<Vec<Challenge>, Error> {
        let rec = self.record(factor)?;
        let mut q = ChallengeListQuery {
            factor: factor.clone(),
            status: Some(ChallengeStatus::Pending),
            order: Order::Desc,
            page_size: PENDING_PAGE_SIZE,
            page_token: None,
        };
        let mut all: Vec<Challenge> = Vec::new();
        // A set, not a scan: a page may hold far more items than asked for (up to the size cap).
        let mut seen: HashSet<ChallengeSid> = HashSet::new();
        for _ in 0..MAX_PENDING_PAGES {
            let page = self.list_page(&rec, &q).await?;
            for c in page.challenges {
                // Pages may shift while new challenges arrive; keep the first copy.
                if seen.insert(c.sid.clone()) {
                    all.push(c);
                }
            }
            match page.next_page_token {
                Some(t) => q.page_token = Some(t),
                None => {
                    let now = self.inner.clock.now(&server_key(&rec.factor.base_url));
                    // The server's newest-first order breaks ties within a second; keep it.
                    all.retain(|c| c.expires_at.timestamp() > now);
                    return Ok(all);
                }
            }
        }
        tracing::warn!(factor = %factor, pages = MAX_PENDING_PAGES, "pending challenges span too many pages");
        Err(Error::TooManyPages {
            limit: MAX_PENDING_PAGES,
        })
    }

    /// The newest unexpired pending challenge of a factor, if any (see
    /// [`VerifyPush::pending_challenges`]).
    pub async fn newest_pending(&self, factor: &FactorSid) -> Result<Option<Challenge>, Error> {
        Ok(self.pending_challenges(factor).await?.into_iter().next())
    }

    async fn respond(
        &self,
        factor: &FactorSid,
        sid: &ChallengeSid,
        decision: Decision,
        expect: Option<&Expectation>,
    ) -> Result<Challenge, Error> {
        self.respond_checked(factor, sid, decision, expect, None, None)
            .await
    }

    async fn respond_checked(
        &self,
        factor: &FactorSid,
        sid: &ChallengeSid,
        decision: Decision,
        expect: Option<&Expectation>,
        shown: Option<&(dyn Fn(&Challenge) -> bool + Send + Sync)>,
        metadata: Option<String>,
    ) -> Result<Challenge, Error> {
        let status = decision.status();
        let rec = self.record(factor)?;
        let fetched = self.fetch(&rec, sid).await?;
        let ch = &fetched.challenge;
        if shown.is_some_and(|shown| !shown(ch)) {
            tracing::info!(challenge = %sid, factor = %factor, "the caller's check refused the challenge fetched for signing; not signing");
            return Err(Error::ContentMismatch {
                challenge: sid.clone(),
            });
        }
        match expect {
            Some(Expectation::ChallengeSid(want)) if &ch.sid != want => {
                return Err(Error::Unexpected {
                    challenge: sid.clone(),
                    reason: format!("expected challenge {want}"),
                })
            }
            Some(Expectation::TransactionId(want)) => {
                let got = ch
                    .hidden_details
                    .as_ref()
                    .and_then(|h| h.get("transaction_id"));
                if got != Some(want) {
                    return Err(Error::Unexpected {
                        challenge: sid.clone(),
                        reason: "hidden transaction_id does not match".into(),
                    });
                }
            }
            _ => {}
        }
        match ch.status {
            ChallengeStatus::Pending => {}
            ChallengeStatus::Expired => {
                return Err(Error::ExpiredChallenge {
                    challenge: sid.clone(),
                    api: None,
                })
            }
            other => {
                return Err(Error::AlreadyResponded {
                    challenge: sid.clone(),
                    status: Some(other),
                    api: None,
                })
            }
        }
        if ch.expires_at.timestamp() <= self.inner.clock.now(&server_key(&rec.factor.base_url)) {
            return Err(Error::ExpiredChallenge {
                challenge: sid.clone(),
                api: None,
            });
        }
        let fields = fetched.signature_fields.as_deref().ok_or_else(|| {
            Error::Input(
                "signature fields or response not set (no Twilio-Verify-Signature-Fields header)"
                    .into(),
            )
        })?;
        let claims = challenge_claims(fields, &fetched.raw, status.as_str())?;
        let key = self.key_for(&rec).await?;
        let jws = challenge_jws(&key, &claims)?;
        let url = route(&rec.factor, &format!("Challenges/{sid}"))?;
        let mut form = vec![("AuthPayload", jws)];
        if let Some(m) = metadata {
            form.push(("Metadata", m));
        }
        let (resp, _) = self.device_call(&rec, Method::Post, url, &form).await?;
        resp.success().map_err(|e| answer_error(sid, e))?;
        let after = self.fetch(&rec, sid).await?.challenge;
        if after.status != status {
            return Err(Error::NotUpdated {
                challenge: sid.clone(),
                status: after.status,
            });
        }
        tracing::info!(factor = %factor, challenge = %sid, status = %status, "challenge answered");
        Ok(after)
    }
}

/// The longest `Metadata` Twilio accepts on a challenge update, in characters of its JSON text.
pub const METADATA_MAX_CHARS: usize = 1024;

/// `Metadata` as the stringified JSON object Twilio expects; too long is [`Error::Input`], so
/// the server never has to refuse (and the answer is never half sent).
fn encode_metadata(m: &BTreeMap<String, String>) -> Result<String, Error> {
    let text = serde_json::to_string(m)
        .map_err(|e| Error::Input(format!("metadata cannot be encoded: {e}")))?;
    if text.chars().count() > METADATA_MAX_CHARS {
        return Err(Error::Input(format!(
            "metadata is longer than {METADATA_MAX_CHARS} characters"
        )));
    }
    Ok(text)
}

/// Twilio's codes for a refused answer get their own error codes: the race with another
/// device (60322), expiry by the server's clock (60323), a signature or claims the server
/// does not accept (60324). The server's body stays attached.
fn answer_error(sid: &ChallengeSid, e: Error) -> Error {
    let Error::Api(api) = e else { return e };
    match api.code {
        Some(60322) => Error::AlreadyResponded {
            challenge: sid.clone(),
            status: None,
            api: Some(api),
        },
        Some(60323) => Error::ExpiredChallenge {
            challenge: sid.clone(),
            api: Some(api),
        },
        Some(60324) => Error::SignatureRejected {
            challenge: sid.clone(),
            api,
        },
        _ => Error::Api(api),
    }
}
