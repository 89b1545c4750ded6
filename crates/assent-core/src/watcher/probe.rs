//! What the watcher asks of the machine: whether the user is idle, the wall clock, and a
//! fingerprint of the network configuration.

use std::time::{Duration, SystemTime};

/// Tells the watcher how long the user has been idle.
pub trait IdleSource: Send + Sync + 'static {
    /// Time since the last user input, or `None` when unknown (treated as active).
    fn idle_time(&self) -> Option<Duration>;
}

/// An idle source that never reports idleness (CLI, tests).
#[derive(Debug, Default, Clone, Copy)]
pub struct NeverIdle;

impl IdleSource for NeverIdle {
    fn idle_time(&self) -> Option<Duration> {
        None
    }
}

/// What the loop watches besides its timer. The OS implementation reads the real wall clock
/// and network configuration; tests substitute their own to simulate a resume or a network
/// coming back.
pub trait SystemProbe: std::fmt::Debug + Send + Sync + 'static {
    /// The wall clock (it keeps running while the machine sleeps; the monotonic one does not).
    fn wall_clock(&self) -> SystemTime;
    /// A fingerprint of the network configuration; a change means "the network may be back".
    fn network_fingerprint(&self) -> u64;
}

/// The real wall clock and the OS network configuration.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsProbe;

impl SystemProbe for OsProbe {
    fn wall_clock(&self) -> SystemTime {
        SystemTime::now()
    }

    fn network_fingerprint(&self) -> u64 {
        network_fingerprint()
    }
}

/// The monotonic clock stops while the machine sleeps and the wall clock does not: a wall-clock
/// step much larger than the monotonic one means we just woke up (or the clock was set forward;
/// an extra poll is harmless either way).
pub(super) fn resumed_from_sleep(
    wall_elapsed: Duration,
    mono_elapsed: Duration,
    jump: Duration,
) -> bool {
    wall_elapsed > mono_elapsed + jump
}

/// A cheap fingerprint of the network configuration (interfaces, their state, routes).
/// A change means "the network may be back": poll now instead of waiting out the backoff.
pub(super) fn network_fingerprint() -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    if cfg!(target_os = "linux") {
        if let Ok(routes) = std::fs::read_to_string("/proc/net/route") {
            routes.hash(&mut h);
        }
        if let Ok(entries) = std::fs::read_dir("/sys/class/net") {
            let mut names: Vec<_> = entries.flatten().map(|e| e.path()).collect();
            names.sort();
            for p in names {
                p.hash(&mut h);
                if let Ok(state) = std::fs::read_to_string(p.join("operstate")) {
                    state.hash(&mut h);
                }
            }
        }
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wall_clock_jump_beyond_the_tick_counts_as_resume() {
        let jump = Duration::from_secs(5);
        let tick = Duration::from_secs(1);
        assert!(!resumed_from_sleep(tick, tick, jump));
        assert!(!resumed_from_sleep(Duration::from_secs(5), tick, jump));
        assert!(resumed_from_sleep(Duration::from_secs(3600), tick, jump));
        // The wall clock going backwards (NTP) is not a resume.
        assert!(!resumed_from_sleep(Duration::ZERO, tick, jump));
    }

    #[test]
    fn network_fingerprint_is_stable_without_changes() {
        assert_eq!(network_fingerprint(), network_fingerprint());
    }
}
