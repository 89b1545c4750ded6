//! User settings: a JSON file in the data directory, written atomically.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ts_rs::TS;

use crate::{jsonfile, AppError};

/// Poll interval bounds (seconds): faster than 1 s hammers the API, slower than an hour is useless.
pub const POLL_SECS_RANGE: std::ops::RangeInclusive<u64> = 1..=3600;

/// User settings (camelCase JSON, the contract's `Settings`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    /// Poll interval while the user is active.
    pub poll_interval_secs: u64,
    /// Poll interval while the user is idle (no input for [`crate::WatcherConfig::idle_after`]).
    pub idle_poll_interval_secs: u64,
    /// Show desktop notifications for new requests.
    pub notifications_enabled: bool,
    /// Start (hidden, in the tray) at login.
    pub start_at_login: bool,
    /// Notifications paused until then, or forever; `None` when not paused.
    pub paused_until: Option<PausedUntil>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            poll_interval_secs: 2,
            idle_poll_interval_secs: 15,
            notifications_enabled: true,
            start_at_login: false,
            paused_until: None,
        }
    }
}

impl Settings {
    /// Whether notifications are paused at `now`.
    pub fn is_paused(&self, now: DateTime<Utc>) -> bool {
        match self.paused_until {
            Some(PausedUntil::Forever) => true,
            Some(PausedUntil::Until(t)) => t > now,
            None => false,
        }
    }

    /// Whether a new challenge should raise a desktop notification at `now`.
    pub fn should_notify(&self, now: DateTime<Utc>) -> bool {
        self.notifications_enabled && !self.is_paused(now)
    }

    /// The poll interval for the user's state.
    pub fn interval(&self, idle: bool) -> Duration {
        Duration::from_secs(if idle {
            self.idle_poll_interval_secs
        } else {
            self.poll_interval_secs
        })
    }

    /// Checks bounds; the UI gets a clear `input` error instead of a silently clamped value.
    pub fn validate(&self) -> Result<(), AppError> {
        for (name, v) in [
            ("pollIntervalSecs", self.poll_interval_secs),
            ("idlePollIntervalSecs", self.idle_poll_interval_secs),
        ] {
            if !POLL_SECS_RANGE.contains(&v) {
                return Err(AppError::Input(format!(
                    "{name} must be between {} and {} seconds (got {v})",
                    POLL_SECS_RANGE.start(),
                    POLL_SECS_RANGE.end()
                )));
            }
        }
        if self.idle_poll_interval_secs < self.poll_interval_secs {
            return Err(AppError::Input(
                "idlePollIntervalSecs must not be shorter than pollIntervalSecs".into(),
            ));
        }
        Ok(())
    }
}

/// `pausedUntil`: an RFC 3339 time or the string `"forever"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, TS)]
#[ts(type = "string")]
pub enum PausedUntil {
    /// Until resumed by the user.
    Forever,
    /// Until this time.
    Until(DateTime<Utc>),
}

impl Serialize for PausedUntil {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PausedUntil::Forever => s.serialize_str("forever"),
            PausedUntil::Until(t) => s.serialize_str(&crate::views::rfc3339(*t)),
        }
    }
}

impl<'de> Deserialize<'de> for PausedUntil {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "forever" {
            return Ok(PausedUntil::Forever);
        }
        DateTime::parse_from_rfc3339(&s)
            .map(|t| PausedUntil::Until(t.with_timezone(&Utc)))
            .map_err(|_| {
                serde::de::Error::custom("pausedUntil must be an RFC 3339 time or \"forever\"")
            })
    }
}

/// The settings file plus its in-memory copy.
#[derive(Debug)]
pub struct SettingsStore {
    path: PathBuf,
    current: Mutex<Settings>,
}

impl SettingsStore {
    /// Loads `path` (defaults when missing). An invalid file falls back to defaults with a
    /// warning rather than keeping the app from starting.
    pub fn load(path: PathBuf) -> SettingsStore {
        let current = match jsonfile::load::<Settings>(&path) {
            Ok(s) if s.validate().is_ok() => s,
            Ok(_) | Err(_) => {
                tracing::warn!(path = %path.display(), "settings file unreadable or out of range; using defaults");
                Settings::default()
            }
        };
        SettingsStore {
            path,
            current: Mutex::new(current),
        }
    }

    /// The current settings.
    pub fn get(&self) -> Settings {
        self.lock().clone()
    }

    /// Validates, saves and returns the new settings.
    pub fn set(&self, new: Settings) -> Result<Settings, AppError> {
        new.validate()?;
        let mut cur = self.lock();
        jsonfile::save(&self.path, &new)?;
        *cur = new.clone();
        Ok(new)
    }

    /// Applies `f` to a copy of the settings and saves the result.
    pub fn update(&self, f: impl FnOnce(&mut Settings)) -> Result<Settings, AppError> {
        let mut s = self.get();
        f(&mut s);
        self.set(s)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Settings> {
        // A panic while holding this lock cannot leave Settings half-updated (plain assignment).
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AppErrorCode;

    #[test]
    fn contract_json_shape() {
        let s = Settings {
            paused_until: Some(PausedUntil::Forever),
            ..Settings::default()
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"pollIntervalSecs": 2, "idlePollIntervalSecs": 15,
                "notificationsEnabled": true, "startAtLogin": false, "pausedUntil": "forever"})
        );
        let back: Settings = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
        let t: Settings =
            serde_json::from_str(r#"{"pausedUntil":"2030-01-02T03:04:05Z"}"#).unwrap();
        assert!(t.is_paused(Utc::now()));
        assert!(serde_json::from_str::<Settings>(r#"{"pausedUntil":"soon"}"#).is_err());
    }

    #[test]
    fn out_of_range_is_an_input_error_and_not_saved() {
        let dir = tempfile::tempdir().unwrap();
        let store = SettingsStore::load(dir.path().join("settings.json"));
        let bad = Settings {
            poll_interval_secs: 0,
            ..Settings::default()
        };
        assert_eq!(store.set(bad).unwrap_err().code(), AppErrorCode::Input);
        assert!(!dir.path().join("settings.json").exists());
        let ok = store.update(|s| s.poll_interval_secs = 5).unwrap();
        assert_eq!(ok.poll_interval_secs, 5);
        let again = SettingsStore::load(dir.path().join("settings.json"));
        assert_eq!(again.get().poll_interval_secs, 5);
    }

    #[test]
    fn pause_expires() {
        let now = Utc::now();
        let s = Settings {
            paused_until: Some(PausedUntil::Until(now - chrono::Duration::seconds(1))),
            ..Settings::default()
        };
        assert!(!s.is_paused(now));
        assert!(s.should_notify(now));
    }
}
