//! The local endpoint a sign-in page on this desktop talks to (`127.0.0.1:7375`).
//!
//! Routes (POST, JSON bodies of at most [`MAX_BODY`] bytes, whatever the content type):
//! * `/assent/v1/wake` `{"challenge_sid"}`: poll now, if an account enrolled with the
//!   request's `Origin` ([`Core::wake`]); answers `{"status":"ok"}`.
//! * `/assent/v1/silent-approval` `{"challenge_sid","nonce"}`: [`Core::silent_approval`];
//!   answers only `{"status":"approved"|"prompt"|"denied"}`.
//!
//! What a web page can learn is kept to nothing unless its origin is an enrolled one: CORS
//! preflights (and the private network access preflight) are answered only for origins some
//! account enrolled with, and responses carry `Access-Control-Allow-Origin` only for those, so
//! any other page cannot read an answer or even tell that Assent runs. The `Host` header must
//! name the endpoint by its loopback address or `localhost` (a DNS-rebound name is refused),
//! and requests are rate-limited. Nothing here returns challenges, accounts or keys.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use axum::Router;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::{AppError, Core};

/// The endpoint's default address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7375";
/// Overrides [`DEFAULT_ADDR`] (a loopback `ip:port`), or `off` to disable the endpoint.
pub const ADDR_ENV: &str = "ASSENT_LOCAL_ADDR";
/// Largest request body accepted.
pub const MAX_BODY: usize = 1024;
/// Path prefix of every route.
pub const PREFIX: &str = "/assent/v1/";

/// The endpoint's state, shown in the window's About section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EndpointStatus {
    /// Disabled (`ASSENT_LOCAL_ADDR=off`, or not started).
    Off,
    /// Listening.
    Listening {
        /// `ip:port`.
        addr: String,
    },
    /// Could not listen (the port is taken, or the address is invalid).
    Failed {
        /// The address it tried.
        addr: String,
        /// Why.
        error: String,
    },
}

/// A request budget: `burst` requests at once, refilled at `per_sec`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests allowed at once.
    pub burst: u32,
    /// Requests regained per second.
    pub per_sec: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        // A sign-in page makes two requests; a page hammering the endpoint gets 429s.
        RateLimit {
            burst: 20,
            per_sec: 5,
        }
    }
}

/// How to run the endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointConfig {
    /// Where to listen; `None` = off.
    pub addr: Option<SocketAddr>,
    /// Request budget.
    pub rate: RateLimit,
}

impl EndpointConfig {
    /// [`DEFAULT_ADDR`], or what [`ADDR_ENV`] says. A non-loopback or malformed address is an
    /// input error (never listen beyond this machine).
    pub fn from_env() -> Result<EndpointConfig, AppError> {
        let raw = std::env::var(ADDR_ENV).unwrap_or_else(|_| DEFAULT_ADDR.to_owned());
        EndpointConfig::parse(&raw)
    }

    /// Parses an address setting: `off`, or a loopback `ip:port`.
    pub fn parse(raw: &str) -> Result<EndpointConfig, AppError> {
        let raw = raw.trim();
        let addr = if raw.eq_ignore_ascii_case("off") {
            None
        } else {
            let a: SocketAddr = raw.parse().map_err(|_| {
                AppError::Input(format!("{ADDR_ENV} must be a loopback ip:port or off"))
            })?;
            if !a.ip().is_loopback() {
                return Err(AppError::Input(format!(
                    "{ADDR_ENV} must be a loopback address (127.0.0.1 or ::1)"
                )));
            }
            Some(a)
        };
        Ok(EndpointConfig {
            addr,
            rate: RateLimit::default(),
        })
    }
}

/// A running endpoint; dropping it stops it.
#[derive(Debug)]
pub struct LocalEndpoint {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl LocalEndpoint {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for LocalEndpoint {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Starts the endpoint where [`ADDR_ENV`] says (default [`DEFAULT_ADDR`]); an invalid setting
/// is logged and reported in the status like a taken port.
pub async fn start_from_env(core: Arc<Core>) -> Option<LocalEndpoint> {
    match EndpointConfig::from_env() {
        Ok(cfg) => start(core, cfg).await,
        Err(e) => {
            tracing::warn!(error = %e, "local endpoint not started");
            core.set_endpoint_status(EndpointStatus::Failed {
                addr: std::env::var(ADDR_ENV).unwrap_or_default(),
                error: e.to_string(),
            });
            None
        }
    }
}

/// Starts the endpoint and records its state in `core` ([`Core::endpoint_status`]). A port
/// that is taken is logged and reported in the status; no other port is tried.
pub async fn start(core: Arc<Core>, cfg: EndpointConfig) -> Option<LocalEndpoint> {
    let Some(addr) = cfg.addr else {
        tracing::info!("local endpoint off");
        core.set_endpoint_status(EndpointStatus::Off);
        return None;
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            let error = if e.kind() == std::io::ErrorKind::AddrInUse {
                format!("{addr} is in use by another program; same-device sign-in is off")
            } else {
                format!("cannot listen on {addr}: {e}")
            };
            tracing::warn!(addr = %addr, error = %e, "local endpoint not started: {error}");
            core.set_endpoint_status(EndpointStatus::Failed {
                addr: addr.to_string(),
                error,
            });
            return None;
        }
    };
    let bound = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            core.set_endpoint_status(EndpointStatus::Failed {
                addr: addr.to_string(),
                error: e.to_string(),
            });
            return None;
        }
    };
    let state = Arc::new(EndpointState {
        core: core.clone(),
        hosts: allowed_hosts(bound),
        bucket: Mutex::new(Bucket {
            tokens: f64::from(cfg.rate.burst),
            at: Instant::now(),
        }),
        rate: cfg.rate,
    });
    let app = Router::new().fallback(handle).with_state(state);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "local endpoint stopped");
        }
    });
    tracing::info!(addr = %bound, "local endpoint listening");
    core.set_endpoint_status(EndpointStatus::Listening {
        addr: bound.to_string(),
    });
    Some(LocalEndpoint {
        addr: bound,
        stop: Some(tx),
    })
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

