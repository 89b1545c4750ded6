//! Error paths and request shapes against a tiny scripted HTTP stub on loopback (axum), for
//! cases the emulator cannot produce (wrong factor in a body, missing signature header,
//! oversized bodies, a status that does not change, 401 without `Date`).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use std::sync::{Arc, Mutex};
use verify_push::jwt::decode_jws;
use verify_push::{
    ChallengeSid, EnrollRequest, EnrollmentPayload, ErrorCode, Factor, MemoryKeyStore, VerifyPush,
};

const VA: &str = "VA0123456789abcdef0123456789abcdef";
const AC: &str = "AC0123456789abcdef0123456789abcdef";
const YF: &str = "YF0123456789abcdef0123456789abcdef";
const YF_OTHER: &str = "YFffffffffffffffffffffffffffffffff";
const YC: &str = "YC0123456789abcdef0123456789abcdef";

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: String,
}

type Script = dyn Fn(&Seen, usize) -> Response + Send + Sync;

#[derive(Clone)]
struct Stub {
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Mutex<Arc<Script>>>,
}

impl Stub {
    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    fn set(&self, f: impl Fn(&Seen, usize) -> Response + Send + Sync + 'static) {
        *self.script.lock().unwrap() = Arc::new(f);
        self.seen.lock().unwrap().clear();
    }
}

async fn handle(State(stub): State<Stub>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let n = {
        let mut s = stub.seen.lock().unwrap();
        s.push(seen.clone());
        s.len()
    };
    let script = stub.script.lock().unwrap().clone();
    script(&seen, n)
}

/// A client builder with the test application's identity.
fn builder() -> verify_push::VerifyPushBuilder {
    VerifyPush::builder()
        .app_id("dev.verify-push.Tests")
        .app("VerifyPushTests", "0.0.0")
}

fn json(status: u16, v: serde_json::Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(v.to_string()))
        .unwrap()
}

