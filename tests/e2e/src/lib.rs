//! Harness for Assent's end-to-end tests: the real window (tauri-driver + WebKitWebDriver), a
//! `verify-emulator` process per scenario acting as Twilio, the test acting as the relying party,
//! and probes of the headless desktop (dunst notifications, gnome-keyring).
//!
//! Run inside `scripts/headless.sh` with `ASSENT_E2E=1` (what `make test` does).
//!
//! Linux only: the desktop it drives (D-Bus, gnome-keyring, dunst, WebKitWebDriver) is Linux's.
#![cfg(target_os = "linux")]

pub mod app;
pub mod browser;
pub mod check;
pub mod desktop;
pub mod emulator;
pub mod env;
pub mod error;
pub mod keyring;
pub mod relying_party;
pub mod scenario;
pub mod wait;
pub mod webhook;

pub use error::{Error, ErrorCode, Result};
