//! One end-to-end scenario's world: emulator process, relying party, webhook sink, app window.

use crate::app::{tid, AppSession};
use crate::desktop::{self, NotificationLog};
use crate::emulator::Emulator;
use crate::env::{self, E2eEnv};
use crate::error::{Error, Result};
use crate::relying_party::{ChallengeSpec, RelyingParty};
use crate::wait::{self, PATIENCE};
use crate::webhook::WebhookSink;
use serde_json::Value;

/// An account enrolled through the window.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// The factor SID the app shows in `data-factor-sid`.
    pub factor_sid: String,
    /// The entity identity at the relying party.
    pub identity: String,
    /// The friendly name typed into `enroll-name`.
    pub name: String,
    /// The access token the relying party issued (for the secrets scan; test data only).
    pub access_token: String,
}

/// Everything a scenario drives.
pub struct Scenario {
    /// The checked desktop environment.
    pub env: E2eEnv,
    /// The app window.
    pub app: AppSession,
    /// The relying party's API client.
    pub rp: RelyingParty,
    /// The Verify service used by this scenario.
    pub service: String,
    /// Receives the service's challenge webhooks.
    pub webhook: WebhookSink,
    /// Notification traffic since the scenario started.
    pub notifications: NotificationLog,
    emulator_url: url::Url,
    /// How the emulator was started, for [`Scenario::restart_emulator`].
    emulator_args: Vec<String>,
    /// The emulator's SQLite file when [`Options::durable_emulator`] (deleted with it).
    emulator_db: Option<tempfile::TempDir>,
    name: String,
    // Last: dropped after the window is gone. A mutex so a scenario can stop it mid-way.
    _emulator: std::sync::Mutex<Emulator>,
}

/// CSS selector of the pending card of challenge `sid`.
pub fn card(sid: &str) -> String {
    format!("{}[data-challenge-sid=\"{sid}\"]", tid("challenge-card"))
}

/// Selector of `hook` inside the card of challenge `sid`.
pub fn in_card(sid: &str, hook: &str) -> String {
    format!("{} {}", card(sid), tid(hook))
}

/// Waits for the card of `sid`, then checks it shows `who`'s account and `message`.
pub async fn expect_card(s: &Scenario, who: &Enrolled, sid: &str, message: &str) -> Result<()> {
    s.app.wait_css(&card(sid)).await?;
    let shown = s
        .app
        .text_content(&in_card(sid, "challenge-message"))
        .await?;
    crate::check::ensure(shown.as_deref().map(str::trim) == Some(message), || {
        format!("challenge-message shows {shown:?}, expected {message:?}")
    })?;
    let acct = s
        .app
        .text_content(&in_card(sid, "challenge-account"))
        .await?;
    crate::check::ensure(
        acct.as_deref().is_some_and(|a| a.contains(&who.name)),
        || {
            format!(
                "challenge-account shows {acct:?}, expected it to name {:?}",
                who.name
            )
        },
    )
}

/// Waits until the window no longer offers `sid` as pending: its card is gone, or it shows a
/// `challenge-result` containing `word`; what is left must not offer Approve.
pub async fn expect_card_settled(s: &Scenario, sid: &str, word: &str) -> Result<()> {
    let result_css = in_card(sid, "challenge-result");
    wait::until(
        &format!("card {sid} to leave or show {word:?}"),
        PATIENCE,
        || async {
            if s.app.count(&card(sid)).await? == 0 {
                return Ok(Some(()));
            }
            let result = s.app.text_content(&result_css).await?.unwrap_or_default();
            Ok(result.to_lowercase().contains(word).then_some(()))
        },
    )
    .await?;
    let buttons = s.app.count(&in_card(sid, "approve-button")).await?;
    crate::check::ensure(buttons == 0, || {
        format!("card {sid} still offers Approve after it was {word}")
    })
}

/// Waits until the server says `status` (`approved` / `denied`) for `who`'s `sid`, the
/// webhook reports `challenge.<status>`, and the card settles.
pub async fn expect_answered(s: &Scenario, who: &Enrolled, sid: &str, status: &str) -> Result<()> {
    s.wait_server_status(who, sid, status).await?;
    s.webhook
        .wait_for(&[sid, &format!("challenge.{status}")], PATIENCE)
        .await?;
    expect_card_settled(s, sid, status).await
}

/// CSS selector of the account row of factor `sid`.
pub fn account(sid: &str) -> String {
    format!("{}[data-factor-sid=\"{sid}\"]", tid("account-item"))
}

