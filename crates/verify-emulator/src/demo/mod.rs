//! Demo relying party: a small server-rendered site that uses the emulator's own API over
//! loopback HTTP, as a real backend would.

/// How the demo site reaches the API it demonstrates.
#[derive(Clone, Debug)]
pub struct DemoConfig {
    /// Base URL of the emulator (e.g. `http://127.0.0.1:41234/`); the API lives under `v2/`.
    pub base_url: url::Url,
    /// Account SID used for HTTP Basic auth against the API.
    pub account_sid: String,
    /// Auth token used for HTTP Basic auth against the API.
    pub auth_token: String,
}

/// The demo site's routes, to be nested under `/demo`.
pub fn router(_config: DemoConfig) -> axum::Router {
    axum::Router::new()
}
