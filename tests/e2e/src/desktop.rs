//! Probes of the headless desktop: notifications (dbus-monitor log, dunst) and the keyring.

use crate::env::E2eEnv;
use crate::error::{Error, Result};
use crate::wait;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Keyring service name the app stores factor keys under (design.md).
pub const KEYRING_SERVICE: &str = "dev.assent.Assent";

fn run(tool: &str, args: &[&str]) -> Result<std::process::Output> {
    let out = Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::process(tool, format!("spawn failed: {e}")))?;
    if !out.status.success() {
        return Err(Error::process(
            format!("{tool} {}", args.join(" ")),
            format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(out)
}

/// The part of the dbus-monitor notification log written after [`NotificationLog::mark`].
pub struct NotificationLog {
    path: PathBuf,
    start: u64,
}

impl NotificationLog {
    /// Remembers the current end of the log; later reads only see what follows.
    pub fn mark(path: &Path) -> Result<Self> {
        let start = std::fs::metadata(path)
            .map(|m| m.len())
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        Ok(NotificationLog {
            path: path.to_path_buf(),
            start,
        })
    }

    /// Text logged since the mark.
    pub fn since_mark(&self) -> Result<String> {
        let all = std::fs::read(&self.path)
            .map_err(|e| Error::io(format!("reading {}", self.path.display()), e))?;
        let start = usize::try_from(self.start)
            .unwrap_or(usize::MAX)
            .min(all.len());
        Ok(String::from_utf8_lossy(&all[start..]).into_owned())
    }

    /// Waits until a `Notify` call containing every string in `needles` was logged.
    pub async fn wait_for_notify(&self, needles: &[&str], timeout: Duration) -> Result<()> {
        let what = format!("a desktop notification (Notify) containing {needles:?}");
        wait::until(&what, timeout, || async {
            let text = self.since_mark()?;
            // dbus-monitor prints one message per block starting with "method call".
            let found = text
                .split("method call")
                .filter(|block| block.contains("member=Notify"))
                .any(|block| needles.iter().all(|n| block.contains(n)));
            Ok(found.then_some(()))
        })
        .await
    }
}

/// Closes every notification dunst shows, so the next menu only offers the scenario's actions.
pub fn dunst_close_all() -> Result<()> {
    run("dunstctl", &["close-all"]).map(|_| ())
}

/// How many notifications dunst currently displays.
pub fn dunst_displayed() -> Result<u32> {
    let out = run("dunstctl", &["count", "displayed"])?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse()
        .map_err(|e| Error::process("dunstctl count displayed", format!("{text:?}: {e}")))
}

/// dunst's history (notifications closed since it started, newest first) as
/// `(summary, icon_path)` pairs.
pub fn dunst_history() -> Result<Vec<(String, String)>> {
    let out = run("dunstctl", &["history"])?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::process("dunstctl history", format!("not JSON: {e}")))?;
    // {"type": "aa{sv}", "data": [[{"summary": {"type": "s", "data": "…"}, …}, …]]}
    let field = |n: &serde_json::Value, k: &str| {
        n.get(k)
            .and_then(|f| f.get("data"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Ok(v.get("data")
        .and_then(|d| d.get(0))
        .and_then(serde_json::Value::as_array)
        .map(|list| {
            list.iter()
                .map(|n| (field(n, "summary"), field(n, "icon_path")))
                .collect()
        })
        .unwrap_or_default())
}

/// Acts like a person choosing an action from the notification: the dmenu stand-in picks the
/// first offered line matching `pattern` (grep -E, case-insensitive).
pub fn dunst_choose(env: &E2eEnv, pattern: &str) -> Result<()> {
    std::fs::write(&env.dunst_pick_file, format!("{pattern}\n"))
        .map_err(|e| Error::io("writing the dunst pick file", e))?;
    run("dunstctl", &["context"]).map(|_| ())
}

/// What any program on the session bus can do: emits `ActionInvoked(id, action)` on
/// `/org/freedesktop/Notifications` from a new connection (gdbus), not from the notification
/// server. `uint32` gives the spec's signature `(us)`; a bare number would be an int32.
pub fn forge_action_invoked(id: u32, action: &str) -> Result<()> {
    let id = format!("uint32 {id}");
    let action = format!("'{action}'");
    run(
        "gdbus",
        &[
            "emit",
            "--session",
            "--object-path",
            "/org/freedesktop/Notifications",
            "--signal",
            "org.freedesktop.Notifications.ActionInvoked",
            &id,
            &action,
        ],
    )
    .map(|_| ())
}

/// Calls a method of the bus itself (`org.freedesktop.DBus`) with gdbus; returns the reply's
/// single-quoted strings (gdbus prints a GVariant tuple such as `(':1.5',)` or
/// `(['org.freedesktop.DBus', ':1.0'],)`).
fn bus_call(method: &str, args: &[&str]) -> Result<Vec<String>> {
    let method = format!("org.freedesktop.DBus.{method}");
    let mut argv = vec![
        "call",
        "--session",
        "--dest",
        "org.freedesktop.DBus",
        "--object-path",
        "/org/freedesktop/DBus",
        "--method",
        &method,
    ];
    argv.extend_from_slice(args);
    let out = run("gdbus", &argv)?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect())
}

/// The unique bus name that owns `org.freedesktop.Notifications` (dunst's connection).
pub fn notification_server() -> Result<String> {
    let reply = bus_call("GetNameOwner", &["org.freedesktop.Notifications"])?;
    reply
        .into_iter()
        .find(|n| n.starts_with(':'))
        .ok_or_else(|| Error::process("gdbus call GetNameOwner", "no unique name in the reply"))
}

/// The well-known names owned on the session bus right now.
pub fn bus_names() -> Result<Vec<String>> {
    Ok(bus_call("ListNames", &[])?
        .into_iter()
        .filter(|n| !n.starts_with(':'))
        .collect())
}

/// Key aliases (keyring `username` attributes) stored under [`KEYRING_SERVICE`].
pub fn keyring_aliases() -> Result<BTreeSet<String>> {
    let out = run(
        "secret-tool",
        &["search", "--all", "service", KEYRING_SERVICE],
    )?;
    // secret-tool prints attributes on stderr, label/secret on stdout; only attributes are read.
    let attrs = String::from_utf8_lossy(&out.stderr);
    Ok(attrs
        .lines()
        .filter_map(|l| l.strip_prefix("attribute.username = "))
        .map(|s| s.trim().to_string())
        .collect())
}
