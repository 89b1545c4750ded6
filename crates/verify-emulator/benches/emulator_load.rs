//! Load benchmark of the emulator over loopback HTTP, with a real concurrent load generator
//! (tokio + reqwest, N workers for a fixed time, each request freshly signed like a device).
//!
//! Scenarios:
//! * `fetch_challenge`: device-JWT-authenticated `GET …/Challenges/{YC}` (signature check on
//!   every request);
//! * `approve_cycle`: backend creates a challenge → device fetches it → device posts a signed
//!   approval → backend fetches it and sees `approved`.
//!
//! Each scenario runs twice in one invocation: on an empty database and on one preloaded
//! (straight through the DB layer, in one transaction) with `BENCH_PRELOAD_FACTORS` (10,000)
//! factors and `BENCH_PRELOAD_CHALLENGES` (100,000) challenges in the same service, so the
//! ratio shows whether per-request cost depends on history (target ≥ 0.8×).
//!
//! Run: `cargo bench -p verify-emulator --bench emulator_load` (release profile, file DB in a
//! temp dir). Knobs: `BENCH_WORKERS` (16), `BENCH_SECS` (5), `BENCH_RUNS` (5). Prints a table and
//! writes `results/emulator-bench.json` at the workspace root.

#[path = "../tests/support_schema/mod.rs"]
mod support_schema;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support_schema::device::Device;
use verify_emulator::db::challenges::{self, ChallengeRow};
use verify_emulator::db::entities::{self, EntityRow};
use verify_emulator::db::factors::{self, FactorRow};
use verify_emulator::db::Db;
use verify_emulator::{spawn, DbLocation, EmulatorConfig};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Knobs {
    workers: usize,
    secs: u64,
    runs: usize,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What one worker set up: its device, and for the fetch scenario one pending challenge.
struct Worker {
    device: Device,
    identity: String,
    challenge_sid: String,
}

struct Backend {
    http: reqwest::Client,
    api: url::Url,
    account_sid: String,
    auth_token: String,
    service_sid: String,
}

impl Backend {
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Result<Value, BoxError> {
        let response = self
            .http
            .post(self.api.join(path)?)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .form(form)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if !status.is_success() {
            return Err(format!("POST {path}: {status}: {body}").into());
        }
        Ok(body)
    }

    async fn get(&self, path: &str) -> Result<Value, BoxError> {
        let response = self
            .http
            .get(self.api.join(path)?)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if !status.is_success() {
            return Err(format!("GET {path}: {status}: {body}").into());
        }
        Ok(body)
    }

    async fn create_challenge(&self, identity: &str, factor_sid: &str) -> Result<String, BoxError> {
        let challenge = self
            .post(
                &format!(
                    "Services/{}/Entities/{identity}/Challenges",
                    self.service_sid
                ),
                &[
                    ("FactorSid", factor_sid),
                    ("Details.Message", "Sign in to Bench"),
                    ("Details.Fields", r#"{"label":"IP","value":"127.0.0.1"}"#),
                    ("HiddenDetails", r#"{"transaction_id":"tx-bench"}"#),
                ],
            )
            .await?;
        Ok(challenge["sid"].as_str().unwrap_or_default().to_owned())
    }
}

async fn set_up(backend: &Backend, workers: usize) -> Result<Vec<Arc<Worker>>, BoxError> {
    let mut out = Vec::with_capacity(workers);
    for i in 0..workers {
        let identity = format!("bench-user-{i:04}");
        let token = backend
            .post(
                &format!("Services/{}/AccessTokens", backend.service_sid),
                &[
                    ("Identity", identity.as_str()),
                    ("FactorType", "push"),
                    ("Ttl", "300"),
                ],
            )
            .await?;
        let device = Device::enroll(
            &backend.http,
            &backend.api,
            token["token"].as_str().unwrap_or_default(),
            &backend.service_sid,
            &identity,
            "bench device",
        )
        .await?;
        let challenge_sid = backend
            .create_challenge(&identity, &device.factor_sid())
            .await?;
        out.push(Arc::new(Worker {
            device,
            identity,
            challenge_sid,
        }));
    }
    Ok(out)
}

#[derive(Clone, Copy)]
enum Scenario {
    FetchChallenge,
    ApproveCycle,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::FetchChallenge => "fetch_challenge",
            Scenario::ApproveCycle => "approve_cycle",
        }
    }
}

struct RunResult {
    per_sec: f64,
    ok: u64,
    errors: u64,
    latencies_ms: Vec<f64>,
}

async fn one_op(scenario: Scenario, backend: &Backend, worker: &Worker) -> Result<(), BoxError> {
    match scenario {
        Scenario::FetchChallenge => {
            worker.device.fetch_challenge(&worker.challenge_sid).await?;
            Ok(())
        }
        Scenario::ApproveCycle => {
            let sid = backend
                .create_challenge(&worker.identity, &worker.device.factor_sid())
                .await?;
            worker.device.answer(&sid, "approved").await?;
            let confirmed = backend
                .get(&format!(
                    "Services/{}/Entities/{}/Challenges/{sid}",
                    backend.service_sid, worker.identity
                ))
                .await?;
            if confirmed["status"] != "approved" {
                return Err(format!("challenge not approved: {confirmed}").into());
            }
            Ok(())
        }
    }
}

async fn run(
    scenario: Scenario,
    backend: Arc<Backend>,
    workers: &[Arc<Worker>],
    secs: u64,
) -> RunResult {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in workers {
        let worker = Arc::clone(worker);
        let backend = Arc::clone(&backend);
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut errors, mut lat) = (0u64, 0u64, Vec::new());
            while Instant::now() < deadline {
                let t = Instant::now();
                match one_op(scenario, &backend, &worker).await {
                    Ok(()) => {
                        ok += 1;
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    Err(e) => {
                        if errors == 0 {
                            eprintln!("  {}: first error: {e}", scenario.name());
                        }
                        errors += 1;
                    }
                }
            }
            (ok, errors, lat)
        }));
    }
    let (mut ok, mut errors, mut latencies_ms) = (0, 0, Vec::new());
    for task in tasks {
        if let Ok((o, e, l)) = task.await {
            ok += o;
            errors += e;
            latencies_ms.extend(l);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    RunResult {
        per_sec: ok as f64 / elapsed,
        ok,
        errors,
        latencies_ms,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx]
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    percentile(values, 0.5)
}

/// Writes `factors` entities+factors and `challenges` challenges (spread over the factors,
/// mostly answered, some expired, some pending) into `service_sid` of the DB at `path`.
fn preload(
    path: &std::path::Path,
    service_sid: &str,
    factors_n: usize,
    challenges_n: usize,
) -> Result<(), BoxError> {
    let db = Db::open(&DbLocation::File(path.to_path_buf()))?;
    let key = support_schema::device::DeviceKey::generate().public_key_b64();
    let now = chrono::Utc::now().timestamp();
    let service_sid = service_sid.to_owned();
    db.call_sync(move |conn| {
        let tx = conn.transaction()?;
        let mut factor_sids = Vec::with_capacity(factors_n);
        for i in 0..factors_n {
            let identity = format!("preload-user-{i:06}");
            let entity = EntityRow {
                id: 0,
                sid: verify_emulator::sid::new_sid("YE"),
                service_sid: service_sid.clone(),
                identity: identity.clone(),
                date_created: now - 86_400,
                date_updated: now - 86_400,
            };
            let f = FactorRow {
                id: 0,
                sid: verify_emulator::sid::new_sid("YF"),
                service_sid: service_sid.clone(),
                entity_sid: entity.sid.clone(),
                identity,
                friendly_name: "preloaded device".into(),
                status: "verified".into(),
                factor_type: "push".into(),
                public_key: key.clone(),
                alg: "ES256".into(),
                credential_sid: verify_emulator::sid::new_sid("CR"),
                config: json!({"sdk_version": "0.0.0", "app_id": "bench", "notification_platform": "none", "notification_token": null}),
                metadata: None,
                date_created: now - 86_400,
                date_updated: now - 86_400,
            };
            entities::insert(&tx, &entity).map_err(to_sql)?;
            factors::insert(&tx, &f).map_err(to_sql)?;
            factor_sids.push((f.sid, f.entity_sid, f.identity));
        }
        for i in 0..challenges_n {
            let (factor_sid, entity_sid, identity) = &factor_sids[i % factors_n.max(1)];
            let created = now - 3_600 - (challenges_n - i) as i64;
            let (status, responded) = match i % 10 {
                0 => ("expired", None),
                1 => ("denied", Some(created + 5)),
                _ => ("approved", Some(created + 5)),
            };
            let c = ChallengeRow {
                id: 0,
                sid: verify_emulator::sid::new_sid("YC"),
                service_sid: service_sid.clone(),
                entity_sid: entity_sid.clone(),
                identity: identity.clone(),
                factor_sid: factor_sid.clone(),
                date_created: created,
                date_updated: responded.unwrap_or(created + 300),
                date_responded: responded,
                expiration_date: created + 300,
                status: status.into(),
                responded_reason: "none".into(),
                details: json!({"message": "Sign in to Bench", "fields": [{"label": "IP", "value": "127.0.0.1"}]}),
                hidden_details: Some(json!({"transaction_id": format!("tx-{i}")})),
                metadata: None,
                signature_fields: verify_emulator::api::challenges::SIGNATURE_FIELDS.into(),
                signature_exact_set: false,
                signature_order_strict: false,
            };
            challenges::insert(&tx, &c).map_err(to_sql)?;
        }
        tx.commit()
    })?;
    Ok(())
}

fn to_sql(e: verify_emulator::ApiError) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(std::io::Error::other(e.to_string())))
}

