//! HTTP transport: rustls, connection reuse, timeouts, a response size cap, no redirects, and
//! `http://` only to loopback. Turns error statuses into [`ApiError`]s.

use crate::error::{ApiError, Error};
use std::net::IpAddr;
use std::time::Duration;

/// Responses larger than this are refused (Twilio's largest pages are far below it).
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Refuses non-https URLs unless they point at loopback (127.0.0.0/8, ::1, localhost).
pub fn check_base_url(u: &url::Url) -> Result<(), Error> {
    match u.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(u) => Ok(()),
        "http" => Err(Error::InsecureUrl {
            url: u.as_str().to_owned(),
        }),
        other => Err(Error::Input(format!("unsupported URL scheme {other:?}"))),
    }
}

fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// HTTP method subset the protocol uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
    Delete,
}

/// What we keep of a response.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub status: u16,
    pub date: Option<String>,
    pub signature_fields: Option<String>,
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The response itself when it is a success, else its server error.
    pub fn success(self) -> Result<Self, Error> {
        if self.is_success() {
            Ok(self)
        } else {
            Err(self.api_error())
        }
    }

    /// The server error for a non-2xx response.
    pub fn api_error(&self) -> Error {
        let mut e = parse_api_error(self.status, &self.body);
        e.retry_after_secs = self
            .retry_after
            .as_deref()
            .and_then(|s| s.trim().parse().ok());
        Error::Api(e)
    }
}

/// Parses Twilio's `{code, message, more_info, status}`; tolerates `code` as a string and
/// non-JSON bodies (then the message is the start of the body).
pub fn parse_api_error(status: u16, body: &[u8]) -> ApiError {
    let v: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let get = |k: &str| v.as_ref().and_then(|v| v.get(k));
    let code = get("code").and_then(|c| {
        c.as_i64()
            .or_else(|| c.as_str().and_then(|s| s.trim().parse().ok()))
    });
    let message = get("message")
        .and_then(|m| m.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)])
                .trim()
                .to_owned();
            if text.is_empty() {
                format!("HTTP status {status}")
            } else {
                text
            }
        });
    let more_info = get("more_info").and_then(|m| m.as_str()).map(str::to_owned);
    ApiError {
        code,
        message,
        more_info,
        status,
        retry_after_secs: None,
    }
}

/// Shared reqwest clients (they keep connections alive between calls).
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    /// For remote servers: honours the system / environment proxy settings.
    client: reqwest::Client,
    /// For loopback servers: never through a proxy. Plain `http://` is allowed only there,
    /// and a proxy would receive the device JWTs in clear text.
    direct: reqwest::Client,
    max_body: usize,
}

impl Transport {
    pub fn new(user_agent: &str, timeout: Duration) -> Result<Self, Error> {
        let builder = || {
            reqwest::Client::builder()
                .user_agent(user_agent)
                .timeout(timeout)
                .connect_timeout(timeout.min(Duration::from_secs(10)))
                .pool_idle_timeout(Duration::from_secs(90))
                // A redirect could leave https; the API never redirects.
                .redirect(reqwest::redirect::Policy::none())
        };
        let build = |b: reqwest::ClientBuilder| {
            b.build()
                .map_err(|e| Error::Initialization(format!("building the HTTP client: {e}")))
        };
        Ok(Self {
            client: build(builder())?,
            direct: build(builder().no_proxy())?,
            max_body: MAX_RESPONSE_BYTES,
        })
    }

