//! The demo relying party over real loopback HTTP: pages render with strict headers, the
//! enrolment payload really enrols a P-256 device, sign-in creates a challenge visible through
//! the API, and the status page follows the device's answer. Every POST goes through the CSRF
//! flow a browser follows (cookie from a page, `csrf_token` from its form); the hostile cases
//! (cross-site, forged or missing tokens, minting on GET) are refused and change nothing.

#[path = "support_schema/mod.rs"]
mod support_schema;

use std::net::IpAddr;

use reqwest::header::{
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE, X_CONTENT_TYPE_OPTIONS,
};
use reqwest::redirect::Policy;
use serde_json::Value;
use sha2::{Digest, Sha256};
use support_schema::device::Device;
use verify_emulator::demo::CSRF_COOKIE;
use verify_emulator::{spawn, EmulatorConfig, RunningEmulator};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

struct Site {
    emu: RunningEmulator,
    http: reqwest::Client,
    /// `name=value` of the CSRF cookie the site set, sent back like a browser would.
    cookie: std::sync::Mutex<Option<String>>,
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
        Self::start_with(EmulatorConfig::default()).await
    }

    async fn start_with(config: EmulatorConfig) -> Site {
        let emu = spawn(config).await.expect("emulator starts");
        Site {
            emu,
            http: browser(None),
            cookie: std::sync::Mutex::new(None),
        }
    }

    fn cookie(&self) -> Option<String> {
        self.cookie.lock().expect("cookie lock").clone()
    }

    /// Keeps the CSRF cookie a response sets (and checks its attributes).
    fn remember_cookie(&self, headers: &reqwest::header::HeaderMap) {
        for v in headers.get_all(SET_COOKIE) {
            let v = v.to_str().expect("ascii cookie");
            if let Some(pair) = v.split(';').next().filter(|p| p.starts_with(CSRF_COOKIE)) {
                for attr in ["HttpOnly", "SameSite=Strict", "Path=/demo"] {
                    assert!(v.contains(attr), "cookie without {attr}: {v}");
                }
                *self.cookie.lock().expect("cookie lock") = Some(pair.to_owned());
            }
        }
    }

    /// The `csrf_token` of the start page's form (loading it sets the cookie if needed).
    async fn csrf(&self) -> String {
        let (status, page) = self.page("/demo").await;
        assert_eq!(status, 200, "{page}");
        csrf_in(&page)
    }

    /// POST with the cookie and the page's token, as the browser submits the form.
    async fn submit(&self, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
        let token = self.csrf().await;
        let mut all: Vec<(&str, &str)> = form.to_vec();
        all.push(("csrf_token", &token));
        self.post_form(path, &all).await
    }

    /// `POST /demo/users` then `POST /demo/enroll`: the enrolment page with a fresh token.
    async fn enrol_page(&self, username: &str) -> String {
        let identity = sha256_hex(username);
        let (status, location, _) = self.submit("/demo/users", &[("username", username)]).await;
        assert_eq!(
            (status, location.as_str()),
            (303, format!("/demo/enroll?identity={identity}").as_str())
        );
        let (status, button) = self.page(&location).await;
        assert_eq!(status, 200, "{button}");
        assert!(
            !button.contains("enroll-payload"),
            "GET minted a token: {button}"
        );
        let (status, _, page) = self
            .submit("/demo/enroll", &[("identity", &identity)])
            .await;
        assert_eq!(status, 200, "{page}");
        page
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
        let mut request = self.http.get(self.url(path));
        if let Some(c) = self.cookie() {
            request = request.header(COOKIE, c);
        }
        let response = request.send().await.expect("GET");
        let status = response.status().as_u16();
        check_security_headers(response.headers(), path);
        self.remember_cookie(response.headers());
        (status, response.text().await.expect("body"))
    }

    async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
        self.post_with(path, form, &[]).await
    }

    /// POST with the stored cookie plus extra headers (`Cookie` among them replaces it).
    async fn post_with(
        &self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> (u16, String, String) {
        let mut request = self.http.post(self.url(path)).form(form);
        if let Some(c) = self
            .cookie()
            .filter(|_| !headers.iter().any(|(k, _)| *k == "cookie"))
        {
            request = request.header(COOKIE, c);
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.expect("POST");
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
    // `no-referrer` would make browsers send `Origin: null` on the site's own form posts.
    assert_eq!(
        headers
            .get(reqwest::header::REFERRER_POLICY)
            .and_then(|v| v.to_str().ok()),
        Some("same-origin"),
        "{path}"
    );
}

/// The one script a demo page may load: the site's own file, never inline.
const SILENT_SCRIPT: &str = r#"<script src="/demo/static/silent.js" defer></script>"#;
const COPY_SCRIPT: &str = r#"<script src="/demo/static/copy.js" defer></script>"#;

/// Pages must work under `default-src 'self'`: no inline script, style or handlers, no
/// external assets or links (the served `silent.js` is the only script allowed).
fn check_csp_friendly(html: &str) {
    let html = html.replace(SILENT_SCRIPT, "").replace(COPY_SCRIPT, "");
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

/// The `csrf_token` value of the first form on a page.
fn csrf_in(page: &str) -> String {
    let input = between(page, "name=\"csrf_token\" value=\"", "\"")
        .unwrap_or_else(|| panic!("no csrf_token in page:\n{page}"));
    assert_eq!(input.len(), 64, "{input}");
    input
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
    let (status, location, _) = site.submit("/demo/users", &[("username", evil)]).await;
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

    let (status, _, body) = site.submit("/demo/users", &[("username", "   ")]).await;
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

    // Enrolment page: link, QR and JSON payload that agree with each other.
    let page = site.enrol_page("alice").await;
    check_csp_friendly(&page);
    assert!(page.contains("<svg"), "no inline QR code");
    assert!(page.contains("300 s"), "TTL not shown");
    // It speaks to a desktop: this computer first, the QR code for a second device.
    assert!(page.contains("On this computer: open the link"), "{page}");
    assert!(
        page.contains("On another device: scan the QR code"),
        "{page}"
    );
    assert!(page.contains("For a second device"), "{page}");
    let on_this = page.find("On this computer").expect("this computer");
    assert!(
        on_this < page.find("data-testid=\"enroll-qr\"").expect("qr"),
        "QR first"
    );
    // Copy buttons for the link and the JSON, revealed by the served script only.
    assert!(page.contains(COPY_SCRIPT), "{page}");
    for (button, target) in [
        ("copy-link", "enroll-link"),
        ("copy-payload", "enroll-payload"),
    ] {
        let tag = between(&page, &format!("data-copy=\"{target}\""), ">").expect(button);
        assert!(tag.contains(&format!("data-testid=\"{button}\"")), "{tag}");
        assert!(
            tag.contains(" hidden"),
            "a button without its script does nothing: {tag}"
        );
        assert!(
            page.contains(&format!("id=\"{target}\"")),
            "no element {target}"
        );
    }
    let js = site
        .http
        .get(site.url("/demo/static/copy.js"))
        .send()
        .await
        .expect("GET copy.js");
    assert_eq!(js.status(), 200);
    check_security_headers(js.headers(), "/demo/static/copy.js");
    assert_eq!(
        js.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        Some("text/javascript; charset=utf-8")
    );
    let js = js.text().await.expect("js body");
    assert!(
        js.contains("navigator.clipboard.writeText") && js.contains("data-copy"),
        "{js}"
    );
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
    // The sign-in form carries the token; submitting exactly that form works.
    let token = csrf_in(&picker);
    let (status, location, _) = site
        .post_form(
            "/demo/signin",
            &[
                ("csrf_token", &token),
                ("identity", &identity),
                ("factor_sid", &factor_sid),
            ],
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
        .submit(
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
    let page = site.enrol_page("dora").await;
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
    let token = site.csrf().await;
    let response = browser(Some(peer))
        .post(site.url("/demo/signin"))
        .header("X-Forwarded-For", "203.0.113.7")
        .header(COOKIE, site.cookie().expect("cookie"))
        .form(&[
            ("csrf_token", token.as_str()),
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

fn count(db: &std::path::Path, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).expect("open the emulator's DB");
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .expect("count")
}

/// Every way a page elsewhere (or a script without the page) could try to submit a demo form
/// is refused with a typed 403 page, and none of them creates a user, a token or a challenge.
/// A control request that differs only in being same-origin with the right token succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_and_tokenless_posts_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("demo.sqlite");
    let site = Site::start_with(EmulatorConfig {
        db: verify_emulator::DbLocation::File(db.clone()),
        ..EmulatorConfig::default()
    })
    .await;
    let token = site.csrf().await;
    let cookie = site.cookie().expect("the start page sets the CSRF cookie");
    let here = format!("http://127.0.0.1:{}", site.emu.local_addr().port());
    let other_port = format!("http://127.0.0.1:{}", site.emu.local_addr().port() ^ 1);
    let planted = format!("{CSRF_COOKIE}={}", "ab".repeat(32));
    let wrong = "0".repeat(64);
    let identity = sha256_hex("mallory");
    // (what, token sent, extra headers)
    type Case<'a> = (&'a str, Option<&'a str>, Vec<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        ("no token", None, vec![]),
        ("wrong token", Some(&wrong), vec![]),
        ("no cookie", Some(&token), vec![("cookie", "other=1")]),
        ("planted cookie", Some(&token), vec![("cookie", &planted)]),
        (
            "foreign Origin",
            Some(&token),
            vec![("origin", "http://evil.example")],
        ),
        (
            "other local port",
            Some(&token),
            vec![("origin", &other_port)],
        ),
        ("Origin null", Some(&token), vec![("origin", "null")]),
        (
            "cross-site",
            Some(&token),
            vec![("sec-fetch-site", "cross-site")],
        ),
        (
            "same-site",
            Some(&token),
            vec![("sec-fetch-site", "same-site")],
        ),
    ];
    let forms: [(&str, Vec<(&str, &str)>); 3] = [
        ("/demo/users", vec![("username", "mallory")]),
        ("/demo/enroll", vec![("identity", &identity)]),
        (
            "/demo/signin",
            vec![
                ("identity", &identity),
                ("factor_sid", "YF0123456789abcdef0123456789abcdef"),
            ],
        ),
    ];
    for (path, form) in &forms {
        for (what, sent, headers) in &cases {
            let mut all = form.clone();
            if let Some(t) = sent {
                all.push(("csrf_token", t));
            }
            let (status, _, page) = site.post_with(path, &all, headers).await;
            assert_eq!(status, 403, "{path} {what}: {page}");
            assert!(
                page.contains("data-error-code=\"forbidden\""),
                "{path} {what}: {page}"
            );
        }
    }
    // GET never mints, even with a valid token in the query.
    let (status, page) = site
        .page(&format!(
            "/demo/enroll?identity={identity}&csrf_token={token}"
        ))
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(!page.contains("enroll-payload"), "{page}");
    for table in ["entities", "access_tokens", "challenges"] {
        assert_eq!(count(&db, table), 0, "{table} changed by a refused request");
    }

    // Control: the same requests, same-origin with the page's token, go through.
    let browser_headers = [
        ("origin", here.as_str()),
        ("sec-fetch-site", "same-origin"),
        ("cookie", cookie.as_str()),
    ];
    let (status, location, page) = site
        .post_with(
            "/demo/users",
            &[("username", "mallory"), ("csrf_token", &token)],
            &browser_headers,
        )
        .await;
    assert_eq!(status, 303, "{page}");
    assert_eq!(location, format!("/demo/enroll?identity={identity}"));
    let (status, _, page) = site
        .post_with(
            "/demo/enroll",
            &[("identity", &identity), ("csrf_token", &token)],
            &browser_headers,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("enroll-payload"), "{page}");
    assert_eq!(count(&db, "access_tokens"), 1);
    site.emu.shutdown().await;
}

/// The sign-in option "Ask for number matching" puts Assent's keys into the hidden details and
/// shows the number on the status page (only while pending); a denial's `deny_reason` is shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn number_matching_option_and_deny_reasons_are_shown() {
    let site = Site::start().await;
    let identity = sha256_hex("matcher");
    let page = site.enrol_page("matcher").await;
    let payload: Value = serde_json::from_str(&unescape(
        &between(&page, "data-testid=\"enroll-payload\">", "</pre>").expect("payload"),
    ))
    .expect("payload is JSON");
    let service_sid = payload["serviceSid"].as_str().expect("sid").to_owned();
    let device = Device::enroll(
        &site.http,
        &site.api_base(),
        payload["token"].as_str().expect("token"),
        &service_sid,
        &identity,
        "Matcher's desktop",
    )
    .await
    .expect("enrols");
    let factor_sid = device.factor_sid();
    let (_, picker) = site
        .page(&format!("/demo/signin?identity={identity}"))
        .await;
    assert!(picker.contains("name=\"match_number\""), "{picker}");
    assert!(picker.contains("Ask for number matching"), "{picker}");

    // Ticked: the challenge asks for matching and the page shows the same number.
    let (status, location, _) = site
        .submit(
            "/demo/signin",
            &[
                ("identity", &identity),
                ("factor_sid", &factor_sid),
                ("match_number", "on"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let sid = location.rsplit('/').next().expect("sid").to_owned();
    let api_path = format!("Services/{service_sid}/Entities/{identity}/Challenges/{sid}");
    let challenge = site.api_get(&api_path).await;
    assert_eq!(challenge["hidden_details"]["assent_match_mode"], "choose");
    let code = challenge["hidden_details"]["assent_match_code"]
        .as_str()
        .expect("code")
        .to_owned();
    assert!(
        code.len() == 2 && code.bytes().all(|b| b.is_ascii_digit()),
        "{code}"
    );
    let (_, pending) = site.page(&location).await;
    check_csp_friendly(&pending);
    assert_eq!(
        between(&pending, "data-testid=\"match-code\">", "<").as_deref(),
        Some(code.as_str()),
        "{pending}"
    );
    // The device says the number did not match: the page says so, and no longer shows it.
    device
        .answer_with_metadata(&sid, "denied", r#"{"deny_reason":"wrong_match"}"#)
        .await
        .expect("denies");
    let (_, denied) = site.page(&location).await;
    assert_eq!(status_of(&denied), "denied");
    assert!(!denied.contains("data-testid=\"match-code\""), "{denied}");
    assert!(denied.contains("data-reason=\"wrong_match\""), "{denied}");
    assert!(denied.contains("did not match this page"), "{denied}");

    // Unticked: no matching keys, no number.
    for (reason, text) in [
        ("not_me", "this wasn&#39;t them"),
        ("mistake", "it was a mistake"),
        ("<b>odd</b>", "does not know"),
    ] {
        let (_, location, _) = site
            .submit(
                "/demo/signin",
                &[("identity", &identity), ("factor_sid", &factor_sid)],
            )
            .await;
        let sid = location.rsplit('/').next().expect("sid").to_owned();
        let challenge = site
            .api_get(&format!(
                "Services/{service_sid}/Entities/{identity}/Challenges/{sid}"
            ))
            .await;
        assert!(challenge["hidden_details"]
            .get("assent_match_code")
            .is_none());
        let (_, pending) = site.page(&location).await;
        assert!(!pending.contains("data-testid=\"match-code\""), "{pending}");
        assert!(
            !pending.contains("data-testid=\"deny-reason\""),
            "{pending}"
        );
        let metadata = serde_json::json!({ "deny_reason": reason }).to_string();
        device
            .answer_with_metadata(&sid, "denied", &metadata)
            .await
            .expect("denies");
        let (_, denied) = site.page(&location).await;
        assert_eq!(status_of(&denied), "denied");
        assert!(denied.contains(text), "{reason}: {denied}");
        // Server text is escaped.
        assert!(!denied.contains("<b>odd"), "{denied}");
    }
    site.emu.shutdown().await;
}

/// The CSP of a response (every demo answer has one).
fn csp_of(headers: &reqwest::header::HeaderMap) -> String {
    headers
        .get(CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .expect("CSP")
        .to_owned()
}

/// Enrols a device for `username` from the enrolment page; returns (service, identity, device,
/// payload).
async fn enrol_device(site: &Site, username: &str) -> (String, String, Device, Value) {
    let identity = sha256_hex(username);
    let page = site.enrol_page(username).await;
    let payload: Value = serde_json::from_str(&unescape(
        &between(&page, "data-testid=\"enroll-payload\">", "</pre>").expect("payload"),
    ))
    .expect("payload is JSON");
    let service_sid = payload["serviceSid"].as_str().expect("sid").to_owned();
    let device = Device::enroll(
        &site.http,
        &site.api_base(),
        payload["token"].as_str().expect("token"),
        &service_sid,
        &identity,
        "Silent desktop",
    )
    .await
    .expect("device enrols");
    (service_sid, identity, device, payload)
}

/// "Sign in with Assent on this computer": enrolment names the page's origin (payload and
/// link), the sign-in page may connect to Assent's endpoint and nothing else, and the script's
/// JSON request gets the SID and a fresh 256-bit nonce that the challenge's hidden details
/// carry with the origin; the status page tells a silent approval and a relayed denial apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sign_in_names_the_origin_and_hands_sid_and_nonce_to_its_page() {
    let site = Site::start_with(EmulatorConfig {
        assent_endpoint: "127.0.0.1:7399".parse().expect("addr"),
        ..EmulatorConfig::default()
    })
    .await;
    let port = site.emu.local_addr().port();
    let here = format!("http://127.0.0.1:{port}");
    let (service_sid, identity, device, payload) = enrol_device(&site, "quiet").await;
    assert_eq!(payload["origin"], here.as_str());
    let page = site
        .submit("/demo/enroll", &[("identity", &identity)])
        .await
        .2;
    let link = unescape(&between(&page, "href=\"assent://", "\"").expect("link"));
    let link = url::Url::parse(&format!("assent://{link}")).expect("link parses");
    let origin_in_link = link
        .query_pairs()
        .find(|(k, _)| k == "origin")
        .map(|(_, v)| v.into_owned());
    assert_eq!(origin_in_link.as_deref(), Some(here.as_str()));

    // Served under localhost, the page names that origin (what its browser will send).
    let token = site.csrf().await;
    let cookie = site.cookie().expect("cookie");
    let localhost = format!("localhost:{port}");
    let local_origin = format!("http://{localhost}");
    let (status, _, page) = site
        .post_with(
            "/demo/enroll",
            &[("identity", &identity), ("csrf_token", &token)],
            &[
                ("host", &localhost),
                ("origin", &local_origin),
                ("cookie", &cookie),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        unescape(&page).contains(&format!("\"origin\":\"{local_origin}\"")),
        "{page}"
    );

    // The sign-in page: the silent form, the served script, connect-src to Assent only there.
    let path = format!("/demo/signin?identity={identity}");
    let response = site
        .http
        .get(site.url(&path))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("GET");
    let csp = csp_of(response.headers());
    assert!(
        csp.ends_with("; connect-src 'self' http://127.0.0.1:7399"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe"), "{csp}");
    let picker = response.text().await.expect("body");
    check_csp_friendly(&picker);
    assert!(picker.contains(SILENT_SCRIPT), "{picker}");
    assert!(picker.contains("data-testid=\"silent-signin\""), "{picker}");
    assert!(
        picker.contains("data-assent-endpoint=\"http://127.0.0.1:7399/assent/v1/\""),
        "{picker}"
    );
    for other in ["/demo", "/demo/requests"] {
        let r = site.http.get(site.url(other)).send().await.expect("GET");
        let csp = csp_of(r.headers());
        assert!(!csp.contains("connect-src"), "{other}: {csp}");
    }
    let js = site
        .http
        .get(site.url("/demo/static/silent.js"))
        .send()
        .await
        .expect("GET js");
    assert_eq!(js.status(), 200);
    assert_eq!(
        js.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        Some("text/javascript; charset=utf-8")
    );
    assert!(js.text().await.expect("js").contains("silent-approval"));

    // The script's request, as a same-origin fetch sends it.
    let token = csrf_in(&picker);
    let factor_sid = device.factor_sid();
    let form = [
        ("csrf_token", token.as_str()),
        ("identity", identity.as_str()),
        ("factor_sid", factor_sid.as_str()),
        ("silent", "on"),
    ];
    let fetch_headers = [
        ("origin", here.as_str()),
        ("sec-fetch-site", "same-origin"),
        ("accept", "application/json"),
    ];
    let (status, _, body) = site.post_with("/demo/signin", &form, &fetch_headers).await;
    assert_eq!(status, 200, "{body}");
    let started: Value = serde_json::from_str(&body).expect("JSON answer");
    let sid = started["challenge_sid"].as_str().expect("sid").to_owned();
    let nonce = started["nonce"].as_str().expect("nonce").to_owned();
    assert_eq!(nonce.len(), 64, "{nonce}");
    assert!(nonce.bytes().all(|b| b.is_ascii_hexdigit()), "{nonce}");
    let status_url = format!("/demo/challenges/{identity}/{sid}");
    assert_eq!(started["status_url"], status_url.as_str());
    let challenge = site
        .api_get(&format!(
            "Services/{service_sid}/Entities/{identity}/Challenges/{sid}"
        ))
        .await;
    assert_eq!(challenge["status"], "pending");
    let hidden = &challenge["hidden_details"];
    assert_eq!(hidden["assent_silent_origin"], here.as_str());
    assert_eq!(hidden["assent_silent_nonce"], nonce.as_str());
    // A second request gets a different nonce.
    let (_, _, again) = site.post_with("/demo/signin", &form, &fetch_headers).await;
    let again: Value = serde_json::from_str(&again).expect("JSON answer");
    assert_ne!(again["nonce"], nonce.as_str());

    // Pending: the ordinary waiting view, saying where to answer; the nonce is not on it.
    let (_, pending) = site.page(&status_url).await;
    assert_eq!(status_of(&pending), "pending");
    assert!(
        pending.contains("Approve the request in Assent."),
        "{pending}"
    );
    assert!(
        !pending.contains(&nonce),
        "nonce leaked onto the status page"
    );
    // Approved silently: the page says so, with the origin Assent verified.
    let metadata = serde_json::json!({"assent_approval": "silent", "origin": here}).to_string();
    device
        .answer_with_metadata(&sid, "approved", &metadata)
        .await
        .expect("device approves");
    let (_, approved) = site.page(&status_url).await;
    assert_eq!(status_of(&approved), "approved");
    assert!(
        approved.contains(&format!(
            "data-testid=\"silent-approved\" data-origin=\"{here}\""
        )),
        "{approved}"
    );
    // Relayed: denied with origin_mismatch, and the page names the relaying origin.
    let second = again["challenge_sid"].as_str().expect("sid");
    let metadata =
        serde_json::json!({"deny_reason": "origin_mismatch", "origin": "http://localhost:1"})
            .to_string();
    device
        .answer_with_metadata(second, "denied", &metadata)
        .await
        .expect("device denies");
    let (_, denied) = site
        .page(&format!("/demo/challenges/{identity}/{second}"))
        .await;
    assert_eq!(status_of(&denied), "denied");
    assert!(
        denied.contains("data-reason=\"origin_mismatch\""),
        "{denied}"
    );
    assert!(
        denied.contains("data-testid=\"relayed-origin\" data-origin=\"http://localhost:1\""),
        "{denied}"
    );

    // Without script (no JSON asked for): an ordinary sign-in, no nonce minted.
    let (status, location, _) = site
        .post_with("/demo/signin", &form, &[("origin", here.as_str())])
        .await;
    assert_eq!(status, 303);
    let plain = location.rsplit('/').next().expect("sid");
    let challenge = site
        .api_get(&format!(
            "Services/{service_sid}/Entities/{identity}/Challenges/{plain}"
        ))
        .await;
    assert!(challenge["hidden_details"]
        .get("assent_silent_nonce")
        .is_none());
    assert!(challenge["hidden_details"]
        .get("assent_silent_origin")
        .is_none());
    site.emu.shutdown().await;
}

/// The script's JSON request is a state change like any form post: from another origin (even
/// another port on this machine), cross-site, or without the page's token it is refused, no
/// challenge is created and no nonce is handed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sign_in_refuses_cross_site_requests_and_mints_nothing() {
    let site = Site::start().await;
    let (service_sid, identity, device, _) = enrol_device(&site, "target").await;
    let token = site.csrf().await;
    let cookie = site.cookie().expect("cookie");
    let port = site.emu.local_addr().port();
    let other_port = format!("http://127.0.0.1:{}", port ^ 1);
    let localhost = format!("http://localhost:{port}");
    let planted = format!("{CSRF_COOKIE}={}", "ab".repeat(32));
    let wrong = "0".repeat(64);
    let factor_sid = device.factor_sid();
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        ("another local port", &token, vec![("origin", &other_port)]),
        // Same machine, same port, but not the Host it was asked under.
        ("another local name", &token, vec![("origin", &localhost)]),
        (
            "foreign site",
            &token,
            vec![("origin", "https://evil.example")],
        ),
        (
            "cross-site fetch",
            &token,
            vec![("sec-fetch-site", "cross-site")],
        ),
        (
            "same-site fetch",
            &token,
            vec![("sec-fetch-site", "same-site")],
        ),
        ("wrong token", &wrong, vec![]),
        ("planted cookie", &token, vec![("cookie", &planted)]),
    ];
    for (what, sent, mut headers) in cases {
        headers.push(("accept", "application/json"));
        let form = [
            ("csrf_token", sent),
            ("identity", identity.as_str()),
            ("factor_sid", factor_sid.as_str()),
            ("silent", "on"),
        ];
        let mut all = headers.clone();
        if !all.iter().any(|(k, _)| *k == "cookie") {
            all.push(("cookie", &cookie));
        }
        let (status, _, body) = site.post_with("/demo/signin", &form, &all).await;
        assert_eq!(status, 403, "{what}: {body}");
        assert!(
            body.contains("data-error-code=\"forbidden\""),
            "{what}: {body}"
        );
        assert!(!body.contains("nonce"), "{what}: {body}");
    }
    let listed = site
        .api_get(&format!(
            "Services/{service_sid}/Entities/{identity}/Challenges"
        ))
        .await;
    assert_eq!(
        listed["challenges"].as_array().map(Vec::len),
        Some(0),
        "a refused request created a challenge: {listed}"
    );
    site.emu.shutdown().await;
}
