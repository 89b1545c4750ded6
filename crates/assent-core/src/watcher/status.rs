//! The watcher's status (online, paused, last poll and error, clock warnings) and its
//! event, sent only when it changed.

use chrono::Utc;

use super::Watcher;
use crate::error::ErrorView;
use crate::events::AppEvent;
use crate::views::{ClockWarning, WatcherStatus};

impl Watcher {
    /// The status shown by the offline banner and the tray.
    pub fn status(&self) -> WatcherStatus {
        let st = self.state();
        WatcherStatus {
            online: st.online,
            paused: st.paused,
            last_poll_at: st.last_poll_at.map(crate::views::rfc3339),
            last_error: st.last_error.clone(),
            clock_warnings: st.clock_warnings.clone(),
        }
    }

    /// Re-reads the pause setting and emits a status event if it changed.
    pub fn refresh_paused(&self) {
        let paused = self.inner.settings.get().is_paused(Utc::now());
        self.state().paused = paused;
        self.emit_status_if_changed();
    }

    pub(super) fn finish_poll(&self, online: bool, error: Option<ErrorView>) {
        self.finish_poll_with_clock(online, error, None);
    }

    /// [`Watcher::finish_poll`], also replacing the clock warnings when `clock` is given.
    pub(super) fn finish_poll_with_clock(
        &self,
        online: bool,
        error: Option<ErrorView>,
        clock: Option<Vec<ClockWarning>>,
    ) {
        {
            let mut st = self.state();
            if let Some(w) = clock {
                for c in w.iter().filter(|c| !st.clock_warnings.contains(c)) {
                    tracing::warn!(server = %c.server, offset_secs = c.offset_secs, "server clock implausibly far off; not corrected");
                }
                st.clock_warnings = w;
            }
            if st.online != online {
                if online {
                    tracing::info!("watcher online");
                } else {
                    tracing::warn!("watcher offline");
                }
            }
            st.online = online;
            st.last_poll_at = Some(Utc::now());
            st.last_error = error;
        }
        self.emit_status_if_changed();
    }

    fn emit_status_if_changed(&self) {
        let status = self.status();
        let key = (
            status.online,
            status.paused,
            status.last_error.clone(),
            status.clock_warnings.clone(),
        );
        {
            let mut st = self.state();
            if st.last_sent.as_ref() == Some(&key) {
                return;
            }
            st.last_sent = Some(key);
        }
        self.inner.sink.emit(AppEvent::WatcherStatus(status));
    }
}
