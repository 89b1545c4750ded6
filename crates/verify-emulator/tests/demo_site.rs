//! The demo relying party over real loopback HTTP: pages render with strict headers, the
//! enrolment payload really enrols a P-256 device, sign-in creates a challenge visible through
//! the API, and the status page follows the device's answer.

#[path = "support_schema/mod.rs"]
mod support_schema;

use std::net::IpAddr;

use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, X_CONTENT_TYPE_OPTIONS};
use reqwest::redirect::Policy;
use serde_json::Value;
use sha2::{Digest, Sha256};
use support_schema::device::Device;
use verify_emulator::{spawn, EmulatorConfig, RunningEmulator};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

struct Site {
    emu: RunningEmulator,
    http: reqwest::Client,
}

/// A browser-like client; `local` binds its side of each connection to that address.
fn browser(local: Option<IpAddr>) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(Policy::none())
        .user_agent(FIREFOX)
        .local_address(local)
        .build()
        .expect("client")
}

impl Site {
    async fn start() -> Site {
        let emu = spawn(EmulatorConfig::default())
            .await
            .expect("emulator starts");
        Site {
            emu,
            http: browser(None),
        }
    }

    fn url(&self, path: &str) -> url::Url {
        self.emu
            .base_url()
            .join(path.trim_start_matches('/'))
            .expect("url")
    }

    fn api_base(&self) -> url::Url {
        self.emu.base_url().join("v2/").expect("api base")
    }

    /// GET a page; asserts the security headers every demo answer carries.
    async fn page(&self, path: &str) -> (u16, String) {
        let response = self.http.get(self.url(path)).send().await.expect("GET");
        let status = response.status().as_u16();
        check_security_headers(response.headers(), path);
        (status, response.text().await.expect("body"))
    }

    async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
        let response = self
            .http
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("POST");
        let status = response.status().as_u16();
        check_security_headers(response.headers(), path);
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, location, response.text().await.expect("body"))
    }

    async fn api_get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(self.api_base().join(path).expect("url"))
            .basic_auth(self.emu.account_sid(), Some(self.emu.auth_token()))
            .send()
            .await
            .expect("API GET");
        assert!(
            response.status().is_success(),
            "API GET {path}: {}",
            response.status()
        );
        response.json().await.expect("JSON")
    }
}

fn check_security_headers(headers: &reqwest::header::HeaderMap, path: &str) {
    let csp = headers
        .get(CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("{path}: no CSP header"));
    assert!(csp.contains("default-src 'self'"), "{path}: CSP {csp}");
    assert!(!csp.contains("unsafe-inline"), "{path}: CSP {csp}");
    assert_eq!(
        headers
            .get(X_CONTENT_TYPE_OPTIONS)
            .and_then(|v| v.to_str().ok()),
        Some("nosniff"),
        "{path}"
    );
}

/// Pages must work under `default-src 'self'`: no inline script, style or handlers, no
/// external assets or links.
fn check_csp_friendly(html: &str) {
    for bad in [
        "<script",
        " style=",
        "onclick=",
        "onload=",
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
    ] {
        assert!(!html.contains(bad), "page contains {bad:?}:\n{html}");
    }
}

fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(text[from..to].to_owned())
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn status_of(html: &str) -> String {
    let tag = between(html, "id=\"challenge-status\"", ">").expect("status element");
    between(&tag, "data-status=\"", "\"").expect("data-status")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_with_strict_headers_and_css() {
    let site = Site::start().await;
    let (status, index) = site.page("/demo").await;
    assert_eq!(status, 200, "{index}");
    assert!(index.contains("Create a user"), "{index}");
    check_csp_friendly(&index);

    let response = site
        .http
        .get(site.url("/demo/static/style.css"))
        .send()
        .await
        .expect("css");
    assert_eq!(response.status().as_u16(), 200);
    let ct = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(ct.starts_with("text/css"), "{ct}");
    assert!(response
        .text()
        .await
        .expect("css body")
        .contains(".status-approved"));

    let (status, missing) = site.page("/demo/no-such-page").await;
    assert_eq!(status, 404, "{missing}");
    assert!(
        missing.contains("data-error-code=\"not_found\""),
        "{missing}"
    );

    let (status, signin) = site.page("/demo/signin").await;
    assert_eq!(status, 200);
    assert!(signin.contains("No users yet"), "{signin}");

    // The service is created once and reused across requests.
    site.page("/demo").await;
    let services = site.api_get("Services").await;
    let demo_services: Vec<&Value> = services["services"]
        .as_array()
        .expect("services")
        .iter()
        .filter(|s| s["friendly_name"] == "Assent Demo")
        .collect();
    assert_eq!(demo_services.len(), 1, "{services}");
    site.emu.shutdown().await;
}

/// design.md and scripts/run.sh open `…/demo/`; server.rs redirects it to the start page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_page_answers_with_a_trailing_slash() {
    let site = Site::start().await;
    let response = site.http.get(site.url("/demo/")).send().await.expect("GET");
    assert_eq!(response.status().as_u16(), 308);
    let location = response.headers().get("location").expect("location");
    assert_eq!(location.to_str().expect("ascii"), "/demo");
    let (status, start) = site.page("/demo").await;
    assert_eq!(status, 200, "{start}");
    assert!(start.contains("Create a user"), "{start}");
    site.emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usernames_are_escaped_and_bad_input_is_a_typed_error() {
    let site = Site::start().await;
    let evil = "<script>alert(\"x\")</script>";
    let (status, location, _) = site.post_form("/demo/users", &[("username", evil)]).await;
    assert_eq!(status, 303);
    assert_eq!(
        location,
        format!("/demo/enroll?identity={}", sha256_hex(evil))
    );
    let (_, index) = site.page("/demo").await;
    assert!(
        index.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"),
        "{index}"
    );
    check_csp_friendly(&index);

    let (status, body, _) = site.post_form("/demo/users", &[("username", "   ")]).await;
    assert_eq!(status, 400, "{body}");
    let (status, page) = site.page("/demo/enroll?identity=../../Services").await;
    assert_eq!(status, 400);
    assert!(page.contains("data-error-code=\"input\""), "{page}");

    // An API error shows Twilio's code and message.
    let identity = sha256_hex(evil);
    let (status, page) = site
        .page(&format!("/demo/challenges/{identity}/YC{}", "0".repeat(32)))
        .await;
    assert_eq!(status, 404, "{page}");
    assert!(page.contains("data-error-code=\"api\""), "{page}");
    assert!(page.contains("class=\"twilio-code\">20404<"), "{page}");
    site.emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrol_sign_in_and_follow_the_answer() {
    let site = Site::start().await;
    let identity = sha256_hex("alice");

    let (status, location, _) = site
        .post_form("/demo/users", &[("username", "alice")])
        .await;
    assert_eq!(
        (status, location.as_str()),
        (303, format!("/demo/enroll?identity={identity}").as_str())
    );

    // Enrolment page: link, QR and JSON payload that agree with each other.
    let (status, page) = site.page(&location).await;
    assert_eq!(status, 200, "{page}");
    check_csp_friendly(&page);
    assert!(page.contains("<svg"), "no inline QR code");
    assert!(page.contains("300 s"), "TTL not shown");
    let payload: Value = serde_json::from_str(&unescape(
        &between(&page, "data-testid=\"enroll-payload\">", "</pre>").expect("payload"),
    ))
    .expect("payload is JSON");
    let api_base = site.api_base();
    assert_eq!(payload["identity"], identity.as_str());
    assert_eq!(payload["factorType"], "push");
    assert_eq!(payload["baseUrl"], api_base.as_str());
    let service_sid = payload["serviceSid"]
        .as_str()
        .expect("serviceSid")
        .to_owned();
    assert!(
        service_sid.starts_with("VA") && service_sid.len() == 34,
        "{service_sid}"
    );
    let token = payload["token"].as_str().expect("token").to_owned();

    let link = unescape(&between(&page, "href=\"assent://", "\"").expect("link"));
    let link = url::Url::parse(&format!("assent://{link}")).expect("link parses");
    assert_eq!(link.host_str(), Some("enroll"));
    let query: std::collections::BTreeMap<String, String> =
        link.query_pairs().into_owned().collect();
    assert_eq!(query["token"], token);
    assert_eq!(query["serviceSid"], service_sid);
    assert_eq!(query["identity"], identity);
    assert_eq!(query["factorType"], "push");
    assert_eq!(query["baseUrl"], api_base.as_str());

    // A device enrols with exactly what the page handed out.
    let base = url::Url::parse(payload["baseUrl"].as_str().expect("baseUrl")).expect("baseUrl");
    let device = Device::enroll(
        &site.http,
        &base,
        &token,
        &service_sid,
        &identity,
        "Alice's desktop",
    )
    .await
    .expect("device enrols with the demo payload");

    // Sign-in lists the factor and creates a challenge visible through the API.
    let (status, picker) = site
        .page(&format!("/demo/signin?identity={identity}"))
        .await;
    assert_eq!(status, 200);
    assert!(picker.contains(&device.factor_sid()), "{picker}");
    check_csp_friendly(&picker);
    let factor_sid = device.factor_sid();
    let (status, location, _) = site
        .post_form(
            "/demo/signin",
            &[("identity", &identity), ("factor_sid", &factor_sid)],
        )
        .await;
    assert_eq!(status, 303);
    let challenge_sid = location
        .strip_prefix(&format!("/demo/challenges/{identity}/"))
        .unwrap_or_else(|| panic!("redirect {location}"))
        .to_owned();
    let challenge = site
        .api_get(&format!(
            "Services/{service_sid}/Entities/{identity}/Challenges/{challenge_sid}"
        ))
        .await;
    assert_eq!(challenge["status"], "pending");
    assert_eq!(challenge["factor_sid"], factor_sid.as_str());
    assert_eq!(challenge["details"]["message"], "Sign in to Assent Demo");
    let fields: Vec<(String, String)> = challenge["details"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| {
            (
                f["label"].as_str().unwrap_or_default().to_owned(),
                f["value"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let labels: Vec<&str> = fields.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, ["Browser", "IP", "Location", "Time"]);
    assert_eq!(fields[0].1, "Firefox on Linux");
    assert_eq!(fields[2].1, "Localhost");
    let transaction = challenge["hidden_details"]["transaction_id"]
        .as_str()
        .expect("transaction_id")
        .to_owned();
    assert!(transaction.starts_with("tx-"), "{transaction}");

    // Status page: pending (refreshing), then approved after the device answers.
    let (status, pending) = site.page(&location).await;
    assert_eq!(status, 200);
    assert_eq!(status_of(&pending), "pending");
    assert!(
        pending.contains("http-equiv=\"refresh\""),
        "pending page does not refresh"
    );
    assert!(pending.contains(&transaction));
    check_csp_friendly(&pending);
    let answered = device
        .answer(&challenge_sid, "approved")
        .await
        .expect("device approves");
    assert_eq!(answered["status"], "approved");
    let (_, approved) = site.page(&location).await;
    assert_eq!(status_of(&approved), "approved");
    assert!(
        !approved.contains("http-equiv=\"refresh\""),
        "finished page still refreshes"
    );

    // A second sign-in, denied.
    let (_, location, _) = site
        .post_form(
            "/demo/signin",
            &[("identity", &identity), ("factor_sid", &factor_sid)],
        )
        .await;
    let second = location.rsplit('/').next().expect("sid").to_owned();
    assert_ne!(second, challenge_sid);
    device
        .answer(&second, "denied")
        .await
        .expect("device denies");
    let (_, denied) = site.page(&location).await;
    assert_eq!(status_of(&denied), "denied");
    site.emu.shutdown().await;
}

/// The IP field of a sign-in request is the peer address of the real TCP connection. The
/// browser connects from 127.0.0.2 (still loopback; Linux routes all of 127/8 there) so the
/// answer cannot be the server's own 127.0.0.1 by accident, and it sends an X-Forwarded-For
/// header that must be ignored (see `peer_ip` in demo/pages/signin.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_shows_the_peer_address_of_the_socket() {
    let site = Site::start().await;
    let identity = sha256_hex("dora");
    let (status, location, _) = site.post_form("/demo/users", &[("username", "dora")]).await;
    assert_eq!(status, 303, "{location}");
    let (_, page) = site.page(&location).await;
    let payload: Value = serde_json::from_str(&unescape(
        &between(&page, "data-testid=\"enroll-payload\">", "</pre>").expect("payload"),
    ))
    .expect("payload is JSON");
    let service_sid = payload["serviceSid"]
        .as_str()
        .expect("serviceSid")
        .to_owned();
    let device = Device::enroll(
        &site.http,
        &site.api_base(),
        payload["token"].as_str().expect("token"),
        &service_sid,
        &identity,
        "Dora's laptop",
    )
    .await
    .expect("device enrols");

    let peer: IpAddr = "127.0.0.2".parse().expect("ip");
    let response = browser(Some(peer))
        .post(site.url("/demo/signin"))
        .header("X-Forwarded-For", "203.0.113.7")
        .form(&[
            ("identity", identity.as_str()),
            ("factor_sid", device.factor_sid().as_str()),
        ])
        .send()
        .await
        .expect("POST /demo/signin from 127.0.0.2");
    assert_eq!(response.status().as_u16(), 303);
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .expect("redirect")
        .to_owned();
    let challenge_sid = location.rsplit('/').next().expect("sid");
    let challenge = site
        .api_get(&format!(
            "Services/{service_sid}/Entities/{identity}/Challenges/{challenge_sid}"
        ))
        .await;
    let ip = challenge["details"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["label"] == "IP")
        .and_then(|f| f["value"].as_str())
        .expect("IP field")
        .to_owned();
    assert_eq!(ip, "127.0.0.2", "{challenge}");
    site.emu.shutdown().await;
}
