//! Webhook delivery for `factor.created`, `factor.verified`, `factor.deleted`,
//! `challenge.approved`, `challenge.denied` (and `*` subscriptions).
//!
//! Requests are form POSTs (or GET with the same fields in the query when the webhook's method
//! is GET) signed with `X-Twilio-Signature` exactly as Twilio documents it, so the helper
//! libraries' `RequestValidator` accepts them. Deliveries run on a background task and retry
//! with exponential backoff (5 attempts: 0 s, 1 s, 2 s, 4 s, 8 s); the API call never waits.
//! The queue is bounded ([`QUEUE_CAPACITY`] waiting, [`IN_FLIGHT`] being delivered): when a
//! slow receiver fills it, further events are dropped with a warning that counts them, rather
//! than memory growing without end.
//!
//! Payload fields (what Twilio documents or was seen sending, nothing more):
//! * every event: `uuid`, `type`, `account_sid`, `service_sid`, `entity_identity`,
//!   `factor_sid`, `factor_type` — the parameter table of
//!   <https://www.twilio.com/docs/verify/api/webhooks> ("Verify Push Webhooks", stored copy
//!   read through the search tool, 2026-11). That page says v2 is the default version, v1 is
//!   legacy, and lists per-version fields further down; that part was not retrievable.
//! * challenge events add `challenge_sid`: a real `challenge.approved` delivery logged by a
//!   Twilio Functions handler (github.com/dsmwong/verify-push-serverless,
//!   `functions/webhook.js` at 601c850) carried exactly `service_sid`, `entity_identity`,
//!   `account_sid`, `factor_sid`, `type`, `uuid`, `challenge_sid`, and the handler fetched the
//!   challenge to read its details and status. Relying parties must do the same here.
//!
//! * challenge events also carry `challenge_metadata`, the `Metadata` the device sent with its
//!   answer (stringified JSON object), when it sent one. The name is our choice: no source
//!   shows the field; it follows the `challenge_` prefix of `challenge_sid`, which keeps it
//!   apart from the factor's own `metadata`.
//!
//! Not sent any more: `factor_friendly_name`, `challenge_details`, `challenge_hidden_details`,
//! `challenge_status`, `challenge_responded_reason`. They were inferred
//! from memory; no source confirms them, and an emulator that sends fields Twilio may not send
//! lets a relying party depend on them unnoticed. The logged delivery above has no
//! `factor_type` (probably a v1 webhook); we send it for both versions, as the table says.
//! Whether v2 webhooks are form- or JSON-encoded is not documented in our sources; we send
//! forms for both `v1` and `v2` (the version is stored and echoed only). The helper libraries'
//! `bodySHA256` scheme (body hash as a signed query parameter) is for `application/json`
//! bodies only (twilio.com/docs/api/errors/57012, twilio-python `RequestValidator.validate`),
//! so form deliveries do not carry it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{mpsc, Semaphore};

use crate::db::challenges::ChallengeRow;
use crate::db::factors::FactorRow;
use crate::db::webhooks;
use crate::error::ApiError;

/// One HTTP call to make (with retries). `Debug` hides the signing key.
#[derive(Clone)]
pub struct Delivery {
    url: String,
    method: String,
    params: Vec<(String, String)>,
    auth_token: String,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("url", &self.url)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// Deliveries that may wait in the queue.
pub const QUEUE_CAPACITY: usize = 1024;
/// Deliveries (with their retries) running at once.
pub const IN_FLIGHT: usize = 64;

/// Queue handle for deliveries.
#[derive(Clone, Debug)]
pub struct Sender {
    tx: mpsc::Sender<Delivery>,
    dropped: Arc<AtomicU64>,
    capacity: usize,
}

/// Starts the delivery task with the default bounds; it ends when every [`Sender`] is dropped.
pub fn start() -> Sender {
    start_with(QUEUE_CAPACITY, IN_FLIGHT)
}

/// Starts the delivery task with `capacity` waiting and `in_flight` concurrent deliveries
/// (each at least 1).
pub fn start_with(capacity: usize, in_flight: usize) -> Sender {
    let capacity = capacity.max(1);
    let (tx, mut rx) = mpsc::channel::<Delivery>(capacity);
    let slots = Arc::new(Semaphore::new(in_flight.max(1)));
    tokio::spawn(async move {
        let client = match reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent("TwilioProxy/1.1 (verify-emulator)")
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "webhook client unavailable; deliveries dropped");
                return;
            }
        };
        loop {
            // A free slot first: while all are busy, events wait in the bounded queue.
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let Some(d) = rx.recv().await else {
                return;
            };
            let client = client.clone();
            tokio::spawn(async move {
                deliver(client, d).await;
                drop(slot);
            });
        }
    });
    Sender {
        tx,
        dropped: Arc::new(AtomicU64::new(0)),
        capacity,
    }
}

