//! Headless subcommands: the same store and the same [`Core`] as the GUI, no window.

use std::io::{Read, Write};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::events::{AppEvent, EventSink, RemovalReason};
use crate::matching::DenyReason;
use crate::verification::Pin;
use crate::views::{Account, ChallengeView, PendingChallenge};
use crate::{Answer, AppError, Core, CoreOptions, Paths};

/// Output format switch shared by the subcommands.
#[derive(Debug, Clone, Copy, Args)]
pub struct Output {
    /// Print JSON (the IPC contract's camelCase types) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The headless subcommands.
// The flattened `out` fields take their help from `Output`'s own field docs.
#[allow(missing_docs)]
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Enrol this desktop from an assent://enroll?… link or the JSON payload ("-" reads stdin).
    Enroll {
        /// The link or JSON payload, or "-" to read it from stdin (keeps the token out of `ps`).
        payload: String,
        /// Name for this device at the relying party.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// List enrolled accounts.
    Accounts {
        #[command(flatten)]
        out: Output,
    },
    /// List pending sign-in requests (asks the server now).
    Challenges {
        /// Only this account (factor SID, name or identity).
        #[arg(long)]
        account: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// Approve a sign-in request.
    Approve {
        /// The challenge SID (YC…).
        challenge_sid: String,
        /// The account it belongs to, if known (saves a lookup).
        #[arg(long)]
        account: Option<String>,
        /// The two-digit number the sign-in page shows, when it asks for number matching.
        /// A wrong number denies the sign-in.
        #[arg(long, value_name = "NN")]
        code: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// Deny a sign-in request, or with --all every pending request of one account.
    Deny {
        /// The challenge SID (YC…).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        challenge_sid: Option<String>,
        /// The account it belongs to, if known (saves a lookup); required with --all.
        #[arg(long)]
        account: Option<String>,
        /// Deny every pending request of --account (a flood of requests you did not make).
        #[arg(long, requires = "account")]
        all: bool,
        /// Why, told to the relying party: "not_me" (someone else is signing in) or
        /// "mistake" (you started it by mistake).
        #[arg(long, value_parser = parse_reason)]
        reason: Option<DenyReason>,
        #[command(flatten)]
        out: Output,
    },
    /// Allow or forbid silent approval from the account's sign-in page (its enrolled origin).
    Silent {
        /// The account: its name, identity or factor SID.
        account: String,
        /// `on` or `off`.
        // A `bool` field defaults to a flag (SetTrue); this one is a positional value.
        #[arg(value_parser = parse_switch, action = clap::ArgAction::Set)]
        state: bool,
        #[command(flatten)]
        out: Output,
    },
    /// Print sign-in requests as they arrive (Ctrl-C to stop). Also serves the local endpoint
    /// for sign-in pages on this desktop (ASSENT_LOCAL_ADDR, default 127.0.0.1:7375).
    Watch {
        #[command(flatten)]
        out: Output,
    },
}

impl Command {
    fn json(&self) -> bool {
        match self {
            Command::Enroll { out, .. }
            | Command::Accounts { out }
            | Command::Challenges { out, .. }
            | Command::Approve { out, .. }
            | Command::Deny { out, .. }
            | Command::Silent { out, .. }
            | Command::Watch { out } => out.json,
        }
    }
}

/// Runs a subcommand; returns the process exit code (0 ok, 1 error). `init_logging` installs
/// the caller's log subscriber for the data directory's log folder; its guard is held until the
/// command ends, so buffered lines are flushed.
pub fn run<G>(cmd: Command, init_logging: impl FnOnce(&std::path::Path) -> G) -> i32 {
    run_with_session(cmd, init_logging, Arc::new(crate::silent::UnknownSession))
}

/// [`run`] with the desktop session's state for silent approval in `watch`.
pub fn run_with_session<G>(
    cmd: Command,
    init_logging: impl FnOnce(&std::path::Path) -> G,
    session: Arc<dyn crate::SessionProbe>,
) -> i32 {
    let json = cmd.json();
    let paths = match Paths::resolve().and_then(|p| p.ensure().map(|_| p)) {
        Ok(p) => p,
        Err(e) => return report(&e, json),
    };
    let _guard = init_logging(&paths.log_dir);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return report(&AppError::Desktop(format!("no async runtime: {e}")), json),
    };
    match runtime.block_on(dispatch(cmd, paths, session)) {
        Ok(()) => 0,
        Err(e) => report(&e, json),
    }
}

fn report(e: &AppError, json: bool) -> i32 {
    if json {
        let text =
            serde_json::to_string(e).unwrap_or_else(|_| format!("{{\"code\":\"{}\"}}", e.code()));
        eprintln!("{text}");
    } else {
        eprintln!("error: {} [{}]", clean(&e.to_string()), e.code());
    }
    1
}

async fn dispatch(
    cmd: Command,
    paths: Paths,
    session: Arc<dyn crate::SessionProbe>,
) -> Result<(), AppError> {
    match cmd {
        Command::Watch { out } => watch(paths, out.json, session).await,
        other => {
            let core = Core::new(CoreOptions::new(paths))?;
            one_shot(&core, other).await
        }
    }
}

async fn one_shot(core: &Arc<Core>, cmd: Command) -> Result<(), AppError> {
    match cmd {
        Command::Enroll { payload, name, out } => enroll(core, payload, name, out.json).await,
        Command::Accounts { out } => list_accounts(core, out.json).await,
        Command::Challenges { account, out } => {
            list_challenges(core, account.as_deref(), out.json).await
        }
        Command::Approve {
            challenge_sid,
            account,
            code,
            out,
        } => {
            let approve = Answer::Approve { code, pin: None };
            answer(core, &challenge_sid, account.as_deref(), approve, out.json).await
        }
        Command::Deny {
            challenge_sid: Some(challenge_sid),
            account,
            reason,
            out,
            ..
        } => {
            let deny = Answer::Deny { reason };
            answer(core, &challenge_sid, account.as_deref(), deny, out.json).await
        }
        Command::Deny {
            challenge_sid: None,
            account,
            reason,
            out,
            ..
        } => deny_all(core, account, reason, out.json).await,
        Command::Silent {
            account,
            state,
            out,
        } => set_silent(core, &account, state, out.json).await,
        Command::Watch { .. } => Ok(()),
    }
}

/// `assent enroll`: the payload from the argument, or from stdin for `-`.
async fn enroll(
    core: &Arc<Core>,
    payload: String,
    name: Option<String>,
    json: bool,
) -> Result<(), AppError> {
    let payload = if payload == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| AppError::Input(format!("cannot read stdin: {e}")))?;
        s
    } else {
        payload
    };
    let account = core.enroll(&payload, name).await?;
    if json {
        return print_json(&account);
    }
    println!(
        "Enrolled {} ({}) as {} at {}",
        clean(&account.friendly_name),
        account.factor_sid,
        clean(&account.identity),
        account.service_sid
    );
    Ok(())
}

