//! Every JSON answer of a full Verify Push flow validates against Twilio's OpenAPI schema for
//! the operation it belongs to (found by method + path in the spec, not picked by hand), and
//! every status code is one the spec declares for that operation.
//!
//! Spec: `$TWILIO_VERIFY_SPEC`, else the vendored `docs/reference/twilio_verify_v2.json`.

#[path = "support_schema/mod.rs"]
mod support_schema;

use serde_json::{json, Value};
use support_schema::device::DeviceKey;
use support_schema::spec::{Operation, Spec};
use verify_emulator::{spawn, EmulatorConfig};

/// Operations exercised by the flow; their spec examples must pass the converted schemas too.
const FLOW_OPERATIONS: &[(&str, &str)] = &[
    ("post", "/v2/Services"),
    ("get", "/v2/Services"),
    ("get", "/v2/Services/VA00000000000000000000000000000000"),
    ("post", "/v2/Services/VA00000000000000000000000000000000"),
    ("post", "/v2/Services/VA00000000000000000000000000000000/AccessTokens"),
    ("get", "/v2/Services/VA00000000000000000000000000000000/AccessTokens/YK00000000000000000000000000000000"),
    ("post", "/v2/Services/VA00000000000000000000000000000000/Entities"),
    ("get", "/v2/Services/VA00000000000000000000000000000000/Entities"),
    ("get", "/v2/Services/VA00000000000000000000000000000000/Entities/some-identity"),
    ("post", "/v2/Services/VA00000000000000000000000000000000/Entities/some-identity/Factors"),
    ("get", "/v2/Services/VA00000000000000000000000000000000/Entities/some-identity/Factors"),
    ("get", "/v2/Services/VA00000000000000000000000000000000/Entities/some-identity/Factors/YF00000000000000000000000000000000"),
    ("post", "/v2/Services/VA00000000000000000000000000000000/Entities/some-identity/Factors/YF00000000000000000000000000000000"),
    ("post", "/v2/Services/VA00000000000000000000000000000000/Entities/some-identity/Challenges"),
    ("get", "/v2/Services/VA00000000000000000000000000000000/Entities/some-identity/Challenges"),
    ("get", "/v2/Services/VA00000000000000000000000000000000/Entities/some-identity/Challenges/YC00000000000000000000000000000000"),
    ("post", "/v2/Services/VA00000000000000000000000000000000/Entities/some-identity/Challenges/YC00000000000000000000000000000000"),
    ("post", "/v2/Services/VA00000000000000000000000000000000/Entities/some-identity/Challenges/YC00000000000000000000000000000000/Notifications"),
    ("post", "/v2/Services/VA00000000000000000000000000000000/Webhooks"),
    ("get", "/v2/Services/VA00000000000000000000000000000000/Webhooks"),
    ("get", "/v2/Services/VA00000000000000000000000000000000/Webhooks/YW00000000000000000000000000000000"),
    ("post", "/v2/Services/VA00000000000000000000000000000000/Webhooks/YW00000000000000000000000000000000"),
];

#[test]
fn operations_resolve_by_path_and_method() {
    let spec = Spec::load();
    let expected = [
        "CreateService",
        "ListService",
        "FetchService",
        "UpdateService",
        "CreateAccessToken",
        "FetchAccessToken",
        "CreateEntity",
        "ListEntity",
        "FetchEntity",
        "CreateNewFactor",
        "ListFactor",
        "FetchFactor",
        "UpdateFactor",
        "CreateChallenge",
        "ListChallenge",
        "FetchChallenge",
        "UpdateChallenge",
        "CreateNotification",
        "CreateWebhook",
        "ListWebhook",
        "FetchWebhook",
        "UpdateWebhook",
    ];
    for ((method, path), id) in FLOW_OPERATIONS.iter().zip(expected) {
        let op = spec
            .operation(method, path)
            .unwrap_or_else(|| panic!("{method} {path} not in spec"));
        assert_eq!(op.id, id, "{method} {path}");
    }
    assert!(spec.operation("get", "/v2/Nope").is_none());
}

