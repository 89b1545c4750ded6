//! The local accounts: listing, publishing and removing them.

use super::{parse_factor, Core};
use crate::accounts;
use crate::events::AppEvent;
use crate::views::Account;
use crate::AppError;

impl Core {
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
}