async fn deliver(client: reqwest::Client, d: Delivery) {
    let (url, signed_params) = if d.method == "GET" {
        let q = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(d.params.iter())
            .finish();
        let sep = if d.url.contains('?') { '&' } else { '?' };
        (format!("{}{sep}{q}", d.url), Vec::new())
    } else {
        (d.url.clone(), d.params.clone())
    };
    let signature = crate::crypto::twilio_signature(&d.auth_token, &url, &signed_params);
    let mut delay = Duration::from_secs(1);
    for attempt in 1..=5u32 {
        let req = if d.method == "GET" {
            client.get(&url)
        } else {
            client.post(&url).form(&d.params)
        };
        match req.header("X-Twilio-Signature", &signature).send().await {
            Ok(r) if r.status().is_success() => {
                tracing::debug!(url = %d.url, attempt, "webhook delivered");
                return;
            }
            Ok(r) => tracing::warn!(url = %d.url, attempt, status = %r.status(), "webhook refused"),
            Err(e) => tracing::warn!(url = %d.url, attempt, error = %e, "webhook failed"),
        }
        if attempt < 5 {
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
    }
}

/// Fields shared by every event about `factor` (the documented table, minus `uuid`/`type`).
pub fn factor_params(account_sid: &str, f: &FactorRow) -> Vec<(String, String)> {
    vec![
        ("account_sid".into(), account_sid.into()),
        ("service_sid".into(), f.service_sid.clone()),
        ("entity_identity".into(), f.identity.clone()),
        ("factor_sid".into(), f.sid.clone()),
        ("factor_type".into(), f.factor_type.clone()),
    ]
}

/// Fields of a challenge event: the factor's, the challenge SID to fetch it by, and the
/// device's answer metadata when there is some.
pub fn challenge_params(
    account_sid: &str,
    f: &FactorRow,
    c: &ChallengeRow,
) -> Vec<(String, String)> {
    let mut p = factor_params(account_sid, f);
    p.push(("challenge_sid".into(), c.sid.clone()));
    if let Some(m) = &c.metadata {
        p.push(("challenge_metadata".into(), m.to_string()));
    }
    p
}

impl Sender {
    /// Queues `event` for every enabled webhook of the service that wants it.
    pub fn emit(
        &self,
        conn: &Connection,
        auth_token: &str,
        service_sid: &str,
        event: &str,
        params: Vec<(String, String)>,
    ) -> Result<(), ApiError> {
        for w in webhooks::list(conn, service_sid)? {
            if !w.wants(event) {
                continue;
            }
            let mut all = vec![
                ("uuid".to_string(), uuid::Uuid::new_v4().to_string()),
                ("type".to_string(), event.to_string()),
            ];
            all.extend(params.iter().cloned());
            let d = Delivery::new(
                w.webhook_url.clone(),
                w.webhook_method.clone(),
                all,
                auth_token.to_string(),
            );
            self.enqueue(d);
        }
        Ok(())
    }

    /// Queues one delivery without waiting; false (with a warning) when the queue is full or
    /// closed and the delivery was dropped.
    pub fn enqueue(&self, d: Delivery) -> bool {
        match self.tx.try_send(d) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(d)) => {
                let total = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(
                    url = %d.url,
                    capacity = self.capacity,
                    dropped_total = total,
                    "webhook queue full (receiver too slow); event dropped"
                );
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("webhook queue closed; event dropped");
                false
            }
        }
    }

    /// Deliveries dropped so far because the queue was full or closed.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Deliveries waiting in the queue now.
    pub fn queued(&self) -> usize {
        self.capacity - self.tx.capacity()
    }
}

impl Delivery {
    /// A delivery of `params` to `url` with `method`, signed with `auth_token`.
    pub fn new(
        url: String,
        method: String,
        params: Vec<(String, String)>,
        auth_token: String,
    ) -> Self {
        Delivery {
            url,
            method,
            params,
            auth_token,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::Mutex;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn full_queue_drops_and_warns_with_a_count() {
        // A receiver that accepts connections and never answers keeps deliveries in flight.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let log = Capture::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let q = start_with(1, 1);
        let d = || Delivery::new(url.clone(), "POST".into(), vec![], "k".into());
        assert!(q.enqueue(d()));
        // Wait until the first delivery holds the only slot (its connection arrived).
        let (_held, _) = listener.accept().await.unwrap();
        assert!(q.enqueue(d()), "one delivery may wait in the queue");
        assert_eq!(q.queued(), 1);
        assert!(!q.enqueue(d()), "a full queue refuses");
        assert!(!q.enqueue(d()));
        assert_eq!(q.dropped(), 2);
        let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("webhook queue full"), "{text}");
        assert!(text.contains("dropped_total=2"), "{text}");
    }
}