/// One scenario's figures on one database.
struct Figures {
    name: &'static str,
    median: f64,
    min: f64,
    max: f64,
    p50: f64,
    p99: f64,
    runs: Vec<f64>,
    ok: u64,
    errors: u64,
}

/// Spawns an emulator on a fresh file DB (preloaded when `preload_n` is set), sets up the
/// workers and measures both scenarios.
async fn phase(knobs: &Knobs, preload_n: Option<(usize, usize)>) -> Result<Vec<Figures>, BoxError> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("emulator.sqlite");
    let emu = spawn(EmulatorConfig {
        db: DbLocation::File(db.clone()),
        ..EmulatorConfig::default()
    })
    .await?;
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(knobs.workers * 2)
        .build()?;
    let api = emu.base_url().join("v2/")?;
    let mut backend = Backend {
        http,
        api,
        account_sid: emu.account_sid().to_owned(),
        auth_token: emu.auth_token().to_owned(),
        service_sid: String::new(),
    };
    let service = backend
        .post("Services", &[("FriendlyName", "Bench")])
        .await?;
    backend.service_sid = service["sid"].as_str().unwrap_or_default().to_owned();
    if let Some((factors_n, challenges_n)) = preload_n {
        let started = Instant::now();
        let (path, va) = (db.clone(), backend.service_sid.clone());
        tokio::task::spawn_blocking(move || {
            preload(&path, &va, factors_n, challenges_n).map_err(|e| e.to_string())
        })
        .await??;
        println!(
            "  preloaded {factors_n} factors and {challenges_n} challenges in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let backend = Arc::new(backend);
    let workers = set_up(&backend, knobs.workers).await?;
    let mut out = Vec::new();
    for scenario in [Scenario::FetchChallenge, Scenario::ApproveCycle] {
        // One short warm-up run (connections, SQLite caches), not reported.
        run(scenario, Arc::clone(&backend), &workers, 1).await;
        let mut rates = Vec::new();
        let mut lat = Vec::new();
        let (mut ok, mut errors) = (0, 0);
        for _ in 0..knobs.runs {
            let r = run(scenario, Arc::clone(&backend), &workers, knobs.secs).await;
            rates.push(r.per_sec);
            ok += r.ok;
            errors += r.errors;
            lat.extend(r.latencies_ms);
        }
        lat.sort_by(f64::total_cmp);
        let runs = rates.clone();
        let med = median(&mut rates);
        out.push(Figures {
            name: scenario.name(),
            median: med,
            min: rates.first().copied().unwrap_or(f64::NAN),
            max: rates.last().copied().unwrap_or(f64::NAN),
            p50: percentile(&lat, 0.5),
            p99: percentile(&lat, 0.99),
            runs,
            ok,
            errors,
        });
    }
    emu.shutdown().await;
    Ok(out)
}

fn scenario_json(f: &Figures) -> Value {
    json!({
        "scenario": f.name,
        "unit": if f.name == "fetch_challenge" { "requests/s" } else { "cycles/s" },
        "median_per_sec": f.median, "min_per_sec": f.min, "max_per_sec": f.max,
        "runs_per_sec": f.runs, "latency_ms": {"p50": f.p50, "p99": f.p99},
        "ok": f.ok, "errors": f.errors,
    })
}

async fn bench() -> Result<(), BoxError> {
    let knobs = Knobs {
        workers: env_or("BENCH_WORKERS", 16),
        secs: env_or("BENCH_SECS", 5),
        runs: env_or("BENCH_RUNS", 5),
    };
    let preload_n = (
        env_or("BENCH_PRELOAD_FACTORS", 10_000usize).max(1),
        env_or("BENCH_PRELOAD_CHALLENGES", 100_000usize),
    );
    println!(
        "verify-emulator load benchmark: {} workers, {} s per run, {} runs, file DB, {} CPUs",
        knobs.workers,
        knobs.secs,
        knobs.runs,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    println!("  phase 1: empty database");
    let empty = phase(&knobs, None).await?;
    println!(
        "  phase 2: {} factors, {} challenges preloaded",
        preload_n.0, preload_n.1
    );
    let loaded = phase(&knobs, Some(preload_n)).await?;

    println!(
        "{:<16} {:<10} {:>12} {:>12} {:>12} {:>10} {:>10} {:>8}",
        "scenario", "database", "median/s", "min/s", "max/s", "p50 ms", "p99 ms", "errors"
    );
    for (label, set) in [("empty", &empty), ("preloaded", &loaded)] {
        for f in set.iter() {
            println!(
                "{:<16} {:<10} {:>12.1} {:>12.1} {:>12.1} {:>10.2} {:>10.2} {:>8}",
                f.name, label, f.median, f.min, f.max, f.p50, f.p99, f.errors
            );
        }
    }
    let mut ratios = Vec::new();
    for (e, l) in empty.iter().zip(loaded.iter()) {
        let ratio = l.median / e.median;
        println!(
            "{:<16} preloaded/empty median ratio {:.2}x (target >= 0.80x: {})",
            e.name,
            ratio,
            if ratio >= 0.8 { "met" } else { "NOT met" }
        );
        ratios.push(json!({"scenario": e.name, "preloaded_over_empty": ratio}));
    }

    let out_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../results");
    std::fs::create_dir_all(&out_dir)?;
    let out = out_dir.canonicalize()?.join("emulator-bench.json");
    let doc = json!({
        "benchmark": "verify-emulator loopback load",
        "date": chrono::Utc::now().to_rfc3339(),
        "workers": knobs.workers, "secs_per_run": knobs.secs, "runs": knobs.runs,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "db": "file (temp dir)",
        "scenarios": empty.iter().map(scenario_json).collect::<Vec<_>>(),
        "preloaded": {
            "factors": preload_n.0, "challenges": preload_n.1,
            "scenarios": loaded.iter().map(scenario_json).collect::<Vec<_>>(),
        },
        "ratios": ratios,
    });
    std::fs::write(&out, serde_json::to_string_pretty(&doc)?)?;
    println!("wrote {}", out.display());
    Ok(())
}

fn main() {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start tokio: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(bench()) {
        eprintln!("benchmark failed: {e}");
        std::process::exit(1);
    }
}
