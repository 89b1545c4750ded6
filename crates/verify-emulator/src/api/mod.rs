//! `/v2/` handlers, one file per resource, and the helpers they share.

pub mod access_tokens;
pub mod challenges;
pub mod entities;
pub mod factors;
pub mod forms;
pub mod notifications;
pub mod services;
pub mod webhooks;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;

use crate::error::ApiError;
use crate::form::Params;
use crate::paging::{envelope, finish, PageQuery, Window};
use crate::server::App;

/// Shared state type of every handler.
pub type AppState = Arc<App>;

/// The `/v2/` routes.
pub fn router() -> Router<AppState> {
    let e = "/v2/Services/{service_sid}/Entities/{identity}";
    Router::new()
        .route("/v2/Forms/{form_type}", get(forms::fetch))
        .route("/v2/Services", post(services::create).get(services::list))
        .route(
            "/v2/Services/{service_sid}",
            get(services::fetch)
                .post(services::update)
                .delete(services::delete),
        )
        .route(
            "/v2/Services/{service_sid}/AccessTokens",
            post(access_tokens::create),
        )
        .route(
            "/v2/Services/{service_sid}/AccessTokens/{sid}",
            get(access_tokens::fetch),
        )
        .route(
            "/v2/Services/{service_sid}/Entities",
            post(entities::create).get(entities::list),
        )
        .route(e, get(entities::fetch).delete(entities::delete))
        .route(
            &format!("{e}/Factors"),
            post(factors::create).get(factors::list),
        )
        .route(
            &format!("{e}/Factors/{{sid}}"),
            get(factors::fetch)
                .post(factors::update)
                .delete(factors::delete),
        )
        .route(
            &format!("{e}/Challenges"),
            post(challenges::create).get(challenges::list),
        )
        .route(
            &format!("{e}/Challenges/{{sid}}"),
            get(challenges::fetch).post(challenges::update),
        )
        .route(
            &format!("{e}/Challenges/{{sid}}/Notifications"),
            post(notifications::create),
        )
        .route(
            "/v2/Services/{service_sid}/Webhooks",
            post(webhooks::create).get(webhooks::list),
        )
        .route(
            "/v2/Services/{service_sid}/Webhooks/{sid}",
            get(webhooks::fetch)
                .post(webhooks::update)
                .delete(webhooks::delete),
        )
}

/// A JSON answer with `status`.
pub fn json(status: StatusCode, v: Value) -> Response {
    (status, axum::Json(v)).into_response()
}

/// 204 with no body.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Runs `f` with the app and the database connection on the database thread.
pub async fn with_db<F>(app: &AppState, f: F) -> Result<Response, ApiError>
where
    F: FnOnce(AppState, &mut rusqlite::Connection) -> Result<Response, ApiError> + Send + 'static,
{
    let a = app.clone();
    app.db.call(move |conn| f(a, conn)).await
}

/// Runs read-only `f` on a pooled reader connection (see [`crate::db::Db::read`]).
pub async fn with_db_read<F>(app: &AppState, f: F) -> Result<Response, ApiError>
where
    F: FnOnce(AppState, &mut rusqlite::Connection) -> Result<Response, ApiError> + Send + 'static,
{
    let a = app.clone();
    app.db.read(move |conn| f(a, conn)).await
}

/// A list answer (200): the page `pq` made of `rows` (`(row id, row)`, as read for the
/// window `w`), each row rendered, in the `meta` envelope under `key`.
pub fn list_page<T>(
    key: &str,
    url: &str,
    filters: &[(&str, String)],
    pq: &PageQuery,
    w: &Window,
    rows: impl IntoIterator<Item = (i64, T)>,
    render: impl Fn(&T) -> Value,
) -> Response {
    let page = finish(rows.into_iter().collect(), pq, w);
    let items = page.items.iter().map(render).collect();
    json(
        StatusCode::OK,
        envelope(
            key,
            url,
            filters,
            pq,
            items,
            page.next_token,
            page.previous_token,
        ),
    )
}

/// The required `Identity` form field, checked by [`validate_identity`].
pub fn required_identity(p: &Params) -> Result<String, ApiError> {
    let identity = p
        .get("Identity")
        .ok_or_else(|| ApiError::missing("Identity"))?
        .to_string();
    validate_identity(&identity)?;
    Ok(identity)
}

/// Parses an integer in `lo..=hi` (surrounding blanks allowed).
pub fn int_between(name: &str, v: &str, lo: i64, hi: i64) -> Result<i64, ApiError> {
    match v.trim().parse::<i64>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid(format!(
            "{name} must be an integer between {lo} and {hi}"
        ))),
    }
}

/// Identity rules (OAI): 8–64 chars, dash-separated alphanumerics (so no e-mail addresses or
/// `+` phone numbers, which are PII).
pub fn validate_identity(identity: &str) -> Result<(), ApiError> {
    let ok_len = (8..=64).contains(&identity.len());
    let ok_chars = identity
        .split('-')
        .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric()));
    if ok_len && ok_chars {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "Invalid parameter Identity: 8-64 characters, dash-separated alphanumerics only",
        ))
    }
}

/// Length check counting characters (not bytes).
pub fn max_chars(name: &str, v: &str, max: usize) -> Result<(), ApiError> {
    if v.chars().count() > max {
        Err(ApiError::invalid(format!(
            "{name} must be at most {max} characters"
        )))
    } else {
        Ok(())
    }
}

/// Parses `true`/`false` (any case).
pub fn parse_bool(name: &str, v: &str) -> Result<bool, ApiError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ApiError::invalid(format!("{name} must be true or false"))),
    }
}

/// Parses a JSON object whose values are all strings (`Metadata`, `HiddenDetails`).
pub fn string_map(name: &str, v: &str, max_len: usize) -> Result<Value, ApiError> {
    if v.chars().count() > max_len {
        return Err(ApiError::invalid(format!(
            "{name} must be at most {max_len} characters"
        )));
    }
    let parsed: Value = serde_json::from_str(v)
        .map_err(|_| ApiError::invalid(format!("{name} must be a JSON object")))?;
    match &parsed {
        Value::Object(m) if m.values().all(Value::is_string) => Ok(parsed),
        _ => Err(ApiError::invalid(format!(
            "{name} must be a JSON object with string values only"
        ))),
    }
}

/// Not-found for a path under `/v2/`.
pub fn not_found(path: &str) -> ApiError {
    ApiError::NotFound(format!("/v2/{path}"))
}

/// Path of an entity (`Services/VA…/Entities/<identity>`), identity percent-encoded.
pub fn entity_path(service_sid: &str, identity: &str) -> String {
    let id: String = form_urlencoded::byte_serialize(identity.as_bytes()).collect();
    format!("Services/{service_sid}/Entities/{id}")
}

/// Ensures the service exists.
pub fn require_service(
    conn: &rusqlite::Connection,
    service_sid: &str,
) -> Result<crate::db::services::ServiceRow, ApiError> {
    crate::db::services::get(conn, service_sid)?
        .ok_or_else(|| not_found(&format!("Services/{service_sid}")))
}
