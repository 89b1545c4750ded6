//! The real Assent window, launched by tauri-driver/WebKitWebDriver and driven over WebDriver.

use crate::env::E2eEnv;
use crate::error::{Error, Result};
use crate::wait::{self, PATIENCE};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;

/// The value of `field=` in a tracing log line (up to the next space), if present.
pub fn log_field<'a>(line: &'a str, field: &str) -> Option<&'a str> {
    let key = format!(" {field}=");
    let start = line.find(&key)? + key.len();
    line[start..].split_whitespace().next()
}

/// CSS selector for a `data-testid` hook.
pub fn tid(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

/// A running app window plus its private data directory.
pub struct AppSession {
    /// The WebDriver session (the app process lives as long as it does).
    pub client: Client,
    data_dir: TempDir,
    /// Where the app's stdout/stderr go.
    pub log: PathBuf,
    app_bin: PathBuf,
    screenshots: Option<PathBuf>,
}

/// Shell-quotes `s` with single quotes.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl AppSession {
    /// Starts `assent --no-emulator` with a fresh `ASSENT_DATA_DIR` through tauri-driver.
    ///
    /// tauri-driver cannot pass environment variables, so the "application" it launches is a
    /// small wrapper script that sets them and execs the real binary with the driver's args.
    pub async fn launch(env: &E2eEnv, scenario: &str) -> Result<Self> {
        Self::launch_with_env(env, scenario, &[]).await
    }

    /// [`Self::launch`] with extra environment variables for the app (names and values are
    /// the harness's own, shell-quoted into the wrapper).
    pub async fn launch_with_env(
        env: &E2eEnv,
        scenario: &str,
        vars: &[(&str, String)],
    ) -> Result<Self> {
        let data_dir = tempfile::Builder::new()
            .prefix(&format!("assent-e2e-{scenario}-"))
            .tempdir()
            .map_err(|e| Error::io("creating the data dir", e))?;
        let log = env.logs_dir.join(format!("{scenario}.app.log"));
        let wrapper = data_dir.path().join("assent-under-test.sh");
        let extra: String = vars
            .iter()
            .map(|(k, v)| format!("export {k}={}\n", sh_quote(v)))
            .collect();
        let script = format!(
            "#!/bin/sh\nexport ASSENT_DATA_DIR={data}\nexport RUST_LOG=${{RUST_LOG:-info}}\n{extra}\
             exec {bin} --no-emulator \"$@\" >>{log} 2>&1\n",
            data = sh_quote(&data_dir.path().to_string_lossy()),
            bin = sh_quote(&env.app_bin.to_string_lossy()),
            log = sh_quote(&log.to_string_lossy()),
        );
        std::fs::write(&wrapper, script).map_err(|e| Error::io("writing the app wrapper", e))?;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| Error::io("chmod of the app wrapper", e))?;

        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "wry".into());
        caps.insert(
            "tauri:options".into(),
            serde_json::json!({ "application": wrapper }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&env.webdriver_url)
            .await
            .map_err(|e| {
                Error::Environment(format!(
                    "could not open the Assent window via tauri-driver ({e}); app log: {}",
                    log.display()
                ))
            })?;
        let screenshots = std::env::var("ASSENT_SCREENSHOTS")
            .is_ok_and(|v| v == "1")
            .then(|| env.repo_root.join("docs").join("screenshots"));
        let session = AppSession {
            client,
            data_dir,
            log,
            app_bin: env.app_bin.clone(),
            screenshots,
        };
        // The UI has booted when its account list (possibly empty) or the enrol form shows.
        session
            .wait_any(&[
                &tid("account-list"),
                &tid("add-account-button"),
                &tid("enroll-input"),
            ])
            .await?;
        Ok(session)
    }

    /// The app's data directory (factors.json, settings.json…).
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// Runs `assent ARGS…` as a second process sharing this window's data dir (like the CLI
    /// on the same machine). Returns stdout; fails on a non-zero exit.
    pub fn run_cli(&self, args: &[&str]) -> Result<String> {
        let out = Command::new(&self.app_bin)
            .args(args)
            .env("ASSENT_DATA_DIR", self.data_dir.path())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::process("assent CLI", format!("spawn failed: {e}")))?;
        if !out.status.success() {
            return Err(Error::process(
                format!("assent {}", args.join(" ")),
                format!(
                    "{}; stdout: {}; stderr: {}",
                    out.status,
                    String::from_utf8_lossy(&out.stdout).trim(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The app's log lines (its stderr: tracing at `RUST_LOG`, info by default) that contain
    /// every string in `needles`.
    pub fn log_lines(&self, needles: &[&str]) -> Result<Vec<String>> {
        let text = std::fs::read(&self.log)
            .map_err(|e| Error::io(format!("reading {}", self.log.display()), e))?;
        Ok(String::from_utf8_lossy(&text)
            .lines()
            .filter(|l| needles.iter().all(|n| l.contains(n)))
            .map(str::to_string)
            .collect())
    }

    /// Waits until the app logs a line containing every string in `needles`; returns it.
    pub async fn wait_log(&self, needles: &[&str]) -> Result<String> {
        let what = format!("an app log line containing {needles:?}");
        wait::until(&what, PATIENCE, || async {
            Ok(self.log_lines(needles)?.into_iter().next())
        })
        .await
    }

    /// Runs JavaScript in the window and returns its result.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.client
            .execute(script, args)
            .await
            .map_err(|e| Error::webdriver(format!("executing script {script:?}"), e))
    }

    /// Number of elements matching `css`.
    pub async fn count(&self, css: &str) -> Result<usize> {
        let v = self
            .js(
                "return document.querySelectorAll(arguments[0]).length;",
                vec![Value::from(css)],
            )
            .await?;
        Ok(v.as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0))
    }

    /// `textContent` of the first element matching `css` (exact DOM text, not rendered text).
    pub async fn text_content(&self, css: &str) -> Result<Option<String>> {
        let v = self
            .js(
                "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
                vec![Value::from(css)],
            )
            .await?;
        Ok(v.as_str().map(str::to_string))
    }

    /// Waits until an element matching `css` exists and returns it.
    pub async fn wait_css(&self, css: &str) -> Result<Element> {
        self.wait_css_for(css, PATIENCE).await
    }

    /// [`Self::wait_css`] with an explicit limit.
    pub async fn wait_css_for(&self, css: &str, timeout: Duration) -> Result<Element> {
        let what = format!("element {css}");
        wait::until(&what, timeout, || async {
            match self.client.find(Locator::Css(css)).await {
                Ok(el) => Ok(Some(el)),
                Err(e) if e.is_no_such_element() => Ok(None),
                Err(e) => Err(Error::webdriver(format!("finding {css}"), e)),
            }
        })
        .await
    }

    /// Waits until one of `selectors` matches; returns which.
    pub async fn wait_any(&self, selectors: &[&str]) -> Result<String> {
        let what = format!("any of {selectors:?}");
        wait::until(&what, PATIENCE, || async {
            for css in selectors {
                if self.count(css).await? > 0 {
                    return Ok(Some((*css).to_string()));
                }
            }
            Ok(None)
        })
        .await
    }

    /// Waits until nothing matches `css`.
    pub async fn wait_gone(&self, css: &str, timeout: Duration) -> Result<()> {
        let what = format!("{css} to disappear");
        wait::until(&what, timeout, || async {
            Ok((self.count(css).await? == 0).then_some(()))
        })
        .await
    }

    /// Clicks the first element matching `css` once it exists.
    pub async fn click(&self, css: &str) -> Result<()> {
        let el = self.wait_css(css).await?;
        el.click()
            .await
            .map_err(|e| Error::webdriver(format!("clicking {css}"), e))
    }

    /// Types `text` into the element matching `css` (after clearing it).
    pub async fn type_into(&self, css: &str, text: &str) -> Result<()> {
        let el = self.wait_css(css).await?;
        el.clear()
            .await
            .map_err(|e| Error::webdriver(format!("clearing {css}"), e))?;
        el.send_keys(text)
            .await
            .map_err(|e| Error::webdriver(format!("typing into {css}"), e))
    }

    /// Saves a PNG of the window to `docs/screenshots/<name>.png` when `ASSENT_SCREENSHOTS=1`.
    pub async fn screenshot(&self, name: &str) -> Result<()> {
        let Some(dir) = &self.screenshots else {
            return Ok(());
        };
        let png = self
            .client
            .screenshot()
            .await
            .map_err(|e| Error::webdriver("taking a screenshot", e))?;
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating docs/screenshots", e))?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        println!("screenshot saved: {}", path.display());
        Ok(())
    }

    /// Ends the WebDriver session, which also ends the app process.
    pub async fn close(self) -> Result<()> {
        self.client
            .close()
            .await
            .map_err(|e| Error::webdriver("closing the session", e))
    }
}
