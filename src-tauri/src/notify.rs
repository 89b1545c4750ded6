//! Desktop notifications. Title names the account, the body is the message, Approve/Deny
//! buttons appear where the platform supports actions, activating the notification opens the
//! window on that challenge. Buttons call [`Core::answer`], the same function the window's
//! buttons use.
//!
//! Linux and the BSDs: the freedesktop notification server over D-Bus (`notify/xdg.rs`); an
//! action counts only when its signal comes from the server that showed the notification, and
//! a challenge that leaves the pending list (answered elsewhere, expired) closes its
//! notification. Windows: a toast through notify-rust's WinRT backend, always with buttons and
//! without markup; Windows offers no way to withdraw a shown toast through it, so
//! [`Notifier::close`] only forgets it (a late click opens the window, where the card is
//! gone). Elsewhere (macOS today) [`NotifyError::Unsupported`]: the window and tray still show
//! every request.
//!
//! [`Core::answer`]: assent_core::Core::answer

use tauri::{AppHandle, Manager};

use crate::state::AppState;
use assent_core::views::PendingChallenge;
use assent_core::Decision;

#[cfg(not(any(windows, all(unix, not(target_os = "macos")))))]
use backend_none::Backend;
#[cfg(windows)]
use backend_toast::Backend;
#[cfg(all(unix, not(target_os = "macos")))]
use backend_xdg::Backend;

#[cfg(all(unix, not(target_os = "macos")))]
mod icon;
#[cfg(all(unix, not(target_os = "macos")))]
mod xdg;

/// The `app_icon` notifications carry ([`icon::resolve`]); `None` where the backend takes
/// none.
#[cfg(all(unix, not(target_os = "macos")))]
pub fn app_icon(data_dir: &std::path::Path) -> Option<String> {
    icon::resolve(&icon::xdg_data_dirs(), data_dir)
}

/// The `app_icon` notifications carry; this backend takes none.
#[cfg(not(all(unix, not(target_os = "macos"))))]
pub fn app_icon(_data_dir: &std::path::Path) -> Option<String> {
    None
}

/// Why a notification was not shown, or a signal about it was not taken as an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// This build has no notification backend for the OS it runs on.
    #[error("desktop notifications are not available on {os} in this build")]
    Unsupported {
        /// `std::env::consts::OS` of the build.
        os: &'static str,
    },
    /// The platform refused or failed to show it.
    #[error("notification could not be shown: {0}")]
    Show(String),
    /// A signal about a shown notification came from another bus connection than the server
    /// that showed it (anyone on the session bus can emit one). Ignored; the wait goes on.
    #[error("signal for notification {id} from {sender} ignored: it was shown by {server}")]
    ForgedSignal {
        /// The notification id the signal named.
        id: u32,
        /// The unique bus name that sent it.
        sender: String,
        /// The unique bus name of the server that showed the notification.
        server: String,
    },
    /// The connection to the notification server ended while a notification was open.
    #[error("notification server connection lost: {0}")]
    Gone(String),
}

impl NotifyError {
    /// Stable snake_case code for logs.
    pub fn code(&self) -> &'static str {
        match self {
            NotifyError::Unsupported { .. } => "notifications_unsupported",
            NotifyError::Show(_) => "notification_failed",
            NotifyError::ForgedSignal { .. } => "notification_signal_forged",
            NotifyError::Gone(_) => "notification_server_gone",
        }
    }

    /// The error of a build without a notification backend.
    pub fn unsupported() -> Self {
        NotifyError::Unsupported {
            os: std::env::consts::OS,
        }
    }
}

/// What the user did with a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    not(any(windows, all(unix, not(target_os = "macos")))),
    allow(dead_code)
)]
enum Choice {
    /// Clicked the body (or "Open").
    Open,
    Approve,
    Deny,
}