fn form(body: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

fn basic_password(h: &HeaderMap) -> String {
    use base64::Engine;
    let v = h.get("authorization").unwrap().to_str().unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(v.strip_prefix("Basic ").unwrap())
        .unwrap();
    let s = String::from_utf8(raw).unwrap();
    s.strip_prefix("token:")
        .expect("user is `token`")
        .to_owned()
}

async fn start() -> (Stub, url::Url) {
    let stub = Stub {
        seen: Arc::default(),
        script: Arc::new(Mutex::new(Arc::new(|_: &Seen, _| {
            json(500, serde_json::json!({}))
        }))),
    };
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (
        stub,
        url::Url::parse(&format!("http://{addr}/v2/")).unwrap(),
    )
}

fn challenge_json(factor: &str, status: &str) -> serde_json::Value {
    let exp = (chrono::Utc::now() + chrono::Duration::minutes(5))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    serde_json::json!({
        "sid": YC, "factor_sid": factor, "status": status,
        "details": {"message": "Hi?", "fields": []},
        "hidden_details": null,
        "date_created": "2020-01-01T00:00:00Z", "date_updated": "2020-01-01T00:00:00Z",
        "expiration_date": exp, "date_responded": null
    })
}

fn challenge_resp(factor: &str, status: &str, with_header: bool) -> Response {
    let mut r = json(200, challenge_json(factor, status));
    if with_header {
        r.headers_mut().insert(
            "Twilio-Verify-Signature-Fields",
            "sid,factor_sid,details,expiration_date".parse().unwrap(),
        );
    }
    r
}

/// Enrols against the stub, checking the D1/D2 request shapes on the way.
async fn enrolled(stub: &Stub, base: &url::Url) -> (VerifyPush, Factor, tempfile::TempDir) {
    stub.set(|req, _| {
        if req.path.ends_with("/Factors") {
            json(
                201,
                serde_json::json!({"sid": YF, "account_sid": AC, "friendly_name": "Stub",
                    "status": "unverified", "date_created": "2020-02-19T16:39:57-08:00",
                    "config": {"credential_sid": "CR0123456789abcdef0123456789abcdef"}}),
            )
        } else {
            json(200, serde_json::json!({"status": "verified"}))
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let client = builder()
        .data_dir(dir.path())
        .key_store(Arc::new(MemoryKeyStore::new()))
        .app_id("dev.assent.Tests")
        .build()
        .unwrap();
    let payload =
        EnrollmentPayload::new("opaque.access.token", VA, "user-1", Some(base.as_str())).unwrap();
    let f = client
        .enroll(EnrollRequest {
            payload,
            friendly_name: "Stub".parse().unwrap(),
            metadata: Some(verify_push::metadata([("os", "linux")])),
        })
        .await
        .unwrap();

    let reqs = stub.requests();
    assert_eq!(reqs.len(), 2);
    let create = &reqs[0];
    assert_eq!(create.method, "POST");
    assert_eq!(
        create.path,
        format!("/v2/Services/{VA}/Entities/user-1/Factors")
    );
    assert_eq!(basic_password(&create.headers), "opaque.access.token");
    assert_eq!(
        create.headers.get("content-type").unwrap(),
        "application/x-www-form-urlencoded"
    );
    let ua = create.headers.get("user-agent").unwrap().to_str().unwrap();
    assert!(
        ua.starts_with("VerifyPushTests; ")
            && ua.contains("; 0.0.0; 1; ")
            && ua.contains("; VerifyPushRust; "),
        "{ua}"
    );
    let fields = form(&create.body);
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("FactorType").as_deref(), Some("push"));
    assert_eq!(get("Binding.Alg").as_deref(), Some("ES256"));
    assert_eq!(get("Config.NotificationPlatform").as_deref(), Some("none"));
    assert_eq!(get("Config.AppId").as_deref(), Some("dev.assent.Tests"));
    assert_eq!(get("Metadata").as_deref(), Some(r#"{"os":"linux"}"#));
    assert!(get("Config.SdkVersion").is_some());
    let public =
        verify_push::crypto::public_key_from_base64(&get("Binding.PublicKey").unwrap()).unwrap();

    // D2: device JWT auth and a DER signature over the factor SID.
    let verify = &reqs[1];
    assert_eq!(
        verify.path,
        format!("/v2/Services/{VA}/Entities/user-1/Factors/{YF}")
    );
    let jwt = decode_jws(&basic_password(&verify.headers)).unwrap();
    jwt.verify(&public).unwrap();
    assert_eq!(jwt.header["kid"], "CR0123456789abcdef0123456789abcdef");
    assert_eq!(jwt.header["cty"], "twilio-pba;v=1");
    assert_eq!(jwt.header["alg"], "ES256");
    assert_eq!(jwt.claims["sub"], AC);
    let nbf = jwt.claims["nbf"].as_i64().unwrap();
    assert_eq!(jwt.claims["exp"].as_i64().unwrap(), nbf + 600);
    let auth_payload = form(&verify.body);
    assert_eq!(auth_payload[0].0, "AuthPayload");
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(&auth_payload[0].1)
        .unwrap();
    verify_push::crypto::verify_der(&public, YF.as_bytes(), &der).unwrap();
    (client, f, dir)
}

fn yc() -> ChallengeSid {
    YC.parse().unwrap()
}

#[tokio::test]
async fn approve_signs_exactly_the_named_fields_and_uses_fresh_jwts() {
    let (stub, base) = start().await;
    let (client, f, _dir) = enrolled(&stub, &base).await;
    let answered = Arc::new(Mutex::new(false));
    let a = answered.clone();
    stub.set(move |req, _| {
        if req.method == "POST" {
            *a.lock().unwrap() = true;
            return json(200, challenge_json(YF, "approved"));
        }
        let status = if *a.lock().unwrap() {
            "approved"
        } else {
            "pending"
        };
        challenge_resp(YF, status, true)
    });
    let done = client.approve(&f.sid, &yc()).await.unwrap();
    assert_eq!(done.status, verify_push::ChallengeStatus::Approved);
    let reqs = stub.requests();
    assert_eq!(
        reqs.iter().map(|r| r.method.as_str()).collect::<Vec<_>>(),
        ["GET", "POST", "GET"]
    );
    let post = form(&reqs[1].body);
    assert_eq!(post.len(), 1);
    let jws = decode_jws(&post[0].1).unwrap();
    assert_eq!(jws.header.len(), 2);
    assert_eq!(jws.header["typ"], "JWT");
    let mut keys: Vec<_> = jws.claims.keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["details", "expiration_date", "factor_sid", "sid", "status"]
    );
    assert_eq!(jws.claims["status"], "approved");
    // Each request carries its own JWT (same second may give equal text; signatures differ
    // only if claims differ, so just check they all decode with the factor's kid).
    for r in &reqs {
        let j = decode_jws(&basic_password(&r.headers)).unwrap();
        assert_eq!(j.claims["sub"], AC);
    }
}

#[tokio::test]
async fn wrong_factor_missing_header_and_unchanged_status() {
    let (stub, base) = start().await;
    let (client, f, _dir) = enrolled(&stub, &base).await;

    stub.set(|_, _| challenge_resp(YF_OTHER, "pending", true));
    let e = client.approve(&f.sid, &yc()).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::WrongFactor);
    assert_eq!(stub.requests().len(), 1, "nothing posted");

    stub.set(|_, _| challenge_resp(YF, "pending", false));
    let e = client.approve(&f.sid, &yc()).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Input);
    assert!(e.to_string().contains("signature fields"));

    // The server says OK but the status stays pending.
    stub.set(|req, _| {
        if req.method == "POST" {
            json(200, challenge_json(YF, "pending"))
        } else {
            challenge_resp(YF, "pending", true)
        }
    });
    let e = client.deny(&f.sid, &yc()).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::NotUpdated);

    // Expired by the server's clock: 403/60323 on update.
    stub.set(|req, _| {
        if req.method == "POST" {
            json(
                403,
                serde_json::json!({"code": 60323, "message": "Challenge expired", "status": 403}),
            )
        } else {
            challenge_resp(YF, "pending", true)
        }
    });
    let e = client.approve(&f.sid, &yc()).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ExpiredChallenge);
}

