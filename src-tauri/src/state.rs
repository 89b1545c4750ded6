//! What the GUI keeps in Tauri's managed state.

use std::sync::{Arc, Mutex};

use crate::notify::Notifier;
use assent_core::Core;

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
        }
    }
}
