//! [`VerifyPush`]: the client the app, the CLI and the tests go through. The impl is split by
//! topic: `builder` (setup), `factors` (enrolment and server-side factor calls), `challenges`
//! (fetch, list, answer), `local` (the store and key store only); this file holds the shared
//! plumbing (device-JWT calls, clock learning, key cache, routes).

mod builder;
mod challenges;
mod factors;
mod local;

pub use builder::VerifyPushBuilder;
pub use challenges::METADATA_MAX_CHARS;
pub use local::IntegrityReport;

use crate::crypto::KeyPair;
use crate::error::Error;
use crate::factor::Factor;
use crate::ids::{FactorSid, Identity, ServiceSid};
use crate::jwt::device_jwt;
use crate::keystore::KeyStore;
use crate::store::{FactorStore, StoredFactor};
use crate::time::{local_unix_now, server_key, Clock, ClockObservation, ClockStatus};
use crate::transport::{Method, RawResponse, Transport};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// `Config.SdkVersion` we report.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Page size [`VerifyPush::pending_challenges`] asks for (Twilio's default).
pub const PENDING_PAGE_SIZE: u32 = 50;
/// Most pages [`VerifyPush::pending_challenges`] reads.
pub const MAX_PENDING_PAGES: u32 = 20;

#[derive(Debug)]
struct Inner {
    transport: Transport,
    store: FactorStore,
    keys: Arc<dyn KeyStore>,
    clock: Clock,
    app_id: String,
    // Parsed keys by alias, so polling does not hit the keychain every time. `SigningKey`
    // zeroizes itself when the last reference drops (forget/delete/clear evict it).
    key_cache: Mutex<HashMap<String, Arc<KeyPair>>>,
}

/// The Verify Push client. Cheap to clone; share one per process.
#[derive(Debug, Clone)]
pub struct VerifyPush {
    inner: Arc<Inner>,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::KeyStorage(format!("key store task failed: {e}")))?
}

impl VerifyPush {
    /// Starts a builder.
    pub fn builder() -> VerifyPushBuilder {
        VerifyPushBuilder::default()
    }

    /// The clock correction applied to JWTs for the server at `base_url` (a factor's
    /// `base_url`), and the last implausible offset it showed, if one was refused.
    pub fn clock_status(&self, base_url: &url::Url) -> ClockStatus {
        self.inner.clock.status(&server_key(base_url))
    }

    fn record(&self, sid: &FactorSid) -> Result<StoredFactor, Error> {
        self.inner
            .store
            .load()?
            .get(sid)
            .cloned()
            .ok_or_else(|| Error::FactorNotFound {
                factor: sid.clone(),
            })
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<KeyPair>>> {
        // The map is only ever inserted into or removed from whole; poisoning is harmless.
        self.inner
            .key_cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn cache_key(&self, alias: &str, key: KeyPair) {
        self.cache().insert(alias.to_owned(), Arc::new(key));
    }

    fn evict_key(&self, alias: &str) {
        self.cache().remove(alias);
    }

    async fn key_for(&self, rec: &StoredFactor) -> Result<Arc<KeyPair>, Error> {
        if let Some(k) = self.cache().get(&rec.key_alias) {
            return Ok(k.clone());
        }
        let ks = self.inner.keys.clone();
        let alias = rec.key_alias.clone();
        let secret = blocking(move || ks.get(&alias)).await?;
        let secret = secret.ok_or_else(|| Error::KeyMissing {
            factor: rec.factor.sid.clone(),
        })?;
        let key = Arc::new(KeyPair::from_secret(&secret)?);
        drop(secret);
        self.cache().insert(rec.key_alias.clone(), key.clone());
        Ok(key)
    }

    /// Learns the server's clock from a response's `Date` header and persists a change.
    fn observe_clock(&self, base_url: &url::Url, resp: &RawResponse) -> ClockObservation {
        let Some(date) = resp.date.as_deref() else {
            return ClockObservation::NoDate;
        };
        let server = server_key(base_url);
        let seen = self.inner.clock.observe(&server, date, local_unix_now());
        match seen {
            ClockObservation::Learned(c) => {
                tracing::info!(server = %server, correction_secs = c, "learnt the server clock from its Date");
                // In memory the correction already applies; a store that cannot be written
                // now fails the next operation that needs it, not this request.
                if let Err(e) = self.inner.store.update(|f| {
                    f.clock_corrections.insert(server.clone(), c);
                }) {
                    tracing::warn!(server = %server, error = %e, "could not save the clock correction");
                }
            }
            ClockObservation::Refused(offset) => {
                tracing::warn!(
                    server = %server,
                    offset_secs = offset,
                    "refusing a server clock more than a day off; keeping the correction"
                );
            }
            ClockObservation::NoDate | ClockObservation::Unchanged(_) => {}
        }
        seen
    }

    /// Sends a device-JWT request and learns the server clock from the response. On a 401
    /// with a plausible `Date` it retries once (the JWT may have been outside the server's
    /// window). Returns the response and whether it was a retry.
    async fn device_call(
        &self,
        rec: &StoredFactor,
        method: Method,
        url: url::Url,
        form: &[(&str, String)],
    ) -> Result<(RawResponse, bool), Error> {
        let key = self.key_for(rec).await?;
        let server = server_key(&rec.factor.base_url);
        let mut retried = false;
        loop {
            let jwt = device_jwt(
                &key,
                &rec.factor.credential_sid,
                &rec.factor.account_sid,
                self.inner.clock.now(&server),
            );
            let resp = self
                .inner
                .transport
                .send(method, url.clone(), jwt.expose(), form)
                .await?;
            let seen = self.observe_clock(&rec.factor.base_url, &resp);
            if resp.status == 401 && !retried {
                if let ClockObservation::Learned(c) | ClockObservation::Unchanged(c) = seen {
                    tracing::info!(
                        correction_secs = c,
                        "401: retrying once with the server clock"
                    );
                    retried = true;
                    continue;
                }
            }
            return Ok((resp, retried));
        }
    }
}

/// `{base}Services/{service}/Entities/{identity}/{tail}`: every device route lives under the
/// entity.
fn entity_route(
    base: &url::Url,
    service: &ServiceSid,
    identity: &Identity,
    tail: &str,
) -> Result<url::Url, Error> {
    let path = format!("Services/{service}/Entities/{identity}/{tail}");
    base.join(&path)
        .map_err(|e| Error::Input(format!("building a URL from {base}: {e}")))
}

/// [`entity_route`] for a factor's own entity.
fn route(f: &Factor, tail: &str) -> Result<url::Url, Error> {
    entity_route(&f.base_url, &f.service_sid, &f.identity, tail)
}

fn factor_url(f: &Factor) -> Result<url::Url, Error> {
    route(f, &format!("Factors/{}", f.sid))
}

/// Convenience: metadata map from pairs.
pub fn metadata<I, K, V>(pairs: I) -> BTreeMap<String, String>
where
    I: IntoIterator<Item = (K, V)>,
    K: Into<String>,
    V: Into<String>,
{
    pairs
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
}
