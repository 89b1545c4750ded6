//! The OS keychain through `keyring` 3 (Linux Secret Service, macOS Keychain, Windows
//! Credential Manager). One entry per key: service = our service name, user = key alias,
//! secret = the raw 32-byte scalar. keyring 3 cannot enumerate entries, so the list of aliases
//! is kept in one more entry of the same service (user [`INDEX_USER`]); it holds no secrets.
//! Every call has a deadline (see [`super::bounded`]): a locked keychain whose unlock prompt
//! nobody answers gives [`Error::KeychainLocked`] instead of a hang.

use super::bounded::Bounded;
use super::KeyStore;
use crate::error::Error;
use crate::secret::SecretKeyBytes;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The keychain user name of the alias index entry.
pub const INDEX_USER: &str = "assent-key-index";

/// Keys in the OS keychain.
#[derive(Debug)]
pub struct OsKeyStore {
    // Shared with the worker threads that make the (blocking) keychain calls.
    inner: Arc<Entries>,
    bounded: Bounded,
}

impl OsKeyStore {
    /// A store under keychain service `service` (e.g. `dev.assent.Assent`); calls give up
    /// after [`super::KEYCHAIN_TIMEOUT`].
    pub fn new(service: impl Into<String>) -> Self {
        Self::with_timeout(service, super::bounded::DEFAULT_TIMEOUT)
    }

    /// Like [`OsKeyStore::new`] with another deadline per keychain call.
    pub fn with_timeout(service: impl Into<String>, timeout: Duration) -> Self {
        Self {
            inner: Arc::new(Entries {
                service: service.into(),
                index_lock: Mutex::new(()),
            }),
            bounded: Bounded::new(timeout),
        }
    }

    /// The keychain service name.
    pub fn service(&self) -> &str {
        &self.inner.service
    }

    /// The deadline of one keychain call.
    pub fn timeout(&self) -> Duration {
        self.bounded.timeout()
    }

    fn call<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Entries) -> Result<T, Error> + Send + 'static,
    {
        let inner = self.inner.clone();
        self.bounded.run(move || f(&inner))
    }
}

/// The keychain entries of one service; every method blocks on D-Bus (or the platform API).
#[derive(Debug)]
struct Entries {
    service: String,
    // Serializes index read-modify-write within this process.
    index_lock: Mutex<()>,
}

impl Entries {
    fn entry(&self, user: &str) -> Result<keyring::Entry, Error> {
        if cfg!(not(any(
            target_os = "linux",
            target_os = "macos",
            target_os = "windows"
        ))) {
            return Err(no_keychain_here());
        }
        keyring::Entry::new(&self.service, user).map_err(map_err)
    }

    fn read_index(&self) -> Result<Vec<String>, Error> {
        match self.entry(INDEX_USER)?.get_password() {
            Ok(s) => Ok(s
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()),
            Err(keyring::Error::NoEntry) => Ok(Vec::new()),
            Err(e) => Err(map_err(e)),
        }
    }

    fn write_index(&self, aliases: &[String]) -> Result<(), Error> {
        let e = self.entry(INDEX_USER)?;
        if aliases.is_empty() {
            return match e.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(err) => Err(map_err(err)),
            };
        }
        e.set_password(&aliases.join("\n")).map_err(map_err)
    }

    fn edit_index(&self, f: impl FnOnce(&mut Vec<String>)) -> Result<(), Error> {
        let _g = self.index_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.edit_index_locked(f)
    }

    /// [`Entries::edit_index`] for a caller already holding `index_lock`.
    fn edit_index_locked(&self, f: impl FnOnce(&mut Vec<String>)) -> Result<(), Error> {
        let mut idx = self.read_index()?;
        let before = idx.clone();
        f(&mut idx);
        if idx != before {
            self.write_index(&idx)?;
        }
        Ok(())
    }
}

fn check_alias(alias: &str) -> Result<(), Error> {
    if alias.is_empty() || alias == INDEX_USER || alias.contains('\n') {
        return Err(Error::Input(format!("invalid key alias {alias:?}")));
    }
    Ok(())
}

/// Maps keyring errors to typed errors with a message a user can act on. The platform detail
/// is included; keyring's errors never contain the secret (except `BadEncoding`, not shown).
pub(crate) fn map_err(e: keyring::Error) -> Error {
    map_err_on(std::env::consts::OS, e)
}

