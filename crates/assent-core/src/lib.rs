//! Assent's logic without Tauri, GTK or webkit: accounts, challenges, settings, the watcher
//! and the headless CLI.
//!
//! The tray app (the `assent` crate in `src-tauri`), the CLI ([`cli`]) and the tests all drive
//! [`Core`]; events leave it through [`events::EventSink`].

#![warn(missing_docs)]

pub mod accounts;
pub mod alerts;
pub mod bindings;
pub mod cli;
pub mod enroll_requests;
pub mod error;
pub mod events;
pub mod history;
pub mod jsonfile;
pub mod local_endpoint;
pub mod matching;
pub mod naming;
pub mod paths;
pub mod quiet;
pub mod service;
pub mod settings;
pub mod silent;
pub mod verification;
pub mod views;
pub mod watcher;

pub use alerts::{Alert, SilentReason};
pub use enroll_requests::EnrollRequestView;
pub use error::AppError;
pub use events::{AppEvent, EventSink, NullSink, RemovalReason};
pub use matching::{DenyReason, MatchMode, MatchView};
pub use paths::Paths;
pub use service::{Answer, Core, CoreOptions, Decision, DenyAllReport, SilentOutcome};
pub use settings::Settings;
pub use silent::{SessionProbe, SessionState};
pub use watcher::{IdleSource, Watcher, WatcherConfig};
