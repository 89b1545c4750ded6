//! Shared helpers for the emulator's integration tests: a real emulator on loopback, a
//! reqwest client, and device-side steps built from `verify_emulator::testing`.
#![allow(dead_code)]

use reqwest::header::HeaderMap;
use serde_json::Value;
use verify_emulator::testing::{basic, device_basic, DeviceKey};
use verify_emulator::{spawn, EmulatorConfig, RunningEmulator};

pub const IDENTITY: &str = "ff483d1ff591898a9942916050d2ca3f";

/// One HTTP answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Resp {
    pub fn code(&self) -> i64 {
        self.body["code"].as_i64().unwrap_or(0)
    }
    pub fn assert_error(&self, status: u16, code: i64) {
        assert_eq!((self.status, self.code()), (status, code), "{}", self.text);
        assert_eq!(
            self.body["more_info"],
            format!("https://www.twilio.com/docs/errors/{code}")
        );
        assert_eq!(self.body["status"], status);
        assert!(self.body["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(self.headers.contains_key("date"), "Date header missing");
        let rq = self
            .headers
            .get("twilio-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            rq.starts_with("RQ") && rq.len() == 34,
            "Twilio-Request-Id: {rq:?}"
        );
    }
}

/// An enrolled device.
#[derive(Debug, Clone)]
pub struct Device {
    pub key: DeviceKey,
    pub factor_sid: String,
    pub credential_sid: String,
    pub identity: String,
}

pub struct Ctx {
    pub emu: RunningEmulator,
    pub http: reqwest::Client,
}

#[derive(Clone)]
pub enum Auth<'a> {
    Account,
    None,
    Raw(String),
    Device(&'a str),
}

impl Ctx {
    pub async fn new() -> Self {
        Self::with(EmulatorConfig::default()).await
    }

    pub async fn with(config: EmulatorConfig) -> Self {
        let emu = spawn(config).await.expect("emulator starts");
        Ctx {
            emu,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.emu.base_url(), path.trim_start_matches('/'))
    }

    pub fn account_auth(&self) -> String {
        basic(self.emu.account_sid(), self.emu.auth_token())
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        auth: Auth<'_>,
        form: Option<&[(&str, &str)]>,
    ) -> Resp {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            self.url(path)
        };
        let mut rb = self.http.request(method, url);
        let header = match auth {
            Auth::Account => Some(self.account_auth()),
            Auth::None => None,
            Auth::Raw(h) => Some(h),
            Auth::Device(t) => Some(device_basic(t)),
        };
        if let Some(h) = header {
            rb = rb.header("Authorization", h);
        }
        if let Some(f) = form {
            rb = rb.form(f);
        }
        let r = rb.send().await.expect("request sent");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.expect("body read");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            body,
        }
    }

    pub async fn post(&self, path: &str, auth: Auth<'_>, form: &[(&str, &str)]) -> Resp {
        self.send(reqwest::Method::POST, path, auth, Some(form))
            .await
    }

    pub async fn get(&self, path: &str, auth: Auth<'_>) -> Resp {
        self.send(reqwest::Method::GET, path, auth, None).await
    }

    pub async fn delete(&self, path: &str, auth: Auth<'_>) -> Resp {
        self.send(reqwest::Method::DELETE, path, auth, None).await
    }

    pub async fn service(&self) -> String {
        let r = self
            .post(
                "v2/Services",
                Auth::Account,
                &[("FriendlyName", "Assent Test")],
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["sid"].as_str().unwrap().to_string()
    }

    pub async fn access_token(&self, va: &str, identity: &str) -> String {
        let r = self
            .post(
                &format!("v2/Services/{va}/AccessTokens"),
                Auth::Account,
                &[("Identity", identity), ("FactorType", "push")],
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["token"].as_str().unwrap().to_string()
    }

    /// D1 create factor with an access token; returns the raw answer.
    pub async fn create_factor(
        &self,
        va: &str,
        identity: &str,
        token: &str,
        key: &DeviceKey,
    ) -> Resp {
        let pk = key.public_key_b64();
        self.post(
            &format!("v2/Services/{va}/Entities/{identity}/Factors"),
            Auth::Device(token),
            &[
                ("FriendlyName", "Test Mac"),
                ("FactorType", "push"),
                ("Binding.PublicKey", &pk),
                ("Binding.Alg", "ES256"),
                ("Config.SdkVersion", "0.1.0"),
                ("Config.AppId", "dev.assent.Assent"),
                ("Config.NotificationPlatform", "none"),
                ("Metadata", r#"{"os":"Linux"}"#),
            ],
        )
        .await
    }

    pub async fn create_unverified(&self, va: &str, identity: &str) -> Device {
        let key = DeviceKey::generate();
        let token = self.access_token(va, identity).await;
        let r = self.create_factor(va, identity, &token, &key).await;
        assert_eq!(r.status, 201, "{}", r.text);
        Device {
            key,
            factor_sid: r.body["sid"].as_str().unwrap().into(),
            credential_sid: r.body["config"]["credential_sid"].as_str().unwrap().into(),
            identity: identity.into(),
        }
    }

    pub fn jwt(&self, d: &Device) -> String {
        d.key
            .device_jwt_now(&d.credential_sid, self.emu.account_sid())
    }

    pub fn factor_path(&self, va: &str, d: &Device) -> String {
        format!(
            "v2/Services/{va}/Entities/{}/Factors/{}",
            d.identity, d.factor_sid
        )
    }

    pub async fn verify(&self, va: &str, d: &Device) -> Resp {
        let payload = d.key.sign_der_b64(&d.factor_sid);
        let jwt = self.jwt(d);
        self.post(
            &self.factor_path(va, d),
            Auth::Device(&jwt),
            &[("AuthPayload", &payload)],
        )
        .await
    }

    pub async fn enroll(&self, va: &str, identity: &str) -> Device {
        let d = self.create_unverified(va, identity).await;
        let r = self.verify(va, &d).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["status"], "verified");
        d
    }

    pub async fn challenge(&self, va: &str, d: &Device, message: &str) -> Value {
        let r = self
            .post(
                &format!("v2/Services/{va}/Entities/{}/Challenges", d.identity),
                Auth::Account,
                &[
                    ("FactorSid", &d.factor_sid),
                    ("Details.Message", message),
                    ("Details.Fields", r#"{"label":"IP","value":"10.0.0.1"}"#),
                    ("HiddenDetails", r#"{"transaction_id":"tx-1"}"#),
                ],
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body
    }

    pub fn challenge_path(&self, va: &str, d: &Device, sid: &str) -> String {
        format!("v2/Services/{va}/Entities/{}/Challenges/{sid}", d.identity)
    }

    /// D5 fetch with the device JWT; returns the answer (header checked by callers).
    pub async fn fetch_challenge(&self, va: &str, d: &Device, sid: &str) -> Resp {
        let jwt = self.jwt(d);
        self.get(&self.challenge_path(va, d, sid), Auth::Device(&jwt))
            .await
    }

    /// D5 + D7: fetch, sign the listed fields plus `status` with `signer`, post.
    pub async fn answer_with(
        &self,
        va: &str,
        d: &Device,
        signer: &DeviceKey,
        sid: &str,
        status: &str,
    ) -> Resp {
        let fetched = self.fetch_challenge(va, d, sid).await;
        assert_eq!(fetched.status, 200, "{}", fetched.text);
        let fields = fetched
            .headers
            .get("Twilio-Verify-Signature-Fields")
            .expect("signature fields header")
            .to_str()
            .unwrap()
            .to_string();
        let jws = signer.challenge_jws(&fetched.body, &fields, status);
        let jwt = self.jwt(d);
        self.post(
            &self.challenge_path(va, d, sid),
            Auth::Device(&jwt),
            &[("AuthPayload", &jws)],
        )
        .await
    }

    pub async fn answer(&self, va: &str, d: &Device, sid: &str, status: &str) -> Resp {
        self.answer_with(va, d, &d.key.clone(), sid, status).await
    }
}

/// A loopback HTTP listener that records every request (method, URI, headers, body).
pub mod listener {
    use std::sync::{Arc, Mutex};

    use axum::body::Bytes;
    use axum::extract::{Request, State};
    use axum::http::StatusCode;
    use tokio::sync::mpsc;

    #[derive(Debug, Clone)]
    pub struct Hit {
        pub method: String,
        pub uri: String,
        pub signature: Option<String>,
        pub body: Vec<u8>,
    }

    pub struct Listener {
        pub url: String,
        pub rx: mpsc::UnboundedReceiver<Hit>,
    }

    #[derive(Clone)]
    struct S {
        tx: mpsc::UnboundedSender<Hit>,
        fail_first: Arc<Mutex<u32>>,
    }

    /// Starts a listener; the first `fail_first` requests get 500 (to exercise retries).
    pub async fn start(fail_first: u32) -> Listener {
        let (tx, rx) = mpsc::unbounded_channel();
        let s = S {
            tx,
            fail_first: Arc::new(Mutex::new(fail_first)),
        };
        let app = axum::Router::new()
            .fallback(|State(s): State<S>, req: Request| async move {
                let (parts, body) = req.into_parts();
                let body: Bytes = axum::body::to_bytes(body, 1 << 20)
                    .await
                    .unwrap_or_default();
                let _ = s.tx.send(Hit {
                    method: parts.method.to_string(),
                    uri: parts.uri.to_string(),
                    signature: parts
                        .headers
                        .get("X-Twilio-Signature")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string),
                    body: body.to_vec(),
                });
                let mut left = s.fail_first.lock().unwrap();
                if *left > 0 {
                    *left -= 1;
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            })
            .with_state(s);
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        });
        Listener {
            url: format!("http://{addr}/hooks/verify?x=1"),
            rx,
        }
    }
}
