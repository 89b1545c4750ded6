//! App-level commands: watcher control and information.

use tauri::{AppHandle, Manager, State, WebviewWindow};
use tauri_plugin_opener::OpenerExt;

use crate::state::AppState;
use assent_core::events::PageHandover;
use assent_core::views::{AppInfo, WatcherStatus};
use assent_core::AppError;

/// Polls all accounts now.
#[tauri::command]
pub async fn check_now(state: State<'_, AppState>) -> Result<(), AppError> {
    state.core.watcher().check_now();
    Ok(())
}

/// Online / paused / last poll / last error.
#[tauri::command]
pub async fn watcher_status(state: State<'_, AppState>) -> Result<WatcherStatus, AppError> {
    Ok(state.core.watcher().status())
}

/// Opens the embedded demo site in the default browser.
#[tauri::command]
pub async fn open_demo_site(app: AppHandle) -> Result<(), AppError> {
    open_demo(&app)
}

/// Shared by the command and the tray item.
pub fn open_demo(app: &AppHandle) -> Result<(), AppError> {
    let state = app.state::<AppState>();
    let url = state.demo_url.clone().ok_or(AppError::NoDemo)?;
    tracing::info!(url = %url, "opening the demo site");
    app.opener()
        .open_url(url.as_str(), None::<&str>)
        .map_err(|e| AppError::Desktop(format!("cannot open the browser: {e}")))
}

/// The page has rendered its data: the window is shown now (a new one waits off screen for
/// this) and learns which card it was opened for and what it missed.
#[tauri::command]
pub async fn page_ready(window: WebviewWindow) -> Result<PageHandover, AppError> {
    Ok(crate::window::page_ready(&window))
}

/// App information.
#[tauri::command]
pub async fn app_info(state: State<'_, AppState>) -> Result<AppInfo, AppError> {
    Ok(AppInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        demo_url: state.demo_url.as_ref().map(|u| u.to_string()),
        log_dir: state.core.paths().log_dir.display().to_string(),
        local_endpoint: state.core.endpoint_status(),
    })
}
