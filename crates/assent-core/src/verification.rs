//! "Confirm it's you before approving": an optional app PIN asked on Approve only (never on
//! launch, listing or denying), for every account or for chosen ones.
//!
//! The PIN is kept only as an Argon2id hash (PHC string) in `verification.json` in the
//! owner-only data directory, with the count of wrong tries: after [`FREE_TRIES`] wrong PINs in
//! a row approving is locked for [`LOCK_FIRST`], doubling with every further wrong PIN up to
//! [`LOCK_MAX`]. The count survives restarts; a right PIN resets it. Changing the scope or
//! removing the PIN needs the PIN, so nothing the web view sends can switch it off.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use zeroize::Zeroizing;

use crate::{jsonfile, AppError};

/// Shortest PIN accepted.
pub const PIN_MIN_DIGITS: usize = 6;
/// Longest PIN accepted (bounds the hashing input).
pub const PIN_MAX_DIGITS: usize = 32;
/// Wrong PINs in a row before approving locks.
pub const FREE_TRIES: u32 = 5;
/// The first lock after [`FREE_TRIES`] wrong PINs.
pub const LOCK_FIRST: Duration = Duration::from_secs(30);
/// The longest lock.
pub const LOCK_MAX: Duration = Duration::from_secs(3600);

/// A PIN as typed: digits only, never shown in Debug or logs, wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(Zeroizing<String>);

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

impl Pin {
    /// Checks the form: [`PIN_MIN_DIGITS`] to [`PIN_MAX_DIGITS`] ASCII digits.
    pub fn new(text: String) -> Result<Pin, AppError> {
        let text = Zeroizing::new(text);
        let n = text.len();
        if !(PIN_MIN_DIGITS..=PIN_MAX_DIGITS).contains(&n)
            || !text.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(AppError::Input(format!(
                "a PIN is {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits"
            )));
        }
        Ok(Pin(text))
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// Which accounts ask for the PIN on Approve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Scope {
    /// Every account.
    All,
    /// Only these accounts (factor SIDs).
    #[serde(rename_all = "camelCase")]
    Accounts {
        /// YF… SIDs.
        factor_sids: Vec<String>,
    },
}

impl Scope {
    fn covers(&self, factor_sid: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Accounts { factor_sids } => factor_sids.iter().any(|s| s == factor_sid),
        }
    }
}

/// What the window shows about verification (never the hash).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct VerificationView {
    /// A PIN is set.
    pub enabled: bool,
    /// The accounts it covers (`null` when no PIN is set).
    pub scope: Option<Scope>,
    /// Approving is locked until then after too many wrong PINs.
    pub locked_until: Option<String>,
    /// Wrong PINs since the last right one.
    pub failures: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Record {
    /// PHC string of the Argon2id hash.
    pin_hash: Option<String>,
    scope: Option<Scope>,
    failures: u32,
    locked_until: Option<DateTime<Utc>>,
}

/// The PIN record, persisted in `verification.json`.
#[derive(Debug)]
pub struct VerificationStore {
    path: PathBuf,
    rec: Mutex<Record>,
}

impl VerificationStore {
    /// Loads the file. An unreadable file keeps approving locked behind an error rather than
    /// silently dropping the PIN: it is reported and treated as "a PIN is set, covering all".
    pub fn load(path: PathBuf) -> VerificationStore {
        let rec = jsonfile::load(&path).unwrap_or_else(|e| {
            tracing::error!(error = %e, "verification file unreadable; approving needs a PIN that cannot be checked until it is fixed or removed");
            Record {
                pin_hash: Some(String::new()),
                scope: Some(Scope::All),
                ..Record::default()
            }
        });
        VerificationStore {
            path,
            rec: Mutex::new(rec),
        }
    }

    /// The window's view at `now`.
    pub fn view(&self, now: DateTime<Utc>) -> VerificationView {
        let r = self.lock();
        VerificationView {
            enabled: r.pin_hash.is_some(),
            scope: r.pin_hash.as_ref().and(r.scope.clone()),
            locked_until: r
                .locked_until
                .filter(|t| *t > now)
                .map(crate::views::rfc3339),
            failures: r.failures,
        }
    }

    /// Whether approving a request of `factor_sid` asks for the PIN.
    pub fn required_for(&self, factor_sid: &str) -> bool {
        let r = self.lock();
        r.pin_hash.is_some() && r.scope.as_ref().is_some_and(|s| s.covers(factor_sid))
    }

