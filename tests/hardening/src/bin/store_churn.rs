//! Child process of the SIGKILL matrix (`tests/kill_matrix.rs`): enrols factors against an
//! emulator, renames and removes them, forever, so the parent can kill it at random points
//! of enrolment, key-store and factor-store writes.
//!
//! Environment: `HARDENING_BASE` (emulator root URL), `HARDENING_ACCOUNT_SID`,
//! `HARDENING_AUTH_TOKEN`, `HARDENING_SERVICE`, `HARDENING_DATA_DIR`, and either
//! `HARDENING_KEYS_DIR` (file key store) or `HARDENING_KEYRING_SERVICE` (real keychain).

use assent_hardening::{Backend, FileKeyStore};
use std::sync::Arc;
use std::time::Duration;
use verify_push::{EnrollRequest, EnrollmentPayload, KeyStore, OsKeyStore, VerifyPush};

fn var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

async fn run() -> Result<(), String> {
    let base = url::Url::parse(&var("HARDENING_BASE")?).map_err(|e| e.to_string())?;
    let backend = Backend::new(
        base,
        &var("HARDENING_ACCOUNT_SID")?,
        &var("HARDENING_AUTH_TOKEN")?,
    )
    .map_err(|e| e.to_string())?;
    let service = var("HARDENING_SERVICE")?;
    let keys: Arc<dyn KeyStore> = match std::env::var("HARDENING_KEYRING_SERVICE") {
        Ok(s) => Arc::new(OsKeyStore::new(s)),
        Err(_) => {
            Arc::new(FileKeyStore::open(var("HARDENING_KEYS_DIR")?).map_err(|e| e.to_string())?)
        }
    };
    let client = VerifyPush::builder()
        .app_id("dev.assent.Hardening")
        .app("AssentHardening", "0")
        .data_dir(var("HARDENING_DATA_DIR")?)
        .key_store(keys)
        .http_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    let api = backend.api_base().map_err(|e| e.to_string())?;
    // A fresh identity per round and process: rounds forget factors locally (so kills land in
    // removals too), which leaves them on the server, and an entity takes at most 20 push
    // factors (Twilio's 60315, which the emulator enforces).
    let pid = std::process::id();
    for round in 0u64.. {
        let identity = format!("kill-{pid}-{round}");
        let token = backend
            .access_token(&service, &identity)
            .await
            .map_err(|e| e.to_string())?;
        let payload = EnrollmentPayload::new(&token, &service, &identity, Some(api.as_str()))
            .map_err(|e| e.to_string())?;
        let f = client
            .enroll(EnrollRequest::new(
                payload,
                format!("churn {round}")
                    .parse()
                    .map_err(|e: verify_push::Error| e.to_string())?,
            ))
            .await
            .map_err(|e| e.to_string())?;
        client
            .update_factor(
                &f.sid,
                Some(
                    format!("renamed {round}")
                        .parse()
                        .map_err(|e: verify_push::Error| e.to_string())?,
                ),
            )
            .await
            .map_err(|e| e.to_string())?;
        let c = client.clone();
        let all = tokio::task::spawn_blocking(move || c.factors())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        // Remove down to two factors, alternating server delete and local forget, so kills
        // also land inside removals.
        for (i, f) in all.iter().enumerate().take(all.len().saturating_sub(2)) {
            let sid = f.sid.clone();
            if (round + i as u64).is_multiple_of(2) {
                client
                    .delete_factor(&sid)
                    .await
                    .map_err(|e| e.to_string())?;
            } else {
                let c = client.clone();
                tokio::task::spawn_blocking(move || c.forget_factor(&sid))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("store_churn: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
