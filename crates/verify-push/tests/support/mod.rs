//! Test support: an in-process `verify-emulator` and a tiny backend client for it (the
//! relying-party side: services, access tokens, challenges) using reqwest + Basic auth.

#![allow(dead_code)]

use serde_json::Value;
use std::sync::Arc;
use verify_emulator::{spawn, EmulatorConfig, RunningEmulator};
use verify_push::{EnrollRequest, EnrollmentPayload, Factor, MemoryKeyStore, VerifyPush};

/// A running emulator plus backend helpers.
pub struct Backend {
    pub emu: RunningEmulator,
    http: reqwest::Client,
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{:016x}", rand_u64())
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}

impl Backend {
    pub async fn start() -> Self {
        let emu = spawn(EmulatorConfig::default())
            .await
            .expect("emulator starts");
        Self {
            emu,
            http: reqwest::Client::new(),
        }
    }

    /// The device API base (`…/v2/`).
    pub fn api_base(&self) -> url::Url {
        self.emu.base_url().join("v2/").unwrap()
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, String)],
    ) -> (u16, Value) {
        let url = self.emu.base_url().join(path).unwrap();
        let mut rb = self
            .http
            .request(method.clone(), url)
            .basic_auth(self.emu.account_sid(), Some(self.emu.auth_token()));
        if method == reqwest::Method::POST {
            rb = rb.form(form);
        }
        let resp = rb.send().await.expect("backend request");
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap();
        let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
        (status, v)
    }

    async fn post(&self, path: &str, form: &[(&str, String)]) -> Value {
        let (status, v) = self.call(reqwest::Method::POST, path, form).await;
        assert!(status < 300, "POST {path} -> {status}: {v}");
        v
    }

    pub async fn get(&self, path: &str) -> Value {
        let (status, v) = self.call(reqwest::Method::GET, path, &[]).await;
        assert!(status < 300, "GET {path} -> {status}: {v}");
        v
    }

    pub async fn create_service(&self) -> String {
        let v = self
            .post(
                "v2/Services",
                &[("FriendlyName", "Assent tests".to_string())],
            )
            .await;
        v["sid"].as_str().unwrap().to_owned()
    }

    pub async fn access_token(&self, service: &str, identity: &str) -> String {
        let v = self
            .post(
                &format!("v2/Services/{service}/AccessTokens"),
                &[
                    ("Identity", identity.to_string()),
                    ("FactorType", "push".to_string()),
                ],
            )
            .await;
        v["token"].as_str().unwrap().to_owned()
    }

    pub async fn payload(&self, service: &str, identity: &str) -> EnrollmentPayload {
        let token = self.access_token(service, identity).await;
        EnrollmentPayload::new(&token, service, identity, Some(self.api_base().as_str())).unwrap()
    }

    /// Creates a challenge; returns its SID.
    pub async fn challenge(&self, f: &Factor, message: &str, hidden: Option<&Value>) -> String {
        self.challenge_with(f, message, hidden, None).await
    }

    pub async fn challenge_with(
        &self,
        f: &Factor,
        message: &str,
        hidden: Option<&Value>,
        expiration: Option<String>,
    ) -> String {
        let mut form = vec![
            ("FactorSid", f.sid.to_string()),
            ("Details.Message", message.to_string()),
            (
                "Details.Fields",
                r#"{"label":"IP","value":"127.0.0.1"}"#.to_string(),
            ),
            (
                "Details.Fields",
                r#"{"label":"Where","value":"Tests/ok & fine"}"#.to_string(),
            ),
        ];
        if let Some(h) = hidden {
            form.push(("HiddenDetails", h.to_string()));
        }
        if let Some(e) = expiration {
            form.push(("ExpirationDate", e));
        }
        let v = self
            .post(
                &format!(
                    "v2/Services/{}/Entities/{}/Challenges",
                    f.service_sid, f.identity
                ),
                &form,
            )
            .await;
        v["sid"].as_str().unwrap().to_owned()
    }

    /// Status of a challenge as the backend sees it.
    pub async fn challenge_status(&self, f: &Factor, sid: &str) -> String {
        let v = self
            .get(&format!(
                "v2/Services/{}/Entities/{}/Challenges/{sid}",
                f.service_sid, f.identity
            ))
            .await;
        v["status"].as_str().unwrap().to_owned()
    }

    /// Status code of fetching a factor on the backend (404 once deleted).
    pub async fn factor_http_status(&self, f: &Factor) -> u16 {
        self.call(
            reqwest::Method::GET,
            &format!(
                "v2/Services/{}/Entities/{}/Factors/{}",
                f.service_sid, f.identity, f.sid
            ),
            &[],
        )
        .await
        .0
    }

    /// Factors the server holds for an identity.
    pub async fn server_factor_count(&self, service: &str, identity: &str) -> usize {
        let (status, v) = self
            .call(
                reqwest::Method::GET,
                &format!("v2/Services/{service}/Entities/{identity}/Factors"),
                &[],
            )
            .await;
        if status == 404 {
            return 0;
        }
        v["factors"].as_array().map(Vec::len).unwrap_or(0)
    }
}

/// A client builder with the test application's identity; callers add the directory and keys.
pub fn builder() -> verify_push::VerifyPushBuilder {
    verify_push::VerifyPush::builder()
        .app_id("dev.verify-push.Tests")
        .app("VerifyPushTests", "0.0.0")
}

/// A client with an in-memory key store over a temp data dir.
pub struct Device {
    pub client: VerifyPush,
    pub keys: Arc<MemoryKeyStore>,
    pub dir: tempfile::TempDir,
}

pub fn device() -> Device {
    let dir = tempfile::tempdir().unwrap();
    let keys = Arc::new(MemoryKeyStore::new());
    let client = builder()
        .data_dir(dir.path())
        .key_store(keys.clone())
        .build()
        .unwrap();
    Device { client, keys, dir }
}

/// Service + identity + enrolled verified factor.
pub async fn enrolled(backend: &Backend, dev: &Device) -> Factor {
    let service = backend.create_service().await;
    let identity = unique("user");
    let payload = backend.payload(&service, &identity).await;
    dev.client
        .enroll(EnrollRequest::new(payload, "Test laptop".parse().unwrap()))
        .await
        .expect("enrol")
}

/// A second device holding the same factors and keys (another install of the same account),
/// to answer challenges "elsewhere".
pub fn twin(dev: &Device) -> Device {
    use verify_push::KeyStore;
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        dev.dir.path().join("factors.json"),
        dir.path().join("factors.json"),
    )
    .unwrap();
    let keys = Arc::new(MemoryKeyStore::new());
    for a in dev.keys.aliases().unwrap() {
        keys.put(&a, &dev.keys.get(&a).unwrap().unwrap()).unwrap();
    }
    let client = builder()
        .data_dir(dir.path())
        .key_store(keys.clone())
        .build()
        .unwrap();
    Device { client, keys, dir }
}