impl Choice {
    /// The answer an invoked action gives. Only the two action keys we register answer;
    /// anything else (`default`, the body click, an unknown or crafted key) only opens the
    /// window.
    #[cfg_attr(
        not(any(windows, all(unix, not(target_os = "macos")))),
        allow(dead_code)
    )]
    fn of_action(key: &str) -> Choice {
        match key {
            "approve" => Choice::Approve,
            "deny" => Choice::Deny,
            _ => Choice::Open,
        }
    }

    /// The user's answer to a toast, `None` when it closed without one; an inline reply only
    /// opens the window.
    #[cfg(windows)]
    fn of(response: &notify_rust::NotificationResponse) -> Option<Choice> {
        use notify_rust::NotificationResponse as R;
        match response {
            R::Action(a) => Some(Choice::of_action(a)),
            R::Default | R::Reply(_) => Some(Choice::Open),
            _ => None,
        }
    }
}

/// Shows and tracks one notification per pending challenge.
#[derive(Default)]
pub struct Notifier {
    backend: Backend,
    /// `app_icon` of every notification ([`app_icon`]).
    icon: Option<String>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").finish_non_exhaustive()
    }
}

impl Notifier {
    /// A notifier whose notifications carry `icon` (a theme icon name or an absolute path).
    pub fn new(icon: Option<String>) -> Notifier {
        Notifier {
            icon,
            ..Notifier::default()
        }
    }

    /// Shows the notification of a request that is its account's only pending one, and
    /// handles its actions until it closes. `one_click`: offer Approve on it.
    pub async fn show(
        self: std::sync::Arc<Self>,
        app: AppHandle,
        p: PendingChallenge,
        one_click: bool,
    ) {
        let bubble = Bubble::single(&p, one_click);
        let Some(choice) = self.present(&bubble).await else {
            return;
        };
        match choice {
            // Never offered when matching is asked or one click is off; a crafted action only
            // opens the window.
            Choice::Approve if !one_click || p.challenge.match_request.is_some() => {
                focus(&app, p.sid())
            }
            Choice::Approve => respond(&app, &p, Decision::Approve).await,
            Choice::Deny => respond(&app, &p, Decision::Deny).await,
            Choice::Open => focus(&app, p.sid()),
        }
    }

    /// Shows the grouped notification of an account with `pending` requests (`newest` among
    /// them), replacing the account's other notifications. It only opens the window.
    pub async fn show_group(
        self: std::sync::Arc<Self>,
        app: AppHandle,
        newest: PendingChallenge,
        pending: usize,
        sound: bool,
    ) {
        self.backend.close_account(newest.factor_sid());
        let bubble = Bubble::group(&newest, pending, sound);
        if self.present(&bubble).await.is_some() {
            focus(&app, newest.sid());
        }
    }

    /// Closes the notification of a challenge (of one account) that is no longer pending.
    pub fn close(self: &std::sync::Arc<Self>, factor_sid: &str, challenge_sid: &str) {
        self.backend.close(&format!("{factor_sid}/{challenge_sid}"));
    }

    /// Closes the grouped notifications of accounts with nothing pending any more.
    pub fn close_groups_except(self: &std::sync::Arc<Self>, pending: &[PendingChallenge]) {
        for factor in self.backend.group_factors() {
            if !pending.iter().any(|p| p.factor_sid() == factor) {
                self.backend.close(&Bubble::group_key(&factor));
            }
        }
    }

    /// Fetches the server's capabilities ahead of the first notification (D-Bus only).
    pub async fn prefetch_capabilities(&self) {
        self.backend.prefetch().await;
    }

    /// `b` as shown: with the app icon.
    fn dressed(&self, b: &Bubble) -> Bubble {
        Bubble {
            icon: self.icon.clone().unwrap_or_default(),
            ..b.clone()
        }
    }

    async fn present(&self, bubble: &Bubble) -> Option<Choice> {
        let bubble = &self.dressed(bubble);
        match self.backend.present(bubble).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(challenge = %bubble.challenge_sid, code = e.code(), error = %e, "notification not shown");
                None
            }
        }
    }
}

/// One notification's content, whatever the backend. Text is plain: a backend whose server
/// interprets markup escapes it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Bubble {
    /// Tracking key: `YF…/YC…` for a request, [`Bubble::group_key`] for an account's group.
    key: String,
    /// The request it was shown for (the newest, for a group): logs and focus.
    challenge_sid: String,
    summary: String,
    body: String,
    /// Offer Approve (Deny is offered on every single request's notification).
    approve: bool,
    /// Offer Deny.
    deny: bool,
    /// Pop up with sound.
    sound: bool,
    /// `app_icon`: a theme icon name or an absolute path; empty for none.
    #[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
    icon: String,
}