#[tokio::test]
async fn unauthorized_retry_rules() {
    let (stub, base) = start().await;
    let (client, f, _dir) = enrolled(&stub, &base).await;

    // 401 without Date (hyper always adds one, so a raw socket answers): no retry.
    let (raw_base, count) = raw_401_server().await;
    let store = _dir.path().join("factors.json");
    let original = std::fs::read_to_string(&store).unwrap();
    std::fs::write(&store, original.replace(base.as_str(), raw_base.as_str())).unwrap();
    let e = client.get_challenge(&f.sid, &yc()).await.unwrap_err();
    assert_eq!(e.api_error().unwrap().status, 401);
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);
    std::fs::write(&store, original).unwrap();

    // 401 with Date (server 2 h ahead): exactly one retry with a corrected JWT.
    let server_time = std::time::SystemTime::now() + std::time::Duration::from_secs(7200);
    let date = httpdate::fmt_http_date(server_time);
    stub.set(move |_, n| {
        // The server's clock shows in every answer's Date, not only in the 401.
        let mut r = if n == 1 {
            json(
                401,
                serde_json::json!({"code": 20003, "message": "Authenticate", "status": 401}),
            )
        } else {
            challenge_resp(YF, "pending", true)
        };
        r.headers_mut().insert("date", date.parse().unwrap());
        r
    });
    client.get_challenge(&f.sid, &yc()).await.unwrap();
    let reqs = stub.requests();
    assert_eq!(reqs.len(), 2);
    let nbf = |r: &Seen| {
        decode_jws(&basic_password(&r.headers)).unwrap().claims["nbf"]
            .as_i64()
            .unwrap()
    };
    let jump = nbf(&reqs[1]) - nbf(&reqs[0]);
    assert!((7190..=7210).contains(&jump), "nbf moved by {jump}");
    assert!((client.clock_status(&base).correction_secs - 7200).abs() <= 5);

    // Delete: 401 twice (with Date) counts as deleted, like the SDKs.
    let date2 = httpdate::fmt_http_date(server_time);
    stub.set(move |_, _| {
        let mut r = json(
            401,
            serde_json::json!({"code": 20003, "message": "Authenticate", "status": 401}),
        );
        r.headers_mut().insert("date", date2.parse().unwrap());
        r
    });
    client.delete_factor(&f.sid).await.unwrap();
    assert_eq!(stub.requests().len(), 2);
    assert!(client.factors().unwrap().is_empty());
}