    /// Checks `pin` for an approval at `now`. Blocking (Argon2id): call off the async threads.
    pub fn verify(&self, pin: &Pin, now: DateTime<Utc>) -> Result<(), AppError> {
        let mut r = self.lock();
        if let Some(until) = r.locked_until.filter(|t| *t > now) {
            return Err(AppError::PinLocked {
                until: crate::views::rfc3339(until),
            });
        }
        let Some(hash) = r.pin_hash.clone() else {
            return Ok(());
        };
        if matches_hash(pin, &hash) {
            if r.failures != 0 || r.locked_until.is_some() {
                r.failures = 0;
                r.locked_until = None;
                self.save(&r)?;
            }
            return Ok(());
        }
        r.failures = r.failures.saturating_add(1);
        let remaining = FREE_TRIES.saturating_sub(r.failures);
        if remaining == 0 {
            let until = now + chrono_duration(lock_for(r.failures));
            r.locked_until = Some(until);
            tracing::warn!(failures = r.failures, until = %until, "wrong PIN; approving locked");
            self.save(&r)?;
            return Err(AppError::PinLocked {
                until: crate::views::rfc3339(until),
            });
        }
        tracing::warn!(failures = r.failures, remaining, "wrong PIN");
        self.save(&r)?;
        Err(AppError::PinWrong { remaining })
    }

    /// Sets a new PIN and its scope. When a PIN is already set, `current` must be it (checked
    /// as for an approval, with the same lock). Blocking (Argon2id).
    pub fn set_pin(
        &self,
        current: Option<&Pin>,
        new: &Pin,
        scope: Scope,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        self.check_current(current, now)?;
        let hash = Argon2::default()
            .hash_password(new.bytes())
            .map_err(|e| AppError::Storage(format!("cannot hash the PIN: {e}")))?
            .to_string();
        let mut r = self.lock();
        *r = Record {
            pin_hash: Some(hash),
            scope: Some(scope),
            failures: 0,
            locked_until: None,
        };
        self.save(&r)
    }

    /// Changes which accounts ask for the PIN; needs the PIN. Blocking (Argon2id).
    pub fn set_scope(
        &self,
        current: &Pin,
        scope: Scope,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        self.check_current(Some(current), now)?;
        let mut r = self.lock();
        r.scope = Some(scope);
        self.save(&r)
    }

    /// Removes the PIN; needs the PIN. Blocking (Argon2id).
    pub fn remove(&self, current: &Pin, now: DateTime<Utc>) -> Result<(), AppError> {
        self.check_current(Some(current), now)?;
        let mut r = self.lock();
        *r = Record::default();
        self.save(&r)
    }

    fn check_current(&self, current: Option<&Pin>, now: DateTime<Utc>) -> Result<(), AppError> {
        if self.lock().pin_hash.is_none() {
            return Ok(());
        }
        match current {
            Some(pin) => self.verify(pin, now),
            None => Err(AppError::VerificationRequired),
        }
    }