/// Detail fields shown in a notification at most (the card shows them all).
const FIELDS_SHOWN: usize = 4;

impl Bubble {
    fn single(p: &PendingChallenge, one_click: bool) -> Bubble {
        let mut lines = vec![one_line(&p.challenge.message, 200)];
        for f in p.challenge.fields.iter().take(FIELDS_SHOWN) {
            lines.push(format!(
                "{}: {}",
                one_line(&f.label, 40),
                one_line(&f.value, 80)
            ));
        }
        if p.challenge.fields.len() > FIELDS_SHOWN {
            lines.push(format!(
                "… and {} more in the window",
                p.challenge.fields.len() - FIELDS_SHOWN
            ));
        }
        lines.push(format!("From {}", one_line(&p.server_host, 80)));
        Bubble {
            key: format!("{}/{}", p.factor_sid(), p.sid()),
            challenge_sid: p.sid().to_owned(),
            summary: format!("Sign-in request: {}", one_line(&p.account_name, 80)),
            body: lines.join("\n"),
            approve: one_click && p.challenge.match_request.is_none(),
            deny: true,
            sound: true,
            icon: String::new(),
        }
    }

    fn group(newest: &PendingChallenge, pending: usize, sound: bool) -> Bubble {
        Bubble {
            key: Bubble::group_key(newest.factor_sid()),
            challenge_sid: newest.sid().to_owned(),
            summary: format!(
                "{pending} sign-in requests: {}",
                one_line(&newest.account_name, 80)
            ),
            body: format!(
                "From {}. Open Assent to read them; approving is not offered here while several are waiting.",
                one_line(&newest.server_host, 80)
            ),
            approve: false,
            deny: false,
            sound,
            icon: String::new(),
        }
    }

    fn group_key(factor_sid: &str) -> String {
        format!("{factor_sid}/group")
    }
}

/// The freedesktop notification server over D-Bus.
#[cfg(all(unix, not(target_os = "macos")))]
mod backend_xdg {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::xdg::{self, Client, Event, Shown};
    use super::{escape_markup, Bubble, Choice, NotifyError};

    #[derive(Default)]
    pub(super) struct Backend {
        client: tokio::sync::OnceCell<Client>,
        caps: tokio::sync::OnceCell<Vec<String>>,
        /// Open notifications by [`Bubble::key`].
        open: Mutex<HashMap<String, Shown>>,
    }

    impl Backend {
        pub(super) async fn present(&self, b: &Bubble) -> Result<Option<Choice>, NotifyError> {
            let started = std::time::Instant::now();
            let client = self.client().await?;
            let caps = self.capabilities().await;
            let actions = caps.iter().any(|c| c == "actions");
            let markup = caps.iter().any(|c| c == "body-markup");
            let body = if markup {
                escape_markup(&b.body)
            } else {
                b.body.clone()
            };
            let mut buttons = Vec::new();
            if actions {
                buttons.push(("default", "Open"));
                if b.approve {
                    buttons.push(("approve", "Approve"));
                }
                if b.deny {
                    buttons.push(("deny", "Deny"));
                }
            }
            let mut watch = client
                .show(&xdg::Request {
                    app_name: "Assent",
                    app_icon: &b.icon,
                    summary: &b.summary,
                    body: &body,
                    actions: &buttons,
                    expire_timeout: xdg::NEVER_EXPIRES,
                    quiet: !b.sound,
                })
                .await?;
            let shown = watch.shown().clone();
            let id = shown.id;
            tracing::info!(challenge = %b.challenge_sid, key = %b.key, notification_id = id, server = %shown.server, actions, "notification shown");
            // From the task's start to the server's answer (connect, Notify, reply).
            tracing::debug!(challenge = %b.challenge_sid, show_ms = started.elapsed().as_secs_f64() * 1000.0, "notification timing");
            if let Some(old) = self.lock().insert(b.key.clone(), shown.clone()) {
                // A group shown again: the older one goes.
                let client = client.clone();
                tokio::spawn(async move { client.close(&old).await });
            }

            let event = loop {
                let e = match watch.next().await {
                    Ok(event) => break Some(event),
                    Err(e) => e,
                };
                // A forged signal is reported and the wait goes on; anything else ends it.
                if let NotifyError::ForgedSignal { sender, server, .. } = &e {
                    tracing::warn!(challenge = %b.challenge_sid, notification_id = id, sender = %sender, server = %server, code = e.code(), error = %e, "notification signal ignored");
                } else {
                    tracing::warn!(challenge = %b.challenge_sid, notification_id = id, code = e.code(), error = %e, "notification wait ended");
                    break None;
                }
            };
            drop(watch);
            {
                let mut open = self.lock();
                if open.get(&b.key).is_some_and(|s| *s == shown) {
                    open.remove(&b.key);
                }
            }
            let Some(Event::Action(key)) = event else {
                return Ok(None);
            };
            let choice = Choice::of_action(&key);
            tracing::info!(challenge = %b.challenge_sid, notification_id = id, action = ?choice, "notification answered");
            // Some servers (dunst) keep the bubble after an action; the request is handled now.
            if let Err(e) = client.close(&shown).await {
                tracing::debug!(challenge = %b.challenge_sid, notification_id = id, error = %e, "closing the answered notification failed");
            }
            Ok(Some(choice))
        }

