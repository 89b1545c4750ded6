//! The app PIN ([`crate::verification`]): setting, changing and removing it, and checking it
//! before an approval.

use chrono::Utc;
use verify_push::FactorSid;

use super::{blocking, Core};
use crate::events::AppEvent;
use crate::verification::{Pin, Scope, VerificationView};
use crate::AppError;

impl Core {
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
    pub(super) async fn verify_user(
        &self,
        factor: &FactorSid,
        pin: Option<&Pin>,
    ) -> Result<(), AppError> {
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
}
