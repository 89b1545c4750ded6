//! What the GUI keeps in Tauri's managed state.

use std::sync::{Arc, Mutex};

use crate::core::Core;
use crate::notify::Notifier;

/// Managed state of the running app.
pub struct AppState {
    /// The command layer.
    pub core: Arc<Core>,
    /// The embedded demo site, when the emulator runs.
    pub demo_url: Option<url::Url>,
    /// Notifications on screen.
    pub notifier: Arc<Notifier>,
    /// Keeps the embedded emulator running for the app's lifetime.
    pub emulator: Mutex<Option<verify_emulator::RunningEmulator>>,
    /// A deep link waiting for the UI (it may arrive before the page listens).
    enroll_request: Mutex<Option<String>>,
}

impl AppState {
    /// Bundles the parts.
    pub fn new(
        core: Arc<Core>,
        demo_url: Option<url::Url>,
        notifier: Arc<Notifier>,
        emulator: Option<verify_emulator::RunningEmulator>,
    ) -> AppState {
        AppState {
            core,
            demo_url,
            notifier,
            emulator: Mutex::new(emulator),
            enroll_request: Mutex::new(None),
        }
    }

    /// Remembers the latest deep link until the UI takes it.
    pub fn set_enroll_request(&self, link: String) {
        *self
            .enroll_request
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(link);
    }

    /// Hands the waiting deep link to the UI (once).
    pub fn take_enroll_request(&self) -> Option<String> {
        self.enroll_request
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }
}
