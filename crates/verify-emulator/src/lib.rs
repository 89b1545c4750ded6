//! verify-emulator: a stateful, faithful local implementation of the Verify Push part of
//! Twilio's Verify v2 API (under `/v2/`), plus a demo relying party (under `/demo/`).
//!
//! ```no_run
//! # async fn run() -> Result<(), verify_emulator::Error> {
//! let emu = verify_emulator::spawn(verify_emulator::EmulatorConfig::default()).await?;
//! println!("API at {}v2/ as {}", emu.base_url(), emu.account_sid());
//! emu.shutdown().await;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod admin;
pub mod api;
pub mod auth;
pub mod crypto;
pub mod db;
pub mod demo;
pub mod error;
pub mod faults;
pub mod form;
pub mod host;
pub mod paging;
pub mod server;
pub mod sid;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time;
pub mod webhook_delivery;

pub use db::DbLocation;
pub use error::{ApiError, Error};
pub use faults::Faults;
pub use server::{spawn, EmulatorConfig, RunningEmulator};
