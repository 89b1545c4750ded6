//! Desktop notifications. Title names the account, the body is the message, Approve/Deny
//! buttons appear where the platform supports actions, activating the notification opens the
//! window on that challenge. Buttons call [`Core::answer`], the same function the window's
//! buttons use.
//!
//! Linux and the BSDs: notify-rust over D-Bus; a challenge that leaves the pending list
//! (answered elsewhere, expired) closes its notification. Windows: a toast through
//! notify-rust's WinRT backend, always with buttons and without markup; Windows offers no way
//! to withdraw a shown toast through it, so [`Notifier::close`] only forgets it (a late click
//! opens the window, where the card is gone). Elsewhere (macOS today)
//! [`NotifyError::Unsupported`]: the window and tray still show every request.
//!
//! [`Core::answer`]: assent_core::Core::answer

use tauri::{AppHandle, Emitter, Manager};

use crate::state::AppState;
use assent_core::views::PendingChallenge;
use assent_core::Decision;

#[cfg(not(any(windows, all(unix, not(target_os = "macos")))))]
use backend_none::Backend;
#[cfg(windows)]
use backend_toast::Backend;
#[cfg(all(unix, not(target_os = "macos")))]
use backend_xdg::Backend;

/// Why a notification was not shown.
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
}

impl NotifyError {
    /// Stable snake_case code for logs.
    pub fn code(&self) -> &'static str {
        match self {
            NotifyError::Unsupported { .. } => "notifications_unsupported",
            NotifyError::Show(_) => "notification_failed",
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
    /// The user's answer, `None` when the notification closed without one. Only the two action
    /// identifiers we register answer; anything else (the body click, an unknown or crafted
    /// action, an inline reply) only opens the window.
    #[cfg_attr(
        not(any(windows, all(unix, not(target_os = "macos")))),
        allow(dead_code)
    )]
    fn of(response: &notify_rust::NotificationResponse) -> Option<Choice> {
        use notify_rust::NotificationResponse as R;
        match response {
            R::Action(a) if a == "approve" => Some(Choice::Approve),
            R::Action(a) if a == "deny" => Some(Choice::Deny),
            R::Default | R::Action(_) | R::Reply(_) => Some(Choice::Open),
            _ => None,
        }
    }
}

/// Shows and tracks one notification per pending challenge.
#[derive(Default)]
pub struct Notifier {
    backend: Backend,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").finish_non_exhaustive()
    }
}

impl Notifier {
    /// Shows the notification for a new challenge and handles its actions until it closes.
    pub async fn show(self: std::sync::Arc<Self>, app: AppHandle, p: PendingChallenge) {
        let choice = match self.backend.present(&p).await {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(challenge = %p.sid(), code = e.code(), error = %e, "notification not shown");
                return;
            }
        };
        match choice {
            // Matching needs the sign-in page's number, which only the card can ask for.
            Choice::Approve if p.challenge.match_request.is_some() => focus(&app, p.sid()),
            Choice::Approve => respond(&app, &p, Decision::Approve).await,
            Choice::Deny => respond(&app, &p, Decision::Deny).await,
            Choice::Open => focus(&app, p.sid()),
        }
    }

    /// Closes the notification of a challenge (of one account) that is no longer pending.
    pub fn close(self: &std::sync::Arc<Self>, factor_sid: &str, challenge_sid: &str) {
        self.backend.close(factor_sid, challenge_sid);
    }

    /// Fetches the server's capabilities ahead of the first notification (D-Bus only).
    pub async fn prefetch_capabilities(&self) {
        self.backend.prefetch().await;
    }
}

/// The freedesktop notification server over D-Bus.
#[cfg(all(unix, not(target_os = "macos")))]
mod backend_xdg {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use notify_rust::{Notification, NotificationHandle, NotificationResponse, Timeout};

    use super::{body_text, one_line, Choice, NotifyError};
    use assent_core::views::PendingChallenge;

