//! A loopback HTTP proxy that forwards every request to the emulator and records when it
//! arrived, so tests can bound the device's request rate (no tight retry loops).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Inner {
    upstream: url::Url,
    http: reqwest::Client,
    hits: Mutex<Vec<Instant>>,
}

/// A running counting proxy; dropping it stops the server.
pub struct CountingProxy {
    inner: Arc<Inner>,
    base: url::Url,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CountingProxy {
    /// Starts a proxy on 127.0.0.1 forwarding to `upstream` (the emulator root).
    pub async fn start(upstream: url::Url) -> Result<Self, crate::Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| crate::Error::Setup(format!("proxy client: {e}")))?;
        let inner = Arc::new(Inner {
            upstream,
            http,
            hits: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| crate::Error::Setup(format!("proxy bind: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| crate::Error::Setup(e.to_string()))?;
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("counting proxy stopped: {e}");
            }
        });
        let base = url::Url::parse(&format!("http://{addr}/"))
            .map_err(|e| crate::Error::Setup(e.to_string()))?;
        Ok(Self { inner, base, task })
    }

    /// The proxy's root URL (append `v2/` for the API).
    pub fn base_url(&self) -> &url::Url {
        &self.base
    }

    fn hits(&self) -> Vec<Instant> {
        self.inner
            .hits
            .lock()
            .map(|h| h.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Requests seen so far.
    pub fn count(&self) -> usize {
        self.hits().len()
    }

    /// Requests that arrived in `[from, to)`.
    pub fn count_between(&self, from: Instant, to: Instant) -> usize {
        self.hits()
            .iter()
            .filter(|t| **t >= from && **t < to)
            .count()
    }

    /// The most requests seen in any sliding window of length `w`.
    pub fn max_in_window(&self, w: Duration) -> usize {
        let hits = self.hits(); // already in arrival order
        let mut best = 0;
        let mut start = 0;
        for end in 0..hits.len() {
            while hits[end].duration_since(hits[start]) >= w {
                start += 1;
            }
            best = best.max(end + 1 - start);
        }
        best
    }
}

async fn forward(State(p): State<Arc<Inner>>, req: Request) -> Response {
    if let Ok(mut h) = p.hits.lock() {
        h.push(Instant::now());
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let pq = parts
        .uri
        .path_and_query()
        .map(|x| x.as_str().trim_start_matches('/').to_owned())
        .unwrap_or_default();
    let Ok(url) = p.upstream.join(&pq) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut rb = p.http.request(parts.method, url).body(bytes);
    for (k, v) in &parts.headers {
        if k != header::HOST && k != header::CONTENT_LENGTH {
            rb = rb.header(k, v);
        }
    }
    let resp = match rb.send().await {
        Ok(r) => r,
        Err(_) => return StatusCode::BAD_GATEWAY.into_response(),
    };
    let status = resp.status();
    let headers = resp.headers().clone();
    let Ok(body) = resp.bytes().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let mut out = Response::new(Body::from(body));
    *out.status_mut() = status;
    for (k, v) in &headers {
        if k != header::CONTENT_LENGTH && k != header::TRANSFER_ENCODING && k != header::CONNECTION
        {
            out.headers_mut().append(k, v.clone());
        }
    }
    out
}
