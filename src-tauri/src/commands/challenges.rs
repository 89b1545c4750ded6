//! Challenge commands. Approve and deny go through `Core::answer`, the same function the
//! notification buttons and the CLI use.

use tauri::State;

use crate::core::views::{ChallengeView, HistoryPage, PendingChallenge};
use crate::core::{AppError, Decision};
use crate::state::AppState;

/// The pending challenges the watcher knows about.
#[tauri::command]
pub async fn pending_challenges(
    state: State<'_, AppState>,
) -> Result<Vec<PendingChallenge>, AppError> {
    Ok(state.core.pending())
}

/// Approves a challenge.
#[tauri::command]
pub async fn approve_challenge(
    state: State<'_, AppState>,
    factor_sid: String,
    challenge_sid: String,
) -> Result<ChallengeView, AppError> {
    state
        .core
        .answer(&factor_sid, &challenge_sid, Decision::Approve)
        .await
}

/// Denies a challenge.
#[tauri::command]
pub async fn deny_challenge(
    state: State<'_, AppState>,
    factor_sid: String,
    challenge_sid: String,
) -> Result<ChallengeView, AppError> {
    state
        .core
        .answer(&factor_sid, &challenge_sid, Decision::Deny)
        .await
}

/// One page of an account's answered and expired challenges.
#[tauri::command]
pub async fn challenge_history(
    state: State<'_, AppState>,
    factor_sid: String,
    page_token: Option<String>,
) -> Result<HistoryPage, AppError> {
    state.core.history(&factor_sid, page_token).await
}
