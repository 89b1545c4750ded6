//! [`Core`]: the command layer. Every front end (window, notification actions, tray, CLI) calls
//! these methods, so an action taken anywhere goes through exactly the same code.

use std::sync::{Arc, Mutex};

use chrono::Utc;
pub use verify_push::Decision;
use verify_push::{
    Challenge, ChallengeSid, EnrollRequest, EnrollmentPayload, FactorSid, FriendlyName, KeyStore,
    VerifyPush,
};

use serde::Serialize;
use ts_rs::TS;

use crate::accounts::{self, ActivityStore};
use crate::enroll_requests::{EnrollPreview, EnrollRequestView, EnrollRequests};
use crate::error::ErrorView;
use crate::events::{AppEvent, EventSink, RelayedSignInEvent};
use crate::local_endpoint::EndpointStatus;
use crate::matching::{DenyReason, MatchCode, MatchFailure, MatchRule};
use crate::quiet::QuietStore;
use crate::settings::{Settings, SettingsStore};
use crate::silent::{self, NonceLedger, SessionProbe, SilentStore, Verdict};
use crate::verification::{Pin, Scope, VerificationStore, VerificationView};
use crate::views::{
    is_verified, Account, ChallengeKey, ChallengeView, EnrollStep, HistoryPage, PendingChallenge,
};
use crate::watcher::{IdleSource, Watcher, WatcherConfig};
use crate::{history, AppError, Paths};
use subtle::ConstantTimeEq;

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

/// What the user answered, with what the defences need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Approve; `code` is the number picked or typed when the sign-in asks for matching, `pin`
    /// the app PIN when the account asks for it ([`crate::verification`]).
    Approve {
        /// Two digits, or `None` when no number was asked for.
        code: Option<String>,
        /// The app PIN, or `None`.
        pin: Option<Pin>,
    },
    /// Deny; `reason` is sent to the relying party as `Metadata` `deny_reason`.
    Deny {
        /// Why, if the user said.
        reason: Option<DenyReason>,
    },
}

/// What [`Core::deny_all`] did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, TS)]
pub struct DenyAllReport {
    /// The requests denied, as the server answered.
    pub denied: Vec<ChallengeView>,
    /// The requests that could not be denied, and why.
    pub failed: Vec<DenyAllFailure>,
}

/// One request [`Core::deny_all`] could not deny.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct DenyAllFailure {
    /// YC… SID.
    pub sid: String,
    /// Why.
    pub error: ErrorView,
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
    endpoint: Mutex<EndpointStatus>,
}