    #[derive(Default)]
    pub(super) struct Backend {
        caps: tokio::sync::OnceCell<Vec<String>>,
        /// Open notifications by challenge key (`YF…/YC…`).
        open: Mutex<HashMap<String, Arc<NotificationHandle>>>,
    }

    impl Backend {
        pub(super) async fn present(
            &self,
            p: &PendingChallenge,
        ) -> Result<Option<Choice>, NotifyError> {
            let started = std::time::Instant::now();
            let caps = self.capabilities().await;
            let actions = caps.iter().any(|c| c == "actions");
            let markup = caps.iter().any(|c| c == "body-markup");
            let mut n = Notification::new();
            n.appname("Assent")
                .summary(&format!(
                    "Sign-in request: {}",
                    one_line(&p.account_name, 80)
                ))
                .body(&body_text(&p.challenge.message, markup))
                .timeout(Timeout::Never);
            if actions {
                n.action("default", "Open");
                // Matching needs the sign-in page's number, which only the card can ask for.
                if p.challenge.match_request.is_none() {
                    n.action("approve", "Approve");
                }
                n.action("deny", "Deny");
            }
            let handle = n
                .show_async()
                .await
                .map(Arc::new)
                .map_err(|e| NotifyError::Show(e.to_string()))?;
            let id = handle.id();
            tracing::info!(challenge = %p.sid(), notification_id = id, actions, "notification shown");
            // From the task's start to the server's answer (connect, Notify, reply).
            tracing::debug!(challenge = %p.sid(), show_ms = started.elapsed().as_secs_f64() * 1000.0, "notification timing");
            self.lock().insert(p.key().to_string(), handle.clone());

            let mut chosen = None;
            handle
                .wait_for_action_async(|r: &NotificationResponse| chosen = Choice::of(r))
                .await;
            self.lock().remove(&p.key().to_string());
            let Some(choice) = chosen else {
                return Ok(None);
            };
            tracing::info!(challenge = %p.sid(), notification_id = id, action = ?choice, "notification answered");
            // Some servers (dunst) keep the bubble after an action; the request is handled now.
            handle.close_async().await;
            Ok(Some(choice))
        }

        pub(super) fn close(&self, factor_sid: &str, challenge_sid: &str) {
            let Some(handle) = self.lock().remove(&format!("{factor_sid}/{challenge_sid}")) else {
                return;
            };
            let sid = challenge_sid.to_owned();
            tauri::async_runtime::spawn(async move {
                handle.close_async().await;
                tracing::info!(challenge = %sid, notification_id = handle.id(), "notification closed");
            });
        }

        pub(super) async fn prefetch(&self) {
            let caps = self.capabilities().await;
            tracing::debug!(?caps, "notification server capabilities");
        }

        async fn capabilities(&self) -> Vec<String> {
            let r = self
                .caps
                .get_or_try_init(|| async {
                    // get_capabilities blocks on D-Bus.
                    tokio::task::spawn_blocking(notify_rust::get_capabilities)
                        .await
                        .map_err(|e| e.to_string())?
                        .map_err(|e| e.to_string())
                })
                .await;
            match r {
                Ok(c) => c.clone(),
                Err(e) => {
                    tracing::warn!(error = %e, "notification server capabilities unknown");
                    Vec::new()
                }
            }
        }

        fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<NotificationHandle>>> {
            // Map inserts/removes cannot be left half-done.
            self.open.lock().unwrap_or_else(|p| p.into_inner())
        }
    }
}

/// Windows toasts (WinRT) through notify-rust.
#[cfg(windows)]
mod backend_toast {
    use notify_rust::{Notification, NotificationResponse, Timeout};

    use super::{body_text, one_line, Choice, NotifyError};
    use assent_core::views::PendingChallenge;

    #[derive(Default)]
    pub(super) struct Backend;

