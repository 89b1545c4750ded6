//! What a scenario needs from the headless desktop (`scripts/headless.sh`), checked up front.
//!
//! With `ASSENT_E2E` unset the scenarios skip with a printed notice (plain `cargo nextest run`
//! while developing). With `ASSENT_E2E=1` every missing piece is an error: CI must not go green
//! by skipping.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Paths and endpoints of the test desktop.
#[derive(Debug, Clone)]
pub struct E2eEnv {
    /// tauri-driver's WebDriver endpoint, e.g. `http://127.0.0.1:4444`.
    pub webdriver_url: String,
    /// The `assent` binary built with `--features assent/custom-protocol`.
    pub app_bin: PathBuf,
    /// The `verify-emulator` binary.
    pub emulator_bin: PathBuf,
    /// File holding the grep pattern `tests/dunst/dmenu-pick.sh` answers dunst's menu with.
    pub dunst_pick_file: PathBuf,
    /// `dbus-monitor` log of the org.freedesktop.Notifications traffic.
    pub dbus_monitor_log: PathBuf,
    /// Where scenarios write app and emulator logs (`$ASSENT_LOG_DIR/e2e`, else `logs/e2e`).
    pub logs_dir: PathBuf,
    /// The repository root.
    pub repo_root: PathBuf,
}

/// True when `ASSENT_E2E` asks for the end-to-end scenarios to run.
pub fn e2e_requested() -> bool {
    std::env::var("ASSENT_E2E").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// `Ok(None)` (after printing a notice) when `ASSENT_E2E` is unset; otherwise the checked
/// environment, or an error naming what is missing.
pub async fn e2e_env(scenario: &str) -> Result<Option<E2eEnv>> {
    if !e2e_requested() {
        println!(
            "SKIP {scenario}: ASSENT_E2E is not set (run `make test`, or \
             `scripts/headless.sh env ASSENT_E2E=1 cargo nextest run -p assent-e2e`)"
        );
        return Ok(None);
    }
    let env = E2eEnv::detect()?;
    env.check_webdriver().await?;
    Ok(Some(env))
}

fn required_var(name: &str, hint: &str) -> Result<String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => Err(Error::Environment(format!("{name} is not set ({hint})"))),
    }
}

fn require_file(path: &Path, hint: &str) -> Result<()> {
    if path.is_file() {
        Ok(())
    } else {
        Err(Error::Environment(format!(
            "{} does not exist ({hint})",
            path.display()
        )))
    }
}

/// Finds `tool` on PATH.
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
}

const BUILD_HINT: &str =
    "build first: cargo build --workspace --all-targets --features assent/custom-protocol";

/// A binary built next to this test executable (`assent`, `verify-emulator`); `ASSENT_BIN_DIR`
/// overrides the folder. Fails with the build command when it is missing.
pub fn built_binary(name: &str) -> Result<PathBuf> {
    let path = profile_dir()?.join(name);
    require_file(&path, BUILD_HINT)?;
    Ok(path)
}

/// Directory of the cargo profile that built this test binary (`target/debug`): the test
/// executable lives in its `deps/` folder. `ASSENT_BIN_DIR` overrides.
fn profile_dir() -> Result<PathBuf> {
    if let Ok(dir) = std::env::var("ASSENT_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().map_err(|e| Error::io("locating the test binary", e))?;
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .ok_or_else(|| Error::Environment(format!("odd test binary path {}", exe.display())))
}

impl E2eEnv {
    /// Reads and checks the environment `scripts/headless.sh` sets up.
    pub fn detect() -> Result<Self> {
        const DESKTOP: &str = "run inside scripts/headless.sh";
        let webdriver_url = required_var(
            "ASSENT_WEBDRIVER_URL",
            "scripts/headless.sh starts tauri-driver when tools/bin/tauri-driver exists; \
             run scripts/setup.sh test",
        )?;
        required_var("DISPLAY", DESKTOP)?;
        required_var("DBUS_SESSION_BUS_ADDRESS", DESKTOP)?;
        let dunst_pick_file = PathBuf::from(required_var("ASSENT_DUNST_PICK_FILE", DESKTOP)?);
        let dbus_monitor_log = PathBuf::from(required_var("ASSENT_DBUS_MONITOR_LOG", DESKTOP)?);
        for tool in ["dunstctl", "secret-tool", "gdbus"] {
            if which(tool).is_none() {
                return Err(Error::Environment(format!(
                    "{tool} is not on PATH (run scripts/setup.sh test)"
                )));
            }
        }
        let bin = profile_dir()?;
        let app_bin = match std::env::var("ASSENT_APP_BIN") {
            Ok(p) => PathBuf::from(p),
            Err(_) => bin.join("assent"),
        };
        require_file(&app_bin, BUILD_HINT)?;
        let emulator_bin = built_binary("verify-emulator")?;
        let repo_root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .canonicalize()
            .map_err(|e| Error::io("locating the repository root", e))?;
        // scripts/headless.sh gives each run its own log folder.
        let logs_dir = std::env::var_os("ASSENT_LOG_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root.join("logs"))
            .join("e2e");
        std::fs::create_dir_all(&logs_dir).map_err(|e| Error::io("creating logs/e2e", e))?;
        Ok(E2eEnv {
            webdriver_url,
            app_bin,
            emulator_bin,
            dunst_pick_file,
            dbus_monitor_log,
            logs_dir,
            repo_root,
        })
    }

    async fn check_webdriver(&self) -> Result<()> {
        let url = format!("{}/status", self.webdriver_url);
        let resp = reqwest::get(&url)
            .await
            .map_err(|e| Error::Environment(format!("tauri-driver not reachable at {url}: {e}")))?;
        if !resp.status().is_success() {
            return Err(Error::Environment(format!(
                "tauri-driver at {url} answered {}",
                resp.status()
            )));
        }
        Ok(())
    }
}
