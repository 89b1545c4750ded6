//! The main window, created when it is opened and destroyed when it is closed: while Assent
//! sits in the tray no web view exists, so WebKit's web process is gone (docs/design.md,
//! "Window lifecycle"). The UI's state lives in the core, so a new window shows what the old
//! one would have.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tauri::{AppHandle, Emitter, Manager, WebviewWindow, WebviewWindowBuilder, WindowEvent};

use assent_core::events::{FocusChallengeEvent, PageHandover, RelayedSignInEvent};

/// The main window's label (tauri.conf.json, where it has `"create": false`).
pub const MAIN: &str = "main";

/// Relayed sign-ins kept for a page that is not showing yet (the newest ones).
const MAX_RELAYED: usize = 5;

/// A window that never reports its page ready (a broken page) is shown after this anyway.
const READY_FALLBACK: Duration = Duration::from_secs(3);

/// Whether the main window is on screen (kept here rather than asked from the main thread).
static SHOWN: AtomicBool = AtomicBool::new(false);

/// What an opening is waiting for.
#[derive(Debug, Default)]
struct Slot {
    /// A window is being built (on its own thread).
    creating: bool,
    /// The current window's page has loaded its data (`page_ready`).
    ready: bool,
    /// The card to focus once the page is ready (newest request wins).
    focus: Option<String>,
    /// Relayed sign-ins blocked while no page was ready, newest first.
    relayed: Vec<RelayedSignInEvent>,
    /// When the current opening was asked for (for the "window ready" log line).
    asked_at: Option<Instant>,
}

static SLOT: Mutex<Slot> = Mutex::new(Slot {
    creating: false,
    ready: false,
    focus: None,
    relayed: Vec::new(),
    asked_at: None,
});

fn slot() -> MutexGuard<'static, Slot> {
    // The slot holds plain flags; a panic elsewhere cannot leave them half-written.
    SLOT.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether the main window is currently shown.
pub fn is_shown() -> bool {
    SHOWN.load(Ordering::Relaxed)
}

/// Opens the main window (creating it if it is closed), unminimized and focused.
pub fn show(app: &AppHandle) {
    open(app, None);
}

/// Opens the main window on a challenge's card.
pub fn show_challenge(app: &AppHandle, challenge_sid: &str) {
    open(app, Some(challenge_sid.to_owned()));
}

/// Tells the user about a relayed (phished) sign-in: on the page if it is up, else kept for the
/// page of the window this opens.
pub fn show_relayed(app: &AppHandle, event: RelayedSignInEvent) {
    {
        let mut s = slot();
        if !(s.ready && app.get_webview_window(MAIN).is_some()) {
            s.relayed.retain(|r| r.challenge_sid != event.challenge_sid);
            s.relayed.insert(0, event);
            s.relayed.truncate(MAX_RELAYED);
            drop(s);
            show(app);
            return;
        }
    }
    if let Err(e) = app.emit_to(MAIN, "relayed-sign-in", event) {
        tracing::warn!(error = %e, "cannot emit relayed-sign-in");
    }
    show(app);
}

fn open(app: &AppHandle, focus: Option<String>) {
    let mut s = slot();
    if focus.is_some() {
        s.focus = focus;
    }
    match app.get_webview_window(MAIN) {
        Some(w) if s.ready => {
            let focus = s.focus.take();
            drop(s);
            if let Some(sid) = focus {
                emit_focus(app, sid);
            }
            present(&w);
        }
        // Still loading: page_ready shows it and hands over the focus.
        Some(_) => {}
        None if s.creating => {}
        None => {
            s.creating = true;
            s.ready = false;
            s.asked_at = Some(Instant::now());
            drop(s);
            let app = app.clone();
            // Building a web view waits for the main thread, so never build on it (on Windows
            // that deadlocks inside an event handler).
            let spawned = std::thread::Builder::new()
                .name("open-window".into())
                .spawn(move || create(&app));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start the thread that opens the window");
                slot().creating = false;
            }
        }
    }
}

/// Builds the window from tauri.conf.json, off screen until its page reports ready.
fn create(app: &AppHandle) {
    let config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN)
        .cloned();
    let built = match config {
        Some(c) => build(app, &c),
        None => {
            tracing::error!("tauri.conf.json has no main window");
            slot().creating = false;
            return;
        }
    };
    slot().creating = false;
    match built {
        Ok(_) => {
            tracing::info!("main window created");
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                tokio::time::sleep(READY_FALLBACK).await;
                let late = !slot().ready;
                if late {
                    if let Some(w) = app.get_webview_window(MAIN) {
                        tracing::warn!("the window's page did not report ready; showing it anyway");
                        present(&w);
                    }
                }
            });
        }
        Err(e) => tracing::error!(error = %e, "cannot create the main window"),
    }
}

fn build(
    app: &AppHandle,
    config: &tauri::utils::config::WindowConfig,
) -> tauri::Result<WebviewWindow> {
    let mut tries = 0;
    loop {
        match WebviewWindowBuilder::from_config(app, config).and_then(|b| b.build()) {
            // The window closed a moment ago and the main thread has not unregistered its
            // label yet.
            Err(
                tauri::Error::WindowLabelAlreadyExists(_)
                | tauri::Error::WebviewLabelAlreadyExists(_),
            ) if tries < 40 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(25));
            }
            other => return other,
        }
    }
}

/// Whether a window is being built right now.
pub fn is_opening() -> bool {
    slot().creating
}

/// The page has rendered its data: show the window and hand over what it has not heard of.
pub fn page_ready(window: &WebviewWindow) -> PageHandover {
    let (handover, asked_at) = {
        let mut s = slot();
        s.ready = true;
        let handover = PageHandover {
            focus_challenge_sid: s.focus.take(),
            relayed: std::mem::take(&mut s.relayed),
        };
        (handover, s.asked_at.take())
    };
    present(window);
    tracing::info!(
        open_ms = asked_at.map(|t| t.elapsed().as_millis() as u64),
        focus = handover.focus_challenge_sid.is_some(),
        relayed = handover.relayed.len(),
        "main window ready"
    );
    handover
}

fn emit_focus(app: &AppHandle, challenge_sid: String) {
    if let Err(e) = app.emit_to(
        MAIN,
        "focus-challenge",
        FocusChallengeEvent { challenge_sid },
    ) {
        tracing::warn!(error = %e, "cannot emit focus-challenge");
    }
}

fn present(w: &WebviewWindow) {
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

/// Close destroys the window (the app stays in the tray); focus counts as user activity.
pub fn on_window_event(window: &tauri::Window, event: &WindowEvent) {
    if window.label() != MAIN {
        return;
    }
    match event {
        WindowEvent::Destroyed => {
            SHOWN.store(false, Ordering::Relaxed);
            slot().ready = false;
            tracing::info!("main window closed; its web view is gone");
            crate::webkit::release_after_last_view(window.app_handle());
        }
        WindowEvent::Focused(true) => {
            if let Some(state) = window.try_state::<crate::state::AppState>() {
                state.core.watcher().note_interaction();
            }
        }
        _ => {}
    }
}
