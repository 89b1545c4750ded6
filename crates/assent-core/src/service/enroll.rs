//! Enrolment: from a pasted link or payload, or from a deep link the user confirms.

use chrono::Utc;
use verify_push::{EnrollRequest, EnrollmentPayload, FriendlyName};

use super::Core;
use crate::enroll_requests::{EnrollPreview, EnrollRequestView};
use crate::events::AppEvent;
use crate::views::{is_verified, Account, EnrollStep};
use crate::AppError;

impl Core {
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

    fn progress(&self, step: EnrollStep) {
        self.sink.emit(AppEvent::EnrollProgress(step));
    }
}