/// What to tell the user about a locked and an unreachable keychain on `os`.
fn keychain_hints(os: &str) -> (&'static str, &'static str) {
    match os {
        // keyring's Windows backend reports ERROR_NO_SUCH_LOGON_SESSION as NoStorageAccess:
        // the process runs without a logon session's credentials (a service, a network logon).
        "windows" => (
            "Windows Credential Manager refused access: sign in to Windows interactively (not as a service or over a network logon) and try again",
            "Windows Credential Manager failed: check that the Credential Manager service (VaultSvc) is running and try again",
        ),
        "macos" => (
            "unlock your login keychain (or allow access) and try again",
            "the macOS Keychain is not reachable: sign in to a graphical session and try again",
        ),
        _ => (
            "unlock your login keyring (or allow access) and try again",
            "start your keyring (on Linux a Secret Service such as gnome-keyring on the session D-Bus) and try again",
        ),
    }
}

/// [`map_err`] with the advice for `os` (a `std::env::consts::OS` value); separate so every
/// platform's wording is tested on any platform.
fn map_err_on(os: &str, e: keyring::Error) -> Error {
    let (locked, unavailable) = keychain_hints(os);
    match e {
        keyring::Error::NoStorageAccess(inner) => {
            Error::KeychainLocked(format!("{locked} ({inner})"))
        }
        keyring::Error::PlatformFailure(inner) => {
            Error::KeychainUnavailable(format!("{unavailable} ({inner})"))
        }
        keyring::Error::NoEntry => Error::KeyStorage("no such keychain entry".into()),
        keyring::Error::BadEncoding(_) => {
            Error::KeyStorage("keychain entry has an unexpected encoding".into())
        }
        keyring::Error::TooLong(what, max) => {
            Error::KeyStorage(format!("keychain attribute {what} longer than {max}"))
        }
        keyring::Error::Invalid(what, why) => {
            Error::KeyStorage(format!("keychain attribute {what} is invalid: {why}"))
        }
        keyring::Error::Ambiguous(c) => {
            Error::KeyStorage(format!("{} keychain entries match one key alias", c.len()))
        }
        other => Error::KeyStorage(other.to_string()),
    }
}

/// The error for a build whose OS has no keychain backend: keyring would fall back to its
/// in-memory mock store there and lose every key at exit, so nothing is stored at all.
pub(crate) fn no_keychain_here() -> Error {
    Error::KeychainUnavailable(format!(
        "no OS keychain backend for {} in this build; keys cannot be stored safely",
        std::env::consts::OS
    ))
}

impl Entries {
    fn put(&self, alias: &str, key: &SecretKeyBytes) -> Result<(), Error> {
        // Index first: a crash after this leaves an alias without a key (filtered by `aliases`,
        // dropped by `prune`), never a key nobody knows about. The lock spans the key write so
        // a `prune` in this process cannot drop the alias of a key being written.
        let _g = self.index_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.edit_index_locked(|idx| {
            if !idx.iter().any(|a| a == alias) {
                idx.push(alias.to_owned());
            }
        })?;
        self.entry(alias)?.set_secret(key.expose()).map_err(map_err)
    }

    fn get(&self, alias: &str) -> Result<Option<SecretKeyBytes>, Error> {
        match self.entry(alias)?.get_secret() {
            Ok(bytes) => Ok(Some(SecretKeyBytes::new(bytes))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_err(e)),
        }
    }

    fn delete(&self, alias: &str) -> Result<bool, Error> {
        let existed = match self.entry(alias)?.delete_credential() {
            Ok(()) => true,
            Err(keyring::Error::NoEntry) => false,
            Err(e) => return Err(map_err(e)),
        };
        self.edit_index(|idx| idx.retain(|a| a != alias))?;
        Ok(existed)
    }

    fn aliases(&self) -> Result<Vec<String>, Error> {
        let idx = {
            let _g = self.index_lock.lock().unwrap_or_else(|p| p.into_inner());
            self.read_index()?
        };
        self.existing(idx)
    }

