//! The IPC commands (docs/design.md "src-tauri ↔ ui"). Each is a thin wrapper over
//! [`assent_core::Core`]; every one returns `Result<T, AppError>`.

pub mod accounts;
pub mod app;
pub mod challenges;
pub mod enroll;
pub mod settings;
pub mod verification;

/// The handler with every command, for `tauri::Builder::invoke_handler`.
#[macro_export]
macro_rules! app_commands {
    () => {
        tauri::generate_handler![
            $crate::commands::accounts::list_accounts,
            $crate::commands::accounts::remove_account,
            $crate::commands::accounts::set_silent_approval,
            $crate::commands::challenges::pending_challenges,
            $crate::commands::challenges::approve_challenge,
            $crate::commands::challenges::deny_challenge,
            $crate::commands::challenges::deny_all_challenges,
            $crate::commands::challenges::challenge_history,
            $crate::commands::enroll::enroll,
            $crate::commands::enroll::preview_enroll_payload,
            $crate::commands::enroll::take_enroll_request,
            $crate::commands::enroll::confirm_enroll_request,
            $crate::commands::enroll::dismiss_enroll_request,
            $crate::commands::settings::get_settings,
            $crate::commands::settings::update_settings,
            $crate::commands::app::check_now,
            $crate::commands::app::watcher_status,
            $crate::commands::app::open_demo_site,
            $crate::commands::app::app_info,
            $crate::commands::app::page_ready,
            $crate::commands::verification::verification_status,
            $crate::commands::verification::set_pin,
            $crate::commands::verification::set_verification_scope,
            $crate::commands::verification::remove_pin,
        ]
    };
}
