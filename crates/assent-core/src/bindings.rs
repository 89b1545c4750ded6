//! TypeScript bindings of every type that crosses the IPC boundary, generated with ts-rs into
//! `ui/src/lib/bindings/` (committed). The test below fails when the committed files differ
//! from what the Rust types generate; `scripts/check-bindings.sh` rewrites them and shows the
//! diff.

use std::path::Path;

use ts_rs::{Config, ExportError, TS};

use crate::enroll_requests::{EnrollPreview, EnrollRequestView};
use crate::error::{AppErrorCode, ErrorView, ServerErrorView};
use crate::events::{
    ChallengeRemovedEvent, EnrollProgressEvent, FocusChallengeEvent, PageHandover,
    RelayedSignInEvent,
};
use crate::settings::Settings;
use crate::views::{
    Account, AppInfo, ChallengeView, EnrollStep, HistoryPage, PendingChallenge, WatcherStatus,
};

/// The folder, relative to the repository root, the bindings are committed in.
pub const DIR: &str = "ui/src/lib/bindings";

/// How the bindings are written. Integers are JSON numbers (`serde_json`), so `u64`/`i64` are
/// `number` in TypeScript, not the `bigint` ts-rs defaults to.
pub fn config(dir: &Path) -> Config {
    Config::new().with_out_dir(dir).with_large_int("number")
}

/// Writes the bindings of every IPC type (and the types they use) into `dir`, one file each.
pub fn export(dir: &Path) -> Result<(), ExportError> {
    let cfg = config(dir);
    // Commands' results and arguments, event payloads, the error every command rejects with.
    Account::export_all(&cfg)?;
    ChallengeView::export_all(&cfg)?;
    PendingChallenge::export_all(&cfg)?;
    HistoryPage::export_all(&cfg)?;
    WatcherStatus::export_all(&cfg)?;
    EnrollStep::export_all(&cfg)?;
    EnrollProgressEvent::export_all(&cfg)?;
    FocusChallengeEvent::export_all(&cfg)?;
    ChallengeRemovedEvent::export_all(&cfg)?;
    RelayedSignInEvent::export_all(&cfg)?;
    PageHandover::export_all(&cfg)?;
    crate::local_endpoint::EndpointStatus::export_all(&cfg)?;
    EnrollRequestView::export_all(&cfg)?;
    EnrollPreview::export_all(&cfg)?;
    AppInfo::export_all(&cfg)?;
    Settings::export_all(&cfg)?;
    ErrorView::export_all(&cfg)?;
    ServerErrorView::export_all(&cfg)?;
    AppErrorCode::export_all(&cfg)?;
    crate::matching::DenyReason::export_all(&cfg)?;
    crate::service::DenyAllReport::export_all(&cfg)?;
    crate::verification::VerificationView::export_all(&cfg)?;
    crate::verification::Scope::export_all(&cfg)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;

    fn read_ts(dir: &Path) -> BTreeMap<String, String> {
        let mut files = BTreeMap::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return files;
        };
        for e in entries {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".ts") {
                files.insert(name, std::fs::read_to_string(e.path()).unwrap());
            }
        }
        files
    }

    fn committed_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(DIR)
    }

    /// Fails when a Rust IPC type changed and `ui/src/lib/bindings` was not regenerated.
    /// With `ASSENT_WRITE_BINDINGS=1` it rewrites the folder instead (scripts/check-bindings.sh).
    #[test]
    fn committed_bindings_match_the_rust_types() {
        let dir = committed_dir();
        if std::env::var_os("ASSENT_WRITE_BINDINGS").is_some_and(|v| v == "1") {
            for name in read_ts(&dir).keys() {
                std::fs::remove_file(dir.join(name)).unwrap();
            }
            export(&dir).unwrap();
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        export(tmp.path()).unwrap();
        let generated = read_ts(tmp.path());
        let committed = read_ts(&dir);
        assert!(
            generated.len() > 10,
            "too few bindings: {:?}",
            generated.keys()
        );
        let mut problems = Vec::new();
        for (name, text) in &generated {
            match committed.get(name) {
                None => problems.push(format!("{DIR}/{name}: missing")),
                Some(old) if old != text => {
                    let line = old
                        .lines()
                        .zip(text.lines())
                        .position(|(a, b)| a != b)
                        .unwrap_or_else(|| old.lines().count().min(text.lines().count()));
                    problems.push(format!(
                        "{DIR}/{name}: differs from line {}\n  committed: {}\n  generated: {}",
                        line + 1,
                        old.lines().nth(line).unwrap_or("<end of file>"),
                        text.lines().nth(line).unwrap_or("<end of file>"),
                    ));
                }
                Some(_) => {}
            }
        }
        for name in committed.keys().filter(|n| !generated.contains_key(*n)) {
            problems.push(format!("{DIR}/{name}: no Rust type generates it"));
        }
        assert!(
            problems.is_empty(),
            "TypeScript bindings are out of date; run scripts/check-bindings.sh and commit \
             {DIR}:\n{}",
            problems.join("\n")
        );
    }
}
