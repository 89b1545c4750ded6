//! `assent`: without a subcommand, the tray app; with one, a headless command on the same store.

// No console window for the GUI on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use clap::{CommandFactory, Parser, Subcommand};

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
    command: Option<TopCommand>,
    /// Start in the tray without showing the window (used at login).
    #[arg(long)]
    hidden: bool,
    /// Do not start the embedded verify-emulator (also ASSENT_EMULATOR_ADDR=off).
    #[arg(long)]
    no_emulator: bool,
    /// An assent://enroll?… link to offer for enrolment (the OS passes it when a link is opened).
    link: Option<String>,
}

/// The core's headless subcommands plus the two that describe the CLI itself.
#[derive(Debug, Subcommand)]
enum TopCommand {
    #[command(flatten)]
    Core(assent_core::cli::Command),
    /// Print a shell completion script (e.g. `assent completions bash > ~/.local/share/bash-completion/completions/assent`).
    Completions {
        /// The shell: bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff; `assent man | man -l -`).
    Man,
}

fn main() {
    assent::appimage::apply();
    #[cfg(windows)]
    attach_parent_console();
    let cli = Cli::parse();
    if let Some(word) = cli.link.as_deref().filter(|w| !w.contains("://")) {
        // Not a link at all: a mistyped subcommand must not start the GUI and exit 0.
        unknown_command(word);
    }
    let code = match cli.command {
        Some(TopCommand::Completions { shell }) => {
            // Into a buffer first: clap_complete panics when stdout is closed early (`| head`).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "assent", &mut script);
            print_out(&script, "completion script")
        }
        Some(TopCommand::Man) => man_page(),
        Some(TopCommand::Core(cmd)) => assent_core::cli::run_with_session(
            cmd,
            |dir| assent::logging::init(dir, false),
            std::sync::Arc::new(assent::idle::SystemIdle::start(
                assent_core::silent::max_input_idle(),
            )),
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

/// Writes `assent(1)` to stdout: the top-level page with a section per subcommand.
fn man_page() -> i32 {
    let cmd = Cli::command();
    let mut out = Vec::new();
    let page = clap_mangen::Man::new(cmd.clone());
    let written = (|| -> std::io::Result<()> {
        page.render_title(&mut out)?;
        page.render_name_section(&mut out)?;
        page.render_synopsis_section(&mut out)?;
        page.render_description_section(&mut out)?;
        page.render_options_section(&mut out)?;
        page.render_subcommands_section(&mut out)?;
        // One section per subcommand with its own options, so the page is complete alone.
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let sub = sub
                .clone()
                .display_name(format!("assent-{}", sub.get_name()));
            roff_section(&mut out, &sub)?;
        }
        page.render_version_section(&mut out)
    })();
    match written {
        Ok(()) => print_out(&out, "manual page"),
        Err(e) => {
            eprintln!("assent: cannot render the manual page: {e}");
            1
        }
    }
}

/// Writes `bytes` to stdout; a closed pipe or full disk is an error exit, not a panic.
fn print_out(bytes: &[u8], what: &str) -> i32 {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("assent: cannot write the {what}: {e}");
            1
        }
    }
}

/// `.SH ASSENT <NAME>` with the subcommand's synopsis, description and options.
fn roff_section(out: &mut Vec<u8>, sub: &clap::Command) -> std::io::Result<()> {
    use std::io::Write;
    let name = sub.get_name().to_uppercase();
    writeln!(out, ".SH \"ASSENT {name}\"")?;
    let page = clap_mangen::Man::new(sub.clone());
    let mut body = Vec::new();
    page.render_synopsis_section(&mut body)?;
    page.render_description_section(&mut body)?;
    page.render_options_section(&mut body)?;
    // Demote the subcommand's own sections to subsections of this one.
    let text = String::from_utf8_lossy(&body).replace(".SH ", ".SS ");
    out.write_all(text.as_bytes())
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
