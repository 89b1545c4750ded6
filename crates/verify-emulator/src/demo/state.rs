//! Shared state of the demo site: the API client, the lazily created service, known usernames.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::api::{ApiClient, Service};
use super::csrf::CsrfKey;
use super::error::DemoError;
use super::DemoConfig;

/// Name of the Verify Service the demo creates once and then keeps using.
pub const SERVICE_NAME: &str = "Assent Demo";

/// Cloneable handle given to every handler.
#[derive(Clone, Debug)]
pub struct DemoState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    api: ApiClient,
    service: OnceCell<Service>,
    /// identity → username; the API only knows the hash, so names live here (lost on restart;
    /// unknown entities are then shown by identity).
    names: Mutex<BTreeMap<String, String>>,
    csrf: CsrfKey,
    /// Where Assent's local endpoint listens.
    assent_endpoint: std::net::SocketAddr,
    /// Origin of the configured base URL (`scheme://host[:port]`), lower case.
    public_origin: String,
}

impl DemoState {
    /// Builds the API client from the configuration.
    pub fn new(config: DemoConfig) -> Result<Self, DemoError> {
        let api_base = config
            .base_url
            .join("v2/")
            .map_err(|e| DemoError::Input(format!("bad base URL: {e}")))?;
        let public_origin = config
            .base_url
            .origin()
            .ascii_serialization()
            .to_ascii_lowercase();
        let api = ApiClient::new(api_base, config.account_sid, config.auth_token)?;
        let assent_endpoint = config.assent_endpoint;
        Ok(Self(Arc::new(Inner {
            api,
            service: OnceCell::new(),
            names: Mutex::new(BTreeMap::new()),
            csrf: CsrfKey::generate(),
            assent_endpoint,
            public_origin,
        })))
    }

    /// The key CSRF tokens are derived from.
    pub fn csrf_key(&self) -> &CsrfKey {
        &self.0.csrf
    }

    /// The site's public origin, as browsers send it in `Origin`.
    pub fn public_origin(&self) -> &str {
        &self.0.public_origin
    }

    /// The origin this request's page is served from, as its browser sends it in `Origin`:
    /// the configured public origin when the `Host` names it, else `http://` + `Host` (the
    /// host allowlist has vetted it; the emulator itself serves plain HTTP). Enrolment and
    /// silent sign-in name this origin, so the page a user signs in on is the one Assent
    /// expects.
    pub fn origin_for(&self, headers: &axum::http::HeaderMap) -> String {
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty());
        match host {
            Some(h) if format!("https://{h}") == self.0.public_origin => {
                self.0.public_origin.clone()
            }
            Some(h) => format!("http://{h}"),
            None => self.0.public_origin.clone(),
        }
    }

    /// Where Assent's local endpoint listens.
    pub fn assent_endpoint(&self) -> std::net::SocketAddr {
        self.0.assent_endpoint
    }

    /// The API client.
    pub fn api(&self) -> &ApiClient {
        &self.0.api
    }

    /// SID of the "Assent Demo" service, found or created on first use; a failed attempt is
    /// retried on the next request.
    pub async fn service_sid(&self) -> Result<&str, DemoError> {
        let service = self
            .0
            .service
            .get_or_try_init(|| self.0.api.find_or_create_service(SERVICE_NAME))
            .await?;
        Ok(&service.sid)
    }

    /// Remembers the username behind an identity.
    pub fn remember(&self, identity: &str, username: &str) {
        // A poisoned lock only means another request panicked mid-insert; the map is still usable.
        let mut names = self.0.names.lock().unwrap_or_else(|e| e.into_inner());
        names.insert(identity.to_owned(), username.to_owned());
    }

    /// The username behind an identity, if this process created it.
    pub fn name_of(&self, identity: &str) -> Option<String> {
        let names = self.0.names.lock().unwrap_or_else(|e| e.into_inner());
        names.get(identity).cloned()
    }
}
