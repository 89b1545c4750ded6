//! The user's idle time for the watcher's slower idle interval.
//!
//! On X11 a background thread asks the XScreenSaver extension for the time since the last
//! keyboard or mouse input every few seconds (libXss is loaded at run time, like tao loads
//! Xlib). Where that is unavailable (Wayland without XWayland, other OSes) idle time is unknown
//! and the watcher treats the user as active, so requests are never noticed late. A shown
//! window and focusing it also count as activity (`GuiIdle`, `Watcher::note_interaction`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use assent_core::IdleSource;

const UNKNOWN: u64 = u64::MAX;

/// Idle time sampled by a background thread.
#[derive(Debug, Clone)]
pub struct SystemIdle {
    idle_ms: Arc<AtomicU64>,
}

impl SystemIdle {
    /// Starts sampling (no-op where unsupported).
    pub fn start() -> SystemIdle {
        let idle_ms = Arc::new(AtomicU64::new(UNKNOWN));
        #[cfg(target_os = "linux")]
        x11::spawn(idle_ms.clone());
        SystemIdle { idle_ms }
    }
}

impl IdleSource for SystemIdle {
    fn idle_time(&self) -> Option<Duration> {
        match self.idle_ms.load(Ordering::Relaxed) {
            UNKNOWN => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }
}

/// The GUI's idle signal: a shown window (a live countdown on screen) counts as activity;
/// otherwise the system's input idle time decides.
#[derive(Debug, Clone)]
pub struct GuiIdle(pub SystemIdle);

impl IdleSource for GuiIdle {
    fn idle_time(&self) -> Option<Duration> {
        if crate::window::is_shown() {
            return Some(Duration::ZERO);
        }
        self.0.idle_time()
    }
}

#[cfg(target_os = "linux")]
mod x11 {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::UNKNOWN;

    const SAMPLE_EVERY: Duration = Duration::from_secs(3);

    pub(super) fn spawn(out: Arc<AtomicU64>) {
        if std::env::var_os("DISPLAY").is_none() {
            return;
        }
        let started = std::thread::Builder::new()
            .name("idle-monitor".into())
            .spawn(move || run(&out));
        if let Err(e) = started {
            tracing::warn!(error = %e, "idle monitor not started");
        }
    }

    #[allow(unsafe_code)]
    fn run(out: &AtomicU64) {
        let (Ok(xlib), Ok(xss)) = (x11_dl::xlib::Xlib::open(), x11_dl::xss::Xss::open()) else {
            tracing::info!(
                "XScreenSaver unavailable; idle time unknown (always the active interval)"
            );
            return;
        };
        // SAFETY: plain Xlib calls through function pointers loaded above. This thread opens its
        // own Display connection and is the only user of it (Xlib connections are not shared
        // across threads), and `info` is allocated by libXss for this connection's queries.
        unsafe {
            let display = (xlib.XOpenDisplay)(std::ptr::null());
            if display.is_null() {
                return;
            }
            let root = (xlib.XDefaultRootWindow)(display);
            let info = (xss.XScreenSaverAllocInfo)();
            if info.is_null() {
                (xlib.XCloseDisplay)(display);
                return;
            }
            tracing::info!("idle monitor running (XScreenSaver)");
            loop {
                let ok = (xss.XScreenSaverQueryInfo)(display, root, info);
                let v = if ok != 0 {
                    // c_ulong is 64-bit on Linux x86_64/aarch64; `into` keeps 32-bit targets compiling.
                    #[allow(clippy::useless_conversion)]
                    u64::from((*info).idle)
                } else {
                    UNKNOWN
                };
                out.store(v, Ordering::Relaxed);
                std::thread::sleep(SAMPLE_EVERY);
            }
        }
    }
}
