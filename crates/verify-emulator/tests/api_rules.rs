//! Validation limits, paging, persistence across restarts, concurrent approvals and fault
//! injection, all over real loopback HTTP.

mod common;

use common::{Auth, Ctx, IDENTITY};
use serde_json::Value;
use verify_emulator::{DbLocation, EmulatorConfig, Faults};

fn field(label: &str, value: &str) -> String {
    serde_json::json!({"label": label, "value": value}).to_string()
}

/// What one request of a rule table must get back.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// Accepted with this HTTP status.
    Ok(u16),
    /// Refused with this HTTP status and Twilio error code (and Twilio's error body).
    Refused(u16, i64),
}

/// One row of a rule table: what it checks (for the failure message), the form, the answer.
struct Case {
    what: String,
    form: Vec<(&'static str, String)>,
    want: Want,
}

/// A row of a rule table.
fn case(what: impl Into<String>, form: Vec<(&'static str, String)>, want: Want) -> Case {
    Case {
        what: what.into(),
        form,
        want,
    }
}

/// Posts every row to `path` and checks each answer, naming the row that fails.
async fn check_rules(ctx: &Ctx, path: &str, auth: Auth<'_>, cases: &[Case]) {
    for c in cases {
        let form: Vec<(&str, &str)> = c.form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = ctx.post(path, auth.clone(), &form).await;
        match c.want {
            Want::Ok(status) => assert_eq!(r.status, status, "{}: {}", c.what, r.text),
            Want::Refused(status, code) => {
                assert_eq!(
                    (r.status, r.code()),
                    (status, code),
                    "{}: {}",
                    c.what,
                    r.text
                );
                r.assert_error(status, code);
            }
        }
    }
}

#[tokio::test]
async fn challenge_create_rules() {
    let ctx = Ctx::new().await;
    let va = ctx.service().await;
    let dev = ctx.enroll(&va, IDENTITY).await;
    let cpath = format!("v2/Services/{va}/Entities/{IDENTITY}/Challenges");
    let fs = dev.factor_sid.clone();
    // A valid challenge plus `extra`.
    let with = |extra: &[(&'static str, String)]| {
        let mut v = vec![
            ("FactorSid", fs.clone()),
            ("Details.Message", "m".to_string()),
        ];
        v.extend_from_slice(extra);
        v
    };
    let fields = |n: usize| -> Vec<(&'static str, String)> {
        (0..n)
            .map(|i| ("Details.Fields", field(&format!("L{i}"), "v")))
            .collect()
    };
    let now = chrono::Utc::now().timestamp();
    let at = |secs: i64| verify_emulator::time::fmt_ts(now + secs);
    let hidden = |len: usize| format!(r#"{{"k":"{}"}}"#, "x".repeat(len - 8));
    assert_eq!(hidden(1024).len(), 1024);
    const DETAILS: Want = Want::Refused(400, 60368);
    const INVALID: Want = Want::Refused(400, 60200);
    let cases = [
        // Message: required, <= 256 characters (counted as characters, not bytes).
        case(
            "256-character message",
            vec![
                ("FactorSid", fs.clone()),
                ("Details.Message", "é".repeat(256)),
            ],
            Want::Ok(201),
        ),
        case(
            "257-character message",
            vec![
                ("FactorSid", fs.clone()),
                ("Details.Message", "a".repeat(257)),
            ],
            DETAILS,
        ),
        case("no message", vec![("FactorSid", fs.clone())], DETAILS),
        // FactorSid: required and well-formed (60362); unknown → 404.
        case(
            "no FactorSid",
            vec![("Details.Message", "hi".into())],
            Want::Refused(400, 60362),
        ),
        case(
            "malformed FactorSid",
            vec![
                ("FactorSid", "YF123".into()),
                ("Details.Message", "hi".into()),
            ],
            Want::Refused(400, 60362),
        ),
        case(
            "unknown FactorSid",
            vec![
                ("FactorSid", "YF0123456789abcdef0123456789abcdef".into()),
                ("Details.Message", "hi".into()),
            ],
            Want::Refused(404, 20404),
        ),
        // Fields: <= 20, label <= 36, value <= 128, JSON objects with string label/value.
        case("21 fields", with(&fields(21)), DETAILS),
        case(
            "36-character label, 128-character value",
            with(&[("Details.Fields", field(&"l".repeat(36), &"v".repeat(128)))]),
            Want::Ok(201),
        ),
        case(
            "37-character label",
            with(&[("Details.Fields", field(&"l".repeat(37), "v"))]),
            DETAILS,
        ),
        case(
            "129-character value",
            with(&[("Details.Fields", field("l", &"v".repeat(129)))]),
            DETAILS,
        ),
        case(
            "field that is not JSON",
            with(&[("Details.Fields", "not json".into())]),
            DETAILS,
        ),
        case(
            "field with a number value",
            with(&[("Details.Fields", r#"{"label":"x","value":1}"#.into())]),
            DETAILS,
        ),
        // Hidden details: JSON object, string values, <= 1024 characters.
        case(
            "1024-character hidden details",
            with(&[("HiddenDetails", hidden(1024))]),
            Want::Ok(201),
        ),
        case(
            "1025-character hidden details",
            with(&[("HiddenDetails", hidden(1025))]),
            INVALID,
        ),
        case(
            "hidden details with a number value",
            with(&[("HiddenDetails", r#"{"n":1}"#.into())]),
            INVALID,
        ),
        case(
            "hidden details that are an array",
            with(&[("HiddenDetails", "[]".into())]),
            INVALID,
        ),
        // Expiration: default +5 min (checked in device_flow), max +60 min, not in the past.
        case(
            "expiry in 58 minutes",
            with(&[("ExpirationDate", at(3500))]),
            Want::Ok(201),
        ),
        case(
            "expiry in 62 minutes",
            with(&[("ExpirationDate", at(3700))]),
            INVALID,
        ),
        case(
            "expiry in the past",
            with(&[("ExpirationDate", at(-10))]),
            INVALID,
        ),
        case(
            "expiry that is not a date",
            with(&[("ExpirationDate", "tomorrow".into())]),
            INVALID,
        ),
    ];
    check_rules(&ctx, &cpath, Auth::Account, &cases).await;

    // Exactly 20 fields are kept, in order.
    let form = with(&fields(20));
    let f: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = ctx.post(&cpath, Auth::Account, &f).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["details"]["fields"].as_array().unwrap().len(), 20);
    assert_eq!(r.body["details"]["fields"][19]["label"], "L19");
    ctx.emu.shutdown().await;
}

#[tokio::test]
async fn access_token_rules() {
    let ctx = Ctx::new().await;
    let va = ctx.service().await;
    let tokens = format!("v2/Services/{va}/AccessTokens");
    let push = |identity: &str| {
        vec![
            ("Identity", identity.to_string()),
            ("FactorType", "push".into()),
        ]
    };
    const REFUSED: Want = Want::Refused(400, 60305);
    let mut cases = Vec::new();
    // Identity: 8..=64 of [A-Za-z0-9-], not ending in a dash, no e-mail or phone number.
    for bad in [
        "short",
        "has space in it",
        "user@example.com",
        "+14155550100",
        "trailing-dash-",
        &"a".repeat(65),
    ] {
        cases.push(case(format!("identity {bad:?}"), push(bad), REFUSED));
    }
    for good in [
        "abcd1234",
        "550e8400-e29b-41d4-a716-446655440000",
        &"a".repeat(64),
    ] {
        cases.push(case(
            format!("identity {good:?}"),
            push(good),
            Want::Ok(201),
        ));
    }
    // TTL 60..=300 seconds.
    for (ttl, want) in [
        ("59", REFUSED),
        ("60", Want::Ok(201)),
        ("300", Want::Ok(201)),
        ("301", REFUSED),
        ("x", REFUSED),
    ] {
        let mut form = push(IDENTITY);
        form.push(("Ttl", ttl.into()));
        cases.push(case(format!("Ttl={ttl}"), form, want));
    }
    cases.push(case(
        "factor type totp",
        vec![("Identity", IDENTITY.into()), ("FactorType", "totp".into())],
        REFUSED,
    ));
    cases.push(case(
        "no factor type",
        vec![("Identity", IDENTITY.into())],
        REFUSED,
    ));
    let mut long_name = push(IDENTITY);
    long_name.push(("FactorFriendlyName", "n".repeat(65)));
    cases.push(case("65-character factor name", long_name, REFUSED));
    check_rules(&ctx, &tokens, Auth::Account, &cases).await;

    let r = ctx
        .post(
            &tokens,
            Auth::Account,
            &[("Identity", IDENTITY), ("FactorType", "push")],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["ttl"], 60, "default TTL");
    ctx.emu.shutdown().await;
}

#[tokio::test]
async fn friendly_name_rules() {
    let ctx = Ctx::new().await;
    let va = ctx.service().await;
    let dev = ctx.enroll(&va, IDENTITY).await;
    const INVALID: Want = Want::Refused(400, 60200);
    let name = |n: usize| vec![("FriendlyName", "n".repeat(n))];
    // Service: required, <= 32 characters.
    let services = [
        case("32-character service name", name(32), Want::Ok(201)),
        case("33-character service name", name(33), INVALID),
        case("no service name", vec![], INVALID),
    ];
    check_rules(&ctx, "v2/Services", Auth::Account, &services).await;
    // Factor: <= 64 characters.
    let factors = [
        case("64-character factor name", name(64), Want::Ok(200)),
        case("65-character factor name", name(65), INVALID),
    ];
    check_rules(&ctx, &ctx.factor_path(&va, &dev), Auth::Account, &factors).await;
    ctx.emu.shutdown().await;
}

#[tokio::test]
async fn factor_create_rules_leave_the_token_usable() {
    let ctx = Ctx::new().await;
    let va = ctx.service().await;
    let token = ctx.access_token(&va, "fresh-identity-1").await;
    let fpath = format!("v2/Services/{va}/Entities/fresh-identity-1/Factors");
    let key = verify_emulator::testing::DeviceKey::generate();
    let pk = key.public_key_b64();
    let good: Vec<(&'static str, String)> = vec![
        ("FriendlyName", "Mac".into()),
        ("FactorType", "push".into()),
        ("Binding.PublicKey", pk.clone()),
        ("Binding.Alg", "ES256".into()),
        ("Config.SdkVersion", "0.1.0".into()),
        ("Config.AppId", "dev.assent.Assent".into()),
        ("Config.NotificationPlatform", "none".into()),
    ];
    let replace = |key: &str, value: &str| -> Vec<(&'static str, String)> {
        good.iter()
            .map(|(k, v)| {
                (
                    *k,
                    if *k == key {
                        value.to_string()
                    } else {
                        v.clone()
                    },
                )
            })
            .collect()
    };
    const INVALID: Want = Want::Refused(400, 60200);
    let mut with_meta = good.clone();
    with_meta.push(("Metadata", r#"{"n":1}"#.into()));
    let cases = [
        case(
            "truncated public key",
            replace("Binding.PublicKey", "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"),
            INVALID,
        ),
        case("RS256", replace("Binding.Alg", "RS256"), INVALID),
        case(
            "platform sms",
            replace("Config.NotificationPlatform", "sms"),
            INVALID,
        ),
        case(
            "platform fcm",
            replace("Config.NotificationPlatform", "fcm"),
            INVALID,
        ),
        case("metadata with a number value", with_meta, INVALID),
    ];
    check_rules(&ctx, &fpath, Auth::Device(&token), &cases).await;

    // The refusals did not use up the token. iOS-style encoding: '=' and '/' unescaped inside
    // values, '+' escaped.
    let raw = format!(
        "FriendlyName=Mac%20mini&FactorType=push&Binding.PublicKey={}&Binding.Alg=ES256&Config.SdkVersion=3.0.2&Config.AppId=dev.assent.Assent&Config.NotificationPlatform=none",
        pk.replace('+', "%2B")
    );
    let r = ctx
        .http
        .post(ctx.url(&fpath))
        .header(
            "Authorization",
            verify_emulator::testing::device_basic(&token),
        )
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept", "application/x-www-form-urlencoded")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["content-type"], "application/json");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["friendly_name"], "Mac mini");
    assert_eq!(body["binding"]["public_key"], pk.as_str());
    ctx.emu.shutdown().await;
}

async fn walk(ctx: &Ctx, first: &str, token_param: &str) -> (Vec<String>, Vec<String>) {
    // Forward with next tokens, then back with previous tokens; returns SIDs in both orders.
    let mut forward = Vec::new();
    let mut url = first.to_string();
    let mut last_meta: Value;
    loop {
        let r = ctx.get(&url, Auth::Account).await;
        assert_eq!(r.status, 200, "{}", r.text);
        for c in r.body["challenges"].as_array().unwrap() {
            forward.push(c["sid"].as_str().unwrap().to_string());
        }
        last_meta = r.body["meta"].clone();
        let Some(next) = last_meta["next_page_url"].as_str() else {
            break;
        };
        let t = url::Url::parse(next).unwrap();
        let token = t
            .query_pairs()
            .find(|(k, _)| k == "PageToken")
            .unwrap()
            .1
            .to_string();
        url = format!("{}&{token_param}={token}", first);
    }
    let mut backward = Vec::new();
    let mut meta = last_meta;
    while let Some(prev) = meta["previous_page_url"].as_str() {
        let t = url::Url::parse(prev).unwrap();
        let token = t
            .query_pairs()
            .find(|(k, _)| k == "PageToken")
            .unwrap()
            .1
            .to_string();
        let r = ctx
            .get(&format!("{first}&{token_param}={token}"), Auth::Account)
            .await;
        let mut page: Vec<String> = r.body["challenges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["sid"].as_str().unwrap().to_string())
            .collect();
        page.reverse();
        backward.extend(page);
        meta = r.body["meta"].clone();
    }
    (forward, backward)
}

#[tokio::test]
async fn paging_both_ways_with_both_token_spellings() {
    let ctx = Ctx::new().await;
    let va = ctx.service().await;
    let dev = ctx.enroll(&va, IDENTITY).await;
    let mut sids = Vec::new();
    for i in 0..7 {
        sids.push(
            ctx.challenge(&va, &dev, &format!("c{i}")).await["sid"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let base = format!(
        "v2/Services/{va}/Entities/{IDENTITY}/Challenges?FactorSid={}&PageSize=3",
        dev.factor_sid
    );

    let r = ctx.get(&base, Auth::Account).await;
    let meta = &r.body["meta"];
    assert_eq!(meta["page"], 0);
    assert_eq!(meta["page_size"], 3);
    assert_eq!(meta["key"], "challenges");
    assert!(meta["previous_page_url"].is_null());
    assert!(meta["first_page_url"]
        .as_str()
        .unwrap()
        .ends_with("PageSize=3&Page=0"));
    assert!(meta["url"].as_str().unwrap().starts_with(&ctx.url(&format!(
        "v2/Services/{va}/Entities/{IDENTITY}/Challenges?FactorSid="
    ))));
    let next = meta["next_page_url"].as_str().unwrap();
    assert!(next.contains("Page=1&PageToken="), "{next}");

    for spelling in ["PageToken", "pageToken"] {
        let (fwd, back) = walk(&ctx, &base, spelling).await;
        assert_eq!(fwd, sids, "{spelling} forward");
        // Back from the last page: pages 1 and 0 reversed.
        let mut expected: Vec<String> = sids[..6].to_vec();
        expected.reverse();
        assert_eq!(back, expected, "{spelling} backward");
    }
    let (fwd, _) = walk(&ctx, &format!("{base}&Order=desc"), "pageToken").await;
    let mut rev = sids.clone();
    rev.reverse();
    assert_eq!(fwd, rev);

    // Page number comes from the token when `Page` is absent (iOS sends only pageToken).
    let r = ctx.get(&base, Auth::Account).await;
    let t = url::Url::parse(r.body["meta"]["next_page_url"].as_str().unwrap()).unwrap();
    let token = t
        .query_pairs()
        .find(|(k, _)| k == "PageToken")
        .unwrap()
        .1
        .to_string();
    let r = ctx
        .get(&format!("{base}&pageToken={token}"), Auth::Account)
        .await;
    assert_eq!(r.body["meta"]["page"], 1);

    // Bad paging input.
    ctx.get(&format!("{base}&PageToken=bogus"), Auth::Account)
        .await
        .assert_error(400, 60200);
    ctx.get(
        &format!("v2/Services/{va}/Entities/{IDENTITY}/Challenges?PageSize=1001"),
        Auth::Account,
    )
    .await
    .assert_error(400, 60200);

    // Other lists share the envelope.
    for (path, key) in [
        ("v2/Services", "services"),
        (&format!("v2/Services/{va}/Entities") as &str, "entities"),
        (
            &format!("v2/Services/{va}/Entities/{IDENTITY}/Factors"),
            "factors",
        ),
        (&format!("v2/Services/{va}/Webhooks"), "webhooks"),
    ] {
        let r = ctx.get(&format!("{path}?PageSize=1"), Auth::Account).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(r.body["meta"]["key"], key);
        assert!(r.body[key].is_array());
    }
    ctx.emu.shutdown().await;
}

#[tokio::test]
async fn state_survives_restart_with_a_file_db() {
    let dir = tempfile::tempdir().unwrap();
    let db = DbLocation::File(dir.path().join("emu.sqlite"));
    let ctx = Ctx::with(EmulatorConfig {
        db: db.clone(),
        ..EmulatorConfig::default()
    })
    .await;
    let (acct, token) = (
        ctx.emu.account_sid().to_string(),
        ctx.emu.auth_token().to_string(),
    );
    let va = ctx.service().await;
    let dev = ctx.enroll(&va, IDENTITY).await;
    let c = ctx.challenge(&va, &dev, "After restart?").await;
    let yc = c["sid"].as_str().unwrap().to_string();
    let http = ctx.http.clone();
    ctx.emu.shutdown().await;

    // Same DB, generated credentials come back from the DB; the device can still answer.
    let emu = verify_emulator::spawn(EmulatorConfig {
        db,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    assert_eq!(emu.account_sid(), acct);
    assert_eq!(emu.auth_token(), token);
    let ctx = Ctx { emu, http };
    let r = ctx.get(&format!("v2/Services/{va}"), Auth::Account).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = ctx.answer(&va, &dev, &yc, "approved").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "approved");
    ctx.emu.shutdown().await;
}

#[tokio::test]
async fn concurrent_approvals_exactly_one_wins() {
    let ctx = std::sync::Arc::new(Ctx::new().await);
    let va = ctx.service().await;
    let dev = ctx.enroll(&va, IDENTITY).await;
    for round in 0..5 {
        let c = ctx.challenge(&va, &dev, &format!("race {round}")).await;
        let sid = c["sid"].as_str().unwrap().to_string();
        let fetched = ctx.fetch_challenge(&va, &dev, &sid).await;
        let fields = fetched.headers["Twilio-Verify-Signature-Fields"]
            .to_str()
            .unwrap()
            .to_string();
        let mut tasks = Vec::new();
        for status in ["approved", "denied", "approved", "denied"] {
            let jws = dev.key.challenge_jws(&fetched.body, &fields, status);
            let (ctx, dev, va, sid) = (ctx.clone(), dev.clone(), va.clone(), sid.clone());
            tasks.push(tokio::spawn(async move {
                let jwt = ctx.jwt(&dev);
                ctx.post(
                    &ctx.challenge_path(&va, &dev, &sid),
                    Auth::Device(&jwt),
                    &[("AuthPayload", &jws)],
                )
                .await
            }));
        }
        let mut winners = Vec::new();
        for t in tasks {
            let r = t.await.unwrap();
            match r.status {
                200 => winners.push(r.body["status"].as_str().unwrap().to_string()),
                _ => r.assert_error(403, 60322),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        let r = ctx
            .get(&ctx.challenge_path(&va, &dev, &sid), Auth::Account)
            .await;
        assert_eq!(r.body["status"], winners[0].as_str());
    }
    // Two concurrent factor creations with one access token: exactly one wins.
    let token = ctx.access_token(&va, "racing-identity").await;
    let (k1, k2) = (
        verify_emulator::testing::DeviceKey::generate(),
        verify_emulator::testing::DeviceKey::generate(),
    );
    let (a, b) = tokio::join!(
        ctx.create_factor(&va, "racing-identity", &token, &k1),
        ctx.create_factor(&va, "racing-identity", &token, &k2)
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [201, 401]);
}

#[tokio::test]
async fn fault_injection_knobs() {
    let ctx = Ctx::new().await;
    let va = ctx.service().await;

    // Off by default, readable over HTTP with account auth only.
    let r = ctx.get("_emulator/faults", Auth::Account).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["error_rate"], 0.0);
    assert_eq!(r.body["clock_offset_secs"], 0);
    ctx.get("_emulator/faults", Auth::None)
        .await
        .assert_error(401, 20003);

    // 429 with Retry-After (all requests) via HTTP; /_emulator stays reachable.
    let r = ctx
        .post(
            "_emulator/faults",
            Auth::Account,
            &[("RateLimitRate", "1"), ("RetryAfterSecs", "7")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["rate_limit_rate"], 1.0);
    let r = ctx.get(&format!("v2/Services/{va}"), Auth::Account).await;
    r.assert_error(429, 20429);
    assert_eq!(r.headers["retry-after"], "7");
    assert_eq!(ctx.emu.faults().retry_after_secs, 7);
    ctx.post("_emulator/faults", Auth::Account, &[("RateLimitRate", "2")])
        .await
        .assert_error(400, 60200);

    // 500 via set_faults.
    ctx.emu.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    ctx.get(&format!("v2/Services/{va}"), Auth::Account)
        .await
        .assert_error(500, 20500);

    // Garbage: 200 with a body that is not JSON.
    ctx.emu.set_faults(Faults {
        garbage_rate: 1.0,
        ..Faults::default()
    });
    let r = ctx.get(&format!("v2/Services/{va}"), Auth::Account).await;
    assert_eq!(r.status, 200);
    assert!(
        serde_json::from_str::<Value>(&r.text).is_err(),
        "{}",
        r.text
    );

    // Slow: answered normally after the delay (no timing assertion; the figure goes to benches).
    ctx.emu.set_faults(Faults {
        slow_rate: 1.0,
        slow_ms: 50,
        ..Faults::default()
    });
    assert_eq!(
        ctx.get(&format!("v2/Services/{va}"), Auth::Account)
            .await
            .status,
        200
    );

    // Clock offset: Date header and timestamps move; the demo-free control route is unaffected.
    ctx.emu.set_faults(Faults {
        clock_offset_secs: -86_400 * 365,
        ..Faults::default()
    });
    let r = ctx.get(&format!("v2/Services/{va}"), Auth::Account).await;
    let date = httpdate::parse_http_date(r.headers["date"].to_str().unwrap()).unwrap();
    let age = std::time::SystemTime::now()
        .duration_since(date)
        .unwrap()
        .as_secs();
    assert!(age > 86_400 * 364, "Date header not shifted: {age}");
    let r = ctx
        .post("v2/Services", Auth::Account, &[("FriendlyName", "Past")])
        .await;
    let created =
        verify_emulator::time::parse_ts(r.body["date_created"].as_str().unwrap()).unwrap();
    assert!(chrono::Utc::now().timestamp() - created > 86_400 * 364);
    ctx.emu.set_faults(Faults::default());

    // Faults from the config apply from the first request.
    let ctx2 = Ctx::with(EmulatorConfig {
        faults: Faults {
            error_rate: 1.0,
            ..Faults::default()
        },
        ..EmulatorConfig::default()
    })
    .await;
    ctx2.get("v2/Services", Auth::Account)
        .await
        .assert_error(500, 20500);
    assert_eq!(
        ctx2.get("_emulator/faults", Auth::Account).await.status,
        200
    );
    ctx2.emu.shutdown().await;
    ctx.emu.shutdown().await;
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn sorted(list: &[&str]) -> Vec<String> {
    let mut k: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    k.sort();
    k
}

#[tokio::test]
async fn backend_resources_crud_and_field_names() {
    let ctx = Ctx::new().await;

    // Services: property names of `verify.v2.service`.
    let r = ctx
        .post(
            "v2/Services",
            Auth::Account,
            &[
                ("FriendlyName", "Shop"),
                ("Push.IncludeDate", "true"),
                ("CodeLength", "8"),
            ],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let va = r.body["sid"].as_str().unwrap().to_string();
    assert_eq!(
        keys(&r.body),
        sorted(&[
            "sid",
            "account_sid",
            "friendly_name",
            "code_length",
            "lookup_enabled",
            "psd2_enabled",
            "skip_sms_to_landlines",
            "dtmf_input_required",
            "tts_name",
            "do_not_share_warning_enabled",
            "custom_code_enabled",
            "push",
            "totp",
            "default_template_sid",
            "whatsapp",
            "passkeys",
            "verify_event_subscription_enabled",
            "date_created",
            "date_updated",
            "url",
            "links",
        ])
    );
    assert_eq!(r.body["push"]["include_date"], true);
    assert_eq!(r.body["code_length"], 8);
    assert_eq!(
        r.body["links"]["entities"],
        ctx.url(&format!("v2/Services/{va}/Entities"))
    );
    let r = ctx
        .post(
            &format!("v2/Services/{va}"),
            Auth::Account,
            &[("FriendlyName", "Shop 2"), ("Push.IncludeDate", "maybe")],
        )
        .await;
    r.assert_error(400, 60200);
    let r = ctx
        .post(
            &format!("v2/Services/{va}"),
            Auth::Account,
            &[("FriendlyName", "Shop 2")],
        )
        .await;
    assert_eq!(r.body["friendly_name"], "Shop 2");
    assert_eq!(r.body["code_length"], 8, "update keeps other settings");

    // Entities.
    let ents = format!("v2/Services/{va}/Entities");
    let r = ctx
        .post(&ents, Auth::Account, &[("Identity", IDENTITY)])
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        keys(&r.body),
        sorted(&[
            "sid",
            "identity",
            "account_sid",
            "service_sid",
            "date_created",
            "date_updated",
            "url",
            "links"
        ])
    );
    assert_eq!(
        sorted(&["factors", "new_factors", "challenges"]),
        keys(&r.body["links"])
    );
    ctx.post(&ents, Auth::Account, &[("Identity", IDENTITY)])
        .await
        .assert_error(409, 60301);
    let r = ctx.get(&format!("{ents}/{IDENTITY}"), Auth::Account).await;
    assert_eq!(r.status, 200);

    // Factors (new_factor vs factor) and challenges with details.date (IncludeDate).
    let dev = ctx.enroll(&va, IDENTITY).await;
    let r = ctx.get(&ctx.factor_path(&va, &dev), Auth::Account).await;
    assert_eq!(
        keys(&r.body),
        sorted(&[
            "sid",
            "account_sid",
            "service_sid",
            "entity_sid",
            "identity",
            "date_created",
            "date_updated",
            "friendly_name",
            "status",
            "factor_type",
            "config",
            "metadata",
            "url"
        ])
    );
    assert_eq!(
        keys(&r.body["config"]),
        sorted(&[
            "sdk_version",
            "app_id",
            "notification_platform",
            "notification_token",
            "credential_sid"
        ])
    );
    let c = ctx.challenge(&va, &dev, "With date").await;
    assert_eq!(
        keys(&c),
        sorted(&[
            "sid",
            "account_sid",
            "service_sid",
            "entity_sid",
            "identity",
            "factor_sid",
            "date_created",
            "date_updated",
            "date_responded",
            "expiration_date",
            "status",
            "responded_reason",
            "details",
            "hidden_details",
            "metadata",
            "factor_type",
            "url",
            "links",
        ])
    );
    assert_eq!(
        c["details"]["date"], c["date_created"],
        "Push.IncludeDate adds details.date"
    );
    // A challenge with details.date can still be approved (the date is part of the signed details).
    let yc = c["sid"].as_str().unwrap().to_string();

    // Notifications: only for pending challenges, Ttl 0..=300 (default 300).
    let npath = format!("{}/Notifications", ctx.challenge_path(&va, &dev, &yc));
    let r = ctx.post(&npath, Auth::Account, &[]).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        keys(&r.body),
        sorted(&[
            "sid",
            "account_sid",
            "service_sid",
            "entity_sid",
            "identity",
            "challenge_sid",
            "priority",
            "ttl",
            "date_created"
        ])
    );
    assert!(r.body["sid"].as_str().unwrap().starts_with("NT"));
    assert_eq!(
        (r.body["priority"].as_str(), r.body["ttl"].as_i64()),
        (Some("high"), Some(300))
    );
    ctx.post(&npath, Auth::Account, &[("Ttl", "301")])
        .await
        .assert_error(400, 60200);
    assert_eq!(
        ctx.post(&npath, Auth::Account, &[("Ttl", "0")])
            .await
            .status,
        201
    );
    assert_eq!(ctx.answer(&va, &dev, &yc, "approved").await.status, 200);
    ctx.post(&npath, Auth::Account, &[])
        .await
        .assert_error(400, 60200);

    // Webhooks: fetch, update, list, delete; bad input.
    let hooks = format!("v2/Services/{va}/Webhooks");
    let r = ctx
        .post(
            &hooks,
            Auth::Account,
            &[
                ("FriendlyName", "h"),
                ("EventTypes", "factor.created"),
                ("EventTypes", "challenge.denied"),
                ("WebhookUrl", "https://example.com/hook"),
            ],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        keys(&r.body),
        sorted(&[
            "sid",
            "service_sid",
            "account_sid",
            "friendly_name",
            "event_types",
            "status",
            "version",
            "webhook_url",
            "webhook_method",
            "date_created",
            "date_updated",
            "url"
        ])
    );
    assert_eq!(
        r.body["event_types"],
        serde_json::json!(["factor.created", "challenge.denied"])
    );
    let yw = r.body["sid"].as_str().unwrap().to_string();
    let r = ctx
        .post(
            &format!("{hooks}/{yw}"),
            Auth::Account,
            &[("Status", "disabled"), ("Version", "v1")],
        )
        .await;
    assert_eq!(
        (r.body["status"].as_str(), r.body["version"].as_str()),
        (Some("disabled"), Some("v1"))
    );
    assert_eq!(
        ctx.get(&format!("{hooks}/{yw}"), Auth::Account).await.body["status"],
        "disabled"
    );
    for bad in [
        vec![
            ("FriendlyName", "h"),
            ("EventTypes", "factor.exploded"),
            ("WebhookUrl", "https://example.com"),
        ],
        vec![
            ("FriendlyName", "h"),
            ("EventTypes", "*"),
            ("WebhookUrl", "ftp://example.com"),
        ],
        vec![("FriendlyName", "h"), ("WebhookUrl", "https://example.com")],
        vec![
            ("FriendlyName", "h"),
            ("EventTypes", "*"),
            ("WebhookUrl", "https://example.com"),
            ("Version", "v3"),
        ],
    ] {
        ctx.post(&hooks, Auth::Account, &bad)
            .await
            .assert_error(400, 60200);
    }
    assert_eq!(
        ctx.get(&hooks, Auth::Account).await.body["webhooks"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        ctx.delete(&format!("{hooks}/{yw}"), Auth::Account)
            .await
            .status,
        204
    );
    ctx.get(&format!("{hooks}/{yw}"), Auth::Account)
        .await
        .assert_error(404, 20404);

    // Forms (form-push only).
    let r = ctx.get("v2/Forms/form-push", Auth::Account).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        keys(&r.body),
        sorted(&["form_type", "forms", "form_meta", "url"])
    );
    assert_eq!(
        keys(&r.body["forms"]),
        sorted(&["create_factor", "verify_factor", "create_challenge"])
    );
    ctx.get("v2/Forms/form-sms", Auth::Account)
        .await
        .assert_error(404, 20404);

    // Entity delete removes its factors; service delete removes everything.
    assert_eq!(
        ctx.delete(&format!("{ents}/{IDENTITY}"), Auth::Account)
            .await
            .status,
        204
    );
    ctx.get(&ctx.factor_path(&va, &dev), Auth::Account)
        .await
        .assert_error(404, 20404);
    assert_eq!(
        ctx.delete(&format!("v2/Services/{va}"), Auth::Account)
            .await
            .status,
        204
    );
    ctx.get(&format!("v2/Services/{va}"), Auth::Account)
        .await
        .assert_error(404, 20404);
    ctx.delete(&format!("v2/Services/{va}"), Auth::Account)
        .await
        .assert_error(404, 20404);
    ctx.emu.shutdown().await;
}

#[tokio::test]
async fn public_base_url_is_used_in_urls_and_links() {
    let public = url::Url::parse("https://verify.example.test/emu").unwrap();
    let ctx = Ctx::with(EmulatorConfig {
        public_base_url: Some(public),
        ..EmulatorConfig::default()
    })
    .await;
    assert_eq!(
        ctx.emu.base_url().as_str(),
        "https://verify.example.test/emu/"
    );
    // Requests go to the bound loopback address; answers point at the public URL.
    let direct = format!("http://{}/v2/Services", ctx.emu.local_addr());
    let r = ctx
        .post(&direct, Auth::Account, &[("FriendlyName", "Public")])
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let va = r.body["sid"].as_str().unwrap();
    assert_eq!(
        r.body["url"],
        format!("https://verify.example.test/emu/v2/Services/{va}")
    );
    assert_eq!(
        r.body["links"]["webhooks"],
        format!("https://verify.example.test/emu/v2/Services/{va}/Webhooks")
    );
    ctx.emu.shutdown().await;
}

/// Each refusal answers with the Twilio code its error page documents (error.rs table), and
/// leaves the resource as it was.
#[tokio::test]
async fn twilio_error_codes_per_refusal() {
    let ctx = Ctx::new().await;
    let va = ctx.service().await;
    let dev = ctx.enroll(&va, IDENTITY).await;
    let jwt = ctx.jwt(&dev);
    let fields = "sid,factor_sid,details,hidden_details,expiration_date,date_created,status";

    // Challenge answers: bad signature, other claims, then a replay of a good answer.
    let c = ctx.challenge(&va, &dev, "Codes?").await;
    let yc = c["sid"].as_str().unwrap().to_string();
    let path = ctx.challenge_path(&va, &dev, &yc);
    let stranger = verify_emulator::testing::DeviceKey::generate();
    let mut other_claims = c.clone();
    other_claims["hidden_details"] = serde_json::json!({"transaction_id": "tx-2"});
    let good = dev.key.challenge_jws(&c, fields, "approved");
    let cases: [(&str, String, u16, i64); 5] = [
        (
            "signed by another key",
            stranger.challenge_jws(&c, fields, "approved"),
            403,
            60324,
        ),
        (
            "claims differ",
            dev.key.challenge_jws(&other_claims, fields, "approved"),
            403,
            60324,
        ),
        (
            "status pending",
            dev.key.challenge_jws(&c, fields, "pending"),
            403,
            60324,
        ),
        ("not a JWS", "not.a.jws".into(), 403, 60324),
        ("too long", "a".repeat(5457), 400, 60200),
    ];
    for (what, payload, status, code) in &cases {
        let r = ctx
            .post(&path, Auth::Device(&jwt), &[("AuthPayload", payload)])
            .await;
        assert_eq!((r.status, r.code()), (*status, *code), "{what}: {}", r.text);
        r.assert_error(*status, *code);
    }
    let r = ctx.get(&path, Auth::Account).await;
    assert_eq!(
        r.body["status"], "pending",
        "refusals changed the challenge"
    );
    let r = ctx
        .post(&path, Auth::Device(&jwt), &[("AuthPayload", &good)])
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for status in ["approved", "denied"] {
        ctx.answer(&va, &dev, &yc, status)
            .await
            .assert_error(403, 60322);
    }
    assert_eq!(
        ctx.get(&path, Auth::Account).await.body["status"],
        "approved"
    );

    // Verify-factor with a signature over something else: 60311, still unverified.
    let fresh = ctx.create_unverified(&va, "codes-identity-2").await;
    let r = ctx
        .post(
            &ctx.factor_path(&va, &fresh),
            Auth::Device(&ctx.jwt(&fresh)),
            &[("AuthPayload", &fresh.key.sign_der_b64(&dev.factor_sid))],
        )
        .await;
    r.assert_error(403, 60311);
    let r = ctx.get(&ctx.factor_path(&va, &fresh), Auth::Account).await;
    assert_eq!(r.body["status"], "unverified");

    // Entity already exists: 409/60301.
    let entities = format!("v2/Services/{va}/Entities");
    let r = ctx
        .post(&entities, Auth::Account, &[("Identity", "codes-entity-1")])
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    ctx.post(&entities, Auth::Account, &[("Identity", "codes-entity-1")])
        .await
        .assert_error(409, 60301);
    // A generic bad parameter elsewhere: 60200.
    ctx.post(&entities, Auth::Account, &[("Identity", "no")])
        .await
        .assert_error(400, 60200);
}

/// Twilio requires `FriendlyName` on factor create even when the access token names the
/// factor; the refusal does not spend the token.
#[tokio::test]
async fn factor_create_needs_friendly_name() {
    let ctx = Ctx::new().await;
    let va = ctx.service().await;
    let r = ctx
        .post(
            &format!("v2/Services/{va}/AccessTokens"),
            Auth::Account,
            &[
                ("Identity", IDENTITY),
                ("FactorType", "push"),
                ("FactorFriendlyName", "From the token"),
            ],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let token = r.body["token"].as_str().unwrap().to_string();
    let key = verify_emulator::testing::DeviceKey::generate();
    let pk = key.public_key_b64();
    let path = format!("v2/Services/{va}/Entities/{IDENTITY}/Factors");
    let mut form = vec![
        ("FactorType", "push"),
        ("Binding.PublicKey", pk.as_str()),
        ("Binding.Alg", "ES256"),
        ("Config.SdkVersion", "0.1.0"),
        ("Config.AppId", "dev.assent.Assent"),
        ("Config.NotificationPlatform", "none"),
    ];
    let r = ctx.post(&path, Auth::Device(&token), &form).await;
    r.assert_error(400, 60200);
    assert!(r.body["message"].as_str().unwrap().contains("FriendlyName"));
    form.push(("FriendlyName", "Desk"));
    let r = ctx.post(&path, Auth::Device(&token), &form).await;
    assert_eq!(r.status, 201, "the token is still usable: {}", r.text);
    assert_eq!(r.body["friendly_name"], "Desk");
}

/// The 21st push factor of an entity is refused with 60315 and the token stays usable: after
/// one factor is deleted, the same token enrols.
#[tokio::test]
async fn at_most_twenty_factors_per_entity() {
    let ctx = Ctx::new().await;
    let va = ctx.service().await;
    let mut devices = Vec::new();
    for _ in 0..20 {
        devices.push(ctx.create_unverified(&va, IDENTITY).await);
    }
    let token = ctx.access_token(&va, IDENTITY).await;
    let key = verify_emulator::testing::DeviceKey::generate();
    let r = ctx.create_factor(&va, IDENTITY, &token, &key).await;
    r.assert_error(400, 60315);
    let list = ctx
        .get(
            &format!("v2/Services/{va}/Entities/{IDENTITY}/Factors"),
            Auth::Account,
        )
        .await;
    assert_eq!(list.body["factors"].as_array().unwrap().len(), 20);
    let r = ctx
        .delete(&ctx.factor_path(&va, &devices[0]), Auth::Account)
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = ctx.create_factor(&va, IDENTITY, &token, &key).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

/// Device JWTs must look like the SDKs' (`typ` JWT, `cty` twilio-pba;v=1) and live at most
/// 10 minutes; each bad variant is refused with 401/20003, the SDK-shaped one passes.
#[tokio::test]
async fn device_jwt_header_and_lifetime_rules() {
    use serde_json::json;
    let ctx = Ctx::new().await;
    let va = ctx.service().await;
    let dev = ctx.enroll(&va, IDENTITY).await;
    let acct = ctx.emu.account_sid().to_string();
    let now = chrono::Utc::now().timestamp();
    let header = |typ: Option<&str>, cty: Option<&str>| {
        let mut h = json!({"kid": dev.credential_sid, "alg": "ES256"});
        if let Some(t) = typ {
            h["typ"] = json!(t);
        }
        if let Some(c) = cty {
            h["cty"] = json!(c);
        }
        h
    };
    let claims = |nbf: i64, exp: i64| json!({"sub": acct, "nbf": nbf, "exp": exp});
    let sdk_cty = Some("twilio-pba;v=1");
    let cases: [(&str, Value, Value, u16); 7] = [
        (
            "SDK shape",
            header(Some("JWT"), sdk_cty),
            claims(now, now + 600),
            200,
        ),
        ("no typ", header(None, sdk_cty), claims(now, now + 600), 401),
        (
            "typ JWS",
            header(Some("JWS"), sdk_cty),
            claims(now, now + 600),
            401,
        ),
        (
            "no cty",
            header(Some("JWT"), None),
            claims(now, now + 600),
            401,
        ),
        (
            "other cty",
            header(Some("JWT"), Some("twilio-fpa;v=1")),
            claims(now, now + 600),
            401,
        ),
        (
            "601 s lifetime",
            header(Some("JWT"), sdk_cty),
            claims(now, now + 601),
            401,
        ),
        (
            "a day",
            header(Some("JWT"), sdk_cty),
            claims(now - 10, now + 86_400),
            401,
        ),
    ];
    for (what, h, c, want) in &cases {
        let jwt = dev.key.sign_jws(h, c);
        let r = ctx
            .get(&ctx.factor_path(&va, &dev), Auth::Device(&jwt))
            .await;
        if *want == 200 {
            assert_eq!(r.status, 200, "{what}: {}", r.text);
        } else {
            r.assert_error(401, 20003);
        }
    }
}

/// `Config.AppId` is not an update parameter in Twilio's spec: the SDKs send it anyway, so
/// the update succeeds, but the stored `app_id` keeps its create-time value.
#[tokio::test]
async fn factor_update_ignores_config_app_id() {
    let ctx = Ctx::new().await;
    let va = ctx.service().await;
    let dev = ctx.enroll(&va, IDENTITY).await;
    let r = ctx
        .post(
            &ctx.factor_path(&va, &dev),
            Auth::Device(&ctx.jwt(&dev)),
            &[
                ("FriendlyName", "Renamed"),
                ("Config.SdkVersion", "0.2.0"),
                ("Config.AppId", "com.attacker.other"),
                ("Config.NotificationPlatform", "none"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["friendly_name"], "Renamed");
    assert_eq!(r.body["config"]["sdk_version"], "0.2.0");
    assert_eq!(r.body["config"]["app_id"], "dev.assent.Assent");
    let r = ctx.get(&ctx.factor_path(&va, &dev), Auth::Account).await;
    assert_eq!(r.body["config"]["app_id"], "dev.assent.Assent");
}

fn signature_fields(r: &common::Resp) -> String {
    r.headers
        .get("Twilio-Verify-Signature-Fields")
        .and_then(|v| v.to_str().ok())
        .expect("Twilio-Verify-Signature-Fields header")
        .to_string()
}

/// Signs `list` in the reverse of its order (an iOS-like client: right fields, other order).
fn reversed(list: &str) -> String {
    list.split(',').rev().collect::<Vec<_>>().join(",")
}

/// Posts an answer signed over `fields` (in that order) of the fetched challenge.
async fn answer_signing(
    ctx: &Ctx,
    va: &str,
    dev: &common::Device,
    yc: &str,
    fetched: &Value,
    fields: &str,
) -> common::Resp {
    let jws = dev.key.challenge_jws(fetched, fields, "approved");
    ctx.post(
        &ctx.challenge_path(va, dev, yc),
        Auth::Device(&ctx.jwt(dev)),
        &[("AuthPayload", &jws)],
    )
    .await
}

/// With another signature-field set, a device that signs what the header lists is accepted
/// (in the header's order or another, as iOS may send), and one that signs the default list
/// it remembered is refused with 60324, leaving the challenge pending. Challenges made before
/// the change keep their list.
#[tokio::test]
async fn signature_field_list_is_per_challenge_and_must_be_followed() {
    use verify_emulator::api::challenges::SIGNATURE_FIELDS as HARD_CODED;
    let ctx = Ctx::new().await;
    let va = ctx.service().await;
    let dev = ctx.enroll(&va, IDENTITY).await;
    let before = ctx.challenge(&va, &dev, "Made before").await;
    let before_sid = before["sid"].as_str().unwrap().to_string();

    for list in [
        "sid,expiration_date,identity",
        "factor_type,hidden_details,sid,entity_sid,service_sid,account_sid,responded_reason",
        // The default set minus one field: a hard-coded client signs one claim too many.
        "sid,factor_sid,details,hidden_details,expiration_date,status",
    ] {
        ctx.emu.set_faults(Faults {
            signature_fields: Some(list.into()),
            ..Faults::default()
        });
        for (signs, want) in [(HARD_CODED.to_string(), 403), (reversed(list), 200)] {
            let c = ctx.challenge(&va, &dev, "Which fields?").await;
            let yc = c["sid"].as_str().unwrap().to_string();
            let fetched = ctx.fetch_challenge(&va, &dev, &yc).await;
            assert_eq!(signature_fields(&fetched), list);
            let r = answer_signing(&ctx, &va, &dev, &yc, &fetched.body, &signs).await;
            if want == 200 {
                assert_eq!(r.status, 200, "{list} signed as {signs}: {}", r.text);
                continue;
            }
            r.assert_error(403, 60324);
            assert!(
                r.body["message"].as_str().unwrap().contains(list),
                "{}",
                r.text
            );
            let r = ctx
                .get(&ctx.challenge_path(&va, &dev, &yc), Auth::Account)
                .await;
            assert_eq!(r.body["status"], "pending");
            let r = ctx.answer(&va, &dev, &yc, "approved").await;
            assert_eq!(r.status, 200, "{list}: {}", r.text);
        }
    }

    // The challenge made before keeps the default list (and the lenient check).
    let fetched = ctx.fetch_challenge(&va, &dev, &before_sid).await;
    assert_eq!(signature_fields(&fetched), HARD_CODED);
    let r = ctx.answer(&va, &dev, &before_sid, "denied").await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// `StrictSignatureOrder`: the claims must also follow the header's order. With the default
/// set listed in another order, the hard-coded order and a reordered signature are refused,
/// the header's order passes.
#[tokio::test]
async fn strict_signature_order_refuses_a_hard_coded_order() {
    use verify_emulator::api::challenges::SIGNATURE_FIELDS as HARD_CODED;
    let ctx = Ctx::new().await;
    let va = ctx.service().await;
    let dev = ctx.enroll(&va, IDENTITY).await;
    let list = "status,date_created,sid,details,factor_sid,hidden_details,expiration_date";
    ctx.emu.set_faults(Faults {
        signature_fields: Some(list.into()),
        strict_signature_order: true,
        ..Faults::default()
    });
    let c = ctx.challenge(&va, &dev, "In order?").await;
    let yc = c["sid"].as_str().unwrap().to_string();
    let fetched = ctx.fetch_challenge(&va, &dev, &yc).await;
    assert_eq!(signature_fields(&fetched), list);
    for signs in [HARD_CODED.to_string(), reversed(list)] {
        let r = answer_signing(&ctx, &va, &dev, &yc, &fetched.body, &signs).await;
        r.assert_error(403, 60324);
        assert!(
            r.body["message"].as_str().unwrap().contains("order"),
            "{}",
            r.text
        );
    }
    let r = answer_signing(&ctx, &va, &dev, &yc, &fetched.body, list).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // The same set without StrictSignatureOrder: the hard-coded order is accepted, as Twilio
    // must accept iOS's arbitrary key order.
    ctx.emu.set_faults(Faults {
        signature_fields: Some(list.into()),
        ..Faults::default()
    });
    let c = ctx.challenge(&va, &dev, "Any order?").await;
    let yc = c["sid"].as_str().unwrap().to_string();
    let fetched = ctx.fetch_challenge(&va, &dev, &yc).await;
    let r = answer_signing(&ctx, &va, &dev, &yc, &fetched.body, HARD_CODED).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// `VarySignatureFields` (with `StrictSignatureOrder`): every new challenge has its own list;
/// following the header always works, the lists differ, and the hard-coded list fails
/// whenever it is not the one sent.
#[tokio::test]
async fn varied_signature_fields_over_http() {
    use verify_emulator::api::challenges::SIGNATURE_FIELDS as HARD_CODED;
    let ctx = Ctx::new().await;
    let va = ctx.service().await;
    let dev = ctx.enroll(&va, IDENTITY).await;
    for bad in ["sid,nope", "identity,status", "sid,sid", "sid,url"] {
        ctx.post(
            "_emulator/faults",
            Auth::Account,
            &[("SignatureFields", bad)],
        )
        .await
        .assert_error(400, 60200);
    }
    let r = ctx
        .post(
            "_emulator/faults",
            Auth::Account,
            &[
                ("VarySignatureFields", "true"),
                ("StrictSignatureOrder", "true"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["vary_signature_fields"], true);
    assert_eq!(r.body["strict_signature_order"], true);
    let mut lists = std::collections::BTreeSet::new();
    for _ in 0..8 {
        let c = ctx.challenge(&va, &dev, "Random fields").await;
        let yc = c["sid"].as_str().unwrap().to_string();
        let fetched = ctx.fetch_challenge(&va, &dev, &yc).await;
        let list = signature_fields(&fetched);
        assert!(list.split(',').any(|f| f == "sid"), "{list}");
        if list != HARD_CODED {
            let jws = dev.key.challenge_jws(&fetched.body, HARD_CODED, "denied");
            ctx.post(
                &ctx.challenge_path(&va, &dev, &yc),
                Auth::Device(&ctx.jwt(&dev)),
                &[("AuthPayload", &jws)],
            )
            .await
            .assert_error(403, 60324);
        }
        let r = ctx.answer(&va, &dev, &yc, "approved").await;
        assert_eq!(r.status, 200, "{list}: {}", r.text);
        lists.insert(list);
    }
    assert!(lists.len() > 1, "the list never changed: {lists:?}");
    let r = ctx
        .post(
            "_emulator/faults",
            Auth::Account,
            &[
                ("VarySignatureFields", "false"),
                ("StrictSignatureOrder", "false"),
                ("SignatureFields", ""),
            ],
        )
        .await;
    assert_eq!(r.body["vary_signature_fields"], false);
    assert_eq!(r.body["strict_signature_order"], false);
    assert_eq!(r.body["signature_fields"], Value::Null);
}

/// An unverified factor lives one hour (`UNVERIFIED_FACTOR_TTL_SECS`): at 3599 s it can still
/// be fetched; from 3600 s fetch, verify, update and delete answer 404/20404 as for a deleted
/// factor, its device JWT no longer authenticates (401/20003), lists and the 20-factor limit
/// leave it out, and a verified factor of the same age is untouched.
#[tokio::test]
async fn unverified_factor_expires_after_an_hour() {
    use verify_emulator::db::factors::UNVERIFIED_FACTOR_TTL_SECS;
    let ctx = Ctx::new().await;
    let va = ctx.service().await;
    let kept = ctx.enroll(&va, IDENTITY).await;
    let stale = ctx.create_unverified(&va, IDENTITY).await;
    let path = ctx.factor_path(&va, &stale);
    let at = |secs: i64| {
        ctx.emu.set_faults(Faults {
            clock_offset_secs: secs,
            ..Faults::default()
        })
    };
    let shifted_jwt = |secs: i64| {
        let now = chrono::Utc::now().timestamp() + secs;
        stale
            .key
            .device_jwt(&stale.credential_sid, ctx.emu.account_sid(), now, now + 600)
    };

    at(UNVERIFIED_FACTOR_TTL_SECS - 60);
    let r = ctx.get(&path, Auth::Account).await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (200, Some("unverified"))
    );
    let jwt = shifted_jwt(UNVERIFIED_FACTOR_TTL_SECS - 60);
    assert_eq!(ctx.get(&path, Auth::Device(&jwt)).await.status, 200);

    at(UNVERIFIED_FACTOR_TTL_SECS);
    ctx.get(&path, Auth::Account).await.assert_error(404, 20404);
    let payload = stale.key.sign_der_b64(&stale.factor_sid);
    ctx.post(&path, Auth::Account, &[("AuthPayload", &payload)])
        .await
        .assert_error(404, 20404);
    ctx.post(&path, Auth::Account, &[("FriendlyName", "Late")])
        .await
        .assert_error(404, 20404);
    let jwt = shifted_jwt(UNVERIFIED_FACTOR_TTL_SECS);
    ctx.post(&path, Auth::Device(&jwt), &[("AuthPayload", &payload)])
        .await
        .assert_error(401, 20003);
    ctx.delete(&path, Auth::Account)
        .await
        .assert_error(404, 20404);
    let list = ctx
        .get(
            &format!("v2/Services/{va}/Entities/{IDENTITY}/Factors"),
            Auth::Account,
        )
        .await;
    let sids: Vec<&str> = list.body["factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["sid"].as_str().unwrap())
        .collect();
    assert_eq!(sids, vec![kept.factor_sid.as_str()], "{}", list.text);
    let r = ctx.get(&ctx.factor_path(&va, &kept), Auth::Account).await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (200, Some("verified"))
    );
    // Challenges on an expired factor: the factor is missing, as for a deleted one.
    let r = ctx
        .post(
            &format!("v2/Services/{va}/Entities/{IDENTITY}/Challenges"),
            Auth::Account,
            &[
                ("FactorSid", stale.factor_sid.as_str()),
                ("Details.Message", "Sign in"),
            ],
        )
        .await;
    r.assert_error(404, 20404);
}

/// The 20-factor limit counts live factors only: 19 verified plus one expired unverified
/// leaves room for another enrolment.
#[tokio::test]
async fn expired_unverified_factors_do_not_count_toward_the_limit() {
    use verify_emulator::db::factors::UNVERIFIED_FACTOR_TTL_SECS;
    let ctx = Ctx::new().await;
    let va = ctx.service().await;
    for _ in 0..19 {
        ctx.enroll(&va, IDENTITY).await;
    }
    ctx.create_unverified(&va, IDENTITY).await;
    let key = verify_emulator::testing::DeviceKey::generate();
    let token = ctx.access_token(&va, IDENTITY).await;
    ctx.create_factor(&va, IDENTITY, &token, &key)
        .await
        .assert_error(400, 60315);
    ctx.emu.set_faults(Faults {
        clock_offset_secs: UNVERIFIED_FACTOR_TTL_SECS,
        ..Faults::default()
    });
    let token = ctx.access_token(&va, IDENTITY).await;
    let r = ctx.create_factor(&va, IDENTITY, &token, &key).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

/// `Binding.PublicKey` and the verify `AuthPayload` are standard padded base64 (reference
/// §D1/§D2, OAI "encoded in Base64"): unpadded, URL-safe, line-wrapped or `+`-as-space input is
/// refused (400/60200 for the key, 403/60311 for the payload), and nothing is lost: the
/// access token still enrols and the factor stays unverified until the proper payload.
#[tokio::test]
async fn base64_fields_must_be_standard_and_padded() {
    let ctx = Ctx::new().await;
    let va = ctx.service().await;
    // A key whose base64 has a `+` (an SPKI always ends in `==`), so every variant below
    // really differs from the canonical text.
    let (key, pk) = loop {
        let key = verify_emulator::testing::DeviceKey::generate();
        let pk = key.public_key_b64();
        if pk.contains('+') {
            break (key, pk);
        }
    };
    let identity = "b64-identity".to_string();
    let token = ctx.access_token(&va, &identity).await;
    let fpath = format!("v2/Services/{va}/Entities/{identity}/Factors");
    let form = |pk: &str| -> Vec<(String, String)> {
        [
            ("FriendlyName", "Mac"),
            ("FactorType", "push"),
            ("Binding.PublicKey", pk),
            ("Binding.Alg", "ES256"),
            ("Config.SdkVersion", "0.1.0"),
            ("Config.AppId", "dev.assent.Assent"),
            ("Config.NotificationPlatform", "none"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
    };
    let url_safe = |s: &str| s.replace('+', "-").replace('/', "_");
    let wrapped = format!("{}\n{}", &pk[..64], &pk[64..]);
    for bad in [
        pk.trim_end_matches('=').to_string(),
        url_safe(&pk),
        url_safe(pk.trim_end_matches('=')),
        pk.replace('+', " "),
        wrapped,
        format!("{pk}="),
    ] {
        let f = form(&bad);
        let f: Vec<(&str, &str)> = f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let r = ctx.post(&fpath, Auth::Device(&token), &f).await;
        r.assert_error(400, 60200);
        assert!(
            r.body["message"]
                .as_str()
                .unwrap()
                .contains("Binding.PublicKey"),
            "{bad:?}: {}",
            r.text
        );
    }
    let f = form(&pk);
    let f: Vec<(&str, &str)> = f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let r = ctx.post(&fpath, Auth::Device(&token), &f).await;
    assert_eq!(r.status, 201, "the token is still usable: {}", r.text);
    assert_eq!(r.body["binding"]["public_key"], pk.as_str());
    let dev = common::Device {
        key,
        factor_sid: r.body["sid"].as_str().unwrap().into(),
        credential_sid: r.body["config"]["credential_sid"].as_str().unwrap().into(),
        identity: identity.clone(),
    };
    let path = ctx.factor_path(&va, &dev);
    let good = dev.key.sign_der_b64(&dev.factor_sid);
    // The signature is the server's SID signed, so padding and `+`/`/` vary: variants that
    // would equal the canonical text are skipped; the extra `=` always differs.
    let variants: Vec<String> = [
        good.trim_end_matches('=').to_string(),
        url_safe(&good),
        good.replace('+', " "),
        format!("{good}="),
    ]
    .into_iter()
    .filter(|v| *v != good)
    .collect();
    for bad in variants {
        let jwt = ctx.jwt(&dev);
        ctx.post(&path, Auth::Device(&jwt), &[("AuthPayload", &bad)])
            .await
            .assert_error(403, 60311);
        let r = ctx.get(&path, Auth::Account).await;
        assert_eq!(r.body["status"], "unverified", "{bad:?}");
    }
    let jwt = ctx.jwt(&dev);
    let r = ctx
        .post(&path, Auth::Device(&jwt), &[("AuthPayload", &good)])
        .await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (200, Some("verified")),
        "{}",
        r.text
    );
}
