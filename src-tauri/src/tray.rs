//! The tray icon and its menu. On Linux Tauri's tray is an AppIndicator, which reports no
//! clicks, so everything is reachable from the menu: Open Assent, each pending request, Check
//! now, Pause notifications, Start at login, Open demo site, Quit.

use chrono::Utc;
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem, Submenu};
use tauri::{AppHandle, Emitter, Manager, Wry};

use crate::state::AppState;
use assent_core::settings::PausedUntil;
use assent_core::views::PendingChallenge;

/// The tray icon's id (also part of its D-Bus object path on Linux).
pub const TRAY_ID: &str = "main";

const ICON_NORMAL: &[u8] = include_bytes!("../../icons/tray.png");
const ICON_PENDING: &[u8] = include_bytes!("../../icons/tray-pending.png");

/// Menu item ids (stable: the tray test clicks them by label, logs name them by id).
mod id {
    pub const OPEN: &str = "open";
    pub const CHALLENGE_PREFIX: &str = "challenge:";
    pub const NONE_PENDING: &str = "none_pending";
    pub const CHECK_NOW: &str = "check_now";
    pub const PAUSE_HOUR: &str = "pause_1h";
    pub const PAUSE_FOREVER: &str = "pause_forever";
    pub const RESUME: &str = "resume";
    pub const AUTOSTART: &str = "autostart";
    pub const DEMO: &str = "demo";
    pub const QUIT: &str = "quit";
}

/// Creates the tray icon with the current state.
pub fn install(app: &AppHandle) -> tauri::Result<()> {
    let menu = build_menu(app, &[])?;
    tauri::tray::TrayIconBuilder::with_id(TRAY_ID)
        .icon(Image::from_bytes(ICON_NORMAL)?)
        .tooltip("Assent")
        .title("Assent")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu_event)
        .build(app)?;
    tracing::info!("tray icon installed");
    Ok(())
}

/// Rebuilds the menu and switches the icon for the current pending list and settings.
pub fn refresh(app: &AppHandle) {
    let Some(state) = app.try_state::<AppState>() else {
        return;
    };
    let pending = state.core.pending();
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    let result = (|| -> tauri::Result<()> {
        tray.set_menu(Some(build_menu(app, &pending)?))?;
        let icon = if pending.is_empty() {
            ICON_NORMAL
        } else {
            ICON_PENDING
        };
        tray.set_icon(Some(Image::from_bytes(icon)?))?;
        let tip = match pending.len() {
            0 => "Assent".to_owned(),
            1 => "Assent: 1 sign-in request".to_owned(),
            n => format!("Assent: {n} sign-in requests"),
        };
        tray.set_tooltip(Some(tip))?;
        Ok(())
    })();
    if let Err(e) = result {
        tracing::warn!(error = %e, "tray update failed");
    }
}

fn build_menu(app: &AppHandle, pending: &[PendingChallenge]) -> tauri::Result<Menu<Wry>> {
    let (settings, demo) = match app.try_state::<AppState>() {
        Some(s) => (s.core.settings(), s.demo_url.is_some()),
        None => (Default::default(), false),
    };
    let paused = settings.is_paused(Utc::now());
    let menu = Menu::new(app)?;
    menu.append(&MenuItem::with_id(
        app,
        id::OPEN,
        "Open Assent",
        true,
        None::<&str>,
    )?)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    if pending.is_empty() {
        menu.append(&MenuItem::with_id(
            app,
            id::NONE_PENDING,
            "No pending requests",
            false,
            None::<&str>,
        )?)?;
    }
    for p in pending {
        let label = menu_label(&format!("{}: {}", p.account_name, p.challenge.message));
        menu.append(&MenuItem::with_id(
            app,
            format!("{}{}", id::CHALLENGE_PREFIX, p.sid()),
            label,
            true,
            None::<&str>,
        )?)?;
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(
        app,
        id::CHECK_NOW,
        "Check now",
        true,
        None::<&str>,
    )?)?;
    let pause = Submenu::with_id(app, "pause", "Pause notifications", true)?;
    pause.append(&MenuItem::with_id(
        app,
        id::PAUSE_HOUR,
        "For 1 hour",
        true,
        None::<&str>,
    )?)?;
    pause.append(&MenuItem::with_id(
        app,
        id::PAUSE_FOREVER,
        "Until resumed",
        true,
        None::<&str>,
    )?)?;
    pause.append(&MenuItem::with_id(
        app,
        id::RESUME,
        "Resume notifications",
        paused,
        None::<&str>,
    )?)?;
    menu.append(&pause)?;
    menu.append(&CheckMenuItem::with_id(
        app,
        id::AUTOSTART,
        "Start at login",
        true,
        settings.start_at_login,
        None::<&str>,
    )?)?;
    menu.append(&MenuItem::with_id(
        app,
        id::DEMO,
        "Open demo site",
        demo,
        None::<&str>,
    )?)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(
        app,
        id::QUIT,
        "Quit",
        true,
        None::<&str>,
    )?)?;
    Ok(menu)
}

/// Server text in a menu label: one line, bounded, and `&` escaped (it marks mnemonics).
fn menu_label(text: &str) -> String {
    const MAX: usize = 60;
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut s: String = one_line.chars().take(MAX).collect();
    if one_line.chars().count() > MAX {
        s.push('…');
    }
    s.replace('&', "&&")
}

fn on_menu_event(app: &AppHandle, event: MenuEvent) {
    let item = event.id().as_ref().to_owned();
    tracing::info!(item = %item, "tray menu item activated");
    let Some(state) = app.try_state::<AppState>() else {
        return;
    };
    let core = state.core.clone();
    match item.as_str() {
        id::OPEN => crate::window::show(app),
        id::CHECK_NOW => core.watcher().check_now(),
        id::PAUSE_HOUR | id::PAUSE_FOREVER | id::RESUME => {
            let until = match item.as_str() {
                id::PAUSE_HOUR => Some(PausedUntil::Until(Utc::now() + chrono::Duration::hours(1))),
                id::PAUSE_FOREVER => Some(PausedUntil::Forever),
                _ => None,
            };
            if let Err(e) = core.modify_settings(|s| s.paused_until = until) {
                tracing::warn!(code = %e.code(), "cannot change pause");
            }
            refresh(app);
        }
        id::AUTOSTART => {
            let want = !core.settings().start_at_login;
            if let Err(e) = crate::autostart::apply(app, &core, want) {
                tracing::warn!(code = %e.code(), "cannot change start at login");
            }
            refresh(app);
        }
        id::DEMO => {
            if let Err(e) = crate::commands::app::open_demo(app) {
                tracing::warn!(code = %e.code(), "cannot open the demo site");
            }
        }
        id::QUIT => {
            tracing::info!("quit requested from the tray");
            app.exit(0);
        }
        other => {
            if let Some(sid) = other.strip_prefix(id::CHALLENGE_PREFIX) {
                crate::window::show(app);
                if let Err(e) = app.emit(
                    "focus-challenge",
                    serde_json::json!({ "challengeSid": sid }),
                ) {
                    tracing::warn!(error = %e, "cannot emit focus-challenge");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::menu_label;

    #[test]
    fn labels_are_one_line_bounded_and_escape_mnemonics() {
        assert_eq!(menu_label("a\n b  &c"), "a b &&c");
        let long = "x".repeat(100);
        assert_eq!(menu_label(&long).chars().count(), 61);
    }
}
