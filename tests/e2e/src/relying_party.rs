//! The test plays the relying party (a website's backend): it calls the emulator's Verify v2 API
//! with the account credentials, like a real backend would call Twilio.

use crate::emulator::Emulator;
use crate::error::{Error, Result};
use chrono::{SecondsFormat, Utc};
use serde_json::Value;
use std::time::Duration;
use url::Url;

/// A backend client of one emulator.
pub struct RelyingParty {
    http: reqwest::Client,
    api: Url,
    account_sid: String,
    auth_token: String,
}

/// A challenge to create.
#[derive(Debug, Clone)]
pub struct ChallengeSpec {
    /// The factor to ask.
    pub factor_sid: String,
    /// `Details.Message`.
    pub message: String,
    /// `Details.Fields` as (label, value).
    pub fields: Vec<(String, String)>,
    /// Time to live; `None` = the server default (5 minutes).
    pub expires_in: Option<Duration>,
    /// `HiddenDetails` as (key, value): only the enrolled device reads them (number matching).
    pub hidden: Vec<(String, String)>,
}

impl ChallengeSpec {
    /// A challenge with a message and no fields.
    pub fn new(factor_sid: &str, message: &str) -> Self {
        ChallengeSpec {
            factor_sid: factor_sid.to_string(),
            message: message.to_string(),
            fields: Vec::new(),
            expires_in: None,
            hidden: Vec::new(),
        }
    }
}

fn string_field(v: &Value, key: &str, what: &str) -> Result<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| Error::api(what, format!("no string {key:?} in {v}")))
}

