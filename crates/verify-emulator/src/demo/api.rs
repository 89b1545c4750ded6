//! The demo's backend client of the Verify API: HTTP Basic with the account credentials over
//! loopback, form-encoded requests, JSON answers, Twilio error bodies kept whole.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use url::Url;

use super::error::DemoError;

/// A Verify Service as far as the demo needs it.
#[derive(Debug, Clone, Deserialize)]
pub struct Service {
    /// `VA…`
    pub sid: String,
    /// Display name.
    pub friendly_name: Option<String>,
}

/// An Entity (one end user of the relying party).
#[derive(Debug, Clone, Deserialize)]
pub struct Entity {
    /// The relying party's opaque user id (here: hex SHA-256 of the username).
    pub identity: String,
}

/// An access token answer. The token is a secret: Debug redacts it.
#[derive(Clone, Deserialize)]
pub struct AccessToken {
    /// `YK…`
    pub sid: String,
    /// The enrolment token handed to the device.
    pub token: String,
    /// Lifetime in seconds.
    pub ttl: Option<i64>,
    /// Creation time (RFC 3339).
    pub date_created: Option<String>,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("sid", &self.sid)
            .field("token", &"[redacted]")
            .field("ttl", &self.ttl)
            .field("date_created", &self.date_created)
            .finish()
    }
}

/// A factor of an entity.
#[derive(Debug, Clone, Deserialize)]
pub struct Factor {
    /// `YF…`
    pub sid: String,
    /// Name chosen on the device.
    pub friendly_name: Option<String>,
    /// `unverified` or `verified`.
    pub status: Option<String>,
    /// Creation time (RFC 3339).
    pub date_created: Option<String>,
}

/// One label/value line of a challenge's details.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Field {
    /// Label shown to the user.
    pub label: String,
    /// Value shown to the user.
    pub value: String,
}

/// The user-visible part of a challenge.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct Details {
    /// Main message.
    pub message: Option<String>,
    /// Context lines.
    #[serde(default)]
    pub fields: Option<Vec<Field>>,
}

/// A challenge as the backend sees it.
#[derive(Debug, Clone, Deserialize)]
pub struct Challenge {
    /// `YC…`
    pub sid: String,
    /// The factor that must answer.
    pub factor_sid: Option<String>,
    /// `pending`, `approved`, `denied` or `expired`.
    pub status: String,
    /// Shown to the user on the device.
    pub details: Option<Details>,
    /// Not shown to the user; the demo keeps a transaction id here.
    pub hidden_details: Option<serde_json::Value>,
    /// Creation time (RFC 3339).
    pub date_created: Option<String>,
    /// Expiry (RFC 3339).
    pub expiration_date: Option<String>,
    /// When the device answered (RFC 3339).
    pub date_responded: Option<String>,
    /// What the device sent with its answer (Assent: `deny_reason`).
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
}

/// What the demo puts into a new challenge.
#[derive(Debug, Clone)]
pub struct NewChallenge {
    /// Factor that must answer.
    pub factor_sid: String,
    /// `Details.Message`.
    pub message: String,
    /// `Details.Fields`, one JSON object per entry.
    pub fields: Vec<Field>,
    /// `HiddenDetails` (string values only).
    pub hidden_details: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct TwilioError {
    code: Option<i64>,
    message: Option<String>,
    more_info: Option<String>,
}

#[derive(Deserialize)]
struct ServicePage {
    services: Vec<Service>,
}

#[derive(Deserialize)]
struct EntityPage {
    entities: Vec<Entity>,
}

#[derive(Deserialize)]
struct FactorPage {
    factors: Vec<Factor>,
}

/// Backend client bound to one account. Debug never shows the auth token.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    api_base: Url,
    account_sid: String,
    auth_token: String,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("api_base", &self.api_base.as_str())
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"[redacted]")
            .finish()
    }
}