#[tokio::test]
async fn delete_other_errors_keep_the_factor() {
    let (stub, base) = start().await;
    let (client, f, _dir) = enrolled(&stub, &base).await;
    stub.set(|_, _| {
        json(
            500,
            serde_json::json!({"code": 20500, "message": "Internal", "status": 500}),
        )
    });
    let e = client.delete_factor(&f.sid).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Server);
    assert_eq!(client.factors().unwrap().len(), 1);
    stub.set(|_, _| {
        json(
            404,
            serde_json::json!({"code": 20404, "message": "Not found", "status": 404}),
        )
    });
    client.delete_factor(&f.sid).await.unwrap();
    assert!(client.factors().unwrap().is_empty());
}

#[tokio::test]
async fn oversized_bodies_are_cut_off() {
    let (stub, base) = start().await;
    let (client, f, _dir) = enrolled(&stub, &base).await;
    // With Content-Length.
    stub.set(|_, _| {
        Response::builder()
            .status(200)
            .body(Body::from(vec![b' '; 2 * 1024 * 1024]))
            .unwrap()
    });
    let e = client.get_challenge(&f.sid, &yc()).await.unwrap_err();
    assert!(
        matches!(e, verify_push::Error::ResponseTooLarge { .. }),
        "{e:?}"
    );
    assert_eq!(e.code(), ErrorCode::Network);

    // Chunked, no Content-Length: a raw socket server streams 2 MiB.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .await;
                let chunk = vec![b'x'; 64 * 1024];
                for _ in 0..32 {
                    let head = format!("{:x}\r\n", chunk.len());
                    if sock.write_all(head.as_bytes()).await.is_err()
                        || sock.write_all(&chunk).await.is_err()
                        || sock.write_all(b"\r\n").await.is_err()
                    {
                        return;
                    }
                }
                let _ = sock.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let client2 = builder()
        .data_dir(dir.path())
        .key_store(Arc::new(MemoryKeyStore::new()))
        .build()
        .unwrap();
    let payload =
        EnrollmentPayload::new("t", VA, "user-1", Some(&format!("http://{addr}/v2/"))).unwrap();
    let e = client2
        .create_factor(EnrollRequest::new(payload, "Big".parse().unwrap()))
        .await
        .unwrap_err();
    assert!(
        matches!(e, verify_push::Error::ResponseTooLarge { .. }),
        "{e:?}"
    );
    assert!(client2.factors().unwrap().is_empty());
}

#[tokio::test]
async fn connection_refused_is_a_network_error_and_keys_are_cleaned() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let keys = Arc::new(MemoryKeyStore::new());
    let dir = tempfile::tempdir().unwrap();
    let client = builder()
        .data_dir(dir.path())
        .key_store(keys.clone())
        .build()
        .unwrap();
    let payload =
        EnrollmentPayload::new("t", VA, "user-1", Some(&format!("http://{addr}/v2/"))).unwrap();
    let e = client
        .enroll(EnrollRequest::new(payload, "Offline".parse().unwrap()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Network);
    assert!(verify_push::KeyStore::aliases(&*keys).unwrap().is_empty());
}