/// Runs `body` as scenario `name`: skips (with a notice) when `ASSENT_E2E` is unset, fails when
/// it is set and the desktop is incomplete. The window is closed whatever the outcome, so a
/// failing scenario doesn't leave a WebDriver session behind for the next one.
pub async fn run<F>(name: &str, body: F) -> Result<()>
where
    F: AsyncFnOnce(&Scenario) -> Result<()>,
{
    run_with(name, Options::default(), body).await
}

/// How a scenario's processes are started, beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Where the app's local endpoint listens (`ASSENT_LOCAL_ADDR`); the emulator's demo site
    /// is told the same (`--assent-endpoint`). `None`: the app's default.
    pub local_addr: Option<std::net::SocketAddr>,
    /// Extra environment for the app (e.g. a short `ASSENT_QUIET_SECS`).
    pub app_env: Vec<(&'static str, String)>,
    /// Keep the emulator's state in a file, so [`Scenario::restart_emulator`] brings the same
    /// server back (the default is an in-memory database).
    pub durable_emulator: bool,
}

/// [`run`] with [`Options`].
pub async fn run_with<F>(name: &str, options: Options, body: F) -> Result<()>
where
    F: AsyncFnOnce(&Scenario) -> Result<()>,
{
    let Some(env) = env::e2e_env(name).await? else {
        return Ok(());
    };
    let scenario = Scenario::start(env, name, &options).await?;
    let app_log = scenario.app.log.clone();
    let outcome = body(&scenario).await;
    let closed = scenario.finish().await;
    match (outcome, closed) {
        (Err(e), _) => Err(Error::Assertion(format!(
            "{e}\n(app log: {})",
            app_log.display()
        ))),
        (Ok(()), Err(e)) => Err(e),
        (Ok(()), Ok(())) => Ok(()),
    }
}

impl Scenario {
    async fn start(env: E2eEnv, name: &str, options: &Options) -> Result<Self> {
        let emulator_args: Vec<String> = options
            .local_addr
            .map(|a| vec!["--assent-endpoint".to_string(), a.to_string()])
            .unwrap_or_default();
        let emulator_db = if options.durable_emulator {
            Some(tempfile::tempdir().map_err(|e| Error::io("emulator database folder", e))?)
        } else {
            None
        };
        let db = emulator_db
            .as_ref()
            .map(|d| d.path().join("emulator.db").display().to_string())
            .unwrap_or_else(|| ":memory:".to_string());
        let emulator = Emulator::start_at(
            &env.emulator_bin,
            &env.logs_dir.join(format!("{name}.emulator.log")),
            "127.0.0.1:0",
            &db,
            &emulator_args,
        )
        .await?;
        let rp = RelyingParty::new(&emulator)?;
        // Twilio limits FriendlyName to 32 characters.
        let friendly: String = format!("e2e {name}").chars().take(32).collect();
        let service = rp.create_service(&friendly).await?;
        let webhook = WebhookSink::start().await?;
        rp.create_webhook(&service, &webhook.url).await?;
        desktop::dunst_close_all()?;
        let notifications = NotificationLog::mark(&env.dbus_monitor_log)?;
        let mut app_env: Vec<(&str, String)> = options
            .local_addr
            .map(|a| vec![("ASSENT_LOCAL_ADDR", a.to_string())])
            .unwrap_or_default();
        app_env.extend(options.app_env.iter().cloned());
        let app = AppSession::launch_with_env(&env, name, &app_env).await?;
        Ok(Scenario {
            env,
            app,
            rp,
            service,
            webhook,
            notifications,
            emulator_url: emulator.base_url.clone(),
            emulator_args,
            emulator_db,
            name: name.to_string(),
            _emulator: std::sync::Mutex::new(emulator),
        })
    }

    async fn finish(self) -> Result<()> {
        let Scenario { app, _emulator, .. } = self;
        let closed = app.close().await;
        drop(_emulator);
        closed
    }

    /// Root URL of this scenario's emulator (API under `v2/`, demo site under `demo`).
    pub fn emulator_url(&self) -> &url::Url {
        &self.emulator_url
    }

    /// Stops the emulator (the server goes away, as when the network drops); the scenario's
    /// relying-party calls fail from then on.
    pub fn stop_emulator(&self) {
        self._emulator
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .stop();
    }

