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

    /// The app's "notification shown" log lines for challenge `sid` (empty: never announced).
    pub fn notifications_shown(&self, sid: &str) -> Result<Vec<String>> {
        self.log_lines(&["notification shown", &format!("challenge={sid}")])
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

    /// Whether an element matches `css` and is enabled.
    pub async fn is_enabled(&self, css: &str) -> Result<bool> {
        let v = self
            .js(
                "const e = document.querySelector(arguments[0]); return !!e && !e.disabled;",
                vec![Value::from(css)],
            )
            .await?;
        Ok(v.as_bool().unwrap_or(false))
    }

    /// Waits until an element matches `css` and is enabled.
    pub async fn wait_enabled(&self, css: &str) -> Result<()> {
        let what = format!("{css} to be enabled");
        wait::until(&what, PATIENCE, || async {
            Ok(self.is_enabled(css).await?.then_some(()))
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

    /// Moves the mouse pointer onto the centre of the element matching `css`, like a person
    /// about to click it (real pointer events in the page; no click).
    pub async fn hover(&self, css: &str) -> Result<()> {
        use fantoccini::actions::{InputSource, MouseActions, PointerAction};
        let element = self.wait_css(css).await?;
        let mouse = MouseActions::new("mouse".into()).then(PointerAction::MoveToElement {
            element,
            duration: None,
            x: 0.0,
            y: 0.0,
        });
        self.client
            .perform_actions(mouse)
            .await
            .map_err(|e| Error::webdriver(format!("moving the pointer to {css}"), e))
    }

    /// Presses and releases `key` on the keyboard (goes to whatever has focus; no pointer).
    pub async fn press(&self, key: fantoccini::key::Key) -> Result<()> {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let value: char = key.into();
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value })
            .then(KeyAction::Up { value });
        self.client
            .perform_actions(keys)
            .await
            .map_err(|e| Error::webdriver("pressing a key", e))
    }

    /// Presses Tab until the focused element matches `css` (at most `max` times); fails
    /// naming what had focus last.
    pub async fn tab_to(&self, css: &str, max: usize) -> Result<()> {
        let mut last = Value::Null;
        for _ in 0..max {
            self.press(fantoccini::key::Key::Tab).await?;
            let v = self
                .js(
                    "const a = document.activeElement; \
                     return a && a.matches(arguments[0]) ? true : \
                       (a ? a.tagName + ' ' + (a.getAttribute('data-testid') || a.textContent.trim().slice(0, 40)) : null);",
                    vec![Value::from(css)],
                )
                .await?;
            if v == Value::Bool(true) {
                return Ok(());
            }
            last = v;
        }
        Err(Error::Assertion(format!(
            "{max} Tab presses never reached {css}; focus ended on {last}"
        )))
    }

    /// The viewport rectangle `[left, top, width, height]` of the element matching `css`.
    pub async fn rect(&self, css: &str) -> Result<[f64; 4]> {
        let v = self
            .js(
                "const e = document.querySelector(arguments[0]); if (!e) return null; \
                 const r = e.getBoundingClientRect(); return [r.left, r.top, r.width, r.height];",
                vec![Value::from(css)],
            )
            .await?;
        let nums: Vec<f64> = v
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default();
        <[f64; 4]>::try_from(nums)
            .map_err(|_| Error::Assertion(format!("no layout box for {css} (got {v})")))
    }

    /// Runs axe-core (`axe_source`, the library's text) on the window as it is now and returns
    /// its violations as `(impact, rule id, first target)`.
    pub async fn axe(&self, axe_source: &str) -> Result<Vec<(String, String, String)>> {
        // The library is sent as the script itself, so the page's CSP (no eval) is not involved.
        let script = format!(
            "{axe_source}\n;const done = arguments[arguments.length - 1];\
             axe.run(document, {{ resultTypes: ['violations'] }})\
               .then(r => done(r.violations.map(v => [v.impact || 'none', v.id, \
                  v.nodes.length ? String(v.nodes[0].target) + ' ' + v.nodes[0].failureSummary : ''])))\
               .catch(e => done({{ error: String(e) }}));"
        );
        let v = self
            .client
            .execute_async(&script, vec![])
            .await
            .map_err(|e| Error::webdriver("running axe-core", e))?;
        if let Some(err) = v.get("error") {
            return Err(Error::Assertion(format!("axe-core failed: {err}")));
        }
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| {
                        let f = |i: usize| x.get(i).and_then(Value::as_str).map(str::to_string);
                        Some((f(0)?, f(1)?, f(2).unwrap_or_default()))
                    })
                    .collect()
            })
            .unwrap_or_default())
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
