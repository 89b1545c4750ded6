//! Forms: `GET /v2/Forms/form-push` (account auth), the only form type Twilio defines. Twilio's
//! example answers with empty form objects; so do we.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::{json, AppState};
use crate::auth::AccountAuth;
use crate::error::ApiError;

/// `GET /v2/Forms/{FormType}`
pub async fn fetch(
    State(app): State<AppState>,
    Path(form_type): Path<String>,
    _account: AccountAuth,
) -> Result<Response, ApiError> {
    if form_type != "form-push" {
        return Err(super::not_found(&format!("Forms/{form_type}")));
    }
    Ok(json(
        StatusCode::OK,
        json!({
            "form_type": "form-push",
            "forms": {"create_factor": {}, "verify_factor": {}, "create_challenge": {}},
            "form_meta": {},
            "url": app.url("v2/Forms/form-push"),
        }),
    ))
}
