//! Assent: a desktop authenticator for Twilio Verify Push.
//!
//! The Tauri shell around [`assent_core`]: [`run`] wires the core (accounts, challenges,
//! settings, the watcher) to the window, notifications, the tray, deep links and autostart.
//! The headless subcommands live in [`assent_core::cli`]; `main.rs` dispatches to either.

pub mod appimage;
pub mod autostart;
pub mod commands;
pub mod deep_link;
pub mod emulator;
pub mod idle;
pub mod logging;
pub mod notify;
pub mod sink;
pub mod state;
pub mod tray;
pub mod webkit;
pub mod window;

use std::sync::Arc;

use tauri::{Manager, RunEvent};

use crate::notify::Notifier;
use crate::sink::TauriSink;
use crate::state::AppState;
use assent_core::{AppError, Core, CoreOptions, Paths, WatcherConfig};

/// How the GUI was launched.
#[derive(Debug, Clone, Default)]
pub struct GuiOptions {
    /// Start in the tray without showing the window (login item).
    pub hidden: bool,
    /// Do not start the embedded emulator.
    pub no_emulator: bool,
    /// An `assent://enroll?…` link to offer for confirmation.
    pub link: Option<String>,
}

/// Runs the tray app until Quit. Only one instance runs: a second launch hands its arguments to
/// the first and exits.
pub fn run(opts: GuiOptions) -> Result<(), AppError> {
    let paths = Paths::resolve()?;
    paths.ensure()?;
    let _log_guard = logging::init(&paths.log_dir, true);
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        data_dir = %paths.data_dir.display(),
        log_dir = %paths.log_dir.display(),
        hidden = opts.hidden,
        "starting Assent"
    );
    let emulator_addr = emulator::configured_addr(opts.no_emulator)?;

    let app = tauri::Builder::default()
        // Must be the first plugin, so a second instance exits before anything else starts.
        .plugin(single_instance_plugin(&paths))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(autostart::plugin())
        .plugin(tauri_plugin_opener::init())
        .invoke_handler(app_commands!())
        .on_window_event(window::on_window_event)
        .setup(move |app| {
            setup(app.handle(), paths, emulator_addr, opts)?;
            Ok(())
        })
        .build(tauri::generate_context!())
        .map_err(|e| AppError::Desktop(format!("cannot start the window system: {e}")))?;

    app.run(|handle, event| match event {
        // Closing the window destroys it; stay in the tray unless Quit asked to exit.
        RunEvent::ExitRequested {
            code: None, api, ..
        } => api.prevent_exit(),
        RunEvent::Exit => {
            if let Some(state) = handle.try_state::<AppState>() {
                state.core.watcher().stop();
            }
            tracing::info!("Assent exiting");
        }
        _ => {}
    });
    Ok(())
}

/// SIGTERM / SIGINT (scripts, `kill`, Ctrl-C in `make run`) exit like Quit, so the log is
/// flushed and the single-instance name released.
#[cfg(unix)]
fn exit_on_signals(handle: tauri::AppHandle) {
    use tokio::signal::unix::{signal, SignalKind};
    tauri::async_runtime::spawn(async move {
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::warn!("cannot watch for termination signals");
            return;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: exiting"),
            _ = int.recv() => tracing::info!("SIGINT: exiting"),
        }
        handle.exit(0);
    });
}

/// One instance per data directory: the default install has one D-Bus name; a custom
/// `ASSENT_DATA_DIR` (tests, a second profile) gets its own, so parallel test apps do not
/// hand over to each other.
fn single_instance_plugin(paths: &Paths) -> tauri::plugin::TauriPlugin<tauri::Wry> {
    let mut builder = tauri_plugin_single_instance::Builder::new()
        .callback(|app, args, _cwd| deep_link::on_second_instance(app, &args));
    if std::env::var_os(assent_core::paths::DATA_DIR_ENV).is_some() {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        paths.data_dir.hash(&mut h);
        builder = builder.dbus_id(format!(
            "{}.d{:016x}",
            assent_core::service::APP_ID,
            h.finish()
        ));
    }
    builder.build()
}

fn setup(
    handle: &tauri::AppHandle,
    paths: Paths,
    emulator_addr: Option<std::net::SocketAddr>,
    opts: GuiOptions,
) -> Result<(), AppError> {
    let (emulator, demo_url) = match emulator_addr {
        Some(addr) => match tauri::async_runtime::block_on(emulator::start(&paths, addr)) {
            Ok((emu, demo)) => (Some(emu), Some(demo)),
            Err(e) => {
                // The app works without it (real Twilio accounts); the demo button is disabled.
                tracing::error!(error = %e, "embedded emulator unavailable");
                (None, None)
            }
        },
        None => {
            tracing::info!("embedded emulator disabled");
            (None, None)
        }
    };

    let notifier = Arc::new(Notifier::new(notify::app_icon(&paths.data_dir)));
    let max_input_idle = assent_core::silent::max_input_idle();
    let system_idle = idle::SystemIdle::start(max_input_idle);
    let core = Core::new(CoreOptions {
        paths,
        key_store: None,
        sink: Arc::new(TauriSink::new(handle.clone(), notifier.clone())),
        idle: Arc::new(idle::GuiIdle(system_idle.clone())),
        watcher: WatcherConfig::default(),
        quiet_after_not_me: assent_core::quiet::quiet_after_not_me(),
        session: Arc::new(system_idle),
        max_input_idle,
    })?;
    handle.manage(AppState::new(core.clone(), demo_url, notifier, emulator));

    autostart::sync_from_os(handle, &core);
    if let Err(e) = tray::install(handle) {
        tracing::error!(error = %e, "tray icon unavailable");
    }
    deep_link::setup(handle);
    match &opts.link {
        Some(link) => deep_link::handle_link(handle, link),
        None if !opts.hidden => window::show(handle),
        None => tracing::info!("started hidden (tray only)"),
    }

    tauri::async_runtime::spawn(core.watcher().clone().run());
    let c = core.clone();
    tauri::async_runtime::spawn(async move {
        // Held for the app's lifetime: dropping it stops the endpoint.
        let _endpoint = assent_core::local_endpoint::start_from_env(c).await;
        std::future::pending::<()>().await;
    });
    #[cfg(unix)]
    exit_on_signals(handle.clone());
    let c = core.clone();
    tauri::async_runtime::spawn(async move { c.publish_accounts().await });
    tracing::info!("Assent ready");
    Ok(())
}
