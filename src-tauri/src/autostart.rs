//! Start at login; the login item starts Assent with `--hidden` (straight to the tray).
//!
//! Linux: our own XDG autostart entry ([`xdg`]), because the plugin's backend ignores
//! `XDG_CONFIG_HOME` and does not quote the program path. Windows: our own `Run` registry
//! value ([`windows`]), for the same quoting reason and to stay per-user. macOS:
//! tauri-plugin-autostart.

pub mod windows;
#[cfg(target_os = "linux")]
pub mod xdg;

use std::sync::Arc;

use tauri::AppHandle;

use assent_core::{AppError, Core};

/// Arguments the login item passes.
pub const LOGIN_ARGS: &[&str] = &["--hidden"];

/// The plugin, configured to pass [`LOGIN_ARGS`].
#[cfg(not(any(target_os = "linux", windows)))]
pub fn plugin() -> tauri::plugin::TauriPlugin<tauri::Wry> {
    tauri_plugin_autostart::Builder::new()
        .args(LOGIN_ARGS.iter().copied())
        .app_name("Assent")
        .build()
}

/// Nothing to set up on Linux and Windows (the entry is read and written when asked); an
/// empty plugin keeps the builder in lib.rs the same on every platform.
#[cfg(any(target_os = "linux", windows))]
pub fn plugin() -> tauri::plugin::TauriPlugin<tauri::Wry> {
    tauri::plugin::Builder::new("assent-autostart").build()
}

#[cfg(target_os = "linux")]
fn set_login_item(_app: &AppHandle, enabled: bool) -> Result<(), AppError> {
    xdg::LoginEntry::for_this_binary(LOGIN_ARGS)?.set(enabled)
}

#[cfg(target_os = "linux")]
fn login_item_enabled(_app: &AppHandle) -> Result<bool, AppError> {
    xdg::LoginEntry::for_this_binary(LOGIN_ARGS)?.is_enabled()
}

#[cfg(windows)]
fn set_login_item(_app: &AppHandle, enabled: bool) -> Result<(), AppError> {
    windows::set(enabled, &this_exe()?, LOGIN_ARGS)
}

#[cfg(windows)]
fn login_item_enabled(_app: &AppHandle) -> Result<bool, AppError> {
    windows::is_enabled()
}

#[cfg(windows)]
fn this_exe() -> Result<String, AppError> {
    std::env::current_exe()
        .map_err(|e| AppError::Desktop(format!("cannot find this program's path: {e}")))?
        .into_os_string()
        .into_string()
        .map_err(|_| AppError::Desktop("this program's path is not valid Unicode".into()))
}

#[cfg(not(any(target_os = "linux", windows)))]
fn set_login_item(app: &AppHandle, enabled: bool) -> Result<(), AppError> {
    use tauri_plugin_autostart::ManagerExt;
    let launcher = app.autolaunch();
    let r = if enabled {
        launcher.enable()
    } else {
        launcher.disable()
    };
    r.map_err(|e| AppError::Desktop(format!("cannot change start at login: {e}")))
}

#[cfg(not(any(target_os = "linux", windows)))]
fn login_item_enabled(app: &AppHandle) -> Result<bool, AppError> {
    use tauri_plugin_autostart::ManagerExt;
    app.autolaunch()
        .is_enabled()
        .map_err(|e| AppError::Desktop(format!("cannot read start at login: {e}")))
}

/// Turns start-at-login on or off and records it in the settings.
pub fn apply(app: &AppHandle, core: &Arc<Core>, enabled: bool) -> Result<(), AppError> {
    set_login_item(app, enabled)?;
    core.modify_settings(|s| s.start_at_login = enabled)?;
    tracing::info!(enabled, "start at login changed");
    Ok(())
}

/// The OS login item is the truth: mirror it into the settings at startup.
pub fn sync_from_os(app: &AppHandle, core: &Arc<Core>) {
    match login_item_enabled(app) {
        Ok(on) if on != core.settings().start_at_login => {
            if let Err(e) = core.modify_settings(|s| s.start_at_login = on) {
                tracing::warn!(code = %e.code(), "cannot record start-at-login state");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(code = %e.code(), error = %e, "cannot read start-at-login state"),
    }
}