#[test]
fn spec_examples_conform_to_converted_schemas() {
    let spec = Spec::load();
    let mut checked = 0;
    for (method, path) in FLOW_OPERATIONS {
        let op = spec.operation(method, path).expect("operation exists");
        for (code, examples) in &op.examples {
            let Some(Some(schema)) = op.responses.get(code) else {
                continue;
            };
            for (name, example) in examples {
                let errors = spec.check(schema, example);
                assert!(
                    errors.is_empty(),
                    "{} {code} example {name}: {errors:#?}",
                    op.id
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 22, "only {checked} examples checked");
}

#[test]
fn converted_schemas_reject_what_twilio_would_not_send() {
    let spec = Spec::load();
    let op = spec
        .operation("get", FLOW_OPERATIONS[15].1)
        .expect("FetchChallenge");
    let schema = op.responses[&200].clone().expect("JSON body");
    let (_, good) = op.examples[&200][0].clone();
    assert!(spec.check(&schema, &good).is_empty());

    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("expiration_date");
    assert!(
        !spec.check(&schema, &missing).is_empty(),
        "missing property accepted"
    );

    let mut extra = good.clone();
    extra["surprise"] = json!(1);
    assert!(
        !spec.check(&schema, &extra).is_empty(),
        "extra property accepted"
    );

    let mut bad_date = good.clone();
    bad_date["date_created"] = json!("yesterday");
    assert!(
        !spec.check(&schema, &bad_date).is_empty(),
        "bad date-time accepted"
    );

    let mut bad_status = good.clone();
    bad_status["status"] = json!("maybe");
    assert!(
        !spec.check(&schema, &bad_status).is_empty(),
        "bad enum accepted"
    );

    let mut nulls = good;
    nulls["date_responded"] = Value::Null;
    nulls["hidden_details"] = Value::Null;
    assert!(
        spec.check(&schema, &nulls).is_empty(),
        "nullable rejected null"
    );
}

enum Auth {
    Account,
    Token(String),
}

/// Sends requests and checks each answer against the spec, collecting every mismatch.
struct Checker {
    spec: Spec,
    http: reqwest::Client,
    base: url::Url,
    account_sid: String,
    auth_token: String,
    mismatches: Vec<String>,
    checked: Vec<String>,
}

impl Checker {
    async fn call(
        &mut self,
        method: &str,
        path: &str,
        auth: Auth,
        form: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let url = self.base.join(path.trim_start_matches('/')).expect("url");
        let mut request = match method {
            "GET" => self.http.get(url.clone()),
            "POST" => self.http.post(url.clone()).form(form),
            "DELETE" => self.http.delete(url.clone()),
            other => panic!("method {other}"),
        };
        request = match &auth {
            Auth::Account => request.basic_auth(&self.account_sid, Some(&self.auth_token)),
            Auth::Token(t) => request.basic_auth("token", Some(t)),
        };
        let response = request.send().await.expect("request reaches the emulator");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                self.mismatches
                    .push(format!("{method} {path}: body is not JSON ({e})"));
                Value::Null
            })
        };
        let Some(op) = self.spec.operation(method, url.path()) else {
            panic!("{method} {} has no operation in the spec", url.path());
        };
        self.judge(&op, method, &url, status, &headers, &bytes, &body);
        (status, headers, body)
    }

    #[allow(clippy::too_many_arguments)]
    fn judge(
        &mut self,
        op: &Operation,
        method: &str,
        url: &url::Url,
        status: u16,
        headers: &reqwest::header::HeaderMap,
        bytes: &[u8],
        body: &Value,
    ) {
        let path = url.path();
        let what = format!("{} ({method} {path}) HTTP {status}", op.id);
        self.checked.push(what.clone());
        if headers.get(reqwest::header::DATE).is_none() {
            // Devices correct their clock from it (protocol reference §6.4).
            self.mismatches.push(format!("{what}: no Date header"));
        }
        let Some(schema) = op.responses.get(&status) else {
            let declared: Vec<u16> = op.responses.keys().copied().collect();
            self.mismatches.push(format!(
                "{what}: status not declared by the spec (declares {declared:?}); body {body}"
            ));
            return;
        };
        match schema {
            Some(schema) => {
                let ct = headers
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !ct.starts_with("application/json") {
                    self.mismatches.push(format!(
                        "{what}: Content-Type {ct:?}, expected application/json"
                    ));
                }
                for e in self.spec.check(schema, body) {
                    self.mismatches.push(format!("{what}: {e}"));
                }
                for e in links_agree(op, url, body) {
                    self.mismatches.push(format!("{what}: {e}"));
                }
            }
            None if !bytes.is_empty() => {
                self.mismatches.push(format!(
                    "{what}: spec declares no body, got {} bytes",
                    bytes.len()
                ));
            }
            None => {}
        }
    }

    fn finish(self) {
        eprintln!(
            "checked {} answers:\n  {}",
            self.checked.len(),
            self.checked.join("\n  ")
        );
        assert!(
            self.mismatches.is_empty(),
            "{} answer(s) do not conform to Twilio's spec:\n  {}",
            self.mismatches.len(),
            self.mismatches.join("\n  ")
        );
    }
}

