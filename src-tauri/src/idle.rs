//! The user's idle time for the watcher's slower idle interval.
//!
//! On X11 a background thread asks the XScreenSaver extension for the time since the last
//! keyboard or mouse input every few seconds (libXss is loaded at run time, like tao loads
//! Xlib). On Windows `GetLastInputInfo` answers the same question directly (one cheap call per
//! ask, no thread). Where neither is available (Wayland without XWayland, macOS, other OSes)
//! idle time is unknown and the watcher treats the user as active, so requests are never
//! noticed late. A shown
//! window and focusing it also count as activity (`GuiIdle`, `Watcher::note_interaction`).

use std::sync::atomic::{AtomicU64, AtomicU8};
use std::sync::Arc;
use std::time::Duration;

use assent_core::{IdleSource, SessionProbe, SessionState};

const UNKNOWN: u64 = u64::MAX;

/// Screen lock states in [`SystemIdle::locked`].
const LOCK_UNKNOWN: u8 = 0;
const UNLOCKED: u8 = 1;
const LOCKED: u8 = 2;

/// Idle time sampled by a background thread.
#[derive(Debug, Clone)]
pub struct SystemIdle {
    // Windows asks the OS on every call instead.
    #[cfg_attr(windows, allow(dead_code))]
    idle_ms: Arc<AtomicU64>,
    /// Whether the X screen saver is active (taken as locked); unknown elsewhere.
    #[cfg_attr(windows, allow(dead_code))]
    locked: Arc<AtomicU8>,
}

impl SystemIdle {
    /// Starts sampling (no-op where unsupported). The log says when the desktop goes idle for
    /// longer than `away` (silent approval's limit) and when the screen locks, and when each
    /// ends, so a silent approval that prompted can be explained.
    #[cfg_attr(not(target_os = "linux"), allow(unused_variables))]
    pub fn start(away: Duration) -> SystemIdle {
        let idle_ms = Arc::new(AtomicU64::new(UNKNOWN));
        let locked = Arc::new(AtomicU8::new(LOCK_UNKNOWN));
        #[cfg(target_os = "linux")]
        x11::spawn(idle_ms.clone(), locked.clone(), away);
        SystemIdle { idle_ms, locked }
    }
}

/// Silent approval asks the system itself (a shown window is not input), and an unknown
/// lock state counts as locked ([`assent_core::silent`]).
impl SessionProbe for SystemIdle {
    fn session(&self) -> SessionState {
        let locked = match self.locked.load(std::sync::atomic::Ordering::Relaxed) {
            UNLOCKED => Some(false),
            LOCKED => Some(true),
            _ => None,
        };
        SessionState {
            input_idle: self.idle_time(),
            locked,
        }
    }
}

impl IdleSource for SystemIdle {
    #[cfg(windows)]
    fn idle_time(&self) -> Option<Duration> {
        win::idle_time()
    }

