//! Everything the core tells the outside world goes through [`EventSink`]: the GUI turns events
//! into Tauri events, notifications and tray updates; tests collect them; the CLI prints them.

use serde::Serialize;
use ts_rs::TS;

use crate::alerts::Alert;
use crate::enroll_requests::EnrollRequestView;
use crate::verification::VerificationView;
use crate::views::{Account, ChallengeView, EnrollStep, PendingChallenge, WatcherStatus};

/// Payload of the `enroll-progress` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
pub struct EnrollProgressEvent {
    /// The step enrolment just reached.
    pub step: EnrollStep,
}

/// Payload of the `focus-challenge` event: show this challenge's card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FocusChallengeEvent {
    /// YC… SID of the challenge.
    pub challenge_sid: String,
}

/// Result of `page_ready`: what a new page must know that happened while no page showed it
/// (the window is created when opened, so events sent before it listened are kept here).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PageHandover {
    /// YC… SID of the card the window was opened for (tray item, notification).
    pub focus_challenge_sid: Option<String>,
    /// Relayed sign-ins blocked while no page showed them, newest first.
    pub relayed: Vec<RelayedSignInEvent>,
}

/// Why a challenge left the pending list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum RemovalReason {
    /// Answered in this app (window, notification, tray or CLI).
    AnsweredHere,
    /// Answered by another device or session.
    AnsweredElsewhere,
    /// Its expiration date passed.
    Expired,
    /// Its account was removed.
    AccountRemoved,
}

/// Payload of the `challenge-removed` event: a card leaves the pending list, and why (the card
/// says "Answered on another device" for [`RemovalReason::AnsweredElsewhere`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeRemovedEvent {
    /// YF… SID of the account it was listed for.
    pub factor_sid: String,
    /// YC… SID of the challenge.
    pub sid: String,
    /// Why it left.
    pub reason: RemovalReason,
}

/// An event from the core.
#[derive(Debug, Clone, PartialEq)]
pub enum AppEvent {
    /// The full, current list of pending challenges (`challenges-changed`).
    ChallengesChanged(Vec<PendingChallenge>),
    /// A challenge seen for the first time ever (persisted across restarts), with the desktop
    /// alert it raises ([`crate::alerts`]).
    ChallengeAnnounced {
        /// The new challenge.
        challenge: PendingChallenge,
        /// Its notification, the account's grouped one, or none and why.
        alert: Alert,
    },
    /// A challenge is no longer pending; its card and notification go away.
    ChallengeRemoved {
        /// YF… SID of the account it was listed for.
        factor_sid: String,
        /// YC… SID.
        sid: String,
        /// Why.
        reason: RemovalReason,
    },
    /// The final state of a challenge that left the list (`challenge-answered`).
    ChallengeAnswered(ChallengeView),
    /// Online / paused / last error changed (`watcher-status`).
    WatcherStatus(WatcherStatus),
    /// The account list changed (`accounts-changed`).
    AccountsChanged(Vec<Account>),
    /// Enrolment progress (`enroll-progress`).
    EnrollProgress(EnrollStep),
    /// The app PIN was set, changed, removed, or a wrong try counted (`verification-changed`).
    VerificationChanged(VerificationView),
    /// A deep link arrived and waits for confirmation (`enroll-request`): a preview only,
    /// never the token.
    EnrollRequest(EnrollRequestView),
    /// A sign-in was relayed: the right silent-approval nonce came from another web origin
    /// (a phishing page), and the challenge was denied (`relayed-sign-in`).
    RelayedSignIn(RelayedSignInEvent),
}

/// Payload of the `relayed-sign-in` event: what the user is told about a relayed sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RelayedSignInEvent {
    /// YF… SID of the account.
    pub factor_sid: String,
    /// Its friendly name.
    pub account_name: String,
    /// YC… SID of the denied challenge.
    pub challenge_sid: String,
    /// The origin the request came from (the page that relayed it).
    pub origin: String,
    /// The origin the sign-in belongs to.
    pub expected_origin: String,
    /// Whether the server took the denial.
    pub denied: bool,
}

/// Receives core events. Implementations must not block for long (called from async tasks).
pub trait EventSink: Send + Sync + 'static {
    /// Handles one event.
    fn emit(&self, event: AppEvent);
}

/// Drops every event (one-shot CLI subcommands).
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;

impl EventSink for NullSink {
    fn emit(&self, _event: AppEvent) {}
}