/// What the schema cannot say: `url` names the resource that was asked for, and list `meta`
/// names its own key, URL and page size.
fn links_agree(op: &Operation, request: &url::Url, body: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let path_of = |v: &Value| {
        v.as_str()
            .and_then(|u| url::Url::parse(u).ok())
            .map(|u| u.path().to_owned())
    };
    if let Some(meta) = body.get("meta") {
        let key = meta.get("key").and_then(Value::as_str).unwrap_or_default();
        if !body.get(key).is_some_and(Value::is_array) {
            errors.push(format!(
                "meta.key {key:?} does not name the list in the body"
            ));
        }
        if path_of(&meta["url"]).as_deref() != Some(request.path()) {
            errors.push(format!(
                "meta.url {} is not the requested list",
                meta["url"]
            ));
        }
        let asked = request
            .query_pairs()
            .find(|(k, _)| k == "PageSize")
            .and_then(|(_, v)| v.parse::<u64>().ok());
        if let Some(asked) = asked {
            if meta.get("page_size").and_then(Value::as_u64) != Some(asked) {
                errors.push(format!(
                    "meta.page_size {} but PageSize={asked} was asked",
                    meta["page_size"]
                ));
            }
        }
    } else if let Some(own) = body.get("url").and_then(path_of) {
        let ok = if op.id.starts_with("Create") {
            own.starts_with(&format!("{}/", request.path()))
        } else {
            own == request.path()
        };
        if !ok {
            errors.push(format!(
                "url {own} does not match the request path {}",
                request.path()
            ));
        }
    }
    errors
}

fn s(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .to_owned()
}

