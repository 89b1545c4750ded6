//! `Host` header allowlist: the defence against DNS rebinding. A hostile web page can point a
//! name it controls at 127.0.0.1 and then talk to the emulator as a same-origin page; the only
//! thing that gives it away is the `Host` header, which carries the attacker's name. Requests
//! are answered only when `Host` names the listener (loopback names with the bound port) or a
//! name the operator allowed (`--public-base-url`, `--allow-host`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// One allowed name; `port: None` accepts any port (and no port).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Allowed {
    host: String,
    port: Option<u16>,
}

/// The set of `Host` values the emulator answers.
#[derive(Clone, Debug)]
pub struct HostPolicy {
    allowed: Vec<Allowed>,
}

/// Splits `host[:port]` (IPv6 literals in brackets), lower-cased and without a trailing dot.
/// `None` when the port is not a number.
fn split(value: &str) -> Option<(String, Option<u16>)> {
    let value = value.trim().to_ascii_lowercase();
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        (format!("[{inside}]"), port)
    } else {
        match value.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p.parse().ok()?)),
            None => (value.clone(), None),
        }
    };
    let host = host.trim_end_matches('.').to_string();
    (!host.is_empty()).then_some((host, port))
}

impl HostPolicy {
    /// Loopback names and the bound address with `addr`'s port, the host of `public` (with its
    /// port), and each of `extra` (`name` = any port, `name:port` = that port only).
    pub fn new(
        addr: SocketAddr,
        public: Option<&url::Url>,
        extra: &[String],
    ) -> Result<Self, String> {
        let port = Some(addr.port());
        let mut names = vec!["localhost".to_string(), "127.0.0.1".into(), "[::1]".into()];
        // `0.0.0.0`/`[::]` is no name a client should use (some browsers map it to localhost,
        // which would let any page reach us under it); LAN names come from --allow-host.
        if !addr.ip().is_unspecified() {
            names.push(match addr {
                SocketAddr::V4(a) => a.ip().to_string(),
                SocketAddr::V6(a) => format!("[{}]", a.ip()),
            });
        }
        let mut allowed: Vec<Allowed> = names
            .into_iter()
            .map(|host| Allowed { host, port })
            .collect();
        if let Some(u) = public {
            if let Some(h) = u.host_str() {
                allowed.push(Allowed {
                    host: h.trim_end_matches('.').to_ascii_lowercase(),
                    port: u.port_or_known_default(),
                });
            }
        }
        for e in extra {
            let (host, port) =
                split(e).ok_or_else(|| format!("--allow-host {e:?} is not host or host:port"))?;
            allowed.push(Allowed { host, port });
        }
        Ok(HostPolicy { allowed })
    }

    /// Whether a request with this `Host` header value may be answered.
    pub fn allows(&self, value: &str) -> bool {
        let Some((host, port)) = split(value) else {
            return false;
        };
        self.allowed.iter().any(|a| {
            a.host == host
                && match (a.port, port) {
                    (None, _) => true,
                    (Some(want), Some(got)) => want == got,
                    // No port in `Host` means the scheme's default port.
                    (Some(want), None) => want == 80 || want == 443,
                }
        })
    }
}

/// Middleware: answers 403 (Twilio body, code 20403) when `Host` is missing or not allowed.
pub async fn middleware(
    State(policy): State<Arc<HostPolicy>>,
    req: Request,
    next: Next,
) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    match host {
        Some(h) if policy.allows(&h) => next.run(req).await,
        Some(h) => {
            let shown: String = h.chars().take(100).collect();
            tracing::warn!(host = %shown, "request with a foreign Host header refused");
            ApiError::Forbidden(format!(
                "Host {shown:?} is not allowed (DNS rebinding protection); start the emulator with --allow-host {shown} to serve it under that name"
            ))
            .into_response()
        }
        None => ApiError::Forbidden("A Host header is required".into()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(extra: &[&str]) -> HostPolicy {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let public = url::Url::parse("https://verify.example.test/").unwrap();
        HostPolicy::new("127.0.0.1:8790".parse().unwrap(), Some(&public), &extra).unwrap()
    }

    #[test]
    fn loopback_names_need_the_bound_port() {
        let p = policy(&[]);
        for ok in [
            "127.0.0.1:8790",
            "localhost:8790",
            "LOCALHOST:8790",
            "localhost.:8790",
            "[::1]:8790",
            "verify.example.test",
            "verify.example.test:443",
        ] {
            assert!(p.allows(ok), "{ok}");
        }
        for bad in [
            "127.0.0.1:8791",
            "localhost",
            "evil.example:8790",
            "attacker.rebind.example",
            "verify.example.test:8790",
            "127.0.0.1:x",
            "",
            "[::1",
        ] {
            assert!(!p.allows(bad), "{bad}");
        }
    }

    #[test]
    fn allow_host_with_and_without_port() {
        let p = policy(&["lan-box", "other.test:9000"]);
        assert!(p.allows("lan-box:8790") && p.allows("lan-box") && p.allows("lan-box:1"));
        assert!(p.allows("other.test:9000") && !p.allows("other.test:9001"));
        assert!(HostPolicy::new("127.0.0.1:1".parse().unwrap(), None, &["a:b".into()]).is_err());
    }

    #[test]
    fn unspecified_listener_is_not_a_name() {
        let p =
            HostPolicy::new("0.0.0.0:4000".parse().unwrap(), None, &["lan-box".into()]).unwrap();
        assert!(!p.allows("0.0.0.0:4000"));
        assert!(p.allows("127.0.0.1:4000") && p.allows("lan-box:4000"));
        let p = HostPolicy::new("192.168.1.5:4000".parse().unwrap(), None, &[]).unwrap();
        assert!(p.allows("192.168.1.5:4000"));
    }

    #[test]
    fn ipv6_listener() {
        let p = HostPolicy::new("[::1]:4000".parse().unwrap(), None, &[]).unwrap();
        assert!(p.allows("[::1]:4000") && p.allows("localhost:4000"));
        assert!(!p.allows("[::2]:4000"));
    }
}