/// `assent accounts`.
async fn list_accounts(core: &Arc<Core>, json: bool) -> Result<(), AppError> {
    let accounts = core.accounts().await?;
    if json {
        return print_json(&accounts);
    }
    if accounts.is_empty() {
        println!("No accounts. Enrol with: assent enroll <link-or-json>");
    }
    for a in &accounts {
        print_account(a);
    }
    Ok(())
}

/// `assent challenges`.
async fn list_challenges(
    core: &Arc<Core>,
    account: Option<&str>,
    json: bool,
) -> Result<(), AppError> {
    let pending = core.fetch_pending(account).await?;
    if json {
        return print_json(&pending);
    }
    if pending.is_empty() {
        println!("No pending sign-in requests.");
    }
    for p in &pending {
        print_pending(p);
    }
    Ok(())
}

/// `assent deny --all --account A`: an error when any request could not be denied.
async fn deny_all(
    core: &Arc<Core>,
    account: Option<String>,
    reason: Option<DenyReason>,
    json: bool,
) -> Result<(), AppError> {
    let needle = account.ok_or_else(|| AppError::Input("--all needs --account".into()))?;
    let factor = crate::accounts::find(core.client(), &needle)?;
    // The cards deny_all checks each answer against.
    core.watcher().poll_once().await;
    let report = core.deny_all(factor.sid.as_ref(), reason).await?;
    if json {
        print_json(&report)?;
    } else {
        for v in &report.denied {
            println!("{} {}", v.status, v.sid);
        }
        for f in &report.failed {
            eprintln!("not denied {}: {}", f.sid, f.error);
        }
    }
    match report.failed.first() {
        None => Ok(()),
        Some(_) => Err(AppError::Input(format!(
            "{} of {} requests could not be denied",
            report.failed.len(),
            report.failed.len() + report.denied.len()
        ))),
    }
}