    /// Starts the emulator again after [`Scenario::stop_emulator`]: the same address and, with
    /// [`Options::durable_emulator`], the same state, as when a server comes back. Fails for an
    /// in-memory emulator (it would come back empty).
    pub async fn restart_emulator(&self) -> Result<()> {
        let Some(dir) = &self.emulator_db else {
            return Err(Error::Assertion(
                "restart_emulator needs Options::durable_emulator".into(),
            ));
        };
        let listen = format!(
            "{}:{}",
            self.emulator_url.host_str().unwrap_or("127.0.0.1"),
            self.emulator_url.port().unwrap_or(0)
        );
        let db = dir.path().join("emulator.db").display().to_string();
        let log = self
            .env
            .logs_dir
            .join(format!("{}.emulator-restarted.log", self.name));
        let again = Emulator::start_at(
            &self.env.emulator_bin,
            &log,
            &listen,
            &db,
            &self.emulator_args,
        )
        .await?;
        let mut slot = self._emulator.lock().unwrap_or_else(|p| p.into_inner());
        slot.stop();
        *slot = again;
        Ok(())
    }

    /// Enrols a new account by pasting the relying party's JSON payload into `enroll-input`;
    /// waits until the account row shows and the server reports the factor verified.
    pub async fn enrol(&self, name: &str) -> Result<Enrolled> {
        let identity = format!("e2e-{}", uuid::Uuid::new_v4().simple());
        let token = self.rp.access_token(&self.service, &identity).await?;
        let payload = self.rp.enrolment_payload(&self.service, &identity, &token);

        if self.app.count(&tid("enroll-input")).await? == 0 {
            self.app.click(&tid("add-account-button")).await?;
        }
        self.app.type_into(&tid("enroll-input"), &payload).await?;
        self.app.type_into(&tid("enroll-name"), name).await?;
        self.app.click(&tid("enroll-submit")).await?;

        let factor_sid = self.wait_account_named(name).await?;
        let status = self
            .rp
            .factor_status(&self.service, &identity, &factor_sid)
            .await?;
        if status.as_deref() != Some("verified") {
            return Err(Error::Assertion(format!(
                "server reports factor {factor_sid} as {status:?} after enrolment, expected verified"
            )));
        }
        Ok(Enrolled {
            factor_sid,
            identity,
            name: name.to_string(),
            access_token: token.to_string(),
        })
    }

    /// Waits until the account list has a row named `name` and returns its factor SID; fails
    /// at once when the enrolment form shows an error instead.
    pub async fn wait_account_named(&self, name: &str) -> Result<String> {
        // The new row is the account-item whose account-name is `name`.
        let find_row = r#"
            for (const row of document.querySelectorAll('[data-testid="account-item"]')) {
                const n = row.querySelector('[data-testid="account-name"]');
                if (n && n.textContent.trim() === arguments[0]) return row.getAttribute('data-factor-sid');
            }
            const err = document.querySelector('[data-testid="enroll-error"]');
            return err && err.textContent.trim() ? {error: err.textContent.trim()} : null;"#;
        wait::until(
            &format!("account {name:?} in the list"),
            PATIENCE,
            || async {
                match self.app.js(find_row, vec![Value::from(name)]).await? {
                    Value::String(sid) if sid.starts_with("YF") => Ok(Some(sid)),
                    Value::Object(o) => Err(Error::Assertion(format!(
                        "enrolment failed in the window: {}",
                        o.get("error").map(Value::to_string).unwrap_or_default()
                    ))),
                    Value::String(other) => Err(Error::Assertion(format!(
                        "account row has data-factor-sid {other:?}, expected a YF… SID"
                    ))),
                    _ => Ok(None),
                }
            },
        )
        .await
    }

    /// Creates a challenge for `who` with `message` (and `tweak`ed spec); returns its SID.
    pub async fn challenge(
        &self,
        who: &Enrolled,
        message: &str,
        tweak: impl FnOnce(&mut ChallengeSpec),
    ) -> Result<String> {
        let mut spec = ChallengeSpec::new(&who.factor_sid, message);
        tweak(&mut spec);
        self.rp
            .create_challenge(&self.service, &who.identity, &spec)
            .await
    }

    /// Server-side status of challenge `sid`.
    pub async fn server_status(&self, who: &Enrolled, sid: &str) -> Result<String> {
        self.rp
            .challenge_status(&self.service, &who.identity, sid)
            .await
    }

    /// Waits until the server reports `expected` for challenge `sid`.
    pub async fn wait_server_status(
        &self,
        who: &Enrolled,
        sid: &str,
        expected: &str,
    ) -> Result<()> {
        let what = format!("challenge {sid} to be {expected} on the server");
        let last = std::cell::RefCell::new(String::new());
        let outcome = wait::until(&what, PATIENCE, || async {
            let status = self.server_status(who, sid).await?;
            let done = status == expected;
            *last.borrow_mut() = status;
            Ok(done.then_some(()))
        })
        .await;
        let last = last.into_inner();
        outcome.map_err(|e| Error::Assertion(format!("{e} (last status: {last})")))
    }
}
