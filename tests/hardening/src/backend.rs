//! The relying party's side of the API (services, access tokens, challenges) over loopback
//! HTTP with the account credentials. Every call retries through injected faults (500, 429
//! with Retry-After, garbage) with a bounded backoff, as a sane backend would.

use serde_json::Value;
use std::time::Duration;

/// Backend client for one emulator.
#[derive(Debug, Clone)]
pub struct Backend {
    base: url::Url,
    account_sid: String,
    auth_token: String,
    http: reqwest::Client,
    attempts: u32,
}

impl Backend {
    /// `base` is the emulator root (the API lives under `v2/`).
    pub fn new(base: url::Url, account_sid: &str, auth_token: &str) -> Result<Self, crate::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| crate::Error::Setup(format!("HTTP client: {e}")))?;
        Ok(Self {
            base,
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
            http,
            attempts: 40,
        })
    }

    /// The device API base (`…/v2/`).
    pub fn api_base(&self) -> Result<url::Url, crate::Error> {
        self.base
            .join("v2/")
            .map_err(|e| crate::Error::Setup(e.to_string()))
    }

    /// One call, retried while the answer is a fault; returns the first well-formed answer
    /// (status, JSON) that is not 429/5xx.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, String)],
    ) -> Result<(u16, Value), crate::Error> {
        let fail = |why: String| crate::Error::Backend {
            what: format!("{method} {path}"),
            why,
        };
        let url = self.base.join(path).map_err(|e| fail(e.to_string()))?;
        let mut last = String::new();
        for attempt in 0..self.attempts {
            let mut rb = self
                .http
                .request(method.clone(), url.clone())
                .basic_auth(&self.account_sid, Some(&self.auth_token));
            if method == reqwest::Method::POST {
                rb = rb.form(form);
            }
            let mut wait = Duration::from_millis(100u64 << attempt.min(4));
            match rb.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok());
                    let body = resp.bytes().await.map_err(|e| fail(e.to_string()))?;
                    match serde_json::from_slice::<Value>(&body) {
                        Ok(v) if status != 429 && status < 500 => return Ok((status, v)),
                        Ok(_) => last = format!("HTTP {status}"),
                        Err(_) => last = format!("HTTP {status} with a malformed body"),
                    }
                    if let Some(s) = retry_after {
                        wait = wait.max(Duration::from_secs(s));
                    }
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(wait).await;
        }
        Err(fail(last))
    }

    async fn post_ok(&self, path: &str, form: &[(&str, String)]) -> Result<Value, crate::Error> {
        let (status, v) = self.call(reqwest::Method::POST, path, form).await?;
        if status >= 300 {
            return Err(crate::Error::Backend {
                what: format!("POST {path}"),
                why: format!("HTTP {status}: {v}"),
            });
        }
        Ok(v)
    }

    fn str_field(v: &Value, key: &str, what: &str) -> Result<String, crate::Error> {
        v[key]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| crate::Error::Backend {
                what: what.to_owned(),
                why: format!("no `{key}` in {v}"),
            })
    }

    /// Creates a Verify service; returns its SID.
    pub async fn create_service(&self) -> Result<String, crate::Error> {
        let v = self
            .post_ok("v2/Services", &[("FriendlyName", "Hardening".to_owned())])
            .await?;
        Self::str_field(&v, "sid", "create service")
    }

    /// A single-use enrolment access token for `identity`.
    pub async fn access_token(
        &self,
        service: &str,
        identity: &str,
    ) -> Result<String, crate::Error> {
        let v = self
            .post_ok(
                &format!("v2/Services/{service}/AccessTokens"),
                &[
                    ("Identity", identity.to_owned()),
                    ("FactorType", "push".to_owned()),
                ],
            )
            .await?;
        Self::str_field(&v, "token", "access token")
    }

    /// Creates a challenge for a factor; returns its SID.
    pub async fn create_challenge(
        &self,
        service: &str,
        identity: &str,
        factor_sid: &str,
        message: &str,
    ) -> Result<String, crate::Error> {
        let v = self
            .post_ok(
                &format!("v2/Services/{service}/Entities/{identity}/Challenges"),
                &[
                    ("FactorSid", factor_sid.to_owned()),
                    ("Details.Message", message.to_owned()),
                    (
                        "Details.Fields",
                        r#"{"label":"Where","value":"soak"}"#.to_owned(),
                    ),
                ],
            )
            .await?;
        Self::str_field(&v, "sid", "create challenge")
    }

    /// A challenge's status as the backend sees it.
    pub async fn challenge_status(
        &self,
        service: &str,
        identity: &str,
        sid: &str,
    ) -> Result<String, crate::Error> {
        let (_, v) = self
            .call(
                reqwest::Method::GET,
                &format!("v2/Services/{service}/Entities/{identity}/Challenges/{sid}"),
                &[],
            )
            .await?;
        Self::str_field(&v, "status", "challenge status")
    }
}
