//! `assent`: without a subcommand, the tray app; with one, a headless command on the same store.

// No console window for the GUI on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use clap::{CommandFactory, Parser};

/// Assent: approve Twilio Verify Push sign-in requests from your desktop.
#[derive(Debug, Parser)]
#[command(
    name = "assent",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<assent_core::cli::Command>,
    /// Start in the tray without showing the window (used at login).
    #[arg(long)]
    hidden: bool,
    /// Do not start the embedded verify-emulator (also ASSENT_EMULATOR_ADDR=off).
    #[arg(long)]
    no_emulator: bool,
    /// An assent://enroll?… link to offer for enrolment (the OS passes it when a link is opened).
    link: Option<String>,
}

fn main() {
    #[cfg(windows)]
    attach_parent_console();
    let cli = Cli::parse();
    if let Some(word) = cli.link.as_deref().filter(|w| !w.contains("://")) {
        // Not a link at all: a mistyped subcommand must not start the GUI and exit 0.
        unknown_command(word);
    }
    let code = match cli.command {
        Some(cmd) => assent_core::cli::run_with_session(
            cmd,
            |dir| assent::logging::init(dir, false),
            std::sync::Arc::new(assent::idle::SystemIdle::start()),
        ),
        None => {
            let link = cli.link.filter(|l| {
                let ok = assent::deep_link::is_enroll_link(l);
                if !ok {
                    eprintln!("assent: ignoring an argument that is not an assent://enroll link");
                }
                ok
            });
            match assent::run(assent::GuiOptions {
                hidden: cli.hidden,
                no_emulator: cli.no_emulator,
                link,
            }) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("assent: {e} [{}]", e.code());
                    1
                }
            }
        }
    };
    std::process::exit(code);
}

/// Exits with clap's usage error (code 2) for `word`, suggesting the closest subcommand.
fn unknown_command(word: &str) -> ! {
    let mut cmd = Cli::command();
    let closest = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .map(|name| (strsim::damerau_levenshtein(word, &name), name))
        .min();
    let hint = match closest {
        Some((d, name)) if d <= 2 => format!("\n\n  tip: a similar command exists: '{name}'"),
        _ => String::new(),
    };
    cmd.error(
        clap::error::ErrorKind::InvalidSubcommand,
        format!("'{word}' is not an assent command or an assent://enroll link{hint}"),
    )
    .exit()
}

/// A release build has no console of its own (GUI subsystem), so `assent list` run from a
/// terminal would print nothing; write to the terminal that started us, if any. Started from
/// Explorer or a login item there is none and the call fails harmlessly.
#[cfg(windows)]
#[allow(unsafe_code)]
fn attach_parent_console() {
    use windows_sys::Win32::System::Console::{AttachConsole, ATTACH_PARENT_PROCESS};
    // SAFETY: no pointers; fails (returns 0) when there is no parent console or one is attached.
    unsafe {
        AttachConsole(ATTACH_PARENT_PROCESS);
    }
}
