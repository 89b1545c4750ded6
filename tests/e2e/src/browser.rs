//! A real browser for the relying party's side: headless Chromium driven over the DevTools
//! protocol on a pipe (`--remote-debugging-pipe`: fd 3 carries commands in, fd 4 answers out,
//! each message NUL-terminated), so no chromedriver and no debugging port anyone else could
//! reach. Pages are loaded from loopback only.

use crate::error::{Error, Result};
use crate::wait::{self, PATIENCE};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::oneshot;

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// A headless Chromium process; killed when dropped.
pub struct Browser {
    child: Child,
    stdin: tokio::sync::Mutex<ChildStdin>,
    pending: Pending,
    next_id: AtomicU64,
    _profile: TempDir,
}

/// One tab, attached with its own DevTools session.
pub struct Tab<'a> {
    browser: &'a Browser,
    session: String,
}

fn chromium_error(detail: impl Into<String>) -> Error {
    Error::process("chromium", detail)
}

impl Browser {
    /// Starts `chromium --headless` with a fresh profile; its stderr goes to `log`.
    pub async fn launch(log: &Path) -> Result<Browser> {
        let Some(bin) =
            crate::env::which("chromium").or_else(|| crate::env::which("chromium-browser"))
        else {
            return Err(Error::Environment(
                "chromium is not on PATH (run scripts/setup.sh test)".into(),
            ));
        };
        let profile = tempfile::Builder::new()
            .prefix("assent-e2e-chromium-")
            .tempdir()
            .map_err(|e| Error::io("creating the browser profile", e))?;
        let stderr = std::fs::File::create(log)
            .map_err(|e| Error::io(format!("creating {}", log.display()), e))?;
        // The shell moves our pipes to fd 3 (commands) and 4 (answers), where Chromium's pipe
        // transport expects them, and its own stdout to the log.
        let script = r#"exec 3<&0 4>&1 0</dev/null 1>&2; exec "$@""#;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("sh")
            .arg(&bin)
            .args([
                "--headless",
                // The tests run as root in a container, where the sandbox cannot start.
                "--no-sandbox",
                "--remote-debugging-pipe",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-gpu",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-sync",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| chromium_error(format!("spawn failed: {e}")))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(chromium_error("no pipes"));
        };
        let pending: Pending = Arc::new(Mutex::new(HashMap::new()));
        let answers = pending.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(0, &mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let msg = buf.strip_suffix(&[0]).unwrap_or(&buf);
                let Ok(v) = serde_json::from_slice::<Value>(msg) else {
                    continue;
                };
                // Events (no id) are not needed: the tests poll the DOM.
                if let Some(id) = v.get("id").and_then(Value::as_u64) {
                    let tx = answers
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&id);
                    if let Some(tx) = tx {
                        let _ = tx.send(v);
                    }
                }
            }
            // Chromium is gone: waiters see their senders dropped.
            answers.lock().unwrap_or_else(|e| e.into_inner()).clear();
        });
        let browser = Browser {
            child,
            stdin: tokio::sync::Mutex::new(stdin),
            pending,
            next_id: AtomicU64::new(1),
            _profile: profile,
        };
        let version = browser
            .call(None, "Browser.getVersion", json!({}))
            .await
            .map_err(|e| chromium_error(format!("{e} (log: {})", log.display())))?;
        println!(
            "browser: {}",
            version["product"].as_str().unwrap_or("unknown")
        );
        Ok(browser)
    }

    /// Sends one DevTools command (to `session`, or the browser) and waits for its answer.
    async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = Value::from(s);
        }
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, tx);
        let mut bytes = msg.to_string().into_bytes();
        bytes.push(0);
        {
            let mut stdin = self.stdin.lock().await;
            stdin
                .write_all(&bytes)
                .await
                .map_err(|e| Error::io(format!("sending {method} to chromium"), e))?;
            stdin
                .flush()
                .await
                .map_err(|e| Error::io(format!("sending {method} to chromium"), e))?;
        }
        let answer = tokio::time::timeout(PATIENCE, rx)
            .await
            .map_err(|_| Error::Timeout {
                what: format!("chromium to answer {method}"),
                secs: PATIENCE.as_secs(),
            })?
            .map_err(|_| chromium_error(format!("exited before answering {method}")))?;
        if let Some(err) = answer.get("error") {
            return Err(chromium_error(format!("{method}: {err}")));
        }
        Ok(answer.get("result").cloned().unwrap_or(Value::Null))
    }

    /// Opens a new tab at `url`.
    pub async fn open(&self, url: &str) -> Result<Tab<'_>> {
        let target = self
            .call(None, "Target.createTarget", json!({ "url": "about:blank" }))
            .await?;
        let target_id = target["targetId"]
            .as_str()
            .ok_or_else(|| chromium_error(format!("no targetId in {target}")))?;
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
            )
            .await?;
        let session = attached["sessionId"]
            .as_str()
            .ok_or_else(|| chromium_error(format!("no sessionId in {attached}")))?
            .to_string();
        let tab = Tab {
            browser: self,
            session,
        };
        tab.navigate(url).await?;
        Ok(tab)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl Tab<'_> {
    /// Loads `url` and waits until the document has finished loading there.
    pub async fn navigate(&self, url: &str) -> Result<()> {
        let nav = self
            .browser
            .call(Some(&self.session), "Page.navigate", json!({ "url": url }))
            .await?;
        if let Some(err) = nav.get("errorText").and_then(Value::as_str) {
            return Err(chromium_error(format!("loading {url}: {err}")));
        }
        self.wait_loaded(&format!("{url} to load"), |href| href == url)
            .await
    }

    /// Waits until the document is complete and its URL satisfies `at`; returns the URL.
    pub async fn wait_loaded(&self, what: &str, at: impl Fn(&str) -> bool) -> Result<()> {
        wait::until(what, PATIENCE, || async {
            let v = self
                .eval("document.readyState === 'complete' ? location.href : null")
                .await?;
            Ok(v.as_str().filter(|href| at(href)).map(|_| ()))
        })
        .await
    }

    /// Evaluates `expression` in the page (awaiting a promise) and returns its JSON value.
    pub async fn eval(&self, expression: &str) -> Result<Value> {
        let r = self
            .browser
            .call(
                Some(&self.session),
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await?;
        if let Some(ex) = r.get("exceptionDetails") {
            return Err(Error::Assertion(format!(
                "script {expression:?} threw: {}",
                ex.pointer("/exception/description")
                    .and_then(Value::as_str)
                    .unwrap_or(&ex.to_string())
            )));
        }
        Ok(r.pointer("/result/value").cloned().unwrap_or(Value::Null))
    }

    /// Waits until `expression` evaluates to something other than `null`/`false`; returns it.
    pub async fn wait_for(&self, what: &str, expression: &str) -> Result<Value> {
        let outcome = wait::until(what, PATIENCE, || async {
            let v = match self.eval(expression).await {
                Ok(v) => v,
                // The page is navigating (its old document is gone, the new one not yet there).
                Err(Error::Process { detail, .. }) if detail.contains("context") => Value::Null,
                Err(e) => return Err(e),
            };
            Ok((!matches!(v, Value::Null | Value::Bool(false))).then_some(v))
        })
        .await;
        match outcome {
            Err(e @ Error::Timeout { .. }) => Err(Error::Assertion(format!(
                "{e}; the page is {}",
                self.describe().await
            ))),
            other => other,
        }
    }

    /// The page's URL and the start of its text, for failure messages.
    pub async fn describe(&self) -> String {
        self.eval("location.href + ' showing ' + JSON.stringify((document.body ? document.body.innerText : '').slice(0, 400))")
            .await
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .unwrap_or_else(|e| format!("(unreadable: {e})"))
    }
}
