//! `assent://enroll?…` links: from the OS (tauri-plugin-deep-link), from a second launch
//! (single-instance hands its arguments over) or as a CLI argument. The link stays in the core
//! ([`assent_core::Core::queue_enroll_link`]); the UI gets a preview without the token
//! (`enroll-request`) and the user confirms it; it is never enrolled silently. Links carry an
//! enrolment token, so they are never logged and never sent to the web view.

use tauri::{AppHandle, Manager};
use tauri_plugin_deep_link::DeepLinkExt;

use crate::state::AppState;

/// The URL scheme (tauri.conf.json `plugins.deep-link`).
pub const SCHEME: &str = "assent";

/// Whether `arg` looks like one of our enrolment links.
pub fn is_enroll_link(arg: &str) -> bool {
    url::Url::parse(arg)
        .map(|u| u.scheme() == SCHEME && u.host_str() == Some("enroll"))
        .unwrap_or(false)
}

/// Listens for links the OS opens while running; registers the scheme for this binary on
/// Linux so links from the demo site reach a development build too.
pub fn setup(app: &AppHandle) {
    let handle = app.clone();
    app.deep_link().on_open_url(move |event| {
        for url in event.urls() {
            handle_link(&handle, url.as_str());
        }
    });
    #[cfg(target_os = "linux")]
    if std::env::var_os("ASSENT_NO_SCHEME_REGISTRATION").is_none() {
        let handle = app.clone();
        // xdg-mime runs external programs: keep them off the startup path.
        std::thread::spawn(move || {
            if let Err(e) = handle.deep_link().register_all() {
                tracing::warn!(error = %e, "cannot register the assent:// scheme");
            }
        });
    }
}

/// A second launch handed over its arguments: focus the window (unless it asked for
/// `--hidden`) and pick up a link. A lone link argument is already delivered by the deep-link
/// plugin (single-instance `deep-link` feature), so only links among other arguments are
/// handled here.
pub fn on_second_instance(app: &AppHandle, args: &[String]) {
    tracing::info!(args = args.len(), "second launch handed over its arguments");
    if !args.iter().any(|a| a == "--hidden") {
        crate::window::show(app);
    }
    if args.len() > 2 {
        for a in args.iter().skip(1).filter(|a| is_enroll_link(a)) {
            handle_link(app, a);
        }
    }
}

/// Queues a link for confirmation; the core tells the UI (a preview, never the link).
pub fn handle_link(app: &AppHandle, link: &str) {
    if !is_enroll_link(link) {
        tracing::warn!("ignoring a link that is not assent://enroll");
        return;
    }
    crate::window::show(app);
    match app.try_state::<AppState>() {
        Some(state) => {
            state.core.queue_enroll_link(link);
        }
        None => tracing::warn!("enrolment link arrived before the app was ready; ignored"),
    }
}

#[cfg(test)]
mod tests {
    use super::is_enroll_link;

    #[test]
    fn only_enroll_links_count() {
        assert!(is_enroll_link("assent://enroll?token=a&serviceSid=VA1"));
        assert!(!is_enroll_link("assent://other?x"));
        assert!(!is_enroll_link("https://enroll/"));
        assert!(!is_enroll_link("--hidden"));
    }
}
