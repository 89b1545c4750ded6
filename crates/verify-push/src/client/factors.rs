//! Enrolment and the server-side factor calls (D1–D4).

use super::{blocking, entity_route, factor_url, VerifyPush, SDK_VERSION};
use crate::crypto::KeyPair;
use crate::enrollment::EnrollRequest;
use crate::error::Error;
use crate::factor::{Factor, FactorStatus};
use crate::ids::{FactorSid, FriendlyName};
use crate::keystore::new_alias;
use crate::store::StoredFactor;
use crate::transport::Method;
use crate::wire;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

const MAX_METADATA_JSON: usize = 1024;

impl VerifyPush {
    /// Creates the factor and verifies it. On any failure everything created so far is
    /// removed again (server factor, key, local record), so there is never a key without a
    /// factor or a factor without a key.
    pub async fn enroll(&self, req: EnrollRequest) -> Result<Factor, Error> {
        let factor = self.create_factor(req).await?;
        match self.verify_factor(&factor.sid).await {
            Ok(f) if f.status == FactorStatus::Verified => Ok(f),
            Ok(f) => {
                self.undo_enrolment(&f.sid).await;
                Err(Error::Input(format!(
                    "the server left factor {} {}",
                    f.sid,
                    f.status.as_str()
                )))
            }
            Err(e) => {
                self.undo_enrolment(&factor.sid).await;
                Err(e)
            }
        }
    }

    async fn undo_enrolment(&self, sid: &FactorSid) {
        if let Err(e) = self.delete_factor(sid).await {
            tracing::warn!(factor = %sid, error = %e, "cleaning up a failed enrolment on the server failed; removing it locally");
            if let Err(e) = self.forget_factor_async(sid).await {
                tracing::warn!(factor = %sid, error = %e, "removing the failed enrolment locally failed");
            }
        }
    }

    /// D1: generates a key, stores it in the key store, creates the (unverified) factor with
    /// the access token and saves it locally. The key is deleted again if this fails.
    pub async fn create_factor(&self, req: EnrollRequest) -> Result<Factor, Error> {
        let name = req.friendly_name.as_str().to_owned();
        let metadata_json = match &req.metadata {
            Some(m) => {
                let j =
                    serde_json::to_string(m).map_err(|e| Error::Input(format!("metadata: {e}")))?;
                if j.len() > MAX_METADATA_JSON {
                    return Err(Error::Input(format!(
                        "metadata must serialize to at most {MAX_METADATA_JSON} bytes"
                    )));
                }
                Some(j)
            }
            None => None,
        };
        let p = &req.payload;
        let key = KeyPair::generate();
        let public_key = key.public_key_base64()?;
        let alias = new_alias();
        {
            let ks = self.inner.keys.clone();
            let secret = key.to_secret();
            let a = alias.clone();
            blocking(move || ks.put(&a, &secret)).await?;
        }
        let url = entity_route(&p.base_url, &p.service_sid, &p.identity, "Factors")?;
        let mut form = vec![
            ("FriendlyName", name.clone()),
            ("FactorType", "push".to_owned()),
            ("Binding.PublicKey", public_key),
            ("Binding.Alg", "ES256".to_owned()),
            ("Config.SdkVersion", SDK_VERSION.to_owned()),
            ("Config.AppId", self.inner.app_id.clone()),
            ("Config.NotificationPlatform", "none".to_owned()),
        ];
        if let Some(m) = metadata_json {
            form.push(("Metadata", m));
        }
        let created = async {
            let resp = self
                .inner
                .transport
                .send(Method::Post, url, p.token.expose(), &form)
                .await?;
            self.observe_clock(&p.base_url, &resp);
            let resp = resp.success()?;
            let dto = wire::factor(&resp.body)?;
            let missing = |what: &str| {
                Error::mapping(format!("create-factor response lacks {what}"), &resp.body)
            };
            Ok(Factor {
                sid: dto.sid.ok_or_else(|| missing("sid"))?,
                friendly_name: dto.friendly_name.unwrap_or_else(|| name.clone()),
                account_sid: dto.account_sid.ok_or_else(|| missing("account_sid"))?,
                service_sid: p.service_sid.clone(),
                identity: p.identity.clone(),
                status: dto.status,
                credential_sid: dto
                    .credential_sid
                    .ok_or_else(|| missing("config.credential_sid"))?,
                base_url: p.base_url.clone(),
                created_at: dto.created_at.unwrap_or_else(chrono::Utc::now),
                metadata: dto.metadata.or_else(|| req.metadata.clone()),
            })
        }
        .await;
        let factor = match created {
            Ok(f) => f,
            Err(e) => {
                self.drop_key(&alias).await;
                return Err(e);
            }
        };
        let rec = StoredFactor {
            factor: factor.clone(),
            key_alias: alias.clone(),
        };
        let stored = self.inner.store.update(|f| {
            // A server that answers with a SID already stored (its own, or another server's)
            // must not replace that account and its key.
            if f.get(&rec.factor.sid).is_some() {
                return false;
            }
            f.upsert(rec);
            true
        });
        if let Ok(false) = stored {
            tracing::warn!(factor = %factor.sid, "enrolment returned a factor SID already stored; refused");
            self.drop_key(&alias).await;
            return Err(Error::FactorExists {
                factor: factor.sid.clone(),
            });
        }
        if let Err(e) = stored {
            // Without a record nobody can use the server factor; remove it while we still can.
            self.cache_key(&alias, key);
            let tmp = StoredFactor {
                factor: factor.clone(),
                key_alias: alias.clone(),
            };
            let _ = self
                .device_call(&tmp, Method::Delete, factor_url(&factor)?, &[])
                .await;
            self.drop_key(&alias).await;
            return Err(e);
        }
        self.cache_key(&alias, key);
        tracing::info!(factor = %factor.sid, service = %factor.service_sid, "factor created");
        Ok(factor)
    }