fn expect_status(got: u16, want: &[u16], what: &str, body: &Value) {
    assert!(
        want.contains(&got),
        "{what}: HTTP {got}, wanted {want:?}: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_flow_answers_conform_to_the_spec() {
    let emu = spawn(EmulatorConfig::default())
        .await
        .expect("emulator starts");
    let mut c = Checker {
        spec: Spec::load(),
        http: reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client"),
        base: emu.base_url().clone(),
        account_sid: emu.account_sid().to_owned(),
        auth_token: emu.auth_token().to_owned(),
        mismatches: Vec::new(),
        checked: Vec::new(),
    };
    let account = || Auth::Account;

    // Services
    let (st, _, service) = c
        .call(
            "POST",
            "v2/Services",
            account(),
            &[("FriendlyName", "Conformance")],
        )
        .await;
    expect_status(st, &[201], "create service", &service);
    let va = s(&service, "sid");
    let svc = format!("v2/Services/{va}");
    c.call("GET", &svc, account(), &[]).await;
    c.call("GET", "v2/Services", account(), &[]).await;
    c.call(
        "POST",
        &svc,
        account(),
        &[("FriendlyName", "Conformance 2")],
    )
    .await;

    // Access token
    let identity = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let (st, _, token) = c
        .call(
            "POST",
            &format!("{svc}/AccessTokens"),
            account(),
            &[
                ("Identity", identity),
                ("FactorType", "push"),
                ("FactorFriendlyName", "Conformance device"),
                ("Ttl", "300"),
            ],
        )
        .await;
    expect_status(st, &[200, 201], "create access token", &token);
    c.call(
        "GET",
        &format!("{svc}/AccessTokens/{}", s(&token, "sid")),
        account(),
        &[],
    )
    .await;

    // Entity
    let (st, _, entity) = c
        .call(
            "POST",
            &format!("{svc}/Entities"),
            account(),
            &[("Identity", identity)],
        )
        .await;
    expect_status(st, &[201], "create entity", &entity);
    let ent = format!("{svc}/Entities/{identity}");
    c.call("GET", &ent, account(), &[]).await;
    c.call("GET", &format!("{svc}/Entities"), account(), &[])
        .await;

    // Factor: created and verified by the device, read and renamed by the backend
    let key = DeviceKey::generate();
    let pk = key.public_key_b64();
    let (st, _, factor) = c
        .call(
            "POST",
            &format!("{ent}/Factors"),
            Auth::Token(s(&token, "token")),
            &[
                ("FriendlyName", "Conformance device"),
                ("FactorType", "push"),
                ("Binding.PublicKey", &pk),
                ("Binding.Alg", "ES256"),
                ("Config.SdkVersion", "0.1.0"),
                ("Config.AppId", "dev.assent.Test"),
                ("Config.NotificationPlatform", "none"),
            ],
        )
        .await;
    expect_status(st, &[201], "create factor", &factor);
    let yf = s(&factor, "sid");
    let credential = factor
        .pointer("/config/credential_sid")
        .and_then(Value::as_str)
        .expect("config.credential_sid")
        .to_owned();
    let jwt = || Auth::Token(key.device_jwt(&credential, &c_account(&factor)));
    let fac = format!("{ent}/Factors/{yf}");
    c.call("GET", &fac, account(), &[]).await;
    c.call("GET", &format!("{ent}/Factors"), account(), &[])
        .await;
    let (st, _, verified) = c
        .call(
            "POST",
            &fac,
            jwt(),
            &[("AuthPayload", &key.sign_der_b64(&yf))],
        )
        .await;
    expect_status(st, &[200], "verify factor", &verified);
    assert_eq!(s(&verified, "status"), "verified");
    c.call(
        "POST",
        &fac,
        account(),
        &[("FriendlyName", "Renamed device")],
    )
    .await;

    // Webhook (nothing listens on the discard port; delivery failures must not matter here)
    let (st, _, hook) = c
        .call(
            "POST",
            &format!("{svc}/Webhooks"),
            account(),
            &[
                ("FriendlyName", "conformance"),
                ("EventTypes", "challenge.approved"),
                ("EventTypes", "challenge.denied"),
                ("WebhookUrl", "http://127.0.0.1:9/hook"),
            ],
        )
        .await;
    expect_status(st, &[201], "create webhook", &hook);
    let hk = format!("{svc}/Webhooks/{}", s(&hook, "sid"));
    c.call("GET", &hk, account(), &[]).await;
    c.call("GET", &format!("{svc}/Webhooks"), account(), &[])
        .await;
    c.call(
        "POST",
        &hk,
        account(),
        &[("FriendlyName", "conformance 2"), ("Status", "disabled")],
    )
    .await;

    // Challenge: created and polled by the backend, answered by the device
    let (st, _, challenge) = c
        .call(
            "POST",
            &format!("{ent}/Challenges"),
            account(),
            &[
                ("FactorSid", &yf),
                ("Details.Message", "Sign in to Conformance"),
                ("Details.Fields", r#"{"label":"IP","value":"127.0.0.1"}"#),
                (
                    "Details.Fields",
                    r#"{"label":"Location","value":"Localhost"}"#,
                ),
                ("HiddenDetails", r#"{"transaction_id":"tx-1"}"#),
            ],
        )
        .await;
    expect_status(st, &[201], "create challenge", &challenge);
    let yc = s(&challenge, "sid");
    let ch = format!("{ent}/Challenges/{yc}");
    c.call("GET", &ch, account(), &[]).await;
    c.call(
        "GET",
        &format!("{ent}/Challenges?FactorSid={yf}"),
        account(),
        &[],
    )
    .await;
    let (st, _, notification) = c
        .call(
            "POST",
            &format!("{ch}/Notifications"),
            account(),
            &[("Ttl", "60")],
        )
        .await;
    expect_status(st, &[201], "create notification", &notification);
    let (st, headers, fetched) = c.call("GET", &ch, jwt(), &[]).await;
    expect_status(st, &[200], "device fetch", &fetched);
    let fields = headers
        .get("Twilio-Verify-Signature-Fields")
        .and_then(|v| v.to_str().ok())
        .expect("Twilio-Verify-Signature-Fields header")
        .to_owned();
    let payload = key.challenge_payload(&fetched, &fields, "approved");
    let (st, _, answered) = c
        .call("POST", &ch, jwt(), &[("AuthPayload", &payload)])
        .await;
    expect_status(st, &[200], "approve", &answered);
    assert_eq!(s(&answered, "status"), "approved");
    c.call(
        "GET",
        &format!("{ent}/Challenges?Status=approved&PageSize=1"),
        account(),
        &[],
    )
    .await;

    // Deletions answer 204 without a body
    for path in [hk.clone(), fac.clone()] {
        let (st, _, body) = c
            .call(
                "DELETE",
                &path,
                if path == fac { jwt() } else { account() },
                &[],
            )
            .await;
        expect_status(st, &[204], "delete", &body);
    }

    // Errors use Twilio's error body (the spec's one error schema: CreateVerification 429)
    let (st, _, missing) = c
        .call(
            "GET",
            &format!("{ent}/Challenges/YC{}", "0".repeat(32)),
            account(),
            &[],
        )
        .await;
    assert_eq!(st, 404, "{missing}");
    c.checked.pop();
    c.mismatches
        .retain(|m| !m.starts_with("FetchChallenge") || !m.contains("HTTP 404"));
    let error_schema = c
        .spec
        .operation("post", &format!("/{svc}/Verifications"))
        .and_then(|op| op.responses.get(&429).cloned().flatten())
        .expect("spec has the 429 error schema");
    for e in c.spec.check(&error_schema, &missing) {
        c.mismatches.push(format!("error body of a 404: {e}"));
    }
    if missing.get("code") != Some(&json!(20404)) {
        c.mismatches
            .push(format!("404 error code is not 20404: {missing}"));
    }

    c.finish();
    emu.shutdown().await;
}

fn c_account(factor: &Value) -> String {
    s(factor, "account_sid")
}

#[test]
fn link_checks_catch_wrong_urls_and_meta() {
    let spec = Spec::load();
    let va = "VA00000000000000000000000000000000";
    let fetch = spec
        .operation("get", &format!("/v2/Services/{va}"))
        .expect("FetchService");
    let request = url::Url::parse(&format!("http://127.0.0.1:1/v2/Services/{va}")).expect("url");
    let good = json!({"url": format!("http://127.0.0.1:1/v2/Services/{va}")});
    assert!(links_agree(&fetch, &request, &good).is_empty());
    let wrong = json!({"url": "http://127.0.0.1:1/v2/Services/VA11111111111111111111111111111111"});
    assert_eq!(links_agree(&fetch, &request, &wrong).len(), 1);

    let list = spec.operation("get", "/v2/Services").expect("ListService");
    let request = url::Url::parse("http://127.0.0.1:1/v2/Services?PageSize=2").expect("url");
    let meta = |key: &str, size: u64| json!({"services": [], "meta": {"key": key, "url": "http://127.0.0.1:1/v2/Services?PageSize=2", "page_size": size}});
    assert!(links_agree(&list, &request, &meta("services", 2)).is_empty());
    assert_eq!(links_agree(&list, &request, &meta("entities", 2)).len(), 1);
    assert_eq!(links_agree(&list, &request, &meta("services", 50)).len(), 1);
}

/// Every error answer uses Twilio's error body (the spec's one error schema, CreateVerification
/// 429): exactly `code`, `message`, `more_info`, `status`, with `status` = the HTTP status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_answers_use_twilio_error_bodies() {
    let emu = spawn(EmulatorConfig::default())
        .await
        .expect("emulator starts");
    let spec = Spec::load();
    let schema = spec
        .operation(
            "post",
            "/v2/Services/VA00000000000000000000000000000000/Verifications",
        )
        .and_then(|op| op.responses.get(&429).cloned().flatten())
        .expect("spec has the 429 error schema");
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let api = emu.base_url().join("v2/").expect("api");
    let (sid, token) = (emu.account_sid().to_owned(), emu.auth_token().to_owned());
    let service: Value = http
        .post(api.join("Services").expect("url"))
        .basic_auth(&sid, Some(&token))
        .form(&[("FriendlyName", "Errors")])
        .send()
        .await
        .expect("create service")
        .json()
        .await
        .expect("json");
    let va = s(&service, "sid");
    let identity = "fedcba9876543210fedcba9876543210";
    let stranger = DeviceKey::generate();
    let bad_jwt = stranger.device_jwt(&format!("YF{}", "1".repeat(32)), &sid);

    let cases: Vec<(&str, reqwest::RequestBuilder)> = vec![
        (
            "unknown service",
            http.get(
                api.join(&format!("Services/VA{}", "0".repeat(32)))
                    .expect("url"),
            )
            .basic_auth(&sid, Some(&token)),
        ),
        (
            "wrong account credentials",
            http.get(api.join("Services").expect("url"))
                .basic_auth(&sid, Some("not-the-token")),
        ),
        (
            "service without FriendlyName",
            http.post(api.join("Services").expect("url"))
                .basic_auth(&sid, Some(&token))
                .form(&[("CodeLength", "6")]),
        ),
        (
            "device JWT from an unknown key",
            http.get(
                api.join(&format!(
                    "Services/{va}/Entities/{identity}/Challenges/YC{}",
                    "0".repeat(32)
                ))
                .expect("url"),
            )
            .basic_auth("token", Some(&bad_jwt)),
        ),
        (
            "factor with a forged access token",
            http.post(
                api.join(&format!("Services/{va}/Entities/{identity}/Factors"))
                    .expect("url"),
            )
            .basic_auth("token", Some("not.a.real.access.token"))
            .form(&[
                ("FriendlyName", "x"),
                ("FactorType", "push"),
                ("Binding.PublicKey", stranger.public_key_b64().as_str()),
                ("Binding.Alg", "ES256"),
            ]),
        ),
    ];
    let mut mismatches = Vec::new();
    for (what, request) in cases {
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let has_date = response.headers().contains_key(reqwest::header::DATE);
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !(400..500).contains(&status) {
            mismatches.push(format!("{what}: HTTP {status}, expected a 4xx: {body}"));
        }
        if !has_date {
            mismatches.push(format!("{what}: no Date header"));
        }
        for e in spec.check(&schema, &body) {
            mismatches.push(format!("{what}: {e}"));
        }
        if body.get("status").and_then(Value::as_u64) != Some(u64::from(status)) {
            mismatches.push(format!(
                "{what}: body status differs from HTTP {status}: {body}"
            ));
        }
        let code = body.get("code").and_then(Value::as_i64).unwrap_or_default();
        let more = body
            .get("more_info")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if more != format!("https://www.twilio.com/docs/errors/{code}") {
            mismatches.push(format!(
                "{what}: more_info {more:?} does not name code {code}"
            ));
        }
    }
    emu.shutdown().await;
    assert!(
        mismatches.is_empty(),
        "error bodies off-spec:\n  {}",
        mismatches.join("\n  ")
    );
}
