//! [`VerifyPush`]: the client the app, the CLI and the tests go through.

use crate::challenge::{
    Challenge, ChallengeListQuery, ChallengePage, ChallengeStatus, Decision, Expectation, Order,
};
use crate::crypto::KeyPair;
use crate::enrollment::EnrollRequest;
use crate::error::Error;
use crate::factor::{Factor, FactorStatus};
use crate::ids::{FactorSid, FriendlyName};
use crate::jwt::{challenge_claims, challenge_jws, device_jwt};
use crate::keystore::{new_alias, KeyStore, OsKeyStore};
use crate::store::{FactorStore, StoredFactor};
use crate::time::{local_unix_now, server_key, Clock, ClockObservation, ClockStatus};
use crate::transport::{Method, RawResponse, Transport};
use crate::wire;
use crate::ChallengeSid;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `Config.SdkVersion` we report.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Page size [`VerifyPush::pending_challenges`] asks for (Twilio's default).
pub const PENDING_PAGE_SIZE: u32 = 50;
/// Most pages [`VerifyPush::pending_challenges`] reads.
pub const MAX_PENDING_PAGES: u32 = 20;
const MAX_METADATA_JSON: usize = 1024;

/// Local consistency between factors and keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrityReport {
    /// Factors whose private key is gone: remove them or enrol again.
    pub factors_without_key: Vec<FactorSid>,
    /// Key aliases no factor refers to: safe to delete with [`VerifyPush::remove_orphan_keys`].
    pub keys_without_factor: Vec<String>,
}

impl IntegrityReport {
    /// True when nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.factors_without_key.is_empty() && self.keys_without_factor.is_empty()
    }
}

/// Builder for [`VerifyPush`]. The library carries no application identity: the caller names
/// its store directory, its `Config.AppId`, where its keys live and itself for the
/// `User-Agent`; [`VerifyPushBuilder::build`] fails with [`Error::InvalidArgument`] when one
/// is missing or malformed.
#[derive(Debug, Default)]
pub struct VerifyPushBuilder {
    data_dir: Option<PathBuf>,
    key_store: Option<Arc<dyn KeyStore>>,
    keychain_service: Option<String>,
    app_id: Option<String>,
    app: Option<(String, String)>,
    http_timeout: Option<Duration>,
}

const MAX_APP_ID: usize = 100;
const MAX_APP_FIELD: usize = 64;
const MAX_KEYCHAIN_SERVICE: usize = 255;

fn invalid(argument: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidArgument {
        argument,
        reason: reason.into(),
    }
}

fn required<T>(v: Option<T>, argument: &'static str) -> Result<T, Error> {
    v.ok_or_else(|| invalid(argument, "required"))
}

/// A `User-Agent` field: visible ASCII without the `;` that separates the fields.
fn ua_field(argument: &'static str, v: &str) -> Result<(), Error> {
    if v.is_empty() || v.len() > MAX_APP_FIELD {
        return Err(invalid(
            argument,
            format!("must be 1-{MAX_APP_FIELD} characters"),
        ));
    }
    if !v.bytes().all(|b| b.is_ascii_graphic() || b == b' ') || v.contains(';') {
        return Err(invalid(
            argument,
            "must be printable ASCII without `;` (it goes into the User-Agent)",
        ));
    }
    Ok(())
}

impl VerifyPushBuilder {
    /// Directory holding `factors.json` (required; created if missing).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Keys in the OS keychain under this service name, e.g. the app's reverse-DNS id
    /// (required unless [`VerifyPushBuilder::key_store`] is given).
    pub fn keychain_service(mut self, service: impl Into<String>) -> Self {
        self.keychain_service = Some(service.into());
        self
    }

    /// Another key store instead of the OS keychain (tests, custom vaults).
    pub fn key_store(mut self, ks: Arc<dyn KeyStore>) -> Self {
        self.key_store = Some(ks);
        self
    }

    /// `Config.AppId` sent at enrolment (required, 1-100 characters).
    pub fn app_id(mut self, id: impl Into<String>) -> Self {
        self.app_id = Some(id.into());
        self
    }

