//! Turns core events into Tauri events (docs/design.md names), notifications and tray updates.

use std::sync::Arc;

use serde::Serialize;
use tauri::{AppHandle, Emitter};

use crate::notify::Notifier;
use assent_core::events::{AppEvent, ChallengeRemovedEvent, EnrollProgressEvent, EventSink};
use assent_core::Alert;

/// The GUI's event sink.
pub struct TauriSink {
    app: AppHandle,
    notifier: Arc<Notifier>,
}

impl TauriSink {
    /// A sink for `app`; asks the notification server for its capabilities now, so the first
    /// notification does not wait for that round trip.
    pub fn new(app: AppHandle, notifier: Arc<Notifier>) -> TauriSink {
        let n = notifier.clone();
        tauri::async_runtime::spawn(async move { n.prefetch_capabilities().await });
        TauriSink { app, notifier }
    }

    /// Updates the tray menu and icon; queued for the main thread, so this does not wait (the
    /// async thread that emitted the event may be about to run a notification).
    fn refresh_tray(&self) {
        crate::tray::refresh(&self.app);
    }

    fn send<T: Serialize + Clone>(&self, name: &str, payload: T) {
        if let Err(e) = self.app.emit(name, payload) {
            tracing::warn!(event = name, error = %e, "cannot emit event");
        }
    }
}

impl EventSink for TauriSink {
    fn emit(&self, event: AppEvent) {
        match event {
            AppEvent::ChallengesChanged(list) => {
                self.notifier.close_groups_except(&list);
                self.send("challenges-changed", list);
                self.refresh_tray();
            }
            AppEvent::ChallengeAnnounced { challenge, alert } => {
                let n = self.notifier.clone();
                let app = self.app.clone();
                match alert {
                    Alert::Single { one_click } => {
                        tauri::async_runtime::spawn(n.show(app, challenge, one_click));
                    }
                    Alert::Grouped { pending, sound } => {
                        tauri::async_runtime::spawn(n.show_group(app, challenge, pending, sound));
                    }
                    Alert::Silent(_) => {}
                }
            }
            AppEvent::ChallengeRemoved {
                factor_sid,
                sid,
                reason,
            } => {
                // Closed in the same poll that learnt it, before the window hears of it.
                self.notifier.close(&factor_sid, &sid);
                self.send(
                    "challenge-removed",
                    ChallengeRemovedEvent {
                        factor_sid,
                        sid,
                        reason,
                    },
                );
            }
            AppEvent::ChallengeAnswered(view) => self.send("challenge-answered", view),
            AppEvent::WatcherStatus(status) => {
                self.send("watcher-status", status);
                self.refresh_tray();
            }
            AppEvent::AccountsChanged(list) => self.send("accounts-changed", list),
            AppEvent::EnrollProgress(step) => {
                self.send("enroll-progress", EnrollProgressEvent { step })
            }
            AppEvent::EnrollRequest(view) => self.send("enroll-request", view),
            AppEvent::VerificationChanged(view) => self.send("verification-changed", view),
            AppEvent::RelayedSignIn(ev) => crate::window::show_relayed(&self.app, ev),
        }
    }
}
