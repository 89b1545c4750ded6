//! Start at login via tauri-plugin-autostart; the login item starts Assent with `--hidden`.

use std::sync::Arc;

use tauri::AppHandle;
use tauri_plugin_autostart::ManagerExt;

use crate::core::{AppError, Core};

/// The plugin, configured to pass `--hidden` so login starts go straight to the tray.
pub fn plugin() -> tauri::plugin::TauriPlugin<tauri::Wry> {
    tauri_plugin_autostart::Builder::new()
        .arg("--hidden")
        .app_name("Assent")
        .build()
}

/// Turns start-at-login on or off and records it in the settings.
pub fn apply(app: &AppHandle, core: &Arc<Core>, enabled: bool) -> Result<(), AppError> {
    let launcher = app.autolaunch();
    let r = if enabled {
        launcher.enable()
    } else {
        launcher.disable()
    };
    r.map_err(|e| AppError::Desktop(format!("cannot change start at login: {e}")))?;
    core.modify_settings(|s| s.start_at_login = enabled)?;
    tracing::info!(enabled, "start at login changed");
    Ok(())
}

/// The OS login item is the truth: mirror it into the settings at startup.
pub fn sync_from_os(app: &AppHandle, core: &Arc<Core>) {
    match app.autolaunch().is_enabled() {
        Ok(on) if on != core.settings().start_at_login => {
            if let Err(e) = core.modify_settings(|s| s.start_at_login = on) {
                tracing::warn!(code = %e.code(), "cannot record start-at-login state");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot read start-at-login state"),
    }
}
