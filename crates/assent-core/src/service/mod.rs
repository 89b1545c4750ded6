//! [`Core`]: the command layer. Every front end (window, notification actions, tray, CLI) calls
//! these methods, so an action taken anywhere goes through exactly the same code.

use std::sync::{Arc, Mutex};

pub use verify_push::Decision;
use verify_push::{ChallengeSid, FactorSid, KeyStore, VerifyPush};

use crate::accounts::ActivityStore;
use crate::enroll_requests::EnrollRequests;
use crate::events::EventSink;
use crate::local_endpoint::EndpointStatus;
use crate::quiet::QuietStore;
use crate::settings::{Settings, SettingsStore};
use crate::silent::{self, NonceLedger, SessionProbe, SilentStore};
use crate::verification::VerificationStore;
use crate::views::PendingChallenge;
use crate::watcher::{IdleSource, Watcher, WatcherConfig};
use crate::{AppError, Paths};

mod accounts;
mod answer;
mod enroll;
mod lookup;
mod pin;
mod silent_approval;

pub use answer::{Answer, DenyAllFailure, DenyAllReport};
pub use silent_approval::SilentOutcome;

/// App identifier, also the keychain service name (docs/design.md).
pub const APP_ID: &str = "dev.assent.Assent";

/// The app's name in the User-Agent the library sends.
const APP_NAME: &str = "Assent";

/// A client builder carrying Assent's identity (app id, User-Agent name and version); the
/// caller adds the data directory and the key store.
pub fn client_builder() -> verify_push::VerifyPushBuilder {
    VerifyPush::builder()
        .app_id(APP_ID)
        .app(APP_NAME, env!("CARGO_PKG_VERSION"))
}

/// How to build a [`Core`].
pub struct CoreOptions {
    /// Data and log directories.
    pub paths: Paths,
    /// Key store override (tests use verify-push's `MemoryKeyStore`); `None` = OS keychain.
    pub key_store: Option<Arc<dyn KeyStore>>,
    /// Where events go.
    pub sink: Arc<dyn EventSink>,
    /// Idle signal for the watcher.
    pub idle: Arc<dyn IdleSource>,
    /// Watcher tuning.
    pub watcher: WatcherConfig,
    /// How long an account stays quiet after a "not me" deny ([`crate::quiet`]).
    pub quiet_after_not_me: std::time::Duration,
    /// The desktop session's activity and lock state, for silent approval ([`crate::silent`]).
    pub session: Arc<dyn SessionProbe>,
    /// Input longer ago than this rules out silent approval ([`silent::max_input_idle`]).
    pub max_input_idle: std::time::Duration,
}

impl CoreOptions {
    /// Defaults for `paths`: OS keychain, events dropped, never idle.
    pub fn new(paths: Paths) -> CoreOptions {
        CoreOptions {
            paths,
            key_store: None,
            sink: Arc::new(crate::NullSink),
            idle: Arc::new(crate::watcher::NeverIdle),
            watcher: WatcherConfig::default(),
            quiet_after_not_me: crate::quiet::quiet_after_not_me(),
            session: Arc::new(silent::UnknownSession),
            max_input_idle: silent::max_input_idle(),
        }
    }
}

/// The app's state and operations, independent of any UI.
pub struct Core {
    client: VerifyPush,
    paths: Paths,
    settings: Arc<SettingsStore>,
    activity: Arc<ActivityStore>,
    quiet: Arc<QuietStore>,
    verification: Arc<VerificationStore>,
    quiet_after_not_me: std::time::Duration,
    watcher: Watcher,
    sink: Arc<dyn EventSink>,
    enroll_requests: EnrollRequests,
    silent: Arc<SilentStore>,
    nonces: NonceLedger,
    session: Arc<dyn SessionProbe>,
    max_input_idle: std::time::Duration,
    endpoint: Mutex<EndpointStatus>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
}

impl Core {
    /// Opens the stores in `opts.paths` and builds the client. Does not start the watcher loop.
    pub fn new(opts: CoreOptions) -> Result<Arc<Core>, AppError> {
        opts.paths.ensure()?;
        let builder = client_builder().data_dir(opts.paths.data_dir.clone());
        let builder = match opts.key_store {
            Some(ks) => builder.key_store(ks),
            None => builder.keychain_service(APP_ID),
        };
        let client = builder.build()?;
        let settings = Arc::new(SettingsStore::load(opts.paths.settings_file()));
        let activity = Arc::new(ActivityStore::load(opts.paths.activity_file()));
        let quiet = Arc::new(QuietStore::load(opts.paths.quiet_file()));
        let verification = Arc::new(VerificationStore::load(opts.paths.verification_file()));
        let silent = Arc::new(SilentStore::load(opts.paths.silent_file()));
        let watcher = Watcher::new(
            client.clone(),
            settings.clone(),
            activity.clone(),
            quiet.clone(),
            verification.clone(),
            silent.clone(),
            opts.sink.clone(),
            opts.idle,
            opts.paths.announced_file(),
            opts.watcher,
        );
        Ok(Arc::new(Core {
            client,
            paths: opts.paths,
            settings,
            activity,
            quiet,
            verification,
            quiet_after_not_me: opts.quiet_after_not_me,
            watcher,
            sink: opts.sink,
            enroll_requests: EnrollRequests::default(),
            silent,
            nonces: NonceLedger::default(),
            session: opts.session,
            max_input_idle: opts.max_input_idle,
            endpoint: Mutex::new(EndpointStatus::Off),
        }))
    }

    /// The verify-push client.
    pub fn client(&self) -> &VerifyPush {
        &self.client
    }

    /// The watcher (start its loop with `tokio::spawn(core.watcher().clone().run())`).
    pub fn watcher(&self) -> &Watcher {
        &self.watcher
    }

    /// Data and log directories.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// The pending challenges the watcher knows about.
    pub fn pending(&self) -> Vec<PendingChallenge> {
        self.watcher.pending()
    }

    /// Current settings.
    pub fn settings(&self) -> Settings {
        self.settings.get()
    }

    /// Saves new settings and applies them (interval, pause).
    pub fn update_settings(&self, new: Settings) -> Result<Settings, AppError> {
        let saved = self.settings.set(new)?;
        self.watcher.refresh_paused();
        self.watcher.check_now();
        Ok(saved)
    }

    /// Applies `f` to the settings (tray toggles).
    pub fn modify_settings(&self, f: impl FnOnce(&mut Settings)) -> Result<Settings, AppError> {
        let mut s = self.settings();
        f(&mut s);
        self.update_settings(s)
    }

    /// The local endpoint's state, for the window.
    pub fn endpoint_status(&self) -> EndpointStatus {
        self.endpoint
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Records the local endpoint's state.
    pub fn set_endpoint_status(&self, status: EndpointStatus) {
        *self.endpoint.lock().unwrap_or_else(|p| p.into_inner()) = status;
    }
}

fn parse_factor(s: &str) -> Result<FactorSid, AppError> {
    s.parse()
        .map_err(|_| AppError::Input(format!("{s:?} is not a factor SID (YF…)")))
}

fn parse_challenge(s: &str) -> Result<ChallengeSid, AppError> {
    s.parse()
        .map_err(|_| AppError::Input(format!("{s:?} is not a challenge SID (YC…)")))
}

/// Runs blocking work (Argon2id, file writes) off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Storage(format!("background task stopped: {e}")))?
}