#[tokio::test]
async fn list_query_parameters() {
    let (stub, base) = start().await;
    let (client, f, _dir) = enrolled(&stub, &base).await;
    let prev = base
        .join("Challenges?PageSize=7&Page=2&PageToken=PB_2")
        .unwrap()
        .to_string();
    stub.set(move |_, _| {
        json(
            200,
            serde_json::json!({"challenges": [challenge_json(YF, "pending")],
            "meta": {"page": 3, "page_size": 7, "next_page_url": null,
                     "previous_page_url": prev}}),
        )
    });
    let page = client
        .list_challenges(verify_push::ChallengeListQuery {
            factor: f.sid.clone(),
            status: Some(verify_push::ChallengeStatus::Pending),
            order: verify_push::Order::Desc,
            page_size: 7,
            page_token: Some("PA 3/x".into()),
        })
        .await
        .unwrap();
    assert_eq!((page.page, page.page_size), (3, 7));
    assert_eq!(page.previous_page_token.as_deref(), Some("PB_2"));
    let q: Vec<(String, String)> = form(&stub.requests()[0].query);
    let want: Vec<(String, String)> = [
        ("FactorSid", YF),
        ("PageSize", "7"),
        ("Order", "desc"),
        ("Status", "pending"),
        ("PageToken", "PA 3/x"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(q, want);
    let e = client
        .list_challenges(verify_push::ChallengeListQuery {
            page_size: 0,
            ..verify_push::ChallengeListQuery::new(f.sid.clone())
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Input);
}

/// Answers every request with a 401 that has no `Date` header and closes the connection;
/// counts requests.
async fn raw_401_server() -> (url::Url, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut sock, _)) = listener.accept().await {
            c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 8192];
            let _ = sock.read(&mut buf).await;
            let body = r#"{"code":20003,"message":"Authenticate","status":401}"#;
            let resp = format!(
                "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
        }
    });
    (
        url::Url::parse(&format!("http://{addr}/v2/")).unwrap(),
        count,
    )
}

/// A server the user is also enrolled with lists another factor's challenge (one it learnt of
/// elsewhere) under its own page: the client must not hand it out as this factor's, neither in
/// the page nor as the pending challenge to show.
#[tokio::test]
async fn list_drops_challenges_of_another_factor() {
    let (stub, base) = start().await;
    let (client, f, _dir) = enrolled(&stub, &base).await;
    let own_sid = "YC00000000000000000000000000000001";
    stub.set(move |_, _| {
        let mut own = challenge_json(YF, "pending");
        own["sid"] = own_sid.into();
        json(
            200,
            serde_json::json!({"challenges": [challenge_json(YF_OTHER, "pending"), own],
                "meta": {"page": 0, "page_size": 20, "next_page_url": null,
                         "previous_page_url": null}}),
        )
    });
    let page = client
        .list_challenges(verify_push::ChallengeListQuery::new(f.sid.clone()))
        .await
        .unwrap();
    let sids: Vec<String> = page.challenges.iter().map(|c| c.sid.to_string()).collect();
    assert_eq!(sids, [own_sid]);
    assert!(page.challenges.iter().all(|c| c.factor_sid == f.sid));

    // Only the foreign one: nothing is pending for this factor.
    stub.set(|_, _| {
        json(
            200,
            serde_json::json!({"challenges": [challenge_json(YF_OTHER, "pending")],
                "meta": {"page": 0, "page_size": 20, "next_page_url": null,
                         "previous_page_url": null}}),
        )
    });
    assert_eq!(client.newest_pending(&f.sid).await.unwrap(), None);
}

/// Twilio's answer-race refusals (403 on the update) come back as their own codes with the
/// server's body attached: 60322 answered elsewhere, 60323 expired, 60324 signature or claims
/// refused. Another 403 code stays a plain server error.
#[tokio::test]
async fn answer_refusals_get_their_own_codes() {
    let (stub, base) = start().await;
    let (client, f, _dir) = enrolled(&stub, &base).await;
    let cases = [
        (
            60322,
            "Challenge already responded",
            ErrorCode::AlreadyResponded,
        ),
        (60323, "Challenge expired", ErrorCode::ExpiredChallenge),
        (60324, "Invalid AuthPayload", ErrorCode::SignatureRejected),
        (60318, "Factor is unverified", ErrorCode::Server),
    ];
    for (code, message, want) in cases {
        stub.set(move |req, _| {
            if req.method == "POST" {
                json(
                    403,
                    serde_json::json!({"code": code, "message": message, "status": 403,
                        "more_info": format!("https://www.twilio.com/docs/errors/{code}")}),
                )
            } else {
                challenge_resp(YF, "pending", true)
            }
        });
        let e = client.approve(&f.sid, &yc()).await.unwrap_err();
        assert_eq!(e.code(), want, "{code}: {e}");
        let api = e
            .api_error()
            .unwrap_or_else(|| panic!("{code}: body lost: {e:?}"));
        assert_eq!((api.code, api.status), (Some(code), 403));
        assert_eq!(api.message, message);
        assert_eq!(
            api.more_info.as_deref(),
            Some(format!("https://www.twilio.com/docs/errors/{code}").as_str())
        );
        // Nothing retried, nothing re-fetched after a refusal.
        assert_eq!(
            stub.requests()
                .iter()
                .map(|r| r.method.as_str())
                .collect::<Vec<_>>(),
            ["GET", "POST"],
            "{code}"
        );
    }
}

