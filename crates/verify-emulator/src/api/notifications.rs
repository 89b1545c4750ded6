//! Challenge notifications: create (account auth) re-announces a pending challenge. The
//! emulator has no push transport, so it records the notification and returns it.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::{entity_path, int_between, json, with_db, AppState};
use crate::auth::AccountAuth;
use crate::db::challenges;
use crate::db::notifications::{self, NotificationRow};
use crate::error::ApiError;
use crate::form::Params;

/// `POST …/Challenges/{YC}/Notifications`
pub async fn create(
    State(app): State<AppState>,
    Path((service_sid, identity, challenge_sid)): Path<(String, String, String)>,
    _account: AccountAuth,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::parse(&body);
    let ttl = match p.get("Ttl") {
        None => 300,
        Some(v) => int_between("Ttl", v, 0, 300)?,
    };
    with_db(&app, move |a, conn| {
        let now = a.now();
        let c = challenges::get(conn, &challenge_sid)?
            .map(|c| c.settled(now))
            .filter(|c| c.service_sid == service_sid && c.identity == identity)
            .ok_or_else(|| {
                super::not_found(&format!(
                    "{}/Challenges/{challenge_sid}/Notifications",
                    entity_path(&service_sid, &identity)
                ))
            })?;
        if c.status == "expired" {
            return Err(ApiError::ChallengeExpired);
        }
        if c.status != "pending" {
            return Err(ApiError::invalid(format!(
                "Challenge is not pending (status {})",
                c.status
            )));
        }
        let n = NotificationRow {
            sid: crate::sid::new_sid("NT"),
            service_sid: c.service_sid.clone(),
            entity_sid: c.entity_sid.clone(),
            identity: c.identity.clone(),
            challenge_sid: c.sid.clone(),
            priority: "high".into(),
            ttl,
            date_created: now,
        };
        notifications::insert(conn, &n)?;
        Ok(json(
            StatusCode::CREATED,
            json!({
                "sid": n.sid,
                "account_sid": a.account_sid,
                "service_sid": n.service_sid,
                "entity_sid": n.entity_sid,
                "identity": n.identity,
                "challenge_sid": n.challenge_sid,
                "priority": n.priority,
                "ttl": n.ttl,
                "date_created": crate::time::fmt_ts(n.date_created),
            }),
        ))
    })
    .await
}
