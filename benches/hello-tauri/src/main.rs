//! `hello-tauri [--hidden]`: one window showing a static page and a tray icon with a Quit item,
//! nothing else. With `--hidden` the window is created but never shown (tray only), which is
//! the state Assent's tray-hidden memory figure is compared with.

// No console window for the GUI on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::Manager;

fn setup(app: &mut tauri::App, hidden: bool) -> Result<(), Box<dyn std::error::Error>> {
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&quit])?;
    let mut tray = TrayIconBuilder::with_id("main-tray")
        .tooltip("hello-tauri")
        .menu(&menu)
        .on_menu_event(|app, event| {
            if event.id.as_ref() == "quit" {
                app.exit(0);
            }
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    if !hidden {
        if let Some(window) = app.get_webview_window("main") {
            window.show()?;
        }
    }
    Ok(())
}

fn main() {
    let hidden = std::env::args().any(|a| a == "--hidden");
    let result = tauri::Builder::default()
        .setup(move |app| setup(app, hidden))
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("hello-tauri: {e}");
        std::process::exit(1);
    }
}