fn with_date(mut r: Response, server_time: std::time::SystemTime) -> Response {
    let date = httpdate::fmt_http_date(server_time);
    r.headers_mut().insert("date", date.parse().unwrap());
    r
}

/// A hostile server answers 401 with a `Date` 11 years ahead (and then keeps showing it): the
/// clock must not follow, nothing is retried with a JWT dated in 2037, and the app can see why.
#[tokio::test]
async fn hostile_date_far_off_does_not_move_the_clock() {
    let (stub, base) = start().await;
    let (client, f, _dir) = enrolled(&stub, &base).await;
    let eleven_years = std::time::Duration::from_secs(11 * 365 * 86_400);
    let ahead = std::time::SystemTime::now() + eleven_years;
    stub.set(move |_, n| {
        let r = if n == 1 {
            json(
                401,
                serde_json::json!({"code": 20003, "message": "Authenticate", "status": 401}),
            )
        } else {
            challenge_resp(YF, "pending", true)
        };
        with_date(r, ahead)
    });
    let e = client.get_challenge(&f.sid, &yc()).await.unwrap_err();
    assert_eq!(e.api_error().map(|a| a.status), Some(401), "{e:?}");
    assert_eq!(stub.requests().len(), 1, "no retry with a far-off clock");
    let status = client.clock_status(&base);
    assert_eq!(status.correction_secs, 0);
    let refused = status.refused_offset_secs.expect("refusal is reported");
    assert!(
        (refused - eleven_years.as_secs() as i64).abs() <= 5,
        "{refused}"
    );
    // A success with the same Date is refused too, and the next JWT is still local time.
    client.get_challenge(&f.sid, &yc()).await.unwrap();
    let reqs = stub.requests();
    let nbf = decode_jws(&basic_password(&reqs[1].headers))
        .unwrap()
        .claims["nbf"]
        .as_i64()
        .unwrap();
    assert!((nbf - chrono::Utc::now().timestamp()).abs() <= 5, "{nbf}");
    assert_eq!(client.clock_status(&base).correction_secs, 0);
    // Nothing of it was persisted.
    let reopened = builder()
        .data_dir(_dir.path())
        .key_store(Arc::new(MemoryKeyStore::new()))
        .build()
        .unwrap();
    assert_eq!(
        reopened.clock_status(&base),
        verify_push::ClockStatus::default()
    );
}

/// An ordinary 200 whose `Date` is 90 s ahead teaches the correction (no 401 needed), and the
/// next JWT uses it.
#[tokio::test]
async fn plausible_date_on_a_normal_response_is_learnt() {
    let (stub, base) = start().await;
    let (client, f, dir) = enrolled(&stub, &base).await;
    let ahead = std::time::SystemTime::now() + std::time::Duration::from_secs(90);
    stub.set(move |_, _| with_date(challenge_resp(YF, "pending", true), ahead));
    client.get_challenge(&f.sid, &yc()).await.unwrap();
    let c = client.clock_status(&base).correction_secs;
    assert!((88..=92).contains(&c), "correction {c}");
    client.get_challenge(&f.sid, &yc()).await.unwrap();
    let reqs = stub.requests();
    assert_eq!(reqs.len(), 2, "no 401, no retry");
    let nbf = |r: &Seen| {
        decode_jws(&basic_password(&r.headers)).unwrap().claims["nbf"]
            .as_i64()
            .unwrap()
    };
    let jump = nbf(&reqs[1]) - nbf(&reqs[0]);
    assert!((85..=95).contains(&jump), "nbf moved by {jump}");
    let store = std::fs::read_to_string(dir.path().join("factors.json")).unwrap();
    let file: serde_json::Value = serde_json::from_str(&store).unwrap();
    let key = base.origin().ascii_serialization();
    assert_eq!(file["clockCorrections"][&key], c, "{store}");
}