    async fn drop_key(&self, alias: &str) {
        self.evict_key(alias);
        let ks = self.inner.keys.clone();
        let a = alias.to_owned();
        if let Err(e) = blocking(move || ks.delete(&a)).await {
            tracing::warn!(error = %e, "could not delete a key after a failed enrolment");
        }
    }

    /// D2: proves possession of the key (DER signature over the factor SID) and stores the
    /// resulting status.
    pub async fn verify_factor(&self, sid: &FactorSid) -> Result<Factor, Error> {
        let rec = self.record(sid)?;
        let key = self.key_for(&rec).await?;
        let payload = STANDARD.encode(key.sign_der(sid.as_str().as_bytes()));
        let (resp, _) = self
            .device_call(
                &rec,
                Method::Post,
                factor_url(&rec.factor)?,
                &[("AuthPayload", payload)],
            )
            .await?;
        let resp = resp.success()?;
        let dto = wire::factor(&resp.body)?;
        let updated = self.inner.store.update(|f| {
            let mut r = f.get(sid).cloned()?;
            r.factor.status = dto.status;
            let out = r.factor.clone();
            f.upsert(r);
            Some(out)
        })?;
        updated.ok_or_else(|| Error::FactorNotFound {
            factor: sid.clone(),
        })
    }

    /// D3: re-sends the factor's config (and optionally a new friendly name, which is then
    /// also stored locally).
    pub async fn update_factor(
        &self,
        sid: &FactorSid,
        friendly_name: Option<FriendlyName>,
    ) -> Result<Factor, Error> {
        let rec = self.record(sid)?;
        let name = match friendly_name {
            Some(n) => String::from(n),
            None => rec.factor.friendly_name.clone(),
        };
        let form = [
            ("FriendlyName", name.clone()),
            ("Config.SdkVersion", SDK_VERSION.to_owned()),
            ("Config.AppId", self.inner.app_id.clone()),
            ("Config.NotificationPlatform", "none".to_owned()),
        ];
        let (resp, _) = self
            .device_call(&rec, Method::Post, factor_url(&rec.factor)?, &form)
            .await?;
        let resp = resp.success()?;
        let dto = wire::factor(&resp.body)?;
        let updated = self.inner.store.update(|f| {
            let mut r = f.get(sid).cloned()?;
            r.factor.friendly_name = name.clone();
            r.factor.status = dto.status;
            let out = r.factor.clone();
            f.upsert(r);
            Some(out)
        })?;
        updated.ok_or_else(|| Error::FactorNotFound {
            factor: sid.clone(),
        })
    }

    /// D4: deletes on the server (404, and 401 after the clock retry, count as deleted, as
    /// in the SDKs), then the key, then the local record.
    pub async fn delete_factor(&self, sid: &FactorSid) -> Result<(), Error> {
        let rec = self.record(sid)?;
        let (resp, retried) = self
            .device_call(&rec, Method::Delete, factor_url(&rec.factor)?, &[])
            .await?;
        let gone = resp.is_success() || resp.status == 404 || (resp.status == 401 && retried);
        if !gone {
            return Err(resp.api_error());
        }
        self.forget_factor_async(sid).await
    }
}
