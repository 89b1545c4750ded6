//! Setting up a [`VerifyPush`]: the caller's identity, store and key store.

use super::{Inner, VerifyPush, SDK_VERSION};
use crate::error::Error;
use crate::keystore::{KeyStore, OsKeyStore};
use crate::store::FactorStore;
use crate::time::Clock;
use crate::transport::Transport;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Builder for [`VerifyPush`]. The library carries no application identity: the caller names
/// its store directory, its `Config.AppId`, where its keys live and itself for the
/// `User-Agent`; [`VerifyPushBuilder::build`] fails with [`Error::InvalidArgument`] when one
/// is missing or malformed.
#[derive(Debug, Default)]
pub struct VerifyPushBuilder {
    data_dir: Option<PathBuf>,
    key_store: Option<Arc<dyn KeyStore>>,
    keychain_service: Option<String>,
    app_id: Option<String>,
    app: Option<(String, String)>,
    http_timeout: Option<Duration>,
}

const MAX_APP_ID: usize = 100;
const MAX_APP_FIELD: usize = 64;
const MAX_KEYCHAIN_SERVICE: usize = 255;

fn invalid(argument: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidArgument {
        argument,
        reason: reason.into(),
    }
}

fn required<T>(v: Option<T>, argument: &'static str) -> Result<T, Error> {
    v.ok_or_else(|| invalid(argument, "required"))
}

/// A `User-Agent` field: visible ASCII without the `;` that separates the fields.
fn ua_field(argument: &'static str, v: &str) -> Result<(), Error> {
    if v.is_empty() || v.len() > MAX_APP_FIELD {
        return Err(invalid(
            argument,
            format!("must be 1-{MAX_APP_FIELD} characters"),
        ));
    }
    if !v.bytes().all(|b| b.is_ascii_graphic() || b == b' ') || v.contains(';') {
        return Err(invalid(
            argument,
            "must be printable ASCII without `;` (it goes into the User-Agent)",
        ));
    }
    Ok(())
}

impl VerifyPushBuilder {
    /// Directory holding `factors.json` (required; created if missing).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Keys in the OS keychain under this service name, e.g. the app's reverse-DNS id
    /// (required unless [`VerifyPushBuilder::key_store`] is given).
    pub fn keychain_service(mut self, service: impl Into<String>) -> Self {
        self.keychain_service = Some(service.into());
        self
    }

    /// Another key store instead of the OS keychain (tests, custom vaults).
    pub fn key_store(mut self, ks: Arc<dyn KeyStore>) -> Self {
        self.key_store = Some(ks);
        self
    }

    /// `Config.AppId` sent at enrolment (required, 1-100 characters).
    pub fn app_id(mut self, id: impl Into<String>) -> Self {
        self.app_id = Some(id.into());
        self
    }

    /// The application's name and version for the `User-Agent` (required), sent in the SDKs'
    /// layout `{name}; {os}; {version}; 1; {os} ({arch}); Desktop; VerifyPushRust; {sdk}; 1`.
    pub fn app(mut self, name: impl Into<String>, version: impl Into<String>) -> Self {
        self.app = Some((name.into(), version.into()));
        self
    }

    /// Whole-request timeout (default 20 s).
    pub fn http_timeout(mut self, t: Duration) -> Self {
        self.http_timeout = Some(t);
        self
    }

    /// Checks the arguments, then builds the client, loading the store (and its clock
    /// corrections). Nothing is created on disk when an argument is wrong.
    pub fn build(self) -> Result<VerifyPush, Error> {
        let dir = required(self.data_dir, "data_dir")?;
        if dir.as_os_str().is_empty() {
            return Err(invalid("data_dir", "must not be empty"));
        }
        let app_id = required(self.app_id, "app_id")?;
        if app_id.is_empty() || app_id.chars().count() > MAX_APP_ID {
            return Err(invalid(
                "app_id",
                format!("must be 1-{MAX_APP_ID} characters"),
            ));
        }
        let (app_name, app_version) = required(self.app, "app")?;
        ua_field("app name", &app_name)?;
        ua_field("app version", &app_version)?;
        let keys: Arc<dyn KeyStore> = match (self.key_store, self.keychain_service) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "keychain_service",
                    "give either a keychain service or a key store, not both",
                ))
            }
            (Some(ks), None) => ks,
            (None, Some(service)) => {
                if service.trim().is_empty() || service.len() > MAX_KEYCHAIN_SERVICE {
                    return Err(invalid(
                        "keychain_service",
                        format!("must be 1-{MAX_KEYCHAIN_SERVICE} bytes"),
                    ));
                }
                Arc::new(OsKeyStore::new(service))
            }
            (None, None) => return Err(invalid("keychain_service", "required")),
        };
        let ua = user_agent(&app_name, &app_version);
        let transport = Transport::new(&ua, self.http_timeout.unwrap_or(Duration::from_secs(20)))?;
        let store = FactorStore::open(dir)?;
        let corrections = store.load()?.clock_corrections;
        Ok(VerifyPush {
            inner: Arc::new(Inner {
                transport,
                store,
                keys,
                clock: Clock::new(corrections),
                app_id,
                key_cache: Mutex::new(HashMap::new()),
            }),
        })
    }
}