/// `assent silent <account> on|off`.
async fn set_silent(
    core: &Arc<Core>,
    account: &str,
    state: bool,
    json: bool,
) -> Result<(), AppError> {
    let factor = crate::accounts::find(core.client(), account)?;
    let a = core.set_silent_allowed(factor.sid.as_ref(), state).await?;
    if json {
        return print_json(&a);
    }
    let word = if a.silent_allowed { "on" } else { "off" };
    match &a.origin {
        Some(o) => println!(
            "Silent approval {word} for {} (from {})",
            clean(&a.friendly_name),
            clean(o)
        ),
        None => println!(
            "Silent approval {word} for {}; it enrolled without an origin, so nothing is approved silently",
            clean(&a.friendly_name)
        ),
    }
    Ok(())
}

fn parse_switch(s: &str) -> Result<bool, String> {
    match s {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("{s:?}: use on or off")),
    }
}

async fn answer(
    core: &Arc<Core>,
    challenge_sid: &str,
    account: Option<&str>,
    answer: Answer,
    json: bool,
) -> Result<(), AppError> {
    let c = core.find_challenge(challenge_sid, account).await?;
    let mut answer = answer;
    if let Answer::Approve {
        pin: pin @ None, ..
    } = &mut answer
    {
        if core.needs_verification(c.factor_sid.as_ref()) {
            *pin = Some(read_pin()?);
        }
    }
    let view = core
        .answer_with(c.factor_sid.as_ref(), challenge_sid, answer)
        .await?;
    if json {
        print_json(&view)
    } else {
        println!("{} {}", view.status, view.sid);
        Ok(())
    }
}

/// Asks for the app PIN on the controlling terminal, without echo. Without a terminal (a
/// script, a pipe) it refuses: a PIN must come from the person, not from a file.
fn read_pin() -> Result<Pin, AppError> {
    match rpassword::prompt_password("Assent PIN: ") {
        Ok(text) => Pin::new(text),
        Err(e) => {
            tracing::info!(error = %e, "no terminal to ask for the PIN");
            eprintln!(
                "Approving this account's requests asks for your Assent PIN, and there is no \
                 terminal to ask it on; approve in the window instead."
            );
            Err(AppError::VerificationRequired)
        }
    }
}

fn parse_reason(s: &str) -> Result<DenyReason, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not a reason; use not_me or mistake"))
}

/// Prints watcher events to stdout: one line each (JSON lines with `--json`).
struct PrintSink {
    json: bool,
}

#[derive(Serialize)]
#[serde(tag = "event", rename_all = "camelCase")]
enum WatchLine<'a> {
    Request {
        challenge: &'a PendingChallenge,
    },
    Gone {
        sid: &'a str,
        reason: &'static str,
    },
    Answered {
        challenge: &'a ChallengeView,
    },
    Status {
        online: bool,
        error: Option<String>,
    },
    Relayed {
        relayed: &'a crate::events::RelayedSignInEvent,
    },
}

fn reason_str(r: RemovalReason) -> &'static str {
    match r {
        RemovalReason::AnsweredHere => "answered_here",
        RemovalReason::AnsweredElsewhere => "answered_elsewhere",
        RemovalReason::Expired => "expired",
        RemovalReason::AccountRemoved => "account_removed",
    }
}