    /// The application's name and version for the `User-Agent` (required), sent in the SDKs'
    /// layout `{name}; {os}; {version}; 1; {os} ({arch}); Desktop; VerifyPushRust; {sdk}; 1`.
    pub fn app(mut self, name: impl Into<String>, version: impl Into<String>) -> Self {
        self.app = Some((name.into(), version.into()));
        self
    }

    /// Whole-request timeout (default 20 s).
    pub fn http_timeout(mut self, t: Duration) -> Self {
        self.http_timeout = Some(t);
        self
    }

    /// Checks the arguments, then builds the client, loading the store (and its clock
    /// corrections). Nothing is created on disk when an argument is wrong.
    pub fn build(self) -> Result<VerifyPush, Error> {
        let dir = required(self.data_dir, "data_dir")?;
        if dir.as_os_str().is_empty() {
            return Err(invalid("data_dir", "must not be empty"));
        }
        let app_id = required(self.app_id, "app_id")?;
        if app_id.is_empty() || app_id.chars().count() > MAX_APP_ID {
            return Err(invalid(
                "app_id",
                format!("must be 1-{MAX_APP_ID} characters"),
            ));
        }
        let (app_name, app_version) = required(self.app, "app")?;
        ua_field("app name", &app_name)?;
        ua_field("app version", &app_version)?;
        let keys: Arc<dyn KeyStore> = match (self.key_store, self.keychain_service) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "keychain_service",
                    "give either a keychain service or a key store, not both",
                ))
            }
            (Some(ks), None) => ks,
            (None, Some(service)) => {
                if service.trim().is_empty() || service.len() > MAX_KEYCHAIN_SERVICE {
                    return Err(invalid(
                        "keychain_service",
                        format!("must be 1-{MAX_KEYCHAIN_SERVICE} bytes"),
                    ));
                }
                Arc::new(OsKeyStore::new(service))
            }
            (None, None) => return Err(invalid("keychain_service", "required")),
        };
        let ua = user_agent(&app_name, &app_version);
        let transport = Transport::new(&ua, self.http_timeout.unwrap_or(Duration::from_secs(20)))?;
        let store = FactorStore::open(dir)?;
        let corrections = store.load()?.clock_corrections;
        Ok(VerifyPush {
            inner: Arc::new(Inner {
                transport,
                store,
                keys,
                clock: Clock::new(corrections),
                app_id,
                key_cache: Mutex::new(HashMap::new()),
            }),
        })
    }
}

/// `{app}; {platform}; {appVersion}; {build}; {os} ({arch}); {model}; {sdk}; {sdkVersion}; {sdkBuild}`,
/// the layout of the Android and iOS SDKs' User-Agent (reference §2).
fn user_agent(app: &str, version: &str) -> String {
    let os = match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "macOS",
        "windows" => "Windows",
        other => other,
    };
    format!(
        "{app}; {os}; {version}; 1; {os} ({}); Desktop; VerifyPushRust; {SDK_VERSION}; 1",
        std::env::consts::ARCH
    )
}

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

/// A D5 response with what signing needs.
struct Fetched {
    challenge: Challenge,
    raw: serde_json::Map<String, serde_json::Value>,
    signature_fields: Option<String>,
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

