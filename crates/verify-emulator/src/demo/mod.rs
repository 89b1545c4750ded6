//! Demo relying party: a small server-rendered site that uses the emulator's own API over
//! loopback HTTP, as a real backend would (HTTP Basic with the account credentials).
//!
//! Pages (relative to where the router is nested, normally `/demo`): `/` users, `POST /users`,
//! `/enroll?identity=…` (a button only), `POST /enroll` (mints and shows an enrolment token),
//! `/signin[?identity=…]`, `POST /signin`, `/challenges/{identity}/{sid}` (status, refreshes
//! itself while pending), `/requests` (the emulator's request log), `/static/style.css`, `/static/silent.js` (the
//! sign-in page's "on this computer" script) and `/static/copy.js` (the enrolment page's Copy
//! buttons): the only scripts, served, never inline.
//!
//! Every POST needs the `csrf_token` form field of the page it came from and the
//! `assent_demo_csrf` cookie that page set, and browsers' `Origin`/`Sec-Fetch-Site` must say
//! same-origin (`csrf.rs`). GET never changes state: nothing is created and no token is minted.

mod api;
mod csrf;
mod error;
mod html;
mod pages;
mod qr;
mod state;

use axum::routing::{get, post};

pub use csrf::{COOKIE as CSRF_COOKIE, FIELD as CSRF_FIELD};
pub use error::DemoError;

/// How the demo site reaches the API it demonstrates.
#[derive(Clone)]
pub struct DemoConfig {
    /// Base URL of the emulator (e.g. `http://127.0.0.1:41234/`); the API lives under `v2/`.
    pub base_url: url::Url,
    /// Account SID used for HTTP Basic auth against the API.
    pub account_sid: String,
    /// Auth token used for HTTP Basic auth against the API.
    pub auth_token: String,
    /// Where Assent's local endpoint listens (`127.0.0.1:7375` unless moved); the sign-in
    /// page's script calls it and only it, besides its own origin.
    pub assent_endpoint: std::net::SocketAddr,
}

impl std::fmt::Debug for DemoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoConfig")
            .field("base_url", &self.base_url.as_str())
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"[redacted]")
            .field("assent_endpoint", &self.assent_endpoint)
            .finish()
    }
}

/// The demo site's routes, to be nested under `/demo`.
///
/// If the HTTP client cannot be built (no TLS backend etc.), every page answers with that
/// typed error instead of panicking.
pub fn router(config: DemoConfig) -> axum::Router {
    let routes: axum::Router = match state::DemoState::new(config) {
        Ok(state) => axum::Router::new()
            .route("/", get(pages::users::index))
            .route("/users", post(pages::users::create))
            .route(
                "/enroll",
                get(pages::enroll::show).post(pages::enroll::create),
            )
            .route(
                "/signin",
                get(pages::signin::pick).post(pages::signin::start),
            )
            .route("/challenges/{identity}/{sid}", get(pages::signin::status))
            .route("/requests", get(pages::requests::index))
            .fallback(pages::not_found)
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                csrf::middleware,
            ))
            .with_state(state),
        Err(e) => {
            let message = e.to_string();
            axum::Router::new().fallback(move || {
                let message = message.clone();
                async move { DemoError::Decode(message) }
            })
        }
    };
    routes
        .route("/static/style.css", get(pages::static_css))
        .route("/static/silent.js", get(pages::static_silent_js))
        .route("/static/copy.js", get(pages::static_copy_js))
        .layer(axum::middleware::map_response(html::security_headers))
}