impl EventSink for PrintSink {
    fn emit(&self, event: AppEvent) {
        let line = match &event {
            AppEvent::ChallengeAnnounced { challenge, .. } => WatchLine::Request { challenge },
            AppEvent::ChallengeRemoved { sid, reason, .. } => WatchLine::Gone {
                sid,
                reason: reason_str(*reason),
            },
            AppEvent::ChallengeAnswered(challenge) => WatchLine::Answered { challenge },
            AppEvent::WatcherStatus(s) => WatchLine::Status {
                online: s.online,
                error: s.last_error.as_ref().map(|e| e.to_string()),
            },
            AppEvent::RelayedSignIn(relayed) => WatchLine::Relayed { relayed },
            _ => return,
        };
        let mut stdout = std::io::stdout().lock();
        let r = if self.json {
            serde_json::to_string(&line)
                .map_err(std::io::Error::other)
                .and_then(|s| writeln!(stdout, "{s}"))
        } else {
            let now = Utc::now().format("%H:%M:%S");
            match line {
                WatchLine::Request { challenge } => {
                    let r = writeln!(stdout, "{now} request {}", summary(challenge));
                    for f in &challenge.challenge.fields {
                        let _ = writeln!(
                            stdout,
                            "           {}: {}",
                            clean(&f.label),
                            clean(&f.value)
                        );
                    }
                    r
                }
                WatchLine::Gone { sid, reason } => {
                    writeln!(stdout, "{now} gone    {sid} ({reason})")
                }
                WatchLine::Answered { challenge } => {
                    writeln!(
                        stdout,
                        "{now} result  {} {}",
                        challenge.sid, challenge.status
                    )
                }
                WatchLine::Relayed { relayed: event } => writeln!(
                    stdout,
                    "{now} WARNING relayed sign-in for {} from {} (expected {}); {}",
                    clean(&event.account_name),
                    clean(&event.origin),
                    clean(&event.expected_origin),
                    if event.denied {
                        "denied"
                    } else {
                        "could not deny"
                    }
                ),
                WatchLine::Status { online, error } => match error {
                    Some(e) => writeln!(
                        stdout,
                        "{now} status  {} ({})",
                        if online { "online" } else { "offline" },
                        clean(&e)
                    ),
                    None => writeln!(
                        stdout,
                        "{now} status  {}",
                        if online { "online" } else { "offline" }
                    ),
                },
            }
        };
        let _ = r.and_then(|_| stdout.flush());
    }
}

async fn watch(
    paths: Paths,
    json: bool,
    session: Arc<dyn crate::SessionProbe>,
) -> Result<(), AppError> {
    let mut opts = CoreOptions::new(paths);
    opts.sink = Arc::new(PrintSink { json });
    opts.session = session;
    let core = Core::new(opts)?;
    if !json {
        println!("Watching for sign-in requests (Ctrl-C to stop)…");
    }
    let endpoint = crate::local_endpoint::start_from_env(core.clone()).await;
    if let (false, crate::local_endpoint::EndpointStatus::Failed { error, .. }) =
        (json, core.endpoint_status())
    {
        eprintln!("warning: {}", clean(&error));
    }
    let watcher = core.watcher().clone();
    let task = tokio::spawn(watcher.clone().run());
    let _ = tokio::signal::ctrl_c().await;
    watcher.stop();
    let _ = task.await;
    drop(endpoint);
    Ok(())
}

fn print_json<T: Serialize>(v: &T) -> Result<(), AppError> {
    let s = serde_json::to_string_pretty(v)
        .map_err(|e| AppError::Storage(format!("cannot encode output: {e}")))?;
    println!("{s}");
    Ok(())
}