    #[cfg(not(windows))]
    fn idle_time(&self) -> Option<Duration> {
        match self.idle_ms.load(std::sync::atomic::Ordering::Relaxed) {
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

/// Milliseconds since the last input, from two readings of the 32-bit millisecond tick counter
/// (`GetTickCount` and `LASTINPUTINFO::dwTime`). The counter wraps every 49.7 days; wrapping
/// subtraction keeps the answer right across the wrap.
#[cfg_attr(not(windows), allow(dead_code))]
fn ms_since_input(now_tick: u32, last_input_tick: u32) -> u64 {
    u64::from(now_tick.wrapping_sub(last_input_tick))
}

#[cfg(windows)]
mod win {
    use std::time::Duration;

    use windows_sys::Win32::System::SystemInformation::GetTickCount;
    use windows_sys::Win32::UI::Input::KeyboardAndMouse::{GetLastInputInfo, LASTINPUTINFO};

    /// Time since the last keyboard or mouse input of this session; `None` if Windows refuses.
    #[allow(unsafe_code)]
    pub(super) fn idle_time() -> Option<Duration> {
        let mut info = LASTINPUTINFO {
            cbSize: std::mem::size_of::<LASTINPUTINFO>() as u32,
            dwTime: 0,
        };
        // SAFETY: `info` is a properly sized, writable LASTINPUTINFO that outlives the call.
        let ok = unsafe { GetLastInputInfo(&mut info) };
        if ok == 0 {
            return None;
        }
        // SAFETY: no arguments, no preconditions.
        let now = unsafe { GetTickCount() };
        Some(Duration::from_millis(super::ms_since_input(
            now,
            info.dwTime,
        )))
    }
}

#[cfg(target_os = "linux")]
mod x11 {
    use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::{LOCKED, LOCK_UNKNOWN, UNKNOWN, UNLOCKED};

    const SAMPLE_EVERY: Duration = Duration::from_secs(3);

    pub(super) fn spawn(out: Arc<AtomicU64>, locked: Arc<AtomicU8>, away: Duration) {
        if std::env::var_os("DISPLAY").is_none() {
            return;
        }
        let started = std::thread::Builder::new()
            .name("idle-monitor".into())
            .spawn(move || run(&out, &locked, away));
        if let Err(e) = started {
            tracing::warn!(error = %e, "idle monitor not started");
        }
    }

    #[allow(unsafe_code)]
    fn run(out: &AtomicU64, locked: &AtomicU8, away: Duration) {
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
            let mut changes = Changes::default();
            loop {
                let ok = (xss.XScreenSaverQueryInfo)(display, root, info);
                let (v, lock) = if ok != 0 {
                    // The screen saver running (on or cycling) is what screen lockers hook into.
                    let lock = match (*info).state {
                        x11_dl::xss::ScreenSaverOff | x11_dl::xss::ScreenSaverDisabled => UNLOCKED,
                        _ => LOCKED,
                    };
                    // c_ulong is 64-bit on Linux x86_64/aarch64; `into` keeps 32-bit targets compiling.
                    #[allow(clippy::useless_conversion)]
                    (u64::from((*info).idle), lock)
                } else {
                    (UNKNOWN, LOCK_UNKNOWN)
                };
                out.store(v, Ordering::Relaxed);
                locked.store(lock, Ordering::Relaxed);
                changes.note(v, lock, away);
                std::thread::sleep(SAMPLE_EVERY);
            }
        }
    }

    /// Remembers the last sample's away and lock state, to log only their changes.
    #[derive(Debug, Default)]
    struct Changes {
        away: bool,
        lock: u8,
    }

    impl Changes {
        /// Logs what changed since the last sample (`idle_ms`, a lock state) against `away`.
        fn note(&mut self, idle_ms: u64, lock: u8, away: Duration) {
            let is_away = idle_ms != UNKNOWN && u128::from(idle_ms) >= away.as_millis();
            if is_away != self.away {
                self.away = is_away;
                if is_away {
                    tracing::info!(
                        secs = away.as_secs(),
                        "desktop idle: no input for the silent-approval limit"
                    );
                } else {
                    tracing::info!("desktop active again");
                }
            }
            if lock != self.lock {
                self.lock = lock;
                let state = match lock {
                    LOCKED => "locked",
                    UNLOCKED => "unlocked",
                    _ => "unknown",
                };
                tracing::info!(state, "screen lock state changed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_milliseconds_survive_the_tick_counter_wrap() {
        assert_eq!(ms_since_input(5_000, 2_000), 3_000);
        assert_eq!(ms_since_input(7, 7), 0);
        // Input 10 ms before the 49.7-day wrap, asked 5 ms after it.
        assert_eq!(ms_since_input(5, u32::MAX - 9), 15);
    }

    #[cfg(windows)]
    #[test]
    fn windows_reports_an_idle_time() {
        // Any interactive or service session has a last-input tick; the value itself varies.
        assert!(SystemIdle::start(Duration::from_secs(60))
            .idle_time()
            .is_some());
    }
}