        /// Closes the notification tracked under `key`, if it is open.
        pub(super) fn close(&self, key: &str) {
            let Some(shown) = self.lock().remove(key) else {
                return;
            };
            // Whatever is tracked was shown through the client.
            let Some(client) = self.client.get().cloned() else {
                return;
            };
            let key = key.to_owned();
            tauri::async_runtime::spawn(async move {
                if let Err(e) = client.close(&shown).await {
                    tracing::debug!(key = %key, notification_id = shown.id, error = %e, "closing the notification failed");
                }
                tracing::info!(key = %key, notification_id = shown.id, "notification closed");
            });
        }

        /// Closes every notification of one account (its requests' and its group's).
        pub(super) fn close_account(&self, factor_sid: &str) {
            let prefix = format!("{factor_sid}/");
            let keys: Vec<String> = self
                .lock()
                .keys()
                .filter(|k| k.starts_with(&prefix))
                .cloned()
                .collect();
            for k in keys {
                self.close(&k);
            }
        }

        /// Accounts with a grouped notification open.
        pub(super) fn group_factors(&self) -> Vec<String> {
            self.lock()
                .keys()
                .filter_map(|k| k.strip_suffix("/group").map(str::to_owned))
                .collect()
        }

        pub(super) async fn prefetch(&self) {
            let caps = self.capabilities().await;
            tracing::debug!(?caps, "notification server capabilities");
        }

        async fn client(&self) -> Result<&Client, NotifyError> {
            self.client.get_or_try_init(Client::connect).await
        }

        async fn capabilities(&self) -> Vec<String> {
            let r = self
                .caps
                .get_or_try_init(|| async { self.client().await?.capabilities().await })
                .await;
            match r {
                Ok(c) => c.clone(),
                Err(e) => {
                    tracing::warn!(error = %e, "notification server capabilities unknown");
                    Vec::new()
                }
            }
        }

        fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Shown>> {
            // Map inserts/removes cannot be left half-done.
            self.open.lock().unwrap_or_else(|p| p.into_inner())
        }
    }
}

/// Windows toasts (WinRT) through notify-rust.
#[cfg(windows)]
mod backend_toast {
    use notify_rust::{Notification, NotificationResponse, Timeout};

    use super::{Bubble, Choice, NotifyError};

    #[derive(Default)]
    pub(super) struct Backend;

