//! Settings commands.

use tauri::{AppHandle, State};

use crate::state::AppState;
use assent_core::{AppError, Settings};

/// Current settings.
#[tauri::command]
pub async fn get_settings(state: State<'_, AppState>) -> Result<Settings, AppError> {
    Ok(state.core.settings())
}

/// Saves settings; a changed "start at login" is applied to the OS login items first.
#[tauri::command]
pub async fn update_settings(
    app: AppHandle,
    state: State<'_, AppState>,
    settings: Settings,
) -> Result<Settings, AppError> {
    let core = state.core.clone();
    if settings.start_at_login != core.settings().start_at_login {
        crate::autostart::apply(&app, &core, settings.start_at_login)?;
    }
    let saved = core.update_settings(settings)?;
    crate::tray::refresh(&app);
    Ok(saved)
}
