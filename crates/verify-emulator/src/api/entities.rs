//! Entities: create, fetch, list, delete (account auth). Deleting an entity deletes its
//! factors (with `factor.deleted` webhooks) and challenges.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::{
    entity_path, json, list_page, no_content, require_service, required_identity, with_db,
    with_db_read, AppState,
};
use crate::auth::AccountAuth;
use crate::db::entities::{self, EntityRow};
use crate::db::factors;
use crate::error::ApiError;
use crate::form::Params;
use crate::paging::PageQuery;
use crate::server::App;

fn render(app: &App, e: &EntityRow) -> Value {
    let base = app.url(&format!("v2/{}", entity_path(&e.service_sid, &e.identity)));
    json!({
        "sid": e.sid,
        "identity": e.identity,
        "account_sid": app.account_sid,
        "service_sid": e.service_sid,
        "date_created": crate::time::fmt_ts(e.date_created),
        "date_updated": crate::time::fmt_ts(e.date_updated),
        "url": base,
        "links": {
            "factors": format!("{base}/Factors"),
            "new_factors": format!("{base}/Factors"),
            "challenges": format!("{base}/Challenges"),
        }
    })
}

/// `POST /v2/Services/{sid}/Entities`
pub async fn create(
    State(app): State<AppState>,
    Path(service_sid): Path<String>,
    _account: AccountAuth,
    body: Bytes,
) -> Result<Response, ApiError> {
    let identity = required_identity(&Params::parse(&body))?;
    with_db(&app, move |a, conn| {
        require_service(conn, &service_sid)?;
        if entities::get(conn, &service_sid, &identity)?.is_some() {
            return Err(ApiError::Conflict(format!(
                "Entity {identity} already exists"
            )));
        }
        let e = entities::get_or_create(conn, &service_sid, &identity, a.now())?;
        Ok(json(StatusCode::CREATED, render(&a, &e)))
    })
    .await
}

fn load(
    conn: &rusqlite::Connection,
    service_sid: &str,
    identity: &str,
) -> Result<EntityRow, ApiError> {
    entities::get(conn, service_sid, identity)?
        .ok_or_else(|| super::not_found(&entity_path(service_sid, identity)))
}

/// `GET /v2/Services/{sid}/Entities/{identity}`
pub async fn fetch(
    State(app): State<AppState>,
    Path((service_sid, identity)): Path<(String, String)>,
    _account: AccountAuth,
) -> Result<Response, ApiError> {
    with_db_read(&app, move |a, conn| {
        let e = load(conn, &service_sid, &identity)?;
        Ok(json(StatusCode::OK, render(&a, &e)))
    })
    .await
}

/// `GET /v2/Services/{sid}/Entities`
pub async fn list(
    State(app): State<AppState>,
    Path(service_sid): Path<String>,
    _account: AccountAuth,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    with_db_read(&app, move |a, conn| {
        let pq = PageQuery::from_query(q.as_deref())?;
        require_service(conn, &service_sid)?;
        let w = pq.window(false);
        let rows = entities::list_window(conn, &service_sid, &w)?;
        Ok(list_page(
            "entities",
            &a.url(&format!("v2/Services/{service_sid}/Entities")),
            &[],
            &pq,
            &w,
            rows.into_iter().map(|e| (e.id, e)),
            |e| render(&a, e),
        ))
    })
    .await
}

/// `DELETE /v2/Services/{sid}/Entities/{identity}`
pub async fn delete(
    State(app): State<AppState>,
    Path((service_sid, identity)): Path<(String, String)>,
    _account: AccountAuth,
) -> Result<Response, ApiError> {
    with_db(&app, move |a, conn| {
        let tx = conn.transaction()?;
        let e = load(&tx, &service_sid, &identity)?;
        let gone = factors::list(&tx, &service_sid, &identity, a.now())?;
        for f in &gone {
            factors::delete_cascade(&tx, &f.sid)?;
        }
        // Expired unverified rows too; they are gone already, so no event for them.
        factors::delete_of_entity(&tx, &service_sid, &identity)?;
        entities::delete(&tx, &e.sid)?;
        tx.commit()?;
        for f in &gone {
            super::factors::emit_event(&a, conn, &service_sid, "factor.deleted", f)?;
        }
        Ok(no_content())
    })
    .await
}
