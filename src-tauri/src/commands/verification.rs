//! The app PIN ("Confirm it's you before approving"). The PIN comes from the window's input
//! and is checked in Rust; changing or removing it needs the PIN itself.

use tauri::State;

use crate::state::AppState;
use assent_core::verification::{Pin, Scope, VerificationView};
use assent_core::AppError;

/// Whether a PIN is set, which accounts it covers, and any lock.
#[tauri::command]
pub async fn verification_status(state: State<'_, AppState>) -> Result<VerificationView, AppError> {
    Ok(state.core.verification())
}

/// Sets the PIN (`current` is required when one is already set) and the accounts it covers.
#[tauri::command]
pub async fn set_pin(
    state: State<'_, AppState>,
    current: Option<String>,
    pin: String,
    scope: Scope,
) -> Result<VerificationView, AppError> {
    let current = current.map(Pin::new).transpose()?;
    state.core.set_pin(current, Pin::new(pin)?, scope).await
}

/// Changes the accounts the PIN covers.
#[tauri::command]
pub async fn set_verification_scope(
    state: State<'_, AppState>,
    pin: String,
    scope: Scope,
) -> Result<VerificationView, AppError> {
    state
        .core
        .set_verification_scope(Pin::new(pin)?, scope)
        .await
}

/// Removes the PIN.
#[tauri::command]
pub async fn remove_pin(
    state: State<'_, AppState>,
    pin: String,
) -> Result<VerificationView, AppError> {
    state.core.remove_pin(Pin::new(pin)?).await
}
