//! Challenge commands. Approve and deny go through `Core::answer_with`, the same function the
//! notification buttons and the CLI use.

use tauri::State;

use crate::state::AppState;
use assent_core::verification::Pin;
use assent_core::views::{ChallengeView, HistoryPage, PendingChallenge};
use assent_core::{Answer, AppError, DenyAllReport, DenyReason};

/// The pending challenges the watcher knows about.
#[tauri::command]
pub async fn pending_challenges(
    state: State<'_, AppState>,
) -> Result<Vec<PendingChallenge>, AppError> {
    Ok(state.core.pending())
}

// One command per answer, so no argument from the web view can turn a deny into an approve.

/// Approves a challenge; `code` is the number the user picked or typed when the sign-in asks
/// for number matching (checked in Rust; a wrong one denies the sign-in), `pin` the app PIN
/// when the account asks for it.
#[tauri::command]
pub async fn approve_challenge(
    state: State<'_, AppState>,
    factor_sid: String,
    challenge_sid: String,
    code: Option<String>,
    pin: Option<String>,
) -> Result<ChallengeView, AppError> {
    let pin = pin.map(Pin::new).transpose()?;
    state
        .core
        .answer_with(&factor_sid, &challenge_sid, Answer::Approve { code, pin })
        .await
}

/// Denies a challenge; `reason` (`not_me` | `mistake`) is told to the relying party.
#[tauri::command]
pub async fn deny_challenge(
    state: State<'_, AppState>,
    factor_sid: String,
    challenge_sid: String,
    reason: Option<String>,
) -> Result<ChallengeView, AppError> {
    let reason = parse_reason(reason)?;
    state
        .core
        .answer_with(&factor_sid, &challenge_sid, Answer::Deny { reason })
        .await
}

/// Denies every pending request of one account (a flood the user did not cause); `reason` as
/// for [`deny_challenge`].
#[tauri::command]
pub async fn deny_all_challenges(
    state: State<'_, AppState>,
    factor_sid: String,
    reason: Option<String>,
) -> Result<DenyAllReport, AppError> {
    state
        .core
        .deny_all(&factor_sid, parse_reason(reason)?)
        .await
}

fn parse_reason(reason: Option<String>) -> Result<Option<DenyReason>, AppError> {
    reason
        .map(|r| {
            r.parse::<DenyReason>()
                .map_err(|_| AppError::Input(format!("{r:?} is not a deny reason")))
        })
        .transpose()
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