    /// Sends one request with `Authorization: Basic token:<password>`.
    pub async fn send(
        &self,
        method: Method,
        url: url::Url,
        password: &str,
        form: &[(&str, String)],
    ) -> Result<RawResponse, Error> {
        check_base_url(&url)?;
        let client = if is_loopback(&url) {
            &self.direct
        } else {
            &self.client
        };
        let rb = match method {
            Method::Get => client.get(url),
            Method::Post => client.post(url),
            Method::Delete => client.delete(url),
        };
        let mut rb = rb
            .basic_auth("token", Some(password))
            .header(reqwest::header::ACCEPT, "application/json");
        if method == Method::Post {
            rb = rb.form(form);
        }
        let mut resp = rb.send().await.map_err(network_error)?;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let date = header("date");
        let signature_fields = header("twilio-verify-signature-fields");
        let retry_after = header("retry-after");
        let status = resp.status().as_u16();
        if resp
            .content_length()
            .is_some_and(|n| n > self.max_body as u64)
        {
            return Err(Error::ResponseTooLarge {
                limit: self.max_body,
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(network_error)? {
            if body.len() + chunk.len() > self.max_body {
                return Err(Error::ResponseTooLarge {
                    limit: self.max_body,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(RawResponse {
            status,
            date,
            signature_fields,
            retry_after,
            body,
        })
    }
}

fn network_error(e: reqwest::Error) -> Error {
    // reqwest's Display never includes the Authorization header.
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut message = format!("{kind}: {e}");
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        message.push_str(&format!(": {s}"));
        src = s.source();
    }
    Error::Network {
        message,
        source: Box::new(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn http_only_to_loopback() {
        let ok = [
            "https://verify.twilio.com/v2/",
            "http://127.0.0.1:8790/v2/",
            "http://127.5.6.7/v2/",
            "http://[::1]:9/v2/",
            "http://localhost:1/v2/",
        ];
        for u in ok {
            check_base_url(&url::Url::parse(u).unwrap()).unwrap();
        }
        for u in [
            "http://example.com/v2/",
            "http://10.0.0.1/",
            "http://[::2]/",
            "http://localhost.evil.com/",
        ] {
            let e = check_base_url(&url::Url::parse(u).unwrap()).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InsecureUrl, "{u}");
        }
        let e = check_base_url(&url::Url::parse("ftp://x/").unwrap()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Input);
    }

    /// The https client must build (rustls needs a crypto provider and the platform roots at
    /// build time, or it panics) and really speak TLS: a loopback listener checks that the
    /// first bytes are a TLS handshake record carrying a ClientHello, then hangs up, which
    /// must come back as a typed network error.
    #[tokio::test]
    async fn https_sends_a_tls_client_hello() {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut head = [0u8; 6];
            sock.read_exact(&mut head).await.unwrap();
            head
        });
        let t = Transport::new("assent-test", Duration::from_secs(10)).unwrap();
        let url = url::Url::parse(&format!("https://127.0.0.1:{port}/v2/Services")).unwrap();
        let e = t.send(Method::Get, url, "pw", &[]).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::Network, "{e}");
        let head = server.await.unwrap();
        assert_eq!(head[0], 0x16, "TLS handshake record, got {head:?}");
        assert_eq!(head[1], 0x03, "TLS major version, got {head:?}");
        assert_eq!(head[5], 0x01, "ClientHello, got {head:?}");
    }

    #[test]
    fn api_error_bodies() {
        let e = parse_api_error(
            404,
            br#"{"code":20404,"message":"The requested resource was not found","more_info":"https://www.twilio.com/docs/errors/20404","status":404}"#,
        );
        assert_eq!(e.code, Some(20404));
        assert_eq!(e.status, 404);
        assert_eq!(
            e.more_info.as_deref(),
            Some("https://www.twilio.com/docs/errors/20404")
        );
        // Android reads the code as a string.
        assert_eq!(
            parse_api_error(403, br#"{"code":"60323","message":"x"}"#).code,
            Some(60323)
        );
        let html = parse_api_error(502, b"<html>Bad gateway</html>");
        assert_eq!(html.code, None);
        assert!(html.message.contains("Bad gateway"));
        assert_eq!(parse_api_error(500, b"").message, "HTTP status 500");
    }

    #[tokio::test]
    async fn a_refused_connection_names_its_host_but_not_its_path() {
        // A port nothing listens on: bind one, note it, close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = reqwest::get(format!("http://127.0.0.1:{port}/v2/Services/VA1/Factors"))
            .await
            .unwrap_err();
        let e = network_error(e);
        assert_eq!(e.network_host(), Some(format!("127.0.0.1:{port}")));
        assert_eq!(Error::ResponseTooLarge { limit: 1 }.network_host(), None);
    }
}