    fn save(&self, r: &Record) -> Result<(), AppError> {
        jsonfile::save(&self.path, r)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Record> {
        // Field writes only: a panic cannot leave the record half-changed.
        self.rec.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The lock after the `failures`-th wrong PIN in a row (`failures` ≥ [`FREE_TRIES`]).
pub fn lock_for(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(FREE_TRIES).min(16);
    LOCK_FIRST.saturating_mul(1 << doublings).min(LOCK_MAX)
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or_else(|_| chrono::Duration::hours(1))
}

fn matches_hash(pin: &Pin, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default().verify_password(pin.bytes(), &h).is_ok(),
        Err(e) => {
            tracing::error!(error = %e, "stored PIN hash is unreadable; no PIN matches it");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(s: &str) -> Pin {
        Pin::new(s.to_owned()).unwrap()
    }

    #[test]
    fn pins_are_six_to_thirty_two_digits_and_never_printed() {
        for bad in [
            "",
            "12345",
            "12345a",
            "１２３４５６",
            " 123456",
            &"1".repeat(33),
        ] {
            assert!(Pin::new(bad.to_owned()).is_err(), "{bad:?}");
        }
        assert!(Pin::new("123456".into()).is_ok());
        assert_eq!(format!("{:?}", pin("987654")), "Pin(<redacted>)");
    }

    #[test]
    fn only_the_hash_is_stored_and_the_right_pin_passes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("verification.json");
        let store = VerificationStore::load(path.clone());
        let now = Utc::now();
        assert!(!store.required_for("YF1"));
        store
            .set_pin(None, &pin("246810"), Scope::All, now)
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("246810"), "{text}");
        assert!(text.contains("$argon2id$"), "{text}");
        assert!(store.required_for("YF1"));
        store.verify(&pin("246810"), now).unwrap();
        // A restart keeps it.
        let again = VerificationStore::load(path);
        again.verify(&pin("246810"), now).unwrap();
        assert!(matches!(
            again.verify(&pin("111111"), now),
            Err(AppError::PinWrong { remaining: 4 })
        ));
    }

    #[test]
    fn five_wrong_pins_lock_for_a_growing_delay_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("verification.json");
        let store = VerificationStore::load(path.clone());
        let t0 = Utc::now();
        store.set_pin(None, &pin("135790"), Scope::All, t0).unwrap();
        for left in (1..FREE_TRIES).rev() {
            match store.verify(&pin("000000"), t0) {
                Err(AppError::PinWrong { remaining }) => assert_eq!(remaining, left),
                other => panic!("{other:?}"),
            }
        }
        let Err(AppError::PinLocked { until }) = store.verify(&pin("000000"), t0) else {
            panic!("locked after five");
        };
        let until = DateTime::parse_from_rfc3339(&until).unwrap();
        assert_eq!((until.timestamp() - t0.timestamp()), 30);
        // Locked: even the right PIN is refused, and nothing is counted.
        let restarted = VerificationStore::load(path);
        assert!(matches!(
            restarted.verify(&pin("135790"), t0 + chrono::Duration::seconds(10)),
            Err(AppError::PinLocked { .. })
        ));
        assert_eq!(restarted.view(t0).failures, 5);
        // After the lock, one more wrong PIN locks again for twice as long.
        let t1 = t0 + chrono::Duration::seconds(31);
        let Err(AppError::PinLocked { until }) = restarted.verify(&pin("000000"), t1) else {
            panic!("locked again");
        };
        let until = DateTime::parse_from_rfc3339(&until).unwrap();
        assert_eq!(until.timestamp() - t1.timestamp(), 60);
        // The right PIN after that lock resets everything.
        let t2 = t1 + chrono::Duration::seconds(61);
        restarted.verify(&pin("135790"), t2).unwrap();
        assert_eq!(restarted.view(t2).failures, 0);
        assert_eq!(restarted.view(t2).locked_until, None);
    }

    #[test]
    fn growing_delay_is_capped() {
        assert_eq!(lock_for(5), Duration::from_secs(30));
        assert_eq!(lock_for(6), Duration::from_secs(60));
        assert_eq!(lock_for(9), Duration::from_secs(480));
        assert_eq!(lock_for(40), LOCK_MAX);
    }

    #[test]
    fn scope_and_removal_need_the_pin() {
        let dir = tempfile::tempdir().unwrap();
        let store = VerificationStore::load(dir.path().join("verification.json"));
        let now = Utc::now();
        let only = Scope::Accounts {
            factor_sids: vec!["YF1".into()],
        };
        store.set_pin(None, &pin("123456"), only, now).unwrap();
        assert!(store.required_for("YF1"));
        assert!(!store.required_for("YF2"));
        // Replacing the PIN without the old one is refused.
        assert!(matches!(
            store.set_pin(None, &pin("654321"), Scope::All, now),
            Err(AppError::VerificationRequired)
        ));
        assert!(matches!(
            store.remove(&pin("999999"), now),
            Err(AppError::PinWrong { .. })
        ));
        assert!(matches!(
            store.set_scope(&pin("999999"), Scope::All, now),
            Err(AppError::PinWrong { .. })
        ));
        assert!(!store.required_for("YF2"), "unchanged");
        store.set_scope(&pin("123456"), Scope::All, now).unwrap();
        assert!(store.required_for("YF2"));
        store.remove(&pin("123456"), now).unwrap();
        assert!(!store.required_for("YF1"));
        assert_eq!(store.view(now).scope, None);
    }

    #[test]
    fn an_unreadable_file_keeps_approving_behind_the_pin() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("verification.json");
        std::fs::write(&path, b"{not json").unwrap();
        let store = VerificationStore::load(path);
        assert!(store.required_for("YF1"));
        assert!(matches!(
            store.verify(&pin("123456"), Utc::now()),
            Err(AppError::PinWrong { .. })
        ));
    }
}