fn print_account(a: &Account) {
    let problem = if a.problem.is_some() {
        "  KEY MISSING"
    } else {
        ""
    };
    println!(
        "{}  {:<10}  {}  ({} at {}){}",
        a.factor_sid,
        a.status,
        clean(&a.friendly_name),
        clean(&a.identity),
        a.service_sid,
        problem
    );
    if let Some(t) = &a.last_activity_at {
        println!("    last activity {t}");
    }
}

fn summary(p: &PendingChallenge) -> String {
    let left = DateTime::parse_from_rfc3339(&p.challenge.expires_at)
        .map(|t| (t.with_timezone(&Utc) - Utc::now()).num_seconds().max(0))
        .unwrap_or(0);
    format!(
        "{}  {}: {}  (expires in {}s)",
        p.sid(),
        clean(&p.account_name),
        clean(&p.challenge.message),
        left
    )
}

fn print_pending(p: &PendingChallenge) {
    println!("{}", summary(p));
    for f in &p.challenge.fields {
        println!("    {}: {}", clean(&f.label), clean(&f.value));
    }
    if p.challenge.match_request.is_some() {
        println!("    number matching: approve with --code <the number on the sign-in page>");
    }
}

/// Server-provided text on a terminal: control characters (escape sequences) become spaces.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{clean, Command};
    use crate::matching::DenyReason;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: Command,
    }

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("assent").chain(args.iter().copied())).map(|c| c.cmd)
    }

    #[test]
    fn approve_takes_a_code_and_deny_a_reason() {
        let sid = "YC00000000000000000000000000000001";
        match parse(&["approve", sid, "--code", "47"]) {
            Ok(Command::Approve { code, .. }) => assert_eq!(code.as_deref(), Some("47")),
            _ => panic!("approve --code"),
        }
        match parse(&["approve", sid]) {
            Ok(Command::Approve { code, .. }) => assert_eq!(code, None),
            _ => panic!("approve"),
        }
        for (arg, want) in [
            ("not_me", DenyReason::NotMe),
            ("mistake", DenyReason::Mistake),
        ] {
            match parse(&["deny", sid, "--reason", arg]) {
                Ok(Command::Deny { reason, .. }) => assert_eq!(reason, Some(want)),
                _ => panic!("deny --reason {arg}"),
            }
        }
        // Assent's own reason and unknown words are not accepted from the user.
        for bad in ["wrong_match", "NOT_ME", "", "other"] {
            assert!(parse(&["deny", sid, "--reason", bad]).is_err(), "{bad:?}");
        }
        // --all denies one account's requests: never without the account, never with a SID.
        match parse(&["deny", "--all", "--account", "Bank"]) {
            Ok(Command::Deny {
                all: true,
                challenge_sid: None,
                account: Some(a),
                ..
            }) => assert_eq!(a, "Bank"),
            other => panic!("deny --all: {other:?}"),
        }
        assert!(parse(&["deny", "--all"]).is_err());
        assert!(parse(&["deny", sid, "--all", "--account", "Bank"]).is_err());
        assert!(parse(&["deny"]).is_err());
        // Denying has no code, approving no reason.
        assert!(parse(&["deny", sid, "--code", "47"]).is_err());
        assert!(parse(&["approve", sid, "--reason", "not_me"]).is_err());
    }

    #[test]
    fn silent_takes_on_or_off() {
        use clap::CommandFactory;
        // clap's own consistency checks (debug builds panic on the first parse otherwise).
        Cli::command().debug_assert();
        for (word, want) in [("on", true), ("off", false)] {
            match parse(&["silent", "Bank", word]) {
                Ok(Command::Silent { account, state, .. }) => {
                    assert_eq!((account.as_str(), state), ("Bank", want));
                }
                other => panic!("silent Bank {word}: {other:?}"),
            }
        }
        for bad in ["yes", "ON ", ""] {
            assert!(parse(&["silent", "Bank", bad]).is_err(), "{bad:?}");
        }
        assert!(parse(&["silent", "Bank"]).is_err());
    }

    #[test]
    fn escape_sequences_cannot_reach_the_terminal() {
        assert_eq!(clean("a\x1b[2Jb\nc"), "a [2Jb c");
    }
}