impl ApiClient {
    /// `api_base` is the `…/v2/` URL.
    pub fn new(api_base: Url, account_sid: String, auth_token: String) -> Result<Self, DemoError> {
        let http = reqwest::Client::builder()
            // The API is on loopback; a proxy from the environment must not intercept it.
            .no_proxy()
            .user_agent(concat!("assent-demo/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(15))
            .build()
            .map_err(DemoError::Transport)?;
        Ok(Self {
            http,
            api_base,
            account_sid,
            auth_token,
        })
    }

    /// The API base (`…/v2/`) handed to devices in enrolment payloads.
    pub fn api_base(&self) -> &Url {
        &self.api_base
    }

    fn url(&self, path: &str) -> Result<Url, DemoError> {
        self.api_base
            .join(path)
            .map_err(|e| DemoError::Input(format!("bad API path {path:?}: {e}")))
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, DemoError> {
        let response = request
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .send()
            .await
            .map_err(DemoError::Transport)?;
        let status = response.status();
        let body = response.bytes().await.map_err(DemoError::Transport)?;
        if !status.is_success() {
            let parsed: Option<TwilioError> = serde_json::from_slice(&body).ok();
            let (code, message, more_info) = match parsed {
                Some(e) => (
                    e.code,
                    e.message.unwrap_or_else(|| status.to_string()),
                    e.more_info,
                ),
                None => (None, snippet(&body), None),
            };
            return Err(DemoError::Api {
                status: status.as_u16(),
                code,
                message,
                more_info,
            });
        }
        serde_json::from_slice(&body)
            .map_err(|e| DemoError::Decode(format!("{e}; body starts {:?}", snippet(&body))))
    }

    /// The first page (up to 1000 items, more than the demo ever makes) of a list at `path`.
    async fn first_page<P: DeserializeOwned>(&self, path: &str) -> Result<P, DemoError> {
        self.send(
            self.http
                .get(self.url(path)?)
                .query(&[("PageSize", "1000")]),
        )
        .await
    }

    /// The emulator's request log (`/_emulator/requests`), newest first.
    pub async fn recent_requests(&self) -> Result<Vec<LoggedRequest>, DemoError> {
        let url = self
            .api_base
            .join("../_emulator/requests")
            .map_err(|e| DemoError::Input(format!("bad request log URL: {e}")))?;
        let page: RequestLogPage = self.send(self.http.get(url)).await?;
        Ok(page.requests)
    }

    /// The first service named `name`, created if there is none.
    pub async fn find_or_create_service(&self, name: &str) -> Result<Service, DemoError> {
        let page: ServicePage = self.first_page("Services").await?;
        if let Some(found) = page
            .services
            .into_iter()
            .find(|s| s.friendly_name.as_deref() == Some(name))
        {
            return Ok(found);
        }
        self.send(
            self.http
                .post(self.url("Services")?)
                .form(&[("FriendlyName", name)]),
        )
        .await
    }

    /// Fetches the entity, creating it when the API says it does not exist.
    pub async fn ensure_entity(&self, service: &str, identity: &str) -> Result<Entity, DemoError> {
        let path = format!("Services/{service}/Entities/{identity}");
        match self.send(self.http.get(self.url(&path)?)).await {
            Err(DemoError::Api { status: 404, .. }) => {
                self.send(
                    self.http
                        .post(self.url(&format!("Services/{service}/Entities"))?)
                        .form(&[("Identity", identity)]),
                )
                .await
            }
            other => other,
        }
    }

    /// The service's entities (first page of up to 1000).
    pub async fn list_entities(&self, service: &str) -> Result<Vec<Entity>, DemoError> {
        let page: EntityPage = self
            .first_page(&format!("Services/{service}/Entities"))
            .await?;
        Ok(page.entities)
    }

    /// Requests an enrolment token for a push factor.
    pub async fn create_access_token(
        &self,
        service: &str,
        identity: &str,
        factor_friendly_name: &str,
        ttl_secs: u32,
    ) -> Result<AccessToken, DemoError> {
        let ttl = ttl_secs.to_string();
        self.send(
            self.http
                .post(self.url(&format!("Services/{service}/AccessTokens"))?)
                .form(&[
                    ("Identity", identity),
                    ("FactorType", "push"),
                    ("FactorFriendlyName", factor_friendly_name),
                    ("Ttl", ttl.as_str()),
                ]),
        )
        .await
    }

    /// The entity's factors (first page of up to 1000).
    pub async fn list_factors(
        &self,
        service: &str,
        identity: &str,
    ) -> Result<Vec<Factor>, DemoError> {
        let page: FactorPage = self
            .first_page(&format!("Services/{service}/Entities/{identity}/Factors"))
            .await?;
        Ok(page.factors)
    }

    /// Creates a push challenge; `Details.Fields` go as repeated JSON-object form values, the
    /// way Twilio's helper libraries send them.
    pub async fn create_challenge(
        &self,
        service: &str,
        identity: &str,
        new: &NewChallenge,
    ) -> Result<Challenge, DemoError> {
        let mut form: Vec<(&str, String)> = vec![
            ("FactorSid", new.factor_sid.clone()),
            ("Details.Message", new.message.clone()),
        ];
        for field in &new.fields {
            let json = serde_json::to_string(field)
                .map_err(|e| DemoError::Decode(format!("cannot encode field: {e}")))?;
            form.push(("Details.Fields", json));
        }
        let hidden = serde_json::Value::Object(new.hidden_details.clone()).to_string();
        form.push(("HiddenDetails", hidden));
        self.send(
            self.http
                .post(self.url(&format!(
                    "Services/{service}/Entities/{identity}/Challenges"
                ))?)
                .form(&form),
        )
        .await
    }

    /// Polls one challenge.
    pub async fn fetch_challenge(
        &self,
        service: &str,
        identity: &str,
        sid: &str,
    ) -> Result<Challenge, DemoError> {
        self.send(self.http.get(self.url(&format!(
            "Services/{service}/Entities/{identity}/Challenges/{sid}"
        ))?))
        .await
    }
}

/// First 200 characters of a body, for error messages.
/// One row of the emulator's request log.
#[derive(Debug, Clone, Deserialize)]
pub struct LoggedRequest {
    /// RFC 3339 start time.
    pub at: String,
    /// HTTP method.
    pub method: String,
    /// Path (no query).
    pub path: String,
    /// Status code.
    pub status: u16,
    /// Milliseconds.
    pub ms: f64,
}

#[derive(Debug, Deserialize)]
struct RequestLogPage {
    requests: Vec<LoggedRequest>,
}

fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(200).collect()
}