    impl Backend {
        pub(super) async fn present(&self, b: &Bubble) -> Result<Option<Choice>, NotifyError> {
            let mut n = Notification::new();
            // Toast text is plain text (the XML is built escaped), so no markup escaping.
            n.appname("Assent")
                .summary(&b.summary)
                .body(&b.body)
                .timeout(Timeout::Never);
            if b.approve {
                n.action("approve", "Approve");
            }
            if b.deny {
                n.action("deny", "Deny");
            }
            let sid = b.challenge_sid.clone();
            // Showing and waiting are blocking calls (WinRT, then a channel the toast's
            // callbacks feed).
            tokio::task::spawn_blocking(move || {
                let handle = n.show().map_err(|e| NotifyError::Show(e.to_string()))?;
                tracing::info!(challenge = %sid, "toast shown");
                let mut chosen = None;
                // Err: the toast went away without an event (the channel closed).
                if let Err(e) = handle.wait_for_response(|r: &NotificationResponse| {
                    chosen = Choice::of(r);
                }) {
                    tracing::debug!(challenge = %sid, error = %e, "toast ended without an answer");
                }
                Ok(chosen)
            })
            .await
            .map_err(|e| NotifyError::Show(e.to_string()))?
        }

        pub(super) fn close(&self, key: &str) {
            tracing::debug!(key = %key, "toasts cannot be withdrawn; left to the Action Center");
        }

        pub(super) fn close_account(&self, _factor_sid: &str) {}

        pub(super) fn group_factors(&self) -> Vec<String> {
            Vec::new()
        }

        pub(super) async fn prefetch(&self) {}
    }
}

/// No notification backend in this build.
#[cfg(not(any(windows, all(unix, not(target_os = "macos")))))]
mod backend_none {
    use super::{Bubble, Choice, NotifyError};

    #[derive(Default)]
    pub(super) struct Backend;

    impl Backend {
        pub(super) async fn present(&self, _b: &Bubble) -> Result<Option<Choice>, NotifyError> {
            Err(NotifyError::unsupported())
        }

        pub(super) fn close(&self, _key: &str) {}

        pub(super) fn close_account(&self, _factor_sid: &str) {}

        pub(super) fn group_factors(&self) -> Vec<String> {
            Vec::new()
        }

        pub(super) async fn prefetch(&self) {}
    }
}

/// The notification's button: exactly the window's path ([`assent_core::Core::answer`]).
async fn respond(app: &AppHandle, p: &PendingChallenge, decision: Decision) {
    let Some(state) = app.try_state::<AppState>() else {
        return;
    };
    let core = state.core.clone();
    if let Err(e) = core
        .answer_from_notification(p.factor_sid(), p.sid(), decision)
        .await
    {
        tracing::warn!(challenge = %p.sid(), code = %e.code(), "answer from notification failed");
        // Show the card so the user sees what happened.
        focus(app, p.sid());
    }
}

/// Opens the window on a challenge's card.
pub fn focus(app: &AppHandle, challenge_sid: &str) {
    crate::window::show_challenge(app, challenge_sid);
}

/// Collapses whitespace and bounds length.
#[cfg_attr(
    not(any(windows, all(unix, not(target_os = "macos")))),
    allow(dead_code)
)]
fn one_line(text: &str, max: usize) -> String {
    let s: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() > max {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    } else {
        s
    }
}

