//! Enrolment commands.
//!
//! Deep links never cross IPC: the UI sees an [`EnrollRequestView`] (no token) and answers with
//! its `requestId`. Pasted text is previewed by the same parser ([`preview_enroll_payload`]), which also names
//! the account on this desktop it would repeat.

use tauri::State;

use crate::state::AppState;
use assent_core::enroll_requests::EnrollPreview;
use assent_core::views::Account;
use assent_core::{AppError, EnrollRequestView};

/// Enrols from a pasted link/JSON (the user typed it); progress arrives as `enroll-progress`
/// events.
#[tauri::command]
pub async fn enroll(
    state: State<'_, AppState>,
    payload: String,
    friendly_name: Option<String>,
) -> Result<Account, AppError> {
    state.core.enroll(&payload, friendly_name).await
}

/// What enrolling with the pasted text would add (never the token), or why it would fail.
#[tauri::command]
pub async fn preview_enroll_payload(
    state: State<'_, AppState>,
    text: String,
) -> Result<EnrollPreview, AppError> {
    state.core.preview_enroll_payload(&text)
}

/// The newest deep-link request still waiting for confirmation (a preview, or `null`); call
/// once after the page has loaded, `enroll-request` events cover later links.
#[tauri::command]
pub async fn take_enroll_request(
    state: State<'_, AppState>,
) -> Result<Option<EnrollRequestView>, AppError> {
    Ok(state.core.enroll_request())
}

/// Enrols with the deep link kept under `request_id` (same progress events as [`enroll`]).
#[tauri::command]
pub async fn confirm_enroll_request(
    state: State<'_, AppState>,
    request_id: String,
    friendly_name: Option<String>,
) -> Result<Account, AppError> {
    state
        .core
        .confirm_enroll_request(&request_id, friendly_name)
        .await
}

/// Drops the deep link kept under `request_id` (the user cancelled).
#[tauri::command]
pub async fn dismiss_enroll_request(
    state: State<'_, AppState>,
    request_id: String,
) -> Result<(), AppError> {
    state.core.dismiss_enroll_request(&request_id)
}