impl RelyingParty {
    /// A client of `emu`'s API.
    pub fn new(emu: &Emulator) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Error::api("building the HTTP client", e.to_string()))?;
        Ok(RelyingParty {
            http,
            api: emu.api_base()?,
            account_sid: emu.account_sid.clone(),
            auth_token: emu.auth_token().to_string(),
        })
    }

    /// The API base URL (`…/v2/`), as put into enrolment payloads.
    pub fn api_base(&self) -> &Url {
        &self.api
    }

    fn url(&self, path: &str) -> Result<Url> {
        self.api
            .join(path)
            .map_err(|e| Error::api(path, format!("bad path: {e}")))
    }

    async fn send(&self, what: &str, req: reqwest::RequestBuilder) -> Result<(u16, Value)> {
        let resp = req
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .send()
            .await
            .map_err(|e| Error::api(what, format!("request failed: {e}")))?;
        let status = resp.status().as_u16();
        let body = resp
            .text()
            .await
            .map_err(|e| Error::api(what, format!("reading body: {e}")))?;
        let json = if body.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&body).map_err(|e| {
                Error::api(
                    what,
                    format!("status {status}, non-JSON body {body:?}: {e}"),
                )
            })?
        };
        Ok((status, json))
    }

    async fn post(&self, what: &str, path: &str, form: &[(&str, String)]) -> Result<Value> {
        let req = self.http.post(self.url(path)?).form(form);
        let (status, json) = self.send(what, req).await?;
        if !(200..300).contains(&status) {
            return Err(Error::api(what, format!("status {status}: {json}")));
        }
        Ok(json)
    }

    /// Sets emulator fault knobs (`POST /_emulator/faults`; the form fields of verify-emulator's
    /// `Faults::apply_form`, e.g. `ClockOffsetSecs`); returns the knobs now in force.
    pub async fn set_faults(&self, form: &[(&str, String)]) -> Result<Value> {
        self.post("set emulator faults", "../_emulator/faults", form)
            .await
    }

    /// GET returning (status, body) so callers can expect a 404.
    pub async fn get(&self, what: &str, path: &str) -> Result<(u16, Value)> {
        let req = self.http.get(self.url(path)?);
        self.send(what, req).await
    }

    /// Creates a Verify service; returns its `VA…` SID.
    pub async fn create_service(&self, friendly_name: &str) -> Result<String> {
        let v = self
            .post(
                "create service",
                "Services",
                &[("FriendlyName", friendly_name.into())],
            )
            .await?;
        string_field(&v, "sid", "create service")
    }

    /// Creates an enrolment access token for `identity`; returns the opaque token.
    pub async fn access_token(&self, service: &str, identity: &str) -> Result<String> {
        let v = self
            .post(
                "create access token",
                &format!("Services/{service}/AccessTokens"),
                &[("Identity", identity.into()), ("FactorType", "push".into())],
            )
            .await?;
        string_field(&v, "token", "create access token")
    }

    /// The enrolment payload a relying party hands to the device (design.md, JSON form).
    pub fn enrolment_payload(&self, service: &str, identity: &str, token: &str) -> String {
        serde_json::json!({
            "token": token,
            "serviceSid": service,
            "identity": identity,
            "factorType": "push",
            "baseUrl": self.api.as_str(),
        })
        .to_string()
    }

    /// Subscribes `url` to challenge.approved / challenge.denied events of `service`.
    pub async fn create_webhook(&self, service: &str, url: &Url) -> Result<String> {
        let v = self
            .post(
                "create webhook",
                &format!("Services/{service}/Webhooks"),
                &[
                    ("FriendlyName", "e2e".into()),
                    ("EventTypes", "challenge.approved".into()),
                    ("EventTypes", "challenge.denied".into()),
                    ("WebhookUrl", url.to_string()),
                ],
            )
            .await?;
        string_field(&v, "sid", "create webhook")
    }

    /// Creates a push challenge; returns its `YC…` SID.
    pub async fn create_challenge(
        &self,
        service: &str,
        identity: &str,
        spec: &ChallengeSpec,
    ) -> Result<String> {
        let mut form: Vec<(&str, String)> = vec![
            ("FactorSid", spec.factor_sid.clone()),
            ("Details.Message", spec.message.clone()),
        ];
        for (label, value) in &spec.fields {
            form.push((
                "Details.Fields",
                serde_json::json!({ "label": label, "value": value }).to_string(),
            ));
        }
        if !spec.hidden.is_empty() {
            let hidden: serde_json::Map<String, Value> = spec
                .hidden
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect();
            form.push(("HiddenDetails", Value::Object(hidden).to_string()));
        }
        if let Some(ttl) = spec.expires_in {
            let ttl = chrono::Duration::from_std(ttl)
                .map_err(|e| Error::api("create challenge", format!("bad ttl: {e}")))?;
            let at = (Utc::now() + ttl).to_rfc3339_opts(SecondsFormat::Secs, true);
            form.push(("ExpirationDate", at));
        }
        let v = self
            .post(
                "create challenge",
                &format!("Services/{service}/Entities/{identity}/Challenges"),
                &form,
            )
            .await?;
        string_field(&v, "sid", "create challenge")
    }

    /// The server's resource of a challenge (status, metadata, …).
    pub async fn fetch_challenge(&self, service: &str, identity: &str, sid: &str) -> Result<Value> {
        let what = "fetch challenge";
        let (status, v) = self
            .get(
                what,
                &format!("Services/{service}/Entities/{identity}/Challenges/{sid}"),
            )
            .await?;
        if status != 200 {
            return Err(Error::api(what, format!("status {status}: {v}")));
        }
        Ok(v)
    }

    /// The server-side status of a challenge (`pending`, `approved`, `denied`, `expired`).
    pub async fn challenge_status(
        &self,
        service: &str,
        identity: &str,
        sid: &str,
    ) -> Result<String> {
        let v = self.fetch_challenge(service, identity, sid).await?;
        string_field(&v, "status", "fetch challenge")
    }

    /// The server-side status of a factor, or `None` when the server no longer knows it (404).
    pub async fn factor_status(
        &self,
        service: &str,
        identity: &str,
        factor: &str,
    ) -> Result<Option<String>> {
        let what = "fetch factor";
        let (status, v) = self
            .get(
                what,
                &format!("Services/{service}/Entities/{identity}/Factors/{factor}"),
            )
            .await?;
        match status {
            200 => string_field(&v, "status", what).map(Some),
            404 => Ok(None),
            _ => Err(Error::api(what, format!("status {status}: {v}"))),
        }
    }
}
