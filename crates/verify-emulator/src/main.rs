//! `verify-emulator serve`: runs the emulator until SIGINT/SIGTERM. Prints one JSON line
//! `{"base_url","account_sid","auth_token"}` to stdout when ready; logs go to stderr.
//!
//! `verify-emulator device …`: a virtual push device (see `device.rs`); each command prints
//! one JSON document to stdout, errors go to stderr with exit status 1.

mod device;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use verify_emulator::{spawn, DbLocation, EmulatorConfig};

#[derive(Parser)]
#[command(
    name = "verify-emulator",
    version,
    about = "Local Twilio Verify Push API emulator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (under /v2/) and, unless --no-demo, the demo site (under /demo/).
    Serve {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:8790")]
        listen: SocketAddr,
        /// SQLite file, or `:memory:`.
        #[arg(long, default_value = "verify-emulator.db")]
        db: String,
        /// Account SID (AC + 32 hex); generated and stored in the DB when absent.
        #[arg(long, env = "VERIFY_EMULATOR_ACCOUNT_SID")]
        account_sid: Option<String>,
        /// Auth token; generated and stored in the DB when absent.
        #[arg(long, env = "VERIFY_EMULATOR_AUTH_TOKEN", hide_env_values = true)]
        auth_token: Option<String>,
        /// Public base URL used in `url` fields (default http://<bound address>/); its host is
        /// also accepted in the Host header.
        #[arg(long, visible_alias = "public-url")]
        public_base_url: Option<url::Url>,
        /// Also answer requests whose Host header is NAME (any port) or NAME:PORT; repeatable.
        /// Other names are refused with 403 (DNS rebinding protection).
        #[arg(long = "allow-host", value_name = "NAME[:PORT]")]
        allow_hosts: Vec<String>,
        /// Serve the API only: no demo relying party under /demo.
        #[arg(long)]
        no_demo: bool,
        /// Days to keep answered/expired challenges and spent access tokens; 0 keeps them
        /// forever.
        #[arg(long, default_value_t = 7)]
        retention_days: u32,
        /// Empty the state (services and everything under them) before serving; the
        /// credentials stay.
        #[arg(long)]
        reset: bool,
        /// JSON file of services and entities to create before serving (the body of
        /// `POST /_emulator/seed`).
        #[arg(long, value_name = "FILE")]
        seed: Option<PathBuf>,
        /// Where Assent's local endpoint listens, for the demo's "on this computer" sign-in.
        #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:7375")]
        assent_endpoint: SocketAddr,
    },
    /// A virtual push device on the real client library (verify-push), for backend tests.
    Device {
        /// Directory with the device's factors and keys (created owner-only).
        #[arg(long, global = true, default_value = "verify-device")]
        state: PathBuf,
        #[command(subcommand)]
        command: DeviceCommand,
    },
}

#[derive(Subcommand)]
enum DeviceCommand {
    /// Enrol from an enrolment link (`assent://enroll?…`) or JSON payload; `-` reads stdin.
    Enroll {
        /// The link or JSON.
        payload: String,
        /// The factor's friendly name.
        #[arg(long, default_value = "verify-emulator device")]
        name: String,
    },
    /// Approve a pending challenge (fetch, sign the fields the server lists, post).
    Approve {
        /// `YC…`
        challenge_sid: String,
        /// Factor to answer for (default: the only one enrolled).
        #[arg(long)]
        factor: Option<String>,
    },
    /// Deny a pending challenge.
    Deny {
        /// `YC…`
        challenge_sid: String,
        /// Factor to answer for (default: the only one enrolled).
        #[arg(long)]
        factor: Option<String>,
        /// Why: sent as the answer's `Metadata` `{"deny_reason": …}`.
        #[arg(long, value_enum)]
        reason: Option<device::DenyReason>,
    },
    /// List the factor's unexpired pending challenges.
    Pending {
        /// Factor (default: the only one enrolled).
        factor: Option<String>,
    },
    /// List the factors in the state directory.
    Factors,
}

async fn run_device(state: PathBuf, cmd: DeviceCommand) -> ExitCode {
    let result = async {
        let vp = device::client(&state)?;
        match cmd {
            DeviceCommand::Enroll { payload, name } => device::enroll(&vp, &payload, &name).await,
            DeviceCommand::Approve {
                challenge_sid,
                factor,
            } => {
                let f = device::pick_factor(&vp, factor.as_deref())?;
                device::answer(&vp, &f, &challenge_sid, true, None).await
            }
            DeviceCommand::Deny {
                challenge_sid,
                factor,
                reason,
            } => {
                let f = device::pick_factor(&vp, factor.as_deref())?;
                device::answer(&vp, &f, &challenge_sid, false, reason).await
            }
            DeviceCommand::Pending { factor } => {
                let f = device::pick_factor(&vp, factor.as_deref())?;
                device::pending(&vp, &f).await
            }
            DeviceCommand::Factors => device::factors(&vp),
        }
    }
    .await;
    match result {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("verify-emulator device: {} ({})", e, e.code().as_str());
            ExitCode::FAILURE
        }
    }
}

/// Registers SIGINT/SIGTERM handlers now (before the ready line, so a signal sent right after
/// it is not lost) and returns a future that completes on the first of them.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let command = match Cli::parse().command {
        Command::Device { state, command } => return run_device(state, command).await,
        serve => serve,
    };
    let Command::Serve {
        listen,
        db,
        account_sid,
        auth_token,
        public_base_url,
        allow_hosts,
        no_demo,
        retention_days,
        reset,
        seed,
        assent_endpoint,
    } = command
    else {
        return ExitCode::FAILURE;
    };
    let seed = match seed.map(|p| std::fs::read(&p).map(|b| (p, b))).transpose() {
        Ok(None) => None,
        Ok(Some((p, bytes))) => match verify_emulator::admin::Seed::parse(&bytes) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("verify-emulator: seed {}: {e}", p.display());
                return ExitCode::FAILURE;
            }
        },
        Err(e) => {
            eprintln!("verify-emulator: cannot read the seed file: {e}");
            return ExitCode::FAILURE;
        }
    };
    let db = if db == ":memory:" {
        DbLocation::Memory
    } else {
        DbLocation::File(PathBuf::from(db))
    };
    let config = EmulatorConfig {
        listen,
        db,
        account_sid,
        auth_token,
        public_base_url,
        allowed_hosts: allow_hosts,
        demo: !no_demo,
        retention_days: (retention_days > 0).then_some(retention_days),
        reset,
        seed,
        assent_endpoint,
        ..EmulatorConfig::default()
    };
    let emu = match spawn(config).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("verify-emulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(w) = verify_emulator::server::exposure_warning(emu.local_addr()) {
        // Also on plain stderr: the log filter may hide warnings, this one must be seen.
        eprintln!("verify-emulator: WARNING: {w}");
    }
    let signal = match shutdown_signal() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("verify-emulator: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let line = serde_json::json!({
        "base_url": emu.base_url().as_str(),
        "account_sid": emu.account_sid(),
        "auth_token": emu.auth_token(),
    });
    // The ready line is the contract with callers; stdout carries nothing else.
    println!("{line}");
    signal.await;
    tracing::info!("shutting down");
    emu.shutdown().await;
    ExitCode::SUCCESS
}
