//! Control routes for tests (`/_emulator/…`, also answered under `/__emulator/…`): reset and
//! seed the state (account credentials required), the request log (account credentials) and a
//! health check (open).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::api::{max_chars, validate_identity};
use crate::auth::AccountAuth;
use crate::db::{entities, services};
use crate::error::ApiError;
use crate::server::App;

/// Requests the log keeps (oldest dropped first).
pub const REQUEST_LOG_LEN: usize = 200;

/// One logged request: what and how it went, never its query, headers or body.
#[derive(Clone, Debug, Serialize)]
pub struct LoggedRequest {
    /// Start time, RFC 3339 UTC.
    pub at: String,
    /// HTTP method.
    pub method: String,
    /// Path only (the query may carry page tokens or other secrets).
    pub path: String,
    /// Response status.
    pub status: u16,
    /// Time to the response head, milliseconds.
    pub ms: f64,
}

/// The last [`REQUEST_LOG_LEN`] requests.
#[derive(Debug, Default)]
pub struct RequestLog {
    entries: Mutex<VecDeque<LoggedRequest>>,
}

impl RequestLog {
    /// Appends one entry, dropping the oldest beyond the limit.
    pub fn push(&self, r: LoggedRequest) {
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if e.len() == REQUEST_LOG_LEN {
            e.pop_front();
        }
        e.push_back(r);
    }

    /// The entries, newest first.
    pub fn newest_first(&self) -> Vec<LoggedRequest> {
        let e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.iter().rev().cloned().collect()
    }
}

/// Logs each request to `tracing` and to the request log: method, path, status, duration.
pub async fn log_request(State(log): State<Arc<RequestLog>>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let elapsed = started.elapsed();
    let ms = elapsed.as_millis() as u64;
    if resp.status().is_server_error() {
        tracing::warn!(target: "verify_emulator::http", %method, %path, status, ms, "request");
    } else {
        tracing::info!(target: "verify_emulator::http", %method, %path, status, ms, "request");
    }
    log.push(LoggedRequest {
        at,
        method: method.to_string(),
        path,
        status,
        ms: (elapsed.as_secs_f64() * 1000.0 * 100.0).round() / 100.0,
    });
    resp
}

/// `GET /_emulator/requests`: the request log, newest first.
pub async fn requests(State(app): State<Arc<App>>, _account: AccountAuth) -> Response {
    axum::Json(json!({"requests": app.requests.newest_first()})).into_response()
}

/// `GET /_emulator/health`: open, for readiness probes.
pub async fn health(State(app): State<Arc<App>>) -> Response {
    axum::Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "webhooks": {"queued": app.hooks.queued(), "dropped": app.hooks.dropped()},
    }))
    .into_response()
}

/// Deletes every service with everything under it; the credentials stay.
pub fn reset(conn: &mut Connection) -> Result<(), ApiError> {
    let tx = conn.transaction()?;
    for t in [
        "notifications",
        "challenges",
        "factors",
        "entities",
        "access_tokens",
        "webhooks",
        "services",
    ] {
        tx.execute(&format!("DELETE FROM {t}"), [])?;
    }
    tx.commit()?;
    Ok(())
}

/// `POST /_emulator/reset`: empties the state and clears the faults.
pub async fn post_reset(
    State(app): State<Arc<App>>,
    _account: AccountAuth,
) -> Result<Response, ApiError> {
    app.db.call(reset).await?;
    app.set_faults(crate::Faults::default());
    Ok(axum::Json(json!({"reset": true})).into_response())
}

/// Body of `POST /_emulator/seed` (and of `serve --seed FILE`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Services to create.
    pub services: Vec<SeedService>,
}

/// One service to create.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedService {
    /// `VA` + 32 hex; generated when absent (a fixed SID lets test config name it).
    #[serde(default)]
    pub sid: Option<String>,
    /// Name (1–64 characters).
    pub friendly_name: String,
    /// Identities of entities to create in it.
    #[serde(default)]
    pub entities: Vec<String>,
}

/// Most services and entities one seed may create.
const SEED_MAX: usize = 1000;

impl Seed {
    /// Parses and checks a seed document; every refusal is a 400 naming the problem.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let seed: Seed = serde_json::from_slice(body).map_err(|e| {
            ApiError::invalid(format!("seed must be JSON {{\"services\": [...]}}: {e}"))
        })?;
        let total: usize = seed.services.iter().map(|s| 1 + s.entities.len()).sum();
        if total > SEED_MAX {
            return Err(ApiError::invalid(format!(
                "a seed may create at most {SEED_MAX} services and entities"
            )));
        }
        for s in &seed.services {
            if let Some(sid) = &s.sid {
                if !crate::sid::is_sid(sid, "VA") {
                    return Err(ApiError::invalid(format!(
                        "service sid {:?} is not VA + 32 hex digits",
                        sid.chars().take(40).collect::<String>()
                    )));
                }
            }
            if s.friendly_name.trim().is_empty() {
                return Err(ApiError::invalid("friendly_name must not be empty"));
            }
            max_chars("friendly_name", &s.friendly_name, 64)?;
            for identity in &s.entities {
                validate_identity(identity)?;
            }
        }
        Ok(seed)
    }

    /// Creates the seed's rows in one transaction (all or nothing); returns what was made.
    pub fn apply(&self, conn: &mut Connection, now: i64) -> Result<Value, ApiError> {
        let tx = conn.transaction()?;
        let mut made = Vec::new();
        for s in &self.services {
            let sid = s.sid.clone().unwrap_or_else(|| crate::sid::new_sid("VA"));
            if services::get(&tx, &sid)?.is_some() {
                return Err(ApiError::invalid(format!("service {sid} already exists")));
            }
            services::insert(
                &tx,
                &services::ServiceRow {
                    id: 0,
                    sid: sid.clone(),
                    friendly_name: s.friendly_name.clone(),
                    settings: crate::api::services::default_settings(),
                    date_created: now,
                    date_updated: now,
                },
            )?;
            let mut ents = Vec::new();
            for identity in &s.entities {
                if entities::get(&tx, &sid, identity)?.is_some() {
                    return Err(ApiError::invalid(format!(
                        "entity {identity} is listed twice"
                    )));
                }
                let e = entities::EntityRow {
                    id: 0,
                    sid: crate::sid::new_sid("YE"),
                    service_sid: sid.clone(),
                    identity: identity.clone(),
                    date_created: now,
                    date_updated: now,
                };
                entities::insert(&tx, &e)?;
                ents.push(json!({"identity": identity, "sid": e.sid}));
            }
            made.push(json!({"sid": sid, "friendly_name": s.friendly_name, "entities": ents}));
        }
        tx.commit()?;
        Ok(json!({"services": made}))
    }
}

/// `POST /_emulator/seed` with a JSON [`Seed`]: creates services and entities.
pub async fn post_seed(
    State(app): State<Arc<App>>,
    _account: AccountAuth,
    body: Bytes,
) -> Result<Response, ApiError> {
    let seed = Seed::parse(&body)?;
    let now = app.now();
    let made = app.db.call(move |conn| seed.apply(conn, now)).await?;
    Ok((axum::http::StatusCode::CREATED, axum::Json(made)).into_response())
}