/// What a silent-approval request led to; the page learns only this word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SilentOutcome {
    /// Approved without a prompt.
    Approved,
    /// Left to the normal card.
    Prompt,
    /// Denied as a relayed sign-in.
    Denied,
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

    /// All local accounts.
    pub async fn accounts(&self) -> Result<Vec<Account>, AppError> {
        let client = self.client.clone();
        let activity = self.activity.clone();
        let quiet = self.quiet.clone();
        let silent = self.silent.clone();
        // The integrity check talks to the keychain, which blocks.
        tokio::task::spawn_blocking(move || accounts::list(&client, &activity, &quiet, &silent))
            .await
            .map_err(|e| AppError::Storage(format!("account listing stopped: {e}")))?
    }

    /// Emits the current account list (`accounts-changed`).
    pub async fn publish_accounts(&self) {
        match self.accounts().await {
            Ok(list) => self.sink.emit(AppEvent::AccountsChanged(list)),
            Err(e) => tracing::warn!(code = %e.code(), "cannot list accounts"),
        }
    }

    /// The pending challenges the watcher knows about.
    pub fn pending(&self) -> Vec<PendingChallenge> {
        self.watcher.pending()
    }

    /// Approves or denies a challenge without a matching number or deny reason; see
    /// [`Core::answer_with`].
    pub async fn answer(
        &self,
        factor_sid: &str,
        challenge_sid: &str,
        decision: Decision,
    ) -> Result<ChallengeView, AppError> {
        let answer = match decision {
            Decision::Approve => Answer::Approve {
                code: None,
                pin: None,
            },
            Decision::Deny => Answer::Deny { reason: None },
        };
        self.answer_with(factor_sid, challenge_sid, answer).await
    }

    /// Approves or denies a challenge: the single path for the window's buttons, notification
    /// actions and the CLI. When the challenge is on a card (it was shown), the challenge
    /// fetched for signing must still show the card's text, else nothing is signed
    /// (`content_mismatch`). On "already answered" or "expired" the card is dropped too, and
    /// the error is returned for the UI to show.
    ///
    /// Number matching is decided on the challenge fetched for signing (see
    /// [`crate::matching`]): without a number it is `match_required`, a malformed number is
    /// `input`, a number for a challenge without matching is `match_not_required`, and in all
    /// three nothing is sent. A wrong number denies the challenge with `deny_reason`
    /// `wrong_match` and returns `wrong_match`. A deny reason goes to the server as `Metadata`;
    /// after "not me" the account is quieted ([`crate::quiet`]).
    pub async fn answer_with(
        &self,
        factor_sid: &str,
        challenge_sid: &str,
        answer: Answer,
    ) -> Result<ChallengeView, AppError> {
        let not_me = is_not_me(&answer);
        let view = self
            .answer_checked(factor_sid, challenge_sid, answer)
            .await?;
        if not_me {
            self.quiet_account(factor_sid, 1).await;
        }
        Ok(view)
    }

    /// [`Core::answer_with`] without quieting the account after "not me".
    async fn answer_checked(
        &self,
        factor_sid: &str,
        challenge_sid: &str,
        answer: Answer,
    ) -> Result<ChallengeView, AppError> {
        let key = ChallengeKey {
            factor: parse_factor(factor_sid)?,
            challenge: parse_challenge(challenge_sid)?,
        };
        let (decision, entered, metadata) = match &answer {
            Answer::Approve { code, pin } => {
                self.verify_user(&key.factor, pin.as_ref()).await?;
                let entered = code
                    .as_deref()
                    .map(|c| {
                        MatchCode::parse(c.trim()).ok_or_else(|| {
                            AppError::Input("the matching number must be two digits".into())
                        })
                    })
                    .transpose()?;
                (Decision::Approve, entered, None)
            }
            Answer::Deny { reason } => (Decision::Deny, None, reason.map(DenyReason::metadata)),
        };
        let shown = self.watcher.displayed(&key);
        tracing::info!(challenge = %key, decision = %decision, shown = shown.is_some(), "answering challenge");
        let failure: Mutex<Option<MatchFailure>> = Mutex::new(None);
        let check = |c: &Challenge| {
            if shown
                .as_ref()
                .is_some_and(|card| !card.challenge.shows_same_as(c))
            {
                return false;
            }
            if decision != Decision::Approve {
                return true;
            }
            match MatchRule::of(c).check(entered.as_ref()) {
                Ok(()) => true,
                Err(f) => {
                    *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(f);
                    false
                }
            }
        };
        // Not on a card (the CLI with a SID the user read elsewhere), only the matching rule
        // is checked; the key still binds the answer to this account's server and key.
        let result = self
            .client
            .answer_with_metadata(
                &key.factor,
                &key.challenge,
                decision,
                metadata.as_ref(),
                Some(&check),
            )
            .await;
        let failure = *failure.lock().unwrap_or_else(|p| p.into_inner());
        match (result, failure) {
            (Ok(c), _) => {
                let view = ChallengeView::from(&c);
                tracing::info!(challenge = %key, status = view.status, "challenge answered");
                self.activity.touch(factor_sid, Utc::now());
                self.watcher.resolved(&key, &view);
                Ok(view)
            }
            (Err(verify_push::Error::ContentMismatch { .. }), Some(f)) => {
                tracing::warn!(challenge = %key, failure = ?f, "number matching refused the approval");
                match f {
                    MatchFailure::Required => Err(AppError::MatchRequired),
                    MatchFailure::NotRequired => Err(AppError::MatchNotRequired),
                    MatchFailure::Invalid => Err(AppError::MatchInvalid),
                    MatchFailure::Wrong => Err(self.deny_wrong_match(&key, shown.as_ref()).await),
                }
            }
            (Err(e), _) => {
                let err = AppError::from(e);
                tracing::warn!(challenge = %key, code = %err.code(), "answer failed");
                if matches!(
                    err.code(),
                    crate::error::AppErrorCode::ExpiredChallenge
                        | crate::error::AppErrorCode::AlreadyResponded
                ) {
                    if let Ok(c) = self.client.get_challenge(&key.factor, &key.challenge).await {
                        self.watcher.resolved(&key, &ChallengeView::from(&c));
                    }
                }
                Err(err)
            }
        }
    }

    /// The answer of a notification's button. Approve is one click only while the challenge is
    /// its account's only pending one (`several_pending` otherwise, nothing sent): a flood
    /// that arrived after the notification was shown must be read in the window first.
    pub async fn answer_from_notification(
        &self,
        factor_sid: &str,
        challenge_sid: &str,
        decision: Decision,
    ) -> Result<ChallengeView, AppError> {
        if decision == Decision::Approve && self.needs_verification(factor_sid) {
            return Err(AppError::VerificationRequired);
        }
        let pending = self.watcher.pending_count(factor_sid);
        if decision == Decision::Approve && pending > 1 {
            tracing::warn!(factor = %factor_sid, pending, "one-click approve refused: several requests pending");
            return Err(AppError::SeveralPending { pending });
        }
        self.answer(factor_sid, challenge_sid, decision).await
    }

    /// Denies every pending request of one account, each through [`Core::answer_with`] (so each
    /// is checked against what its card shows), with the same reason. Returns the answered
    /// views and the errors of those that could not be denied.
    pub async fn deny_all(
        &self,
        factor_sid: &str,
        reason: Option<DenyReason>,
    ) -> Result<DenyAllReport, AppError> {
        let factor = parse_factor(factor_sid)?;
        let cards: Vec<PendingChallenge> = self
            .watcher
            .pending()
            .into_iter()
            .filter(|p| p.key().factor == factor)
            .collect();
        let mut report = DenyAllReport::default();
        for card in &cards {
            match self
                .answer_checked(factor_sid, card.sid(), Answer::Deny { reason })
                .await
            {
                Ok(view) => report.denied.push(view),
                Err(e) => report.failed.push(DenyAllFailure {
                    sid: card.sid().to_owned(),
                    error: e.view(),
                }),
            }
        }
        tracing::info!(factor = %factor, denied = report.denied.len(), failed = report.failed.len(), "denied all pending requests");
        if reason == Some(DenyReason::NotMe) && !report.denied.is_empty() {
            self.quiet_account(factor_sid, report.denied.len()).await;
        }
        Ok(report)
    }

    /// Whether approving `factor_sid`'s requests asks for the app PIN.
    pub fn needs_verification(&self, factor_sid: &str) -> bool {
        self.verification.required_for(factor_sid)
    }

    /// What the window shows about the app PIN.
    pub fn verification(&self) -> VerificationView {
        self.verification.view(Utc::now())
    }

    /// Sets (or replaces, with `current`) the app PIN and the accounts it covers.
    pub async fn set_pin(
        &self,
        current: Option<Pin>,
        new: Pin,
        scope: Scope,
    ) -> Result<VerificationView, AppError> {
        let store = self.verification.clone();
        blocking(move || store.set_pin(current.as_ref(), &new, scope, Utc::now())).await?;
        tracing::info!("app PIN set");
        Ok(self.publish_verification())
    }

    /// Changes the accounts the PIN covers; needs the PIN.
    pub async fn set_verification_scope(
        &self,
        pin: Pin,
        scope: Scope,
    ) -> Result<VerificationView, AppError> {
        let store = self.verification.clone();
        blocking(move || store.set_scope(&pin, scope, Utc::now())).await?;
        tracing::info!("app PIN scope changed");
        Ok(self.publish_verification())
    }

    /// Removes the app PIN; needs the PIN.
    pub async fn remove_pin(&self, pin: Pin) -> Result<VerificationView, AppError> {
        let store = self.verification.clone();
        blocking(move || store.remove(&pin, Utc::now())).await?;
        tracing::info!("app PIN removed");
        Ok(self.publish_verification())
    }

    fn publish_verification(&self) -> VerificationView {
        let view = self.verification();
        self.sink.emit(AppEvent::VerificationChanged(view.clone()));
        view
    }

    /// Checks the app PIN before an approval of `factor`'s request, when the account asks for
    /// it. Nothing is sent when this fails.
    async fn verify_user(&self, factor: &FactorSid, pin: Option<&Pin>) -> Result<(), AppError> {
        if !self.verification.required_for(factor.as_ref()) {
            return Ok(());
        }
        let Some(pin) = pin.cloned() else {
            return Err(AppError::VerificationRequired);
        };
        let store = self.verification.clone();
        let result = blocking(move || store.verify(&pin, Utc::now())).await;
        if matches!(
            result,
            Err(AppError::PinWrong { .. } | AppError::PinLocked { .. })
        ) {
            self.publish_verification();
        }
        result
    }

    /// Quiets an account after `reports` requests were denied as "not me", and tells the UI.
    async fn quiet_account(&self, factor_sid: &str, reports: usize) {
        let until = Utc::now()
            + chrono::Duration::from_std(self.quiet_after_not_me)
                .unwrap_or_else(|_| chrono::Duration::minutes(20));
        self.quiet.quiet(factor_sid, until);
        tracing::info!(factor = %factor_sid, reports, until = %until, "account quieted after a not-me report");
        self.publish_accounts().await;
    }

    /// A wrong number is a sign someone else started the sign-in: deny it, telling the
    /// relying party why, instead of leaving it open for another guess.
    async fn deny_wrong_match(
        &self,
        key: &ChallengeKey,
        shown: Option<&PendingChallenge>,
    ) -> AppError {
        let same = |c: &Challenge| shown.is_none_or(|card| card.challenge.shows_same_as(c));
        let metadata = DenyReason::WrongMatch.metadata();
        match self
            .client
            .answer_with_metadata(
                &key.factor,
                &key.challenge,
                Decision::Deny,
                Some(&metadata),
                Some(&same),
            )
            .await
        {
            Ok(c) => {
                let view = ChallengeView::from(&c);
                self.activity.touch(key.factor.as_ref(), Utc::now());
                self.watcher.resolved(key, &view);
                AppError::WrongMatch { denied: true }
            }
            Err(e) => {
                tracing::warn!(challenge = %key, code = %e.code().as_str(), "denying after a wrong match failed");
                if let Ok(c) = self.client.get_challenge(&key.factor, &key.challenge).await {
                    if c.status != verify_push::ChallengeStatus::Pending {
                        self.watcher.resolved(key, &ChallengeView::from(&c));
                    }
                }
                AppError::WrongMatch { denied: false }
            }
        }
    }

    /// Finds which account a challenge belongs to (asks each verified factor, or only
    /// `account` when given).
    pub async fn find_challenge(
        &self,
        challenge_sid: &str,
        account: Option<&str>,
    ) -> Result<Challenge, AppError> {
        let sid = parse_challenge(challenge_sid)?;
        if let Some(p) = self
            .pending()
            .into_iter()
            .find(|p| p.sid() == challenge_sid)
        {
            let factor = parse_factor(p.factor_sid())?;
            return Ok(self.client.get_challenge(&factor, &sid).await?);
        }
        let factors = match account {
            Some(a) => vec![accounts::find(&self.client, a)?],
            None => self
                .client
                .factors()?
                .into_iter()
                .filter(is_verified)
                .collect(),
        };
        let mut could_not_look = None;
        for f in factors {
            match self.client.get_challenge(&f.sid, &sid).await {
                Ok(c) => return Ok(c),
                // Only one candidate: its error says more than "not found".
                Err(e) if account.is_some() => return Err(e.into()),
                Err(e) if could_not_look.is_none() && prevents_lookup(&e) => {
                    could_not_look = Some(e)
                }
                Err(_) => {}
            }
        }
        // A locked keychain or a dead network is what the user must fix, not "not found".
        Err(could_not_look.map_or_else(
            || AppError::ChallengeNotFound(challenge_sid.to_owned()),
            AppError::from,
        ))
    }

    /// Pending challenges straight from the server (CLI `challenges`), optionally for one account.
    pub async fn fetch_pending(
        &self,
        account: Option<&str>,
    ) -> Result<Vec<PendingChallenge>, AppError> {
        let factors = match account {
            Some(a) => vec![accounts::find(&self.client, a)?],
            None => self.client.factors()?,
        };
        let mut out = Vec::new();
        for f in factors.into_iter().filter(is_verified) {
            let pending = self.client.pending_challenges(&f.sid).await?;
            out.extend(pending.iter().map(|c| PendingChallenge::new(c, &f)));
        }
        // Newest first: in a flood the request the user just caused is at the top.
        out.sort_by_key(|a| std::cmp::Reverse(a.created));
        Ok(out)
    }

    /// One page of an account's history.
    pub async fn history(
        &self,
        factor_sid: &str,
        page_token: Option<String>,
    ) -> Result<HistoryPage, AppError> {
        let factor = parse_factor(factor_sid)?;
        history::page(&self.client, &factor, page_token).await
    }

    /// Enrols this desktop from an `assent://enroll?…` link or the JSON payload, reporting
    /// progress. A factor whose verification fails is deleted again.
    pub async fn enroll(
        &self,
        payload: &str,
        friendly_name: Option<String>,
    ) -> Result<Account, AppError> {
        self.progress(EnrollStep::Parsing);
        let payload: EnrollmentPayload = payload.trim().parse()?;
        self.enroll_parsed(payload, friendly_name).await
    }

    /// What enrolling with a pasted link or payload would add (`preview_enroll_payload`),
    /// including the account already on this desktop it would repeat. Never the token.
    pub fn preview_enroll_payload(&self, text: &str) -> Result<EnrollPreview, AppError> {
        let mut preview = crate::enroll_requests::preview_payload(text)?;
        self.mark_existing(&mut preview);
        Ok(preview)
    }

    /// Fills `existing_account` from the local factors (nothing on a storage error: enrolling
    /// then reports it).
    fn mark_existing(&self, preview: &mut EnrollPreview) {
        let Ok(base) = url::Url::parse(&preview.base_url) else {
            return;
        };
        preview.existing_account = self
            .existing_account(&preview.service_sid, &preview.identity, &base)
            .map(|f| f.friendly_name);
    }

    /// The local factor for the same server, service and identity, if any.
    fn existing_account(
        &self,
        service_sid: &str,
        identity: &str,
        base_url: &url::Url,
    ) -> Option<verify_push::Factor> {
        self.client
            .factors()
            .ok()?
            .into_iter()
            .find(|f| crate::naming::same_account(f, service_sid, identity, base_url))
    }

    /// Keeps an `assent://enroll?…` deep link for the user's confirmation and announces its
    /// preview (`AppEvent::EnrollRequest`). The link is parsed right away; neither it nor its
    /// token leaves the core. An invalid link yields a preview carrying the error.
    pub fn queue_enroll_link(&self, link: &str) -> EnrollRequestView {
        let mut view = self.enroll_requests.add(link);
        if let Some(p) = view.preview_mut() {
            self.mark_existing(p);
        }
        match &view {
            EnrollRequestView::Preview { .. } => {
                tracing::info!("enrolment link received; asking the user to confirm")
            }
            EnrollRequestView::Invalid { error, .. } => {
                tracing::warn!(code = %error.code, "enrolment link received but it is invalid")
            }
        }
        self.sink.emit(AppEvent::EnrollRequest(view.clone()));
        view
    }

    /// The newest deep-link request still waiting for confirmation, as a preview. It stays
    /// until confirmed or dismissed.
    pub fn enroll_request(&self) -> Option<EnrollRequestView> {
        let mut view = self.enroll_requests.latest()?;
        if let Some(p) = view.preview_mut() {
            self.mark_existing(p);
        }
        Some(view)
    }

    /// Enrols with a waiting deep link's payload (same steps and progress events as
    /// [`Core::enroll`]). On success the request is gone; on failure it stays so the user can
    /// retry or dismiss it. An invalid link's request is dropped and its error returned.
    pub async fn confirm_enroll_request(
        &self,
        request_id: &str,
        friendly_name: Option<String>,
    ) -> Result<Account, AppError> {
        let req = self.enroll_requests.take(request_id)?;
        let Some(payload) = req.payload().cloned() else {
            return Err(req
                .into_parsed()
                .err()
                .unwrap_or_else(|| AppError::Input("this enrolment link cannot be used".into())));
        };
        self.progress(EnrollStep::Parsing);
        match self.enroll_parsed(payload, friendly_name).await {
            Ok(account) => Ok(account),
            Err(e) => {
                self.enroll_requests.restore(req);
                Err(e)
            }
        }
    }

    /// Forgets a waiting deep-link request (the user cancelled).
    pub fn dismiss_enroll_request(&self, request_id: &str) -> Result<(), AppError> {
        self.enroll_requests.dismiss(request_id)?;
        tracing::info!("enrolment link dismissed");
        Ok(())
    }

    async fn enroll_parsed(
        &self,
        payload: EnrollmentPayload,
        friendly_name: Option<String>,
    ) -> Result<Account, AppError> {
        // Refused before anything is created: a second factor for the same account on one
        // desktop would only double every request.
        if let Some(f) = self.existing_account(
            payload.service_sid.as_str(),
            payload.identity.as_str(),
            &payload.base_url,
        ) {
            return Err(AppError::AlreadyEnrolled {
                name: f.friendly_name,
            });
        }
        let friendly_name = friendly_name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| crate::naming::default_account_name(&payload));
        let friendly_name = FriendlyName::new(&friendly_name).map_err(|_| {
            AppError::Input(format!(
                "the account name must be 1 to {} characters, without control characters",
                FriendlyName::MAX_CHARS
            ))
        })?;
        tracing::info!(service = %payload.service_sid, base_url = %payload.base_url, origin = ?payload.origin, "enrolling");
        let origin = payload.origin.clone();
        self.progress(EnrollStep::CreatingKey);
        self.progress(EnrollStep::CreatingFactor);
        let factor = self
            .client
            .create_factor(EnrollRequest::new(payload, friendly_name))
            .await
            .map_err(|e| {
                // The only credential of this request is the enrolment code: a 401 means the
                // server no longer takes it (expired, or spent by an earlier enrolment).
                if e.api_error().is_some_and(|a| a.status == 401) {
                    AppError::EnrollTokenRejected(Box::new(e))
                } else {
                    AppError::from(e)
                }
            })?;
        self.progress(EnrollStep::Verifying);
        let verified = match self.client.verify_factor(&factor.sid).await {
            // The server decides: an answer that is not `verified` is not an account.
            Ok(f) if is_verified(&f) => Ok(f),
            Ok(f) => Err(AppError::NotVerified(f.sid.to_string())),
            Err(e) => Err(e.into()),
        };
        let factor = match verified {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(factor = %factor.sid, code = %e.code(), "verification failed; cleaning up");
                if self.client.delete_factor(&factor.sid).await.is_err() {
                    if let Err(e2) = self.client.forget_factor(&factor.sid) {
                        tracing::warn!(code = %e2.code(), "local cleanup failed");
                    }
                }
                return Err(e);
            }
        };
        self.progress(EnrollStep::Saving);
        self.activity.touch(factor.sid.as_ref(), Utc::now());
        if let Err(e) = self.silent.enrolled(factor.sid.as_ref(), origin.clone()) {
            // The account works without it; only silent approval stays impossible.
            tracing::warn!(code = %e.code(), "cannot store the account's origin");
        }
        let mut account =
            Account::from_factor(&factor, self.activity.get(factor.sid.as_ref()), false);
        account.origin = self.silent.get(factor.sid.as_ref()).origin;
        tracing::info!(factor = %factor.sid, "enrolled");
        self.progress(EnrollStep::Done);
        self.publish_accounts().await;
        self.watcher.check_now();
        Ok(account)
    }

    /// Removes an account: deletes the factor on the server, its key and the local record. If
    /// the server no longer knows the factor, the local parts are removed anyway.
    pub async fn remove_account(&self, factor_sid: &str) -> Result<(), AppError> {
        let factor = parse_factor(factor_sid)?;
        match self.client.delete_factor(&factor).await {
            Ok(()) => {}
            Err(e) if e.api_error().is_some_and(|a| a.status == 404) => {
                tracing::info!(factor = %factor, "factor already gone on the server; forgetting it locally");
                self.client.forget_factor(&factor)?;
            }
            // Without its key the factor cannot sign the delete; the server drops it eventually
            // and the local record is useless, so removing it must still be possible.
            Err(verify_push::Error::KeyMissing { .. }) => {
                tracing::warn!(factor = %factor, "key missing; removing the account locally only");
                self.client.forget_factor(&factor)?;
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(factor = %factor, "account removed");
        self.activity.remove(factor_sid);
        self.quiet.remove(factor_sid);
        self.silent.remove(factor_sid);
        self.watcher.forget_factor(factor_sid);
        self.publish_accounts().await;
        Ok(())
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

    /// Allows or forbids silent approval for one account (`assent silent`, the account's
    /// switch), and publishes the account list. An account without an enrolled origin can be
    /// switched on, but nothing is ever approved silently for it.
    pub async fn set_silent_allowed(
        &self,
        factor_sid: &str,
        allowed: bool,
    ) -> Result<Account, AppError> {
        let factor = parse_factor(factor_sid)?;
        if !self.client.factors()?.iter().any(|f| f.sid == factor) {
            return Err(AppError::AccountNotFound(factor_sid.to_owned()));
        }
        self.silent.set_allowed(factor_sid, allowed)?;
        tracing::info!(factor = %factor, allowed, "silent approval switched");
        let list = self.accounts().await?;
        self.sink.emit(AppEvent::AccountsChanged(list.clone()));
        list.into_iter()
            .find(|a| a.factor_sid == factor_sid)
            .ok_or_else(|| AppError::AccountNotFound(factor_sid.to_owned()))
    }

    /// Whether an account enrolled with this web origin (the local endpoint answers CORS
    /// preflights only for those).
    pub fn knows_origin(&self, origin: &str) -> bool {
        self.silent.knows_origin(origin)
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

    /// A sign-in page on this desktop says a challenge was just created: poll now if some
    /// account enrolled with the page's origin. Returns whether it did.
    pub fn wake(&self, origin: &str) -> bool {
        if !self.silent.knows_origin(origin) {
            return false;
        }
        tracing::info!(origin = %origin, "woken by a sign-in page; polling now");
        self.watcher.check_now();
        true
    }

    /// A sign-in page asks to approve `challenge_sid` without a prompt ([`crate::silent`]).
    /// The challenge is looked for on the accounts that enrolled with an origin: first the one
    /// whose card shows it, then those of the request's origin, then the others (a relayed
    /// sign-in comes from an origin no account has). Approval and denial go through the
    /// library's check of the challenge fetched for signing, which applies the rules again to
    /// exactly what is signed.
    pub async fn silent_approval(
        &self,
        origin: Option<&str>,
        challenge_sid: &str,
        nonce: &str,
    ) -> SilentOutcome {
        let Ok(sid) = parse_challenge(challenge_sid) else {
            tracing::info!("silent approval: not a challenge SID");
            return SilentOutcome::Prompt;
        };
        if nonce.len() > silent::MAX_NONCE {
            tracing::info!(challenge = %sid, "silent approval: nonce too long");
            return SilentOutcome::Prompt;
        }
        let mut candidates: Vec<String> = self
            .watcher
            .pending()
            .iter()
            .filter(|p| p.key().challenge == sid)
            .map(|p| p.factor_sid().to_owned())
            .collect();
        if let Some(o) = origin {
            candidates.extend(self.silent.factors_with_origin(o));
        }
        candidates.extend(self.silent.factors_with_any_origin());
        let mut seen = std::collections::BTreeSet::new();
        candidates.retain(|f| seen.insert(f.clone()));
        let verified: Vec<verify_push::Factor> = match self.client.factors() {
            Ok(fs) => fs.into_iter().filter(is_verified).collect(),
            Err(e) => {
                tracing::warn!(code = %e.code().as_str(), "silent approval: cannot read accounts");
                return SilentOutcome::Prompt;
            }
        };
        for factor_sid in candidates {
            let Some(factor) = verified.iter().find(|f| f.sid.as_ref() == factor_sid) else {
                continue;
            };
            let key = ChallengeKey {
                factor: factor.sid.clone(),
                challenge: sid.clone(),
            };
            if let Some(outcome) = self.silent_for(factor, &key, origin, nonce).await {
                return outcome;
            }
        }
        tracing::info!(challenge = %sid, "silent approval: no account with an origin has this challenge");
        SilentOutcome::Prompt
    }

    /// [`Core::silent_approval`] for one account; `None` when the challenge is not its.
    async fn silent_for(
        &self,
        factor: &verify_push::Factor,
        key: &ChallengeKey,
        origin: Option<&str>,
        nonce: &str,
    ) -> Option<SilentOutcome> {
        let stored = self.silent.get(factor.sid.as_ref());
        // "Confirm it's you before approving" means no approval without the PIN, silent or not.
        let user_verification = self.needs_verification(factor.sid.as_ref());
        let session = self.session.session();
        let shown = self.watcher.displayed(key);
        let evaluation: Mutex<Option<silent::Evaluation>> = Mutex::new(None);
        let check = |c: &Challenge| {
            if shown
                .as_ref()
                .is_some_and(|card| !card.challenge.shows_same_as(c))
            {
                return false;
            }
            let e = self.nonces.spend(nonce, c.expires_at, |used| {
                let e = silent::evaluate(&silent::Inputs {
                    request: silent::Request { origin, nonce },
                    account: silent::AccountFacts {
                        factor_sid: factor.sid.as_ref(),
                        origin: stored.origin.as_deref(),
                        allowed: stored.allowed,
                        user_verification,
                    },
                    challenge: c,
                    session,
                    nonce_used: used,
                    now: Utc::now(),
                });
                let spend = e.nonce_matched;
                (e, spend)
            });
            let approve = matches!(e.verdict, Verdict::Approve { .. });
            *evaluation.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            approve
        };
        let metadata = silent::approval_metadata(origin.unwrap_or_default());
        let result = self
            .client
            .answer_with_metadata(
                &key.factor,
                &key.challenge,
                Decision::Approve,
                Some(&metadata),
                Some(&check),
            )
            .await;
        let evaluation = evaluation.lock().unwrap_or_else(|p| p.into_inner()).take();
        match (result, evaluation) {
            (Ok(c), _) => {
                let view = ChallengeView::from(&c);
                tracing::info!(challenge = %key, origin = ?origin, status = view.status, "approved silently (origin verified)");
                self.activity.touch(key.factor.as_ref(), Utc::now());
                self.watcher.resolved(key, &view);
                Some(SilentOutcome::Approved)
            }
            (Err(verify_push::Error::ContentMismatch { .. }), Some(e)) => match e.verdict {
                Verdict::DenyRelayed { origin: from } => {
                    Some(self.deny_relayed(factor, key, nonce, &from).await)
                }
                Verdict::Prompt(reason) => {
                    tracing::info!(challenge = %key, reason = reason.as_str(), "silent approval declined; the card decides");
                    Some(SilentOutcome::Prompt)
                }
                Verdict::Approve { .. } => Some(SilentOutcome::Prompt),
            },
            (Err(verify_push::Error::ContentMismatch { .. }), None) => {
                tracing::warn!(challenge = %key, "silent approval: the challenge no longer shows what its card shows");
                Some(SilentOutcome::Prompt)
            }
            (Err(e), _) if e.api_error().is_some_and(|a| a.status == 404) => None,
            (Err(e), _) => {
                tracing::info!(challenge = %key, code = %e.code().as_str(), "silent approval failed; the card decides");
                Some(SilentOutcome::Prompt)
            }
        }
    }

    /// Denies a relayed sign-in with `deny_reason` `origin_mismatch` and the relaying origin,
    /// and tells the user.
    async fn deny_relayed(
        &self,
        factor: &verify_push::Factor,
        key: &ChallengeKey,
        nonce: &str,
        from: &str,
    ) -> SilentOutcome {
        let expected: Mutex<String> = Mutex::new(String::new());
        // The challenge fetched for signing must still be the one the nonce belongs to.
        let same = |c: &Challenge| {
            let h = c.hidden_details.as_ref();
            let want = h.and_then(|h| h.get(silent::ORIGIN_KEY));
            let ok = c.status == verify_push::ChallengeStatus::Pending
                && h.and_then(|h| h.get(silent::NONCE_KEY))
                    .is_some_and(|n| n.as_bytes().ct_eq(nonce.as_bytes()).into())
                && want.is_some_and(|w| w != from);
            if let Some(w) = want {
                w.clone_into(&mut expected.lock().unwrap_or_else(|p| p.into_inner()));
            }
            ok
        };
        let metadata = silent::relayed_metadata(from);
        let result = self
            .client
            .answer_with_metadata(
                &key.factor,
                &key.challenge,
                Decision::Deny,
                Some(&metadata),
                Some(&same),
            )
            .await;
        let expected = expected.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let denied = match result {
            Ok(c) => {
                let view = ChallengeView::from(&c);
                self.activity.touch(key.factor.as_ref(), Utc::now());
                self.watcher.resolved(key, &view);
                true
            }
            Err(e) => {
                tracing::warn!(challenge = %key, code = %e.code().as_str(), "denying a relayed sign-in failed");
                false
            }
        };
        tracing::warn!(challenge = %key, origin = %from, expected = %expected, denied, "relayed sign-in: the right nonce came from another origin");
        self.sink.emit(AppEvent::RelayedSignIn(RelayedSignInEvent {
            factor_sid: factor.sid.to_string(),
            account_name: factor.friendly_name.clone(),
            challenge_sid: key.challenge.to_string(),
            origin: from.to_owned(),
            expected_origin: expected,
            denied,
        }));
        SilentOutcome::Denied
    }

    fn progress(&self, step: EnrollStep) {
        self.sink.emit(AppEvent::EnrollProgress(step));
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

fn is_not_me(answer: &Answer) -> bool {
    matches!(
        answer,
        Answer::Deny {
            reason: Some(DenyReason::NotMe)
        }
    )
}

/// Errors that say nothing about where a challenge is, only that we could not look.
fn prevents_lookup(e: &verify_push::Error) -> bool {
    use verify_push::ErrorCode as C;
    matches!(
        e.code(),
        C::KeychainLocked | C::KeychainUnavailable | C::KeyStorage | C::Network
    )
}
