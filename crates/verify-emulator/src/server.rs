//! Emulator instance: configuration, shared state, the HTTP router and its lifecycle.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::oneshot;

use crate::auth::AccountAuth;
use crate::db::{meta, Db, DbLocation};
use crate::error::{ApiError, Error};
use crate::faults::Faults;
use crate::form::Params;
use crate::webhook_delivery;

/// Options for an emulator instance; `Default` = 127.0.0.1:0, in-memory DB, generated
/// credentials, no faults.
#[derive(Clone)]
pub struct EmulatorConfig {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Where state lives.
    pub db: DbLocation,
    /// Account SID; `None` loads it from the DB or generates and persists one.
    pub account_sid: Option<String>,
    /// Auth token; `None` loads it from the DB or generates and persists one.
    pub auth_token: Option<String>,
    /// Fault injection (all off by default).
    pub faults: Faults,
    /// What `url` fields and links use; default `http://<bound addr>/`. Its host is also
    /// accepted in the `Host` header.
    pub public_base_url: Option<url::Url>,
    /// Extra `Host` header values to answer (`name` for any port, `name:port`), besides the
    /// loopback names with the bound port and the public base URL's host.
    pub allowed_hosts: Vec<String>,
    /// Serve the demo relying party under `/demo` (default `true`).
    pub demo: bool,
    /// Days to keep answered and expired challenges and spent access tokens (default 7);
    /// `None` keeps them forever.
    pub retention_days: Option<u32>,
    /// How often the sweep (expiry written down, retention) runs (default 60 s).
    pub sweep_interval: std::time::Duration,
    /// Empty the state (services and everything under them) before serving.
    pub reset: bool,
    /// Services and entities to create before serving (after `reset`).
    pub seed: Option<crate::admin::Seed>,
    /// Where Assent's local endpoint listens, for the demo's sign-in page (default
    /// `127.0.0.1:7375`).
    pub assent_endpoint: SocketAddr,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            db: DbLocation::Memory,
            account_sid: None,
            auth_token: None,
            faults: Faults::default(),
            public_base_url: None,
            allowed_hosts: Vec::new(),
            demo: true,
            retention_days: Some(7),
            sweep_interval: std::time::Duration::from_secs(60),
            reset: false,
            seed: None,
            assent_endpoint: SocketAddr::from(([127, 0, 0, 1], 7375)),
        }
    }
}

impl std::fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("listen", &self.listen)
            .field("db", &self.db)
            .field("account_sid", &self.account_sid)
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "[redacted]"),
            )
            .field("faults", &self.faults)
            .field("public_base_url", &self.public_base_url)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("demo", &self.demo)
            .field("retention_days", &self.retention_days)
            .field("sweep_interval", &self.sweep_interval)
            .field("reset", &self.reset)
            .field("seed", &self.seed)
            .field("assent_endpoint", &self.assent_endpoint)
            .finish()
    }
}

/// Shared state of a running emulator.
pub struct App {
    /// The database.
    pub db: Db,
    /// Account SID accepted for backend calls (and expected as JWT `sub`).
    pub account_sid: String,
    /// Auth token (Basic password, webhook signing key).
    pub auth_token: String,
    /// Public base URL, ending in `/`.
    pub base: String,
    faults: Arc<RwLock<Faults>>,
    /// Webhook queue.
    pub hooks: webhook_delivery::Sender,
    /// The last requests (method, path, status, time).
    pub requests: Arc<crate::admin::RequestLog>,
}

impl App {
    /// Current fault settings.
    pub fn faults(&self) -> Faults {
        self.faults.read().map(|f| f.clone()).unwrap_or_default()
    }

    /// Replaces the fault settings.
    pub fn set_faults(&self, faults: Faults) {
        match self.faults.write() {
            Ok(mut f) => *f = faults,
            Err(p) => *p.into_inner() = faults,
        }
    }

    /// Server time (unix seconds) including the clock offset fault.
    pub fn now(&self) -> i64 {
        crate::time::now_with_offset(self.faults().clock_offset_secs)
    }

    /// Absolute URL of `path` (given without leading slash, e.g. `v2/Services`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

/// A running emulator (in-process, on its own listener). Keep it alive as long as the API is
/// needed: dropping it stops the server.
pub struct RunningEmulator {
    base_url: url::Url,
    local_addr: SocketAddr,
    account_sid: String,
    auth_token: String,
    faults: Arc<RwLock<Faults>>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    sweeper: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for RunningEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningEmulator")
            .field("base_url", &self.base_url.as_str())
            .field("account_sid", &self.account_sid)
            .finish_non_exhaustive()
    }
}

impl RunningEmulator {
    /// Base URL, e.g. `http://127.0.0.1:41234/` (API under `v2/`, demo under `demo/`).
    pub fn base_url(&self) -> &url::Url {
        &self.base_url
    }

    /// The address the listener is bound to (differs from `base_url` when a public base URL
    /// was configured).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The account SID to authenticate backend calls with.
    pub fn account_sid(&self) -> &str {
        &self.account_sid
    }