/// Server-provided text for a server that interprets markup: escaped so `<b>`, `<a href>` or
/// `<img>` show literally.
#[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        let m = "<img src=x onerror=alert(1)> & <b>hi</b>";
        assert_eq!(
            escape_markup(m),
            "&lt;img src=x onerror=alert(1)&gt; &amp; &lt;b&gt;hi&lt;/b&gt;"
        );
    }

    fn pending(fields: usize, matching: bool) -> PendingChallenge {
        use assent_core::views::{ChallengeView, Field};
        let sid = "YC00000000000000000000000000000001";
        let factor = "YF00000000000000000000000000000001";
        PendingChallenge {
            challenge: ChallengeView {
                sid: sid.into(),
                factor_sid: factor.into(),
                status: "pending",
                message: "Sign in\nto <Bank>".into(),
                fields: (0..fields)
                    .map(|i| Field {
                        label: format!("Label {i}"),
                        value: format!("value {i}"),
                    })
                    .collect(),
                created_at: "2026-12-02T00:00:00Z".into(),
                expires_at: "2026-12-02T00:05:00Z".into(),
                responded_at: None,
                match_request: matching.then_some(assent_core::MatchView {
                    mode: assent_core::MatchMode::Type,
                    choices: None,
                }),
            },
            account_name: "Bank\naccount".into(),
            server_host: "bank.example".into(),
            expires: chrono::Utc::now(),
            created: chrono::Utc::now(),
            key: assent_core::views::ChallengeKey {
                factor: factor.parse().unwrap(),
                challenge: sid.parse().unwrap(),
            },
        }
    }

    #[test]
    fn a_request_names_account_server_and_fields_and_offers_approve_only_in_one_click() {
        let b = Bubble::single(&pending(2, false), true);
        assert_eq!(b.summary, "Sign-in request: Bank account");
        assert_eq!(
            b.body,
            "Sign in to <Bank>\nLabel 0: value 0\nLabel 1: value 1\nFrom bank.example"
        );
        assert!(b.approve && b.deny && b.sound);
        assert!(!Bubble::single(&pending(0, false), false).approve);
        assert!(
            !Bubble::single(&pending(0, true), true).approve,
            "matching needs the card"
        );
        let many = Bubble::single(&pending(6, false), true);
        assert!(many.body.contains("Label 3: value 3"));
        assert!(!many.body.contains("Label 4"));
        assert!(many.body.contains("… and 2 more in the window"));
    }

    #[test]
    fn every_notification_carries_the_app_icon() {
        let n = Notifier::new(Some("/data/icons/assent.png".into()));
        let p = pending(1, false);
        for b in [Bubble::single(&p, true), Bubble::group(&p, 3, true)] {
            let shown = n.dressed(&b);
            assert_eq!(shown.icon, "/data/icons/assent.png");
            assert_eq!(
                Bubble {
                    icon: String::new(),
                    ..shown
                },
                b,
                "nothing else changes"
            );
        }
        assert_eq!(
            Notifier::new(None).dressed(&Bubble::single(&p, true)).icon,
            ""
        );
    }

    #[test]
    fn a_group_counts_names_the_account_and_only_opens_the_window() {
        let p = pending(1, false);
        let g = Bubble::group(&p, 30, false);
        assert_eq!(g.summary, "30 sign-in requests: Bank account");
        assert!(g.body.contains("From bank.example"));
        assert!(!g.approve && !g.deny && !g.sound);
        assert_eq!(g.key, format!("{}/group", p.factor_sid()));
        assert_ne!(g.key, Bubble::single(&p, true).key);
    }

    #[test]
    fn only_the_approve_and_deny_actions_answer() {
        assert_eq!(Choice::of_action("approve"), Choice::Approve);
        assert_eq!(Choice::of_action("deny"), Choice::Deny);
        for other in ["default", "", "Approve", "approve ", "deny\n", "__closed"] {
            assert_eq!(Choice::of_action(other), Choice::Open, "{other:?}");
        }
    }

    #[cfg(windows)]
    #[test]
    fn toast_responses_map_like_actions() {
        use notify_rust::{CloseReason, NotificationResponse as R};
        let act = |a: &str| Choice::of(&R::Action(a.to_owned()));
        assert_eq!(act("approve"), Some(Choice::Approve));
        assert_eq!(act("deny"), Some(Choice::Deny));
        assert_eq!(act("default"), Some(Choice::Open));
        assert_eq!(Choice::of(&R::Default), Some(Choice::Open));
        assert_eq!(Choice::of(&R::Reply("approve".into())), Some(Choice::Open));
        assert_eq!(Choice::of(&R::Closed(CloseReason::Dismissed)), None);
    }

    #[test]
    fn unsupported_platform_is_a_typed_error() {
        let e = NotifyError::unsupported();
        assert_eq!(e.code(), "notifications_unsupported");
        assert_eq!(
            e,
            NotifyError::Unsupported {
                os: std::env::consts::OS
            }
        );
        assert!(e.to_string().contains("not available"));
        assert_eq!(NotifyError::Show("x".into()).code(), "notification_failed");
        assert_eq!(
            NotifyError::Gone("x".into()).code(),
            "notification_server_gone"
        );
    }

    #[test]
    fn one_line_bounds() {
        assert_eq!(one_line("a\nb", 10), "a b");
        assert_eq!(one_line("abcdef", 3), "abc…");
    }
}