    // ---------------------------------------------------------------- factors

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
        let url = join(
            &p.base_url,
            &format!("Services/{}/Entities/{}/Factors", p.service_sid, p.identity),
        )?;
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
            if !resp.is_success() {
                return Err(resp.api_error());
            }
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
        if let Err(e) = self.inner.store.update(|f| f.upsert(rec)) {
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
        if !resp.is_success() {
            return Err(resp.api_error());
        }
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
        if !resp.is_success() {
            return Err(resp.api_error());
        }
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

    async fn forget_factor_async(&self, sid: &FactorSid) -> Result<(), Error> {
        let me = self.clone();
        let sid = sid.clone();
        blocking(move || me.forget_factor(&sid)).await
    }

    /// Removes a factor locally only (record, then key). Blocking (key store).
    pub fn forget_factor(&self, sid: &FactorSid) -> Result<(), Error> {
        let rec = self.record(sid)?;
        // Probe first: a locked or absent keychain fails here, before anything changes.
        self.inner.keys.aliases()?;
        // Record before key: a crash in between leaves a spare key, which
        // `remove_orphan_keys` cleans up, never a factor that can no longer sign.
        self.inner.store.update(|f| f.remove(sid))?;
        self.evict_key(&rec.key_alias);
        self.inner.keys.delete(&rec.key_alias)?;
        tracing::info!(factor = %sid, "factor removed locally");
        Ok(())
    }

    /// All local factors.
    pub fn factors(&self) -> Result<Vec<Factor>, Error> {
        Ok(self
            .inner
            .store
            .load()?
            .factors
            .into_iter()
            .map(|r| r.factor)
            .collect())
    }

    /// One local factor.
    pub fn factor(&self, sid: &FactorSid) -> Result<Factor, Error> {
        Ok(self.record(sid)?.factor)
    }

    /// Compares factors and keys. Blocking (key store).
    pub fn check_integrity(&self) -> Result<IntegrityReport, Error> {
        let file = self.inner.store.load()?;
        let aliases = self.inner.keys.aliases()?;
        let mut report = IntegrityReport::default();
        for r in &file.factors {
            if !aliases.contains(&r.key_alias) {
                report.factors_without_key.push(r.factor.sid.clone());
            }
        }
        for a in aliases {
            if !file.factors.iter().any(|r| r.key_alias == a) {
                report.keys_without_factor.push(a);
            }
        }
        Ok(report)
    }

    /// Deletes keys no factor refers to; returns how many. Blocking (key store).
    pub fn remove_orphan_keys(&self) -> Result<usize, Error> {
        let report = self.check_integrity()?;
        for a in &report.keys_without_factor {
            self.evict_key(a);
            self.inner.keys.delete(a)?;
        }
        Ok(report.keys_without_factor.len())
    }

    /// Deletes all local factors and their keys (the server is not touched). Blocking.
    pub fn clear_local_storage(&self) -> Result<(), Error> {
        let file = self.inner.store.load()?;
        let mut aliases: Vec<String> = file.factors.iter().map(|r| r.key_alias.clone()).collect();
        for a in self.inner.keys.aliases()? {
            if !aliases.contains(&a) {
                aliases.push(a);
            }
        }
        // Same order as `forget_factor`: records first, so a crash leaves only spare keys.
        self.inner.store.update(|f| {
            f.factors.clear();
            f.clock_corrections.clear();
        })?;
        for a in &aliases {
            self.evict_key(a);
            self.inner.keys.delete(a)?;
        }
        self.inner.clock.clear();
        Ok(())
    }

    // ---------------------------------------------------------------- challenges

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
        let url = join(
            &rec.factor.base_url,
            &format!(
                "Services/{}/Entities/{}/Challenges/{}",
                rec.factor.service_sid, rec.factor.identity, sid
            ),
        )?;
        let (resp, _) = self.device_call(rec, Method::Get, url, &[]).await?;
        if !resp.is_success() {
            return Err(resp.api_error());
        }
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
        let mut url = join(
            &rec.factor.base_url,
            &format!(
                "Services/{}/Entities/{}/Challenges",
                rec.factor.service_sid, rec.factor.identity
            ),
        )?;
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
        if !resp.is_success() {
            return Err(resp.api_error());
        }
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
        for _ in 0..MAX_PENDING_PAGES {
            let page = self.list_page(&rec, &q).await?;
            for c in page.challenges {
                // Pages may shift while new challenges arrive; keep the first copy.
                if !all.iter().any(|seen| seen.sid == c.sid) {
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
        let status = decision.status();
        let rec = self.record(factor)?;
        let fetched = self.fetch(&rec, sid).await?;
        let ch = &fetched.challenge;
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
        let url = join(
            &rec.factor.base_url,
            &format!(
                "Services/{}/Entities/{}/Challenges/{}",
                rec.factor.service_sid, rec.factor.identity, sid
            ),
        )?;
        let (resp, _) = self
            .device_call(&rec, Method::Post, url, &[("AuthPayload", jws)])
            .await?;
        if !resp.is_success() {
            return Err(answer_error(sid, resp.api_error()));
        }
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

    // ---------------------------------------------------------------- plumbing

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

fn join(base: &url::Url, path: &str) -> Result<url::Url, Error> {
    base.join(path)
        .map_err(|e| Error::Input(format!("building a URL from {base}: {e}")))
}

fn factor_url(f: &Factor) -> Result<url::Url, Error> {
    join(
        &f.base_url,
        &format!(
            "Services/{}/Entities/{}/Factors/{}",
            f.service_sid, f.identity, f.sid
        ),
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::MemoryKeyStore;
    use crate::ErrorCode;

    fn complete(dir: &std::path::Path) -> VerifyPushBuilder {
        VerifyPush::builder()
            .data_dir(dir)
            .app_id("com.example.App")
            .app("Example", "1.2.3")
            .keychain_service("com.example.App")
    }

    fn refused(b: VerifyPushBuilder) -> (&'static str, String) {
        match b.build() {
            Err(e @ Error::InvalidArgument { .. }) => {
                assert_eq!(e.code(), ErrorCode::InvalidArgument);
                let Error::InvalidArgument { argument, reason } = e else {
                    unreachable!()
                };
                (argument, reason)
            }
            Err(e) => panic!("not an invalid argument: {e:?}"),
            Ok(_) => panic!("built"),
        }
    }

    #[test]
    fn builder_requires_the_application_identity() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let b = || VerifyPush::builder();
        let cases = [
            (
                b().app_id("a").app("A", "1").keychain_service("s"),
                "data_dir",
            ),
            (
                b().data_dir(&dir).app("A", "1").keychain_service("s"),
                "app_id",
            ),
            (b().data_dir(&dir).app_id("a").keychain_service("s"), "app"),
            (
                b().data_dir(&dir).app_id("a").app("A", "1"),
                "keychain_service",
            ),
        ];
        for (builder, want) in cases {
            assert_eq!(refused(builder), (want, "required".to_owned()));
        }
        // Nothing was created for a refused build.
        assert!(!dir.exists());
        complete(&dir).build().unwrap();
        assert!(dir.exists());
    }

    #[test]
    fn builder_refuses_malformed_identity() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let long = "x".repeat(MAX_APP_ID + 1);
        let cases: Vec<(VerifyPushBuilder, &str)> = vec![
            (complete(&dir).app_id(""), "app_id"),
            (complete(&dir).app_id(long.as_str()), "app_id"),
            // `;` would shift the User-Agent's fields; CR/LF would split the header.
            (complete(&dir).app("Evil; Linux", "1"), "app name"),
            (complete(&dir).app("Evil\r\nX-Injected: 1", "1"), "app name"),
            (complete(&dir).app("Ünïcode", "1"), "app name"),
            (complete(&dir).app("x".repeat(65), "1"), "app name"),
            (complete(&dir).app("A", ""), "app version"),
            (complete(&dir).app("A", "1;2"), "app version"),
            (complete(&dir).keychain_service("  "), "keychain_service"),
            (complete(&dir).data_dir(""), "data_dir"),
            (
                complete(&dir).key_store(Arc::new(MemoryKeyStore::new())),
                "keychain_service",
            ),
        ];
        for (builder, want) in cases {
            let (argument, reason) = refused(builder);
            assert_eq!(argument, want, "{reason}");
        }
        assert!(!dir.exists());
        // A key store replaces the keychain service.
        VerifyPush::builder()
            .data_dir(&dir)
            .app_id("com.example.App")
            .app("Example", "1.2.3")
            .key_store(Arc::new(MemoryKeyStore::new()))
            .build()
            .unwrap();
    }

    #[test]
    fn user_agent_has_the_sdk_layout() {
        let ua = user_agent("Example", "1.2.3");
        let fields: Vec<&str> = ua.split("; ").collect();
        assert_eq!(fields.len(), 9, "{ua}");
        assert_eq!(fields[0], "Example");
        assert_eq!(fields[2], "1.2.3");
        assert_eq!(fields[5], "Desktop");
        assert_eq!(fields[6], "VerifyPushRust");
        assert_eq!(fields[7], SDK_VERSION);
    }
}