    /// The auth token to authenticate backend calls with.
    pub fn auth_token(&self) -> &str {
        &self.auth_token
    }

    /// Replaces the fault settings; takes effect for the next request.
    pub fn set_faults(&self, faults: Faults) {
        match self.faults.write() {
            Ok(mut f) => *f = faults,
            Err(p) => *p.into_inner() = faults,
        }
    }

    /// Current fault settings.
    pub fn faults(&self) -> Faults {
        self.faults.read().map(|f| f.clone()).unwrap_or_default()
    }

    /// Stops accepting connections, lets in-flight requests finish, and waits for the server.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.sweeper.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for RunningEmulator {
    /// Dropping the handle stops the server too (in-flight requests still finish).
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.sweeper.abort();
    }
}

/// The warning to give when `addr` is reachable from other machines, else `None`.
pub fn exposure_warning(addr: SocketAddr) -> Option<String> {
    (!addr.ip().is_loopback()).then(|| {
        format!(
            "listening on {addr}, which is reachable from other machines: anyone who can reach it \
             can use the API with the printed credentials and drive the demo site; listen on \
             127.0.0.1 unless that is what you want (other machines also need --allow-host \
             with the name they use)"
        )
    })
}

fn valid_account_sid(s: &str) -> bool {
    crate::sid::is_sid(s, "AC")
}

/// Starts an emulator: opens the DB, settles credentials, binds, and serves in the background.
pub async fn spawn(config: EmulatorConfig) -> Result<RunningEmulator, Error> {
    if let Some(sid) = &config.account_sid {
        if !valid_account_sid(sid) {
            return Err(Error::Config(format!(
                "account SID {sid:?} is not AC + 32 hex digits"
            )));
        }
    }
    if matches!(&config.auth_token, Some(t) if t.is_empty()) {
        return Err(Error::Config("auth token must not be empty".into()));
    }
    let loc = config.db.clone();
    let (cfg_sid, cfg_token) = (config.account_sid.clone(), config.auth_token.clone());
    let (reset, seed) = (config.reset, config.seed.clone());
    let seed_now = crate::time::now_with_offset(config.faults.clock_offset_secs);
    let (db, account_sid, auth_token) = tokio::task::spawn_blocking(move || -> Result<_, Error> {
        let db = Db::open(&loc)?;
        let (sid, token) = db.call_sync(|conn| {
            let sid = match cfg_sid {
                Some(s) => s,
                None => match meta::get(conn, "account_sid")? {
                    Some(s) => s,
                    None => {
                        let s = crate::sid::new_sid("AC");
                        meta::set(conn, "account_sid", &s)?;
                        s
                    }
                },
            };
            let token = match cfg_token {
                Some(t) => t,
                None => match meta::get(conn, "auth_token")? {
                    Some(t) => t,
                    None => {
                        let t = crate::sid::new_secret_hex();
                        meta::set(conn, "auth_token", &t)?;
                        t
                    }
                },
            };
            Ok((sid, token))
        })?;
        let prepared = db.call_sync(|conn| {
            Ok((|| {
                if reset {
                    crate::admin::reset(conn)?;
                }
                if let Some(seed) = &seed {
                    seed.apply(conn, seed_now)?;
                }
                Ok::<_, ApiError>(())
            })())
        })?;
        prepared.map_err(|e| Error::Config(format!("reset/seed: {e}")))?;
        Ok((db, sid, token))
    })
    .await
    .map_err(|e| Error::Task(e.to_string()))??;

    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    if let Some(w) = exposure_warning(addr) {
        tracing::warn!("{w}");
    }
    let hosts = Arc::new(
        crate::host::HostPolicy::new(addr, config.public_base_url.as_ref(), &config.allowed_hosts)
            .map_err(Error::Config)?,
    );
    let base_url = match &config.public_base_url {
        Some(u) => {
            let mut u = u.clone();
            if !u.path().ends_with('/') {
                let p = format!("{}/", u.path());
                u.set_path(&p);
            }
            u
        }
        None => {
            url::Url::parse(&format!("http://{addr}/")).map_err(|e| Error::Config(e.to_string()))?
        }
    };
    let faults = Arc::new(RwLock::new(config.faults.clone()));
    let requests = Arc::new(crate::admin::RequestLog::default());
    let app = Arc::new(App {
        db,
        account_sid: account_sid.clone(),
        auth_token: auth_token.clone(),
        base: base_url.to_string(),
        faults: faults.clone(),
        hooks: webhook_delivery::start(),
        requests: requests.clone(),
    });
    let sweeper = tokio::spawn(sweep_loop(
        app.clone(),
        config.retention_days,
        config.sweep_interval,
    ));
    let mut router = router(app);
    if config.demo {
        let demo = crate::demo::router(crate::demo::DemoConfig {
            base_url: base_url.clone(),
            account_sid: account_sid.clone(),
            auth_token: auth_token.clone(),
            assent_endpoint: config.assent_endpoint,
        });
        // `nest` serves the demo's own `/` at `/demo` only; people (and our README) type `/demo/`.
        router = router.nest("/demo", demo).route(
            "/demo/",
            axum::routing::get(|| async { axum::response::Redirect::permanent("/demo") }),
        );
    }
    let router = router
        .layer(middleware::from_fn_with_state(
            hosts,
            crate::host::middleware,
        ))
        .layer(middleware::from_fn_with_state(faults.clone(), date_header))
        .layer(middleware::from_fn_with_state(
            requests,
            crate::admin::log_request,
        ));

    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        // Connect info gives handlers the peer address (the demo shows it in sign-in requests).
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let res = axum::serve(listener, service)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await;
        if let Err(e) = res {
            tracing::error!(error = %e, "emulator server stopped with an error");
        }
    });
    tracing::info!(%addr, base_url = %base_url, "verify-emulator listening");
    Ok(RunningEmulator {
        base_url,
        local_addr: addr,
        account_sid,
        auth_token,
        faults,
        stop: Some(stop_tx),
        task,
        sweeper,
    })
}

