//! Desktop notifications (notify-rust over D-Bus). Title names the account, the body is the
//! message, Approve/Deny buttons appear when the server supports actions, activating the
//! notification opens the window on that challenge. Buttons call [`Core::answer`], the same
//! function the window's buttons use. A challenge that leaves the pending list (answered
//! elsewhere, expired) closes its notification.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use notify_rust::{Notification, NotificationHandle, NotificationResponse, Timeout};
use tauri::{AppHandle, Emitter, Manager};

use crate::state::AppState;
use assent_core::views::PendingChallenge;
use assent_core::Decision;

/// Shows and tracks one notification per pending challenge.
#[derive(Default)]
pub struct Notifier {
    caps: tokio::sync::OnceCell<Vec<String>>,
    /// Open notifications by challenge key (`YF…/YC…`).
    open: Mutex<HashMap<String, Arc<NotificationHandle>>>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").finish_non_exhaustive()
    }
}

impl Notifier {
    /// Shows the notification for a new challenge and handles its actions until it closes.
    pub async fn show(self: Arc<Self>, app: AppHandle, p: PendingChallenge) {
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
        let handle = match n.show_async().await {
            Ok(h) => Arc::new(h),
            Err(e) => {
                tracing::warn!(challenge = %p.sid(), error = %e, "notification could not be shown");
                return;
            }
        };
        let id = handle.id();
        tracing::info!(challenge = %p.sid(), notification_id = id, actions, "notification shown");
        // From the task's start to the server's answer (connect, Notify, reply).
        tracing::debug!(challenge = %p.sid(), show_ms = started.elapsed().as_secs_f64() * 1000.0, "notification timing");
        self.lock().insert(p.key().to_string(), handle.clone());

        let mut chosen = String::new();
        handle
            .wait_for_action_async(|r| {
                chosen = match r {
                    NotificationResponse::Default => "default".to_owned(),
                    NotificationResponse::Action(a) => a.clone(),
                    _ => "__closed".to_owned(),
                }
            })
            .await;
        self.lock().remove(&p.key().to_string());
        if chosen == "__closed" {
            return;
        }
        tracing::info!(challenge = %p.sid(), notification_id = id, action = %chosen, "notification answered");
        // Some servers (dunst) keep the bubble after an action; the request is handled now.
        handle.close_async().await;
        match chosen.as_str() {
            "approve" if p.challenge.match_request.is_none() => {
                respond(&app, &p, Decision::Approve).await
            }
            "deny" => respond(&app, &p, Decision::Deny).await,
            _ => focus(&app, p.sid()),
        }
    }

    /// Closes the notification of a challenge (of one account) that is no longer pending.
    pub fn close(self: &Arc<Self>, factor_sid: &str, challenge_sid: &str) {
        let Some(handle) = self.lock().remove(&format!("{factor_sid}/{challenge_sid}")) else {
            return;
        };
        let sid = challenge_sid.to_owned();
        tauri::async_runtime::spawn(async move {
            handle.close_async().await;
            tracing::info!(challenge = %sid, notification_id = handle.id(), "notification closed");
        });
    }

    /// Fetches the server's capabilities ahead of the first notification.
    pub async fn prefetch_capabilities(&self) {
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
    fn one_line_bounds() {
        assert_eq!(one_line("a\nb", 10), "a b");
        assert_eq!(one_line("abcdef", 3), "abc…");
    }
}