fn page_json(items: Vec<serde_json::Value>, next: Option<String>) -> Response {
    json(
        200,
        serde_json::json!({"challenges": items,
            "meta": {"page": 0, "page_size": 50, "next_page_url": next, "previous_page_url": null}}),
    )
}

/// A next page on another host is refused (the client would otherwise keep paging against
/// whatever the first answer names), in a single page and in the full pending listing.
#[tokio::test]
async fn page_urls_on_another_host_are_refused() {
    let (stub, base) = start().await;
    let (client, f, _dir) = enrolled(&stub, &base).await;
    for elsewhere in [
        "https://evil.example/v2/Challenges?PageToken=PT_1",
        // Same host, other port: another server.
        "http://127.0.0.1:1/v2/Challenges?PageToken=PT_1",
    ] {
        stub.set(move |_, _| {
            page_json(
                vec![challenge_json(YF, "pending")],
                Some(elsewhere.to_owned()),
            )
        });
        let e = client
            .list_challenges(verify_push::ChallengeListQuery::new(f.sid.clone()))
            .await
            .unwrap_err();
        assert!(
            matches!(&e, verify_push::Error::ForeignPageUrl { url } if url.starts_with(&elsewhere[..20])),
            "{e:?}"
        );
        assert_eq!(e.code(), ErrorCode::Mapping);
        let e = client.pending_challenges(&f.sid).await.unwrap_err();
        assert!(
            matches!(e, verify_push::Error::ForeignPageUrl { .. }),
            "{e:?}"
        );
        assert!(
            stub.requests().iter().all(|r| !r.query.contains("PT_1")),
            "followed the foreign page"
        );
    }
    // A relative next page on the same server is fine.
    stub.set(|req, _| {
        if req.query.contains("PageToken=PT_2") {
            page_json(vec![], None)
        } else {
            page_json(
                vec![challenge_json(YF, "pending")],
                Some("Challenges?PageToken=PT_2".into()),
            )
        }
    });
    assert_eq!(client.pending_challenges(&f.sid).await.unwrap().len(), 1);
    assert_eq!(stub.requests().len(), 2);
}

/// A server that always names a next page cannot keep the client paging: it stops after
/// `MAX_PENDING_PAGES` requests with a typed error.
#[tokio::test]
async fn endless_paging_is_bounded() {
    let (stub, base) = start().await;
    let (client, f, _dir) = enrolled(&stub, &base).await;
    let b = base.clone();
    stub.set(move |_, n| {
        let next = b.join(&format!("Challenges?PageToken=PT_{n}")).unwrap();
        page_json(vec![challenge_json(YF, "pending")], Some(next.to_string()))
    });
    let e = client.pending_challenges(&f.sid).await.unwrap_err();
    assert!(
        matches!(e, verify_push::Error::TooManyPages { limit: 20 }),
        "{e:?}"
    );
    assert_eq!(e.code(), ErrorCode::Mapping);
    assert_eq!(
        stub.requests().len(),
        verify_push::MAX_PENDING_PAGES as usize
    );
    let q = form(&stub.requests()[1].query);
    assert!(
        q.contains(&("PageToken".to_owned(), "PT_1".to_owned())),
        "{q:?}"
    );
    assert!(
        q.contains(&("PageSize".to_owned(), "50".to_owned())),
        "{q:?}"
    );
    assert!(
        q.contains(&("Status".to_owned(), "pending".to_owned())),
        "{q:?}"
    );
}

