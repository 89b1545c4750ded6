//! Enrolment commands.

use serde::Serialize;
use tauri::State;

use crate::core::views::Account;
use crate::core::AppError;
use crate::state::AppState;

/// Enrols from a pasted link/JSON or a confirmed deep link; progress arrives as
/// `enroll-progress` events.
#[tauri::command]
pub async fn enroll(
    state: State<'_, AppState>,
    payload: String,
    friendly_name: Option<String>,
) -> Result<Account, AppError> {
    state.core.enroll(&payload, friendly_name).await
}

/// A deep link that arrived before the page listened (`enroll-request` payload shape).
#[derive(Debug, Clone, Serialize)]
pub struct EnrollRequestView {
    /// The `assent://enroll?…` link, for the user to confirm.
    pub payload: String,
}

/// Takes the waiting deep link, if any (call once after the page has loaded).
#[tauri::command]
pub async fn take_enroll_request(
    state: State<'_, AppState>,
) -> Result<Option<EnrollRequestView>, AppError> {
    Ok(state
        .take_enroll_request()
        .map(|payload| EnrollRequestView { payload }))
}
