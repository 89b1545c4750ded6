//! Generates the Tauri context and one `allow-<command>` permission per app command, so the
//! capability file can grant exactly the commands the UI uses and nothing else.

/// Every `#[tauri::command]` the web view may call (see docs/design.md, "src-tauri ↔ ui").
const COMMANDS: &[&str] = &[
    "list_accounts",
    "pending_challenges",
    "approve_challenge",
    "deny_challenge",
    "deny_all_challenges",
    "challenge_history",
    "enroll",
    "preview_enroll_payload",
    "remove_account",
    "set_silent_approval",
    "get_settings",
    "update_settings",
    "check_now",
    "watcher_status",
    "open_demo_site",
    "app_info",
    "page_ready",
    "take_enroll_request",
    "confirm_enroll_request",
    "dismiss_enroll_request",
    "verification_status",
    "set_pin",
    "set_verification_scope",
    "remove_pin",
];

fn main() {
    let attrs = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(e) = tauri_build::try_build(attrs) {
        // A build script reports failure by panicking; there is no other channel.
        panic!("tauri-build failed: {e:#}");
    }
}