/// Runs [`crate::db::retention::sweep`] every `every` (first one right away), at server time.
async fn sweep_loop(app: Arc<App>, retention_days: Option<u32>, every: std::time::Duration) {
    let keep = retention_days.map(|d| i64::from(d) * 86_400);
    let mut tick = tokio::time::interval(every.max(std::time::Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = app.now();
        match app
            .db
            .call(move |conn| crate::db::retention::sweep(conn, now, keep))
            .await
        {
            Ok(r) if r != crate::db::retention::SweepReport::default() => {
                tracing::info!(
                    expired = r.expired,
                    challenges_deleted = r.challenges_deleted,
                    notifications_deleted = r.notifications_deleted,
                    access_tokens_deleted = r.access_tokens_deleted,
                    unverified_factors_deleted = r.unverified_factors_deleted,
                    "sweep"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sweep failed"),
        }
    }
}

/// `/v2/` API, `/_emulator/` control routes and JSON fallbacks (no demo, no Date layer).
pub fn router(app: Arc<App>) -> Router {
    let v2 = crate::api::router()
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(
            app.clone(),
            crate::faults::middleware,
        ));
    let mut r = Router::new().merge(v2);
    // `/__emulator/` is an alias: both spellings are in use by test suites.
    for prefix in ["/_emulator", "/__emulator"] {
        r = r
            .route(
                &format!("{prefix}/faults"),
                get(get_faults).post(post_faults),
            )
            .route(&format!("{prefix}/reset"), post(crate::admin::post_reset))
            .route(&format!("{prefix}/seed"), post(crate::admin::post_seed))
            .route(&format!("{prefix}/requests"), get(crate::admin::requests))
            .route(&format!("{prefix}/health"), get(crate::admin::health));
    }
    r.fallback(|req: Request| async move { ApiError::NotFound(req.uri().path().to_string()) })
        .with_state(app)
}

/// Every response (errors and unknown routes included) carries the server's `Date`, shifted
/// by the clock offset fault, so clients can correct skew, and a `Twilio-Request-Id`.
async fn date_header(
    State(faults): State<Arc<RwLock<Faults>>>,
    req: Request,
    next: Next,
) -> Response {
    let mut resp = next.run(req).await;
    let offset = faults.read().map(|f| f.clock_offset_secs).unwrap_or(0);
    let date = crate::time::http_date(crate::time::now_with_offset(offset));
    if let Ok(v) = HeaderValue::from_str(&date) {
        resp.headers_mut().insert(header::DATE, v);
    }
    // Twilio tags every answer with a request SID; handy when reading logs side by side.
    if let Ok(v) = HeaderValue::from_str(&crate::sid::new_sid("RQ")) {
        resp.headers_mut().insert("Twilio-Request-Id", v);
    }
    resp
}

async fn get_faults(
    State(app): State<Arc<App>>,
    _account: AccountAuth,
) -> Result<Response, ApiError> {
    Ok(axum::Json(app.faults()).into_response())
}

async fn post_faults(
    State(app): State<Arc<App>>,
    _account: AccountAuth,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut f = app.faults();
    f.apply_form(&Params::parse(&body))?;
    app.set_faults(f.clone());
    Ok(axum::Json(f).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn warns_only_off_loopback() {
        for quiet in ["127.0.0.1:8790", "127.0.0.2:1", "[::1]:8790"] {
            assert_eq!(
                super::exposure_warning(quiet.parse().unwrap()),
                None,
                "{quiet}"
            );
        }
        for loud in ["0.0.0.0:8790", "[::]:8790", "192.168.1.5:8790"] {
            let w = super::exposure_warning(loud.parse().unwrap()).unwrap_or_default();
            assert!(w.contains("reachable from other machines"), "{loud}: {w}");
        }
    }
}
