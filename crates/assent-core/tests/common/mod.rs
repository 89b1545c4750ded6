//! Shared test fixtures: a real in-process verify-emulator acting as the relying party's
//! backend (HTTP Basic over loopback, like a real server), an event collector, and Cores wired
//! to verify-push's MemoryKeyStore.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use assent_core::{AppEvent, Core, CoreOptions, EventSink, Paths, WatcherConfig};
use verify_emulator::{EmulatorConfig, RunningEmulator};
use verify_push::{KeyStore, MemoryKeyStore};

/// Upper bound for waiting on an event: a hang guard, not a speed assertion.
pub const WAIT: Duration = Duration::from_secs(30);

/// The relying party's backend, talking to the emulator's REST API.
pub struct Backend {
    pub emu: RunningEmulator,
    http: reqwest::Client,
    pub service: String,
}

impl Backend {
    pub async fn start() -> Backend {
        let emu = verify_emulator::spawn(EmulatorConfig::default())
            .await
            .expect("emulator starts");
        let http = reqwest::Client::new();
        let mut b = Backend {
            emu,
            http,
            service: String::new(),
        };
        let svc = b
            .post("Services", &[("FriendlyName", "Assent tests")])
            .await;
        b.service = svc["sid"].as_str().expect("service sid").to_owned();
        b
    }

    fn url(&self, path: &str) -> String {
        format!("{}v2/{}", self.emu.base_url(), path)
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> serde_json::Value {
        let r = self
            .http
            .post(self.url(path))
            .basic_auth(self.emu.account_sid(), Some(self.emu.auth_token()))
            .form(form)
            .send()
            .await
            .expect("request sent");
        let status = r.status();
        let body: serde_json::Value = r.json().await.expect("json body");
        assert!(status.is_success(), "POST {path} -> {status}: {body}");
        body
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let r = self
            .http
            .get(self.url(path))
            .basic_auth(self.emu.account_sid(), Some(self.emu.auth_token()))
            .send()
            .await
            .expect("request sent");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// A fresh identity's enrolment payload (the JSON form the demo hands out).
    pub async fn enrollment_json(&self, identity: &str) -> String {
        let tok = self
            .post(
                &format!("Services/{}/AccessTokens", self.service),
                &[("Identity", identity), ("FactorType", "push")],
            )
            .await;
        serde_json::json!({
            "token": tok["token"].as_str().expect("token"),
            "serviceSid": self.service,
            "identity": identity,
            "factorType": "push",
            "baseUrl": format!("{}v2/", self.emu.base_url()),
        })
        .to_string()
    }

    /// A fresh identity's `assent://enroll?…` deep link, and the access token inside it.
    pub async fn enrollment_link(&self, identity: &str) -> (String, String) {
        let json: serde_json::Value =
            serde_json::from_str(&self.enrollment_json(identity).await).expect("json");
        let token = json["token"].as_str().expect("token").to_owned();
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", &token)
            .append_pair("serviceSid", &self.service)
            .append_pair("identity", identity)
            .append_pair("factorType", "push")
            .append_pair("baseUrl", &format!("{}v2/", self.emu.base_url()))
            .finish();
        (format!("assent://enroll?{query}"), token)
    }

    /// Creates a push challenge like a relying party's sign-in would.
    pub async fn challenge(
        &self,
        identity: &str,
        factor: &str,
        message: &str,
        fields: &[(&str, &str)],
    ) -> String {
        self.challenge_hidden(
            identity,
            factor,
            message,
            fields,
            &[("transaction_id", "tx-1")],
        )
        .await
    }

    /// [`Backend::challenge`] with the given hidden details (flat strings).
    pub async fn challenge_hidden(
        &self,
        identity: &str,
        factor: &str,
        message: &str,
        fields: &[(&str, &str)],
        hidden: &[(&str, &str)],
    ) -> String {
        let mut form: Vec<(&str, String)> = vec![
            ("FactorSid", factor.to_owned()),
            ("Details.Message", message.to_owned()),
        ];
        for (l, v) in fields {
            form.push((
                "Details.Fields",
                serde_json::json!({"label": l, "value": v}).to_string(),
            ));
        }
        let hidden: serde_json::Map<String, serde_json::Value> = hidden
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
            .collect();
        form.push((
            "HiddenDetails",
            serde_json::Value::Object(hidden).to_string(),
        ));
        let form_ref: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let c = self
            .post(
                &format!("Services/{}/Entities/{identity}/Challenges", self.service),
                &form_ref,
            )
            .await;
        c["sid"].as_str().expect("challenge sid").to_owned()
    }

    /// The challenge as the backend sees it (status, metadata, ...).
    pub async fn fetch_challenge(&self, identity: &str, sid: &str) -> serde_json::Value {
        let (code, body) = self
            .get(&format!(
                "Services/{}/Entities/{identity}/Challenges/{sid}",
                self.service
            ))
            .await;
        assert_eq!(code, 200, "{body}");
        body
    }

    /// The challenge's status as the backend sees it.
    pub async fn status(&self, identity: &str, sid: &str) -> String {
        let (code, body) = self
            .get(&format!(
                "Services/{}/Entities/{identity}/Challenges/{sid}",
                self.service
            ))
            .await;
        assert_eq!(code, 200, "{body}");
        body["status"].as_str().expect("status").to_owned()
    }

    /// The factor's server-side HTTP status (404 once deleted).
    pub async fn factor_http_status(&self, identity: &str, factor: &str) -> u16 {
        self.get(&format!(
            "Services/{}/Entities/{identity}/Factors/{factor}",
            self.service
        ))
        .await
        .0
    }
}

/// Collects core events for assertions.
#[derive(Default)]
pub struct Collector {
    events: Mutex<Vec<AppEvent>>,
    changed: tokio::sync::Notify,
}

impl EventSink for Collector {
    fn emit(&self, event: AppEvent) {
        self.events.lock().expect("lock").push(event);
        self.changed.notify_waiters();
    }
}

impl Collector {
    pub fn all(&self) -> Vec<AppEvent> {
        self.events.lock().expect("lock").clone()
    }

    pub fn count(&self, pred: impl Fn(&AppEvent) -> bool) -> usize {
        self.all().iter().filter(|e| pred(e)).count()
    }

    /// Number of events so far (for [`Collector::wait_for_after`]).
    pub fn len(&self) -> usize {
        self.events.lock().expect("lock").len()
    }

    /// Waits until an event matching `pred` has been collected (hang guard: [`WAIT`]).
    pub async fn wait_for(&self, pred: impl Fn(&AppEvent) -> bool) -> AppEvent {
        self.wait_for_after(0, pred).await
    }

    /// Like [`Collector::wait_for`], ignoring the first `skip` events.
    pub async fn wait_for_after(&self, skip: usize, pred: impl Fn(&AppEvent) -> bool) -> AppEvent {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let notified = self.changed.notified();
            if let Some(e) = self.all().into_iter().skip(skip).find(|e| pred(e)) {
                return e;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "event never arrived; got {:#?}",
                self.all()
            );
            let _ = tokio::time::timeout(Duration::from_millis(200), notified).await;
        }
    }
}

pub fn is_announce(sid: &str) -> impl Fn(&AppEvent) -> bool + '_ {
    move |e| matches!(e, AppEvent::ChallengeAnnounced { challenge, .. } if challenge.sid() == sid)
}