struct EndpointState {
    core: Arc<Core>,
    hosts: Vec<String>,
    bucket: Mutex<Bucket>,
    rate: RateLimit,
}

impl EndpointState {
    fn take_token(&self) -> bool {
        let mut b = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let regained = now.duration_since(b.at).as_secs_f64() * f64::from(self.rate.per_sec);
        b.tokens = (b.tokens + regained).min(f64::from(self.rate.burst));
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The `Host` values that name this endpoint: its IP and port, and `localhost` with the port.
fn allowed_hosts(addr: SocketAddr) -> Vec<String> {
    let port = addr.port();
    match addr {
        SocketAddr::V4(a) => vec![format!("{}:{port}", a.ip()), format!("localhost:{port}")],
        SocketAddr::V6(a) => vec![format!("[{}]:{port}", a.ip()), format!("localhost:{port}")],
    }
}

#[derive(Deserialize)]
struct WakeBody {
    challenge_sid: String,
}

#[derive(Deserialize)]
struct SilentBody {
    challenge_sid: String,
    nonce: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    Wake,
    Silent,
}

fn empty(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

async fn handle(State(st): State<Arc<EndpointState>>, req: Request<Body>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let host = header_str(&parts.headers, header::HOST).map(str::to_ascii_lowercase);
    if !host.is_some_and(|h| st.hosts.contains(&h)) {
        tracing::info!(host = ?header_str(&parts.headers, header::HOST), "local endpoint: foreign Host refused");
        return empty(StatusCode::MISDIRECTED_REQUEST);
    }
    if !st.take_token() {
        tracing::info!("local endpoint: rate limit reached");
        return empty(StatusCode::TOO_MANY_REQUESTS);
    }
    let route = match parts.uri.path().strip_prefix(PREFIX) {
        Some("wake") => Route::Wake,
        Some("silent-approval") => Route::Silent,
        _ => return empty(StatusCode::NOT_FOUND),
    };
    let origin = header_str(&parts.headers, header::ORIGIN).map(str::to_owned);
    let known = origin.as_deref().is_some_and(|o| st.core.knows_origin(o));
    if parts.method == Method::OPTIONS {
        return preflight(origin.as_deref().filter(|_| known));
    }
    if parts.method != Method::POST {
        return empty(StatusCode::METHOD_NOT_ALLOWED);
    }
    let too_long = header_str(&parts.headers, header::CONTENT_LENGTH)
        .and_then(|l| l.parse::<u64>().ok())
        .is_some_and(|l| l > MAX_BODY as u64);
    if too_long {
        return empty(StatusCode::PAYLOAD_TOO_LARGE);
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return empty(StatusCode::PAYLOAD_TOO_LARGE);
    };
    let status = match route {
        Route::Wake => match serde_json::from_slice::<WakeBody>(&bytes) {
            Ok(b) => {
                if b.challenge_sid.parse::<verify_push::ChallengeSid>().is_ok() {
                    if let Some(o) = origin.as_deref() {
                        st.core.wake(o);
                    }
                }
                "ok"
            }
            Err(_) => return empty(StatusCode::BAD_REQUEST),
        },
        Route::Silent => match serde_json::from_slice::<SilentBody>(&bytes) {
            Ok(b) => match st
                .core
                .silent_approval(origin.as_deref(), &b.challenge_sid, &b.nonce)
                .await
            {
                crate::SilentOutcome::Approved => "approved",
                crate::SilentOutcome::Prompt => "prompt",
                crate::SilentOutcome::Denied => "denied",
            },
            Err(_) => return empty(StatusCode::BAD_REQUEST),
        },
    };
    let body = Bytes::from(format!("{{\"status\":\"{status}\"}}"));
    let mut r = Response::new(Body::from(body));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(o) = origin.as_deref().filter(|_| known) {
        allow_origin(r.headers_mut(), o);
    }
    r
}

/// A CORS preflight: answered for an enrolled origin, refused bare for any other.
fn preflight(origin: Option<&str>) -> Response<Body> {
    let Some(o) = origin else {
        return empty(StatusCode::FORBIDDEN);
    };
    let mut r = empty(StatusCode::NO_CONTENT);
    let h = r.headers_mut();
    allow_origin(h, o);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type"),
    );
    h.insert(
        "access-control-allow-private-network",
        HeaderValue::from_static("true"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    r
}

fn allow_origin(h: &mut HeaderMap, origin: &str) {
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_setting() {
        assert_eq!(EndpointConfig::parse("off").unwrap().addr, None);
        assert_eq!(
            EndpointConfig::parse(DEFAULT_ADDR).unwrap().addr,
            Some("127.0.0.1:7375".parse().unwrap())
        );
        assert!(EndpointConfig::parse("[::1]:7375").unwrap().addr.is_some());
        for bad in [
            "0.0.0.0:7375",
            "192.168.1.2:7375",
            "localhost:7375",
            "7375",
            "",
        ] {
            assert!(EndpointConfig::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hosts_name_the_bound_port_only() {
        let h = allowed_hosts("127.0.0.1:7375".parse().unwrap());
        assert_eq!(h, vec!["127.0.0.1:7375", "localhost:7375"]);
    }
}
