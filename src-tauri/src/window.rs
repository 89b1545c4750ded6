//! The main window: shown on demand, hidden instead of closed (the app lives in the tray).

use std::sync::atomic::{AtomicBool, Ordering};

use tauri::{AppHandle, Manager, WindowEvent};

/// Whether the main window is on screen (tracked here rather than asked from the main thread).
static SHOWN: AtomicBool = AtomicBool::new(false);

/// Whether the main window is currently shown.
pub fn is_shown() -> bool {
    SHOWN.load(Ordering::Relaxed)
}

/// The main window's label (tauri.conf.json).
pub const MAIN: &str = "main";

/// Shows, unminimizes and focuses the main window.
pub fn show(app: &AppHandle) {
    let Some(w) = app.get_webview_window(MAIN) else {
        tracing::warn!("main window missing");
        return;
    };
    for (what, r) in [
        ("show", w.show()),
        ("unminimize", w.unminimize()),
        ("focus", w.set_focus()),
    ] {
        if let Err(e) = r {
            tracing::warn!(error = %e, "window {what} failed");
        }
    }
    SHOWN.store(true, Ordering::Relaxed);
    tracing::info!("main window shown");
}

/// Close hides the window; focus counts as user activity for the watcher.
pub fn on_window_event(window: &tauri::Window, event: &WindowEvent) {
    if window.label() != MAIN {
        return;
    }
    match event {
        WindowEvent::CloseRequested { api, .. } => {
            api.prevent_close();
            if let Err(e) = window.hide() {
                tracing::warn!(error = %e, "hiding the window failed");
            }
            SHOWN.store(false, Ordering::Relaxed);
            tracing::info!("main window hidden (close to tray)");
        }
        WindowEvent::Focused(true) => {
            if let Some(state) = window.try_state::<crate::state::AppState>() {
                state.core.watcher().note_interaction();
            }
        }
        _ => {}
    }
}
