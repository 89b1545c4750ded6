//! Account commands.

use tauri::State;

use crate::state::AppState;
use assent_core::views::Account;
use assent_core::AppError;

/// All local accounts.
#[tauri::command]
pub async fn list_accounts(state: State<'_, AppState>) -> Result<Vec<Account>, AppError> {
    state.core.accounts().await
}

/// Allows or forbids silent approval from the account's enrolled origin; returns the account.
#[tauri::command]
pub async fn set_silent_approval(
    state: State<'_, AppState>,
    factor_sid: String,
    allowed: bool,
) -> Result<Account, AppError> {
    state.core.set_silent_allowed(&factor_sid, allowed).await
}

/// Deletes the factor on the server, its key and the local record (the UI confirms first).
#[tauri::command]
pub async fn remove_account(
    state: State<'_, AppState>,
    factor_sid: String,
) -> Result<(), AppError> {
    state.core.remove_account(&factor_sid).await
}
