//! A loopback HTTP listener standing in for the relying party's webhook endpoint.

use crate::error::{Error, Result};
use crate::wait;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use url::Url;

type Log = Arc<Mutex<Vec<String>>>;

/// Records every request it receives (query, form fields decoded, raw body) as one string.
pub struct WebhookSink {
    /// Where to point the webhook.
    pub url: Url,
    received: Log,
    task: JoinHandle<()>,
}

async fn record(State(log): State<Log>, req: Request) -> StatusCode {
    let query = req.uri().query().unwrap_or_default().to_string();
    let body = match axum::body::to_bytes(req.into_body(), 1 << 20).await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => return StatusCode::BAD_REQUEST,
    };
    // Decoded form pairs make `challenge_sid=YC…` findable whatever the encoding.
    let decoded: Vec<String> = url::form_urlencoded::parse(query.as_bytes())
        .chain(url::form_urlencoded::parse(body.as_bytes()))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let entry = format!("{query}\n{body}\n{}", decoded.join("\n"));
    if let Ok(mut log) = log.lock() {
        log.push(entry);
    }
    StatusCode::OK
}

impl WebhookSink {
    /// Listens on 127.0.0.1 on an ephemeral port.
    pub async fn start() -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| Error::io("binding the webhook listener", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("webhook listener address", e))?;
        let received: Log = Arc::default();
        let app = axum::Router::new()
            .fallback(record)
            .with_state(received.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let url = Url::parse(&format!("http://{addr}/webhook"))
            .map_err(|e| Error::api("webhook url", e.to_string()))?;
        Ok(WebhookSink {
            url,
            received,
            task,
        })
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<String> {
        self.received.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Waits for a delivery containing every string in `needles`; returns it.
    pub async fn wait_for(&self, needles: &[&str], timeout: Duration) -> Result<String> {
        let what = format!("a webhook delivery containing {needles:?}");
        wait::until(&what, timeout, || async {
            Ok(self
                .received()
                .into_iter()
                .find(|d| needles.iter().all(|n| d.contains(n))))
        })
        .await
        .map_err(|e| match e {
            Error::Timeout { .. } => {
                Error::Assertion(format!("{e}; received so far: {:?}", self.received()))
            }
            other => other,
        })
    }
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}