    /// The aliases of `idx` whose key really exists; attributes avoid reading the secret.
    fn existing(&self, idx: Vec<String>) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        for a in idx {
            match self.entry(&a)?.get_attributes() {
                Ok(_) => out.push(a),
                Err(keyring::Error::NoEntry) => {}
                Err(e) => return Err(map_err(e)),
            }
        }
        Ok(out)
    }

    fn prune(&self) -> Result<usize, Error> {
        let _g = self.index_lock.lock().unwrap_or_else(|p| p.into_inner());
        let idx = self.read_index()?;
        let keep = self.existing(idx.clone())?;
        let gone = idx.len() - keep.len();
        if gone > 0 {
            self.write_index(&keep)?;
        }
        Ok(gone)
    }
}

impl KeyStore for OsKeyStore {
    fn put(&self, alias: &str, key: &SecretKeyBytes) -> Result<(), Error> {
        check_alias(alias)?;
        let (alias, key) = (alias.to_owned(), key.clone());
        self.call(move |e| e.put(&alias, &key))
    }

    fn get(&self, alias: &str) -> Result<Option<SecretKeyBytes>, Error> {
        check_alias(alias)?;
        let alias = alias.to_owned();
        self.call(move |e| e.get(&alias))
    }

    fn delete(&self, alias: &str) -> Result<bool, Error> {
        check_alias(alias)?;
        let alias = alias.to_owned();
        self.call(move |e| e.delete(&alias))
    }

    fn aliases(&self) -> Result<Vec<String>, Error> {
        self.call(Entries::aliases)
    }

    fn prune(&self) -> Result<usize, Error> {
        self.call(Entries::prune)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    fn io(msg: &str) -> Box<dyn std::error::Error + Send + Sync> {
        Box::new(std::io::Error::other(msg.to_owned()))
    }

    #[test]
    fn keyring_errors_map_to_clear_codes() {
        let locked = map_err_on("linux", keyring::Error::NoStorageAccess(io("locked")));
        assert_eq!(locked.code(), ErrorCode::KeychainLocked);
        assert!(locked.to_string().contains("unlock"));
        let gone = map_err_on("linux", keyring::Error::PlatformFailure(io("no bus")));
        assert_eq!(gone.code(), ErrorCode::KeychainUnavailable);
        assert!(gone.to_string().contains("Secret Service"));
        let bad = map_err(keyring::Error::BadEncoding(vec![1, 2, 3]));
        assert_eq!(bad.code(), ErrorCode::KeyStorage);
        assert!(!bad.to_string().contains("[1, 2, 3]"));
    }

    #[test]
    fn windows_credential_manager_errors_name_windows() {
        let locked = map_err_on("windows", keyring::Error::NoStorageAccess(io("1312")));
        assert_eq!(locked.code(), ErrorCode::KeychainLocked);
        assert!(locked.to_string().contains("Credential Manager"));
        assert!(locked.to_string().contains("1312"), "platform detail kept");
        let failed = map_err_on("windows", keyring::Error::PlatformFailure(io("1168")));
        assert_eq!(failed.code(), ErrorCode::KeychainUnavailable);
        assert!(failed.to_string().contains("VaultSvc"));
        assert!(!failed.to_string().contains("Secret Service"));
        // The 2560-byte blob limit of a Windows credential is a storage error, not a crash.
        let long = map_err_on("windows", keyring::Error::TooLong("password".into(), 2560));
        assert_eq!(long.code(), ErrorCode::KeyStorage);
        assert!(long.to_string().contains("2560"));
    }

    #[test]
    fn every_platform_has_its_own_advice() {
        let (lin, mac, win) = (
            keychain_hints("linux"),
            keychain_hints("macos"),
            keychain_hints("windows"),
        );
        assert!(lin != mac && mac != win && lin != win);
        assert_eq!(keychain_hints("freebsd"), lin);
    }

    #[test]
    fn a_build_without_a_keychain_refuses_to_store() {
        let e = no_keychain_here();
        assert_eq!(e.code(), ErrorCode::KeychainUnavailable);
        assert!(e.to_string().contains(std::env::consts::OS));
    }

    #[test]
    fn reserved_and_empty_aliases_are_refused() {
        let ks = OsKeyStore::new("dev.assent.Assent.unit");
        let k = SecretKeyBytes::new(vec![1; 32]);
        assert_eq!(ks.put("", &k).unwrap_err().code(), ErrorCode::Input);
        assert_eq!(ks.put(INDEX_USER, &k).unwrap_err().code(), ErrorCode::Input);
        assert_eq!(ks.get("a\nb").unwrap_err().code(), ErrorCode::Input);
    }
}