    impl Backend {
        pub(super) async fn present(
            &self,
            p: &PendingChallenge,
        ) -> Result<Option<Choice>, NotifyError> {
            let mut n = Notification::new();
            // Toast text is plain text (the XML is built escaped), so no markup escaping.
            n.appname("Assent")
                .summary(&format!(
                    "Sign-in request: {}",
                    one_line(&p.account_name, 80)
                ))
                .body(&body_text(&p.challenge.message, false))
                .timeout(Timeout::Never);
            if p.challenge.match_request.is_none() {
                n.action("approve", "Approve");
            }
            n.action("deny", "Deny");
            let sid = p.sid().to_owned();
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

        pub(super) fn close(&self, _factor_sid: &str, challenge_sid: &str) {
            tracing::debug!(challenge = %challenge_sid, "toasts cannot be withdrawn; left to the Action Center");
        }

        pub(super) async fn prefetch(&self) {}
    }
}

/// No notification backend in this build.
#[cfg(not(any(windows, all(unix, not(target_os = "macos")))))]
mod backend_none {
    use super::{Choice, NotifyError};
    use assent_core::views::PendingChallenge;

    #[derive(Default)]
    pub(super) struct Backend;

    impl Backend {
        pub(super) async fn present(
            &self,
            _p: &PendingChallenge,
        ) -> Result<Option<Choice>, NotifyError> {
            Err(NotifyError::unsupported())
        }

        pub(super) fn close(&self, _factor_sid: &str, _challenge_sid: &str) {}

        pub(super) async fn prefetch(&self) {}
    }
}

/// The notification's button: exactly the window's path ([`assent_core::Core::answer`]).
async fn respond(app: &AppHandle, p: &PendingChallenge, decision: Decision) {
    let Some(state) = app.try_state::<AppState>() else {
        return;
    };
    let core = state.core.clone();
    if let Err(e) = core.answer(p.factor_sid(), p.sid(), decision).await {
        tracing::warn!(challenge = %p.sid(), code = %e.code(), "answer from notification failed");
        // Show the card so the user sees what happened.
        focus(app, p.sid());
    }
}

/// Opens the window on a challenge's card.
pub fn focus(app: &AppHandle, challenge_sid: &str) {
    crate::window::show(app);
    if let Err(e) = app.emit(
        "focus-challenge",
        assent_core::events::FocusChallengeEvent {
            challenge_sid: challenge_sid.to_owned(),
        },
    ) {
        tracing::warn!(error = %e, "cannot emit focus-challenge");
    }
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

/// The body as plain text: when the server interprets markup, server-provided text is escaped
/// so `<b>`, `<a href>` or `<img>` show literally.
#[cfg_attr(
    not(any(windows, all(unix, not(target_os = "macos")))),
    allow(dead_code)
)]
fn body_text(message: &str, server_does_markup: bool) -> String {
    let bounded = one_line(message, 300);
    if !server_does_markup {
        return bounded;
    }
    let mut out = String::with_capacity(bounded.len());
    for ch in bounded.chars() {
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
    fn markup_is_escaped_only_for_markup_servers() {
        let m = "<img src=x onerror=alert(1)> & <b>hi</b>";
        assert_eq!(body_text(m, false), m);
        assert_eq!(
            body_text(m, true),
            "&lt;img src=x onerror=alert(1)&gt; &amp; &lt;b&gt;hi&lt;/b&gt;"
        );
    }

    #[test]
    fn only_the_approve_and_deny_actions_answer() {
        use notify_rust::{CloseReason, NotificationResponse as R};
        let act = |a: &str| Choice::of(&R::Action(a.to_owned()));
        assert_eq!(act("approve"), Some(Choice::Approve));
        assert_eq!(act("deny"), Some(Choice::Deny));
        for other in ["default", "", "Approve", "approve ", "deny\n", "__closed"] {
            assert_eq!(act(other), Some(Choice::Open), "{other:?}");
        }
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
    }

    #[test]
    fn one_line_bounds() {
        assert_eq!(one_line("a\nb", 10), "a b");
        assert_eq!(one_line("abcdef", 3), "abc…");
    }
}