/// Pages that shift while challenges arrive repeat items: each challenge is returned once, in
/// the server's order, and the walk ends when the server names no next page.
#[tokio::test]
async fn pending_pages_that_repeat_items_give_each_challenge_once() {
    let (stub, base) = start().await;
    let (client, f, _dir) = enrolled(&stub, &base).await;
    let b = base.clone();
    let second = "YC00000000000000000000000000000002";
    stub.set(move |req, _| {
        let mut other = challenge_json(YF, "pending");
        other["sid"] = second.into();
        if req.query.contains("PageToken=PT_2") {
            page_json(vec![challenge_json(YF, "pending"), other], None)
        } else {
            let next = b.join("Challenges?PageToken=PT_2").unwrap();
            page_json(vec![challenge_json(YF, "pending")], Some(next.to_string()))
        }
    });
    let got: Vec<String> = client
        .pending_challenges(&f.sid)
        .await
        .unwrap()
        .iter()
        .map(|c| c.sid.to_string())
        .collect();
    assert_eq!(got, [YC, second]);
    assert_eq!(stub.requests().len(), 2);
}

/// A second enrolment whose server answers with the SID of a factor already stored (a hostile
/// server copying another account's SID) is refused: the stored factor and its key stay, the
/// new key is dropped, and nothing is sent to the server in the stored factor's name.
#[tokio::test]
async fn enrolment_returning_a_stored_factor_sid_is_refused() {
    let (stub, base) = start().await;
    let (client, f, _dir) = enrolled(&stub, &base).await;
    let before = client.factor(&f.sid).unwrap();
    stub.set(|req, _| {
        if req.path.ends_with("/Factors") {
            json(
                201,
                serde_json::json!({"sid": YF, "account_sid": AC, "friendly_name": "Other",
                    "status": "unverified", "date_created": "2021-01-01T00:00:00Z",
                    "config": {"credential_sid": "CRffffffffffffffffffffffffffffffff"}}),
            )
        } else {
            json(200, serde_json::json!({"status": "verified"}))
        }
    });
    let payload =
        EnrollmentPayload::new("other.access.token", VA, "user-2", Some(base.as_str())).unwrap();
    let err = client
        .enroll(EnrollRequest::new(payload, "Other".parse().unwrap()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::FactorExists, "{err}");
    assert!(matches!(&err, verify_push::Error::FactorExists { factor } if *factor == f.sid));
    // Only the create was sent: no verification with the new key under the stored SID.
    let reqs = stub.requests();
    assert_eq!(
        reqs.len(),
        1,
        "{:?}",
        reqs.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    let after = client.factor(&f.sid).unwrap();
    assert_eq!(after, before, "the stored factor is untouched");
    assert_eq!(client.factors().unwrap().len(), 1);
    assert!(
        client.check_integrity().unwrap().is_clean(),
        "no orphan key left"
    );
}

/// `answer_if_shown` fetches the challenge and asks the caller whether it is what the user
/// saw; on "no" nothing is signed or sent, with a typed error.
#[tokio::test]
async fn answer_if_shown_refuses_a_challenge_that_differs_from_what_was_shown() {
    let (stub, base) = start().await;
    let (client, f, _dir) = enrolled(&stub, &base).await;
    stub.set(|_, _| challenge_resp(YF, "pending", true));
    let err = client
        .answer_if_shown(&f.sid, &yc(), verify_push::Decision::Approve, &|c| {
            c.details.message == "Sign in to the bank?"
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ContentMismatch, "{err}");
    let reqs = stub.requests();
    assert!(
        reqs.iter().all(|r| r.method == "GET"),
        "nothing posted: {:?}",
        reqs.iter()
            .map(|r| (&r.method, &r.path))
            .collect::<Vec<_>>()
    );

    // The same call with the text the stub serves goes through to the signed update.
    let answered = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let a = answered.clone();
    stub.set(move |req, _| {
        use std::sync::atomic::Ordering::SeqCst;
        if req.method == "POST" {
            a.store(true, SeqCst);
        }
        let status = if a.load(SeqCst) {
            "approved"
        } else {
            "pending"
        };
        challenge_resp(YF, status, true)
    });
    let c = client
        .answer_if_shown(&f.sid, &yc(), verify_push::Decision::Approve, &|c| {
            c.details.message == "Hi?"
        })
        .await
        .unwrap();
    assert_eq!(c.status, verify_push::ChallengeStatus::Approved);
    assert!(answered.load(std::sync::atomic::Ordering::SeqCst));
}