/// `{app}; {platform}; {appVersion}; {build}; {os} ({arch}); {model}; {sdk}; {sdkVersion}; {sdkBuild}`,
/// the layout of the Android and iOS SDKs' User-Agent (reference §2).
fn user_agent(app: &str, version: &str) -> String {
    let os = match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "macOS",
        "windows" => "Windows",
        other => other,
    };
    format!(
        "{app}; {os}; {version}; 1; {os} ({}); Desktop; VerifyPushRust; {SDK_VERSION}; 1",
        std::env::consts::ARCH
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::MemoryKeyStore;
    use crate::ErrorCode;

    fn complete(dir: &std::path::Path) -> VerifyPushBuilder {
        VerifyPush::builder()
            .data_dir(dir)
            .app_id("com.example.App")
            .app("Example", "1.2.3")
            .keychain_service("com.example.App")
    }

    fn refused(b: VerifyPushBuilder) -> (&'static str, String) {
        match b.build() {
            Err(e @ Error::InvalidArgument { .. }) => {
                assert_eq!(e.code(), ErrorCode::InvalidArgument);
                let Error::InvalidArgument { argument, reason } = e else {
                    unreachable!()
                };
                (argument, reason)
            }
            Err(e) => panic!("not an invalid argument: {e:?}"),
            Ok(_) => panic!("built"),
        }
    }

    #[test]
    fn builder_requires_the_application_identity() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let b = || VerifyPush::builder();
        let cases = [
            (
                b().app_id("a").app("A", "1").keychain_service("s"),
                "data_dir",
            ),
            (
                b().data_dir(&dir).app("A", "1").keychain_service("s"),
                "app_id",
            ),
            (b().data_dir(&dir).app_id("a").keychain_service("s"), "app"),
            (
                b().data_dir(&dir).app_id("a").app("A", "1"),
                "keychain_service",
            ),
        ];
        for (builder, want) in cases {
            assert_eq!(refused(builder), (want, "required".to_owned()));
        }
        // Nothing was created for a refused build.
        assert!(!dir.exists());
        complete(&dir).build().unwrap();
        assert!(dir.exists());
    }

    #[test]
    fn builder_refuses_malformed_identity() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let long = "x".repeat(MAX_APP_ID + 1);
        let cases: Vec<(VerifyPushBuilder, &str)> = vec![
            (complete(&dir).app_id(""), "app_id"),
            (complete(&dir).app_id(long.as_str()), "app_id"),
            // `;` would shift the User-Agent's fields; CR/LF would split the header.
            (complete(&dir).app("Evil; Linux", "1"), "app name"),
            (complete(&dir).app("Evil\r\nX-Injected: 1", "1"), "app name"),
            (complete(&dir).app("Ünïcode", "1"), "app name"),
            (complete(&dir).app("x".repeat(65), "1"), "app name"),
            (complete(&dir).app("A", ""), "app version"),
            (complete(&dir).app("A", "1;2"), "app version"),
            (complete(&dir).keychain_service("  "), "keychain_service"),
            (complete(&dir).data_dir(""), "data_dir"),
            (
                complete(&dir).key_store(Arc::new(MemoryKeyStore::new())),
                "keychain_service",
            ),
        ];
        for (builder, want) in cases {
            let (argument, reason) = refused(builder);
            assert_eq!(argument, want, "{reason}");
        }
        assert!(!dir.exists());
        // A key store replaces the keychain service.
        VerifyPush::builder()
            .data_dir(&dir)
            .app_id("com.example.App")
            .app("Example", "1.2.3")
            .key_store(Arc::new(MemoryKeyStore::new()))
            .build()
            .unwrap();
    }

    #[test]
    fn user_agent_has_the_sdk_layout() {
        let ua = user_agent("Example", "1.2.3");
        let fields: Vec<&str> = ua.split("; ").collect();
        assert_eq!(fields.len(), 9, "{ua}");
        assert_eq!(fields[0], "Example");
        assert_eq!(fields[2], "1.2.3");
        assert_eq!(fields[5], "Desktop");
        assert_eq!(fields[6], "VerifyPushRust");
        assert_eq!(fields[7], SDK_VERSION);
    }
}
