//! The embedded verify-emulator (local API + demo site) for the no-Twilio demo.
//!
//! Listens on `ASSENT_EMULATOR_ADDR` (default 127.0.0.1:8790, fixed so stored factors' base URLs
//! stay valid across restarts) with its database in the data dir. `--no-emulator` or
//! `ASSENT_EMULATOR_ADDR=off` turns it off.

use std::net::SocketAddr;

use verify_emulator::{DbLocation, EmulatorConfig, RunningEmulator};

use assent_core::{AppError, Paths};

/// Environment variable with the listen address, or `off`.
pub const ADDR_ENV: &str = "ASSENT_EMULATOR_ADDR";
/// Default listen address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8790";

/// The address to listen on, or `None` when disabled.
pub fn configured_addr(disabled_by_flag: bool) -> Result<Option<SocketAddr>, AppError> {
    if disabled_by_flag {
        return Ok(None);
    }
    let raw = std::env::var(ADDR_ENV).unwrap_or_else(|_| DEFAULT_ADDR.to_owned());
    if raw.trim().eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    raw.trim().parse().map(Some).map_err(|_| {
        AppError::Input(format!(
            "{ADDR_ENV}={raw:?} is not an address like 127.0.0.1:8790 or off"
        ))
    })
}

/// Starts the emulator; returns it and the demo site's URL.
pub async fn start(
    paths: &Paths,
    addr: SocketAddr,
) -> Result<(RunningEmulator, url::Url), AppError> {
    let config = EmulatorConfig {
        listen: addr,
        db: DbLocation::File(paths.emulator_db()),
        // The demo's sign-in page calls the local endpoint wherever this process runs it.
        assent_endpoint: assent_core::local_endpoint::EndpointConfig::from_env()
            .ok()
            .and_then(|c| c.addr)
            .unwrap_or(EmulatorConfig::default().assent_endpoint),
        ..EmulatorConfig::default()
    };
    let emu = verify_emulator::spawn(config).await.map_err(|e| {
        AppError::Desktop(format!("embedded emulator did not start on {addr}: {e}"))
    })?;
    let demo = emu
        .base_url()
        .join("demo/")
        .map_err(|e| AppError::Desktop(format!("bad demo URL: {e}")))?;
    tracing::info!(api = %emu.base_url(), demo = %demo, "embedded emulator running");
    Ok((emu, demo))
}
