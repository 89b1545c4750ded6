//! Control routes: reset and seed (account credentials), the request log (redacted) and the
//! health check; the demo's request log page.

mod common;

use common::{Auth, Ctx, IDENTITY};
use serde_json::Value;
use verify_emulator::testing::basic;

const VA: &str = "VA0123456789abcdef0123456789abcdef";

async fn post_json(ctx: &Ctx, path: &str, auth: Option<String>, body: &str) -> (u16, Value) {
    let mut rb = ctx
        .http
        .post(ctx.url(path))
        .header("Content-Type", "application/json")
        .body(body.to_string());
    if let Some(a) = auth {
        rb = rb.header("Authorization", a);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn service_count(ctx: &Ctx) -> usize {
    let r = ctx.get("v2/Services", Auth::Account).await;
    r.body["services"].as_array().unwrap().len()
}

#[tokio::test]
async fn admin_routes_refuse_without_the_account_credentials() {
    let ctx = Ctx::new().await;
    ctx.service().await;
    let wrong = basic(ctx.emu.account_sid(), "not-the-token");
    for prefix in ["_emulator", "__emulator"] {
        for auth in [None, Some(wrong.clone())] {
            let (s, body) = post_json(&ctx, &format!("{prefix}/reset"), auth.clone(), "").await;
            assert_eq!((s, body["code"].as_i64()), (401, Some(20003)), "{body}");
            let seed = format!(r#"{{"services":[{{"sid":"{VA}","friendly_name":"X"}}]}}"#);
            let (s, _) = post_json(&ctx, &format!("{prefix}/seed"), auth.clone(), &seed).await;
            assert_eq!(s, 401);
            let mut rb = ctx.http.get(ctx.url(&format!("{prefix}/requests")));
            if let Some(a) = &auth {
                rb = rb.header("Authorization", a);
            }
            assert_eq!(rb.send().await.unwrap().status(), 401);
        }
    }
    // Nothing was reset or seeded.
    assert_eq!(service_count(&ctx).await, 1);
    let r = ctx.get(&format!("v2/Services/{VA}"), Auth::Account).await;
    assert_eq!(r.status, 404);
    // Health is open and says little.
    let r = ctx.get("__emulator/health", Auth::None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "ok");
    assert_eq!(r.body["webhooks"]["dropped"], 0);
}

#[tokio::test]
async fn reset_empties_and_seed_creates_a_known_state() {
    let ctx = Ctx::new().await;
    let va = ctx.service().await;
    ctx.enroll(&va, IDENTITY).await;
    let (s, _) = post_json(&ctx, "_emulator/reset", Some(ctx.account_auth()), "").await;
    assert_eq!(s, 200);
    assert_eq!(service_count(&ctx).await, 0);
    // The credentials survive a reset.
    let seed = format!(
        r#"{{"services":[{{"sid":"{VA}","friendly_name":"Shop","entities":["{IDENTITY}","user-0002"]}},{{"friendly_name":"Other"}}]}}"#
    );
    let (s, made) = post_json(&ctx, "_emulator/seed", Some(ctx.account_auth()), &seed).await;
    assert_eq!(s, 201, "{made}");
    assert_eq!(made["services"][0]["sid"], VA);
    assert_eq!(made["services"][0]["entities"][1]["identity"], "user-0002");
    let r = ctx
        .get(
            &format!("v2/Services/{VA}/Entities/{IDENTITY}"),
            Auth::Account,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["sid"], made["services"][0]["entities"][0]["sid"]);
    let r = ctx.get(&format!("v2/Services/{VA}"), Auth::Account).await;
    assert_eq!(r.body["friendly_name"], "Shop");
    assert_eq!(service_count(&ctx).await, 2);
    // Enrolment works against a seeded service.
    ctx.enroll(VA, "user-0002").await;
}

#[tokio::test]
async fn hostile_seeds_are_refused_and_change_nothing() {
    let ctx = Ctx::new().await;
    let auth = || Some(ctx.account_auth());
    let dup = format!(
        r#"{{"services":[{{"sid":"{VA}","friendly_name":"A"}},{{"sid":"{VA}","friendly_name":"B"}}]}}"#
    );
    let many = format!(
        r#"{{"services":[{{"friendly_name":"A","entities":[{}]}}]}}"#,
        (0..1001)
            .map(|i| format!("\"user-{i:05}\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    for (body, why) in [
        ("not json", "JSON"),
        (
            r#"{"services":[{"friendly_name":"A","admin":true}]}"#,
            "unknown field",
        ),
        (
            r#"{"services":[{"sid":"VA' OR 1=1","friendly_name":"A"}]}"#,
            "VA + 32 hex",
        ),
        (
            r#"{"services":[{"friendly_name":""}]}"#,
            "must not be empty",
        ),
        (
            r#"{"services":[{"friendly_name":"A","entities":["a@b.example"]}]}"#,
            "Identity",
        ),
        (dup.as_str(), "already exists"),
        (many.as_str(), "at most 1000"),
    ] {
        let (s, err) = post_json(&ctx, "_emulator/seed", auth(), body).await;
        assert_eq!(
            (s, err["code"].as_i64()),
            (400, Some(60200)),
            "{why}: {err}"
        );
        assert!(
            err["message"].as_str().unwrap_or_default().contains(why),
            "{why}: {err}"
        );
    }
    // The duplicate seed's first service was rolled back with the rest.
    assert_eq!(service_count(&ctx).await, 0);
}

#[tokio::test]
async fn request_log_has_method_path_status_time_and_no_secrets() {
    let ctx = Ctx::new().await;
    let va = ctx.service().await;
    let token = ctx.access_token(&va, IDENTITY).await;
    let r = ctx
        .get(
            &format!("v2/Services/{va}/Entities?Note=query-secret&PageSize=2"),
            Auth::Account,
        )
        .await;
    assert_eq!(r.status, 200);
    let r = ctx
        .post(
            &format!("v2/Services/{va}/Entities/{IDENTITY}/Factors"),
            Auth::Raw(format!("Basic {}", "dG9rZW46Ym9keS1zZWNyZXQ=")),
            &[("FriendlyName", "body-secret"), ("Binding.PublicKey", "x")],
        )
        .await;
    assert_ne!(r.status, 201);
    let r = ctx.get("_emulator/requests", Auth::Account).await;
    assert_eq!(r.status, 200);
    let log = &r.body["requests"];
    let entries = log.as_array().unwrap();
    // Newest first: the entity list is right behind the factor attempt.
    assert_eq!(entries[1]["method"], "GET");
    assert_eq!(entries[1]["path"], format!("/v2/Services/{va}/Entities"));
    assert_eq!(entries[1]["status"], 200);
    assert!(entries[1]["ms"].as_f64().unwrap() >= 0.0);
    assert!(entries[1]["at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(entries[0]["method"], "POST");
    assert_eq!(entries[0]["status"], 401);
    let text = log.to_string();
    for secret in [
        "query-secret",
        "PageSize",
        "body-secret",
        "dG9rZW46",
        "Basic",
        ctx.emu.auth_token(),
        token.as_str(),
    ] {
        assert!(
            !text.contains(secret),
            "{secret:?} leaked into the log: {text}"
        );
    }
    for key in entries.iter().flat_map(|e| e.as_object().unwrap().keys()) {
        assert!(
            ["at", "method", "path", "status", "ms"].contains(&key.as_str()),
            "unexpected field {key}"
        );
    }
    // The demo shows the same log.
    let page = ctx.http.get(ctx.url("demo/requests")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("data-testid=\"request-log\""), "{html}");
    assert!(
        html.contains(&format!("/v2/Services/{va}/Entities")),
        "{html}"
    );
    assert!(!html.contains("query-secret"));
}