/// A Core on `dir` with an in-memory key store (shared by "restarts" through the Arc).
pub fn core(
    dir: &std::path::Path,
    keys: Arc<MemoryKeyStore>,
    sink: Arc<Collector>,
    interval: Option<Duration>,
) -> Arc<Core> {
    core_quiet(
        dir,
        keys,
        sink,
        interval,
        assent_core::quiet::QUIET_AFTER_NOT_ME,
    )
}

/// [`core`] with the quiet period after a "not me" deny set.
pub fn core_quiet(
    dir: &std::path::Path,
    keys: Arc<MemoryKeyStore>,
    sink: Arc<Collector>,
    interval: Option<Duration>,
    quiet: Duration,
) -> Arc<Core> {
    let mut opts = CoreOptions::new(Paths::at(dir));
    opts.quiet_after_not_me = quiet;
    let ks: Arc<dyn KeyStore> = keys;
    opts.key_store = Some(ks);
    opts.sink = sink;
    opts.watcher = WatcherConfig {
        interval_override: interval,
        ..WatcherConfig::default()
    };
    Core::new(opts).expect("core builds")
}

/// A temp dir, a key store, a collector and a Core enrolled for `identity`.
pub struct Device {
    pub dir: tempfile::TempDir,
    pub keys: Arc<MemoryKeyStore>,
    pub events: Arc<Collector>,
    pub core: Arc<Core>,
    pub factor: String,
    pub identity: String,
}

impl Device {
    pub async fn enrolled(backend: &Backend, identity: &str, interval: Option<Duration>) -> Device {
        Device::enrolled_quiet(
            backend,
            identity,
            interval,
            assent_core::quiet::QUIET_AFTER_NOT_ME,
        )
        .await
    }

    /// [`Device::enrolled`] with the quiet period after a "not me" deny set.
    pub async fn enrolled_quiet(
        backend: &Backend,
        identity: &str,
        interval: Option<Duration>,
        quiet: Duration,
    ) -> Device {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = Arc::new(MemoryKeyStore::default());
        let events = Arc::new(Collector::default());
        let core = core_quiet(dir.path(), keys.clone(), events.clone(), interval, quiet);
        let payload = backend.enrollment_json(identity).await;
        let account = core
            .enroll(&payload, Some("Test laptop".into()))
            .await
            .expect("enrolment succeeds");
        assert_eq!(account.status, "verified");
        Device {
            dir,
            keys,
            events,
            factor: account.factor_sid,
            identity: identity.to_owned(),
            core,
        }
    }
}
