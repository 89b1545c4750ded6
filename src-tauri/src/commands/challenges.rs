//! Challenge commands. Approve and deny go through `Core::answer`, the same function the
//! notification buttons and the CLI use.

use tauri::State;

use crate::state::AppState;
use assent_core::views::{ChallengeView, HistoryPage, PendingChallenge};
use assent_core::{AppError, Decision};

/// The pending challenges the watcher knows about.
#[tauri::command]
pub async fn pending_challenges(
    state: State<'_, AppState>,
) -> Result<Vec<PendingChallenge>, AppError> {
    Ok(state.core.pending())
}

/// One command per answer, so no argument from the web view can turn a deny into an approve;
/// both have the same body.
macro_rules! answer_command {
    ($(#[$doc:meta])* $name:ident => $decision:expr) => {
        $(#[$doc])*
        #[tauri::command]
        pub async fn $name(
            state: State<'_, AppState>,
            factor_sid: String,
            challenge_sid: String,
        ) -> Result<ChallengeView, AppError> {
            state.core.answer(&factor_sid, &challenge_sid, $decision).await
        }
    };
}

answer_command!(
    /// Approves a challenge.
    approve_challenge => Decision::Approve
);
answer_command!(
    /// Denies a challenge.
    deny_challenge => Decision::Deny
);

/// One page of an account's answered and expired challenges.
#[tauri::command]
pub async fn challenge_history(
    state: State<'_, AppState>,
    factor_sid: String,
    page_token: Option<String>,
) -> Result<HistoryPage, AppError> {
    state.core.history(&factor_sid, page_token).await
}
