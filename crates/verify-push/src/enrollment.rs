//! Enrolment payloads: the `assent://enroll?…` link or the JSON a relying party hands out.

use crate::error::Error;
use crate::factor::FactorType;
use crate::ids::{FriendlyName, Identity, ServiceSid};
use crate::secret::AccessToken;
use crate::transport::check_base_url;
use std::collections::BTreeMap;
use std::str::FromStr;

/// Twilio's production API base.
pub const TWILIO_BASE_URL: &str = "https://verify.twilio.com/v2/";

const MAX_PAYLOAD: usize = 16 * 1024;
const MAX_TOKEN: usize = 8 * 1024;

/// What a relying party gives the device to enrol (token, service, identity, base URL).
#[derive(Debug, Clone)]
pub struct EnrollmentPayload {
    /// Single-use access token (opaque, secret).
    pub token: AccessToken,
    /// Verify service.
    pub service_sid: ServiceSid,
    /// Entity identity.
    pub identity: Identity,
    /// Factor type (push).
    pub factor_type: FactorType,
    /// API base URL including `/v2/` (default Twilio's).
    pub base_url: url::Url,
    /// The relying party's web origin (`https://bank.example`), when the payload names it:
    /// normalized by [`parse_web_origin`]. The library only carries it; apps decide its use.
    pub origin: Option<String>,
    /// The relying party's name for itself (`serviceName`, e.g. "Example Bank"), when the
    /// payload gives one: display text for the account's default name, never sent anywhere.
    pub service_name: Option<String>,
    /// The user's name at the relying party (`userName`), when the payload gives one: the
    /// identity is often an opaque hash. Display text only, like `service_name`.
    pub user_name: Option<String>,
}

/// Most characters a payload's `serviceName` or `userName` may have.
pub const MAX_DISPLAY_CHARS: usize = 64;

/// Checks a payload's display text (`serviceName`, `userName`): trimmed, empty means none;
/// longer than [`MAX_DISPLAY_CHARS`], or with a control or bidirectional-override character
/// (text that could hide or reorder what the user reads), is refused.
pub fn parse_display_text(field: &str, s: Option<&str>) -> Result<Option<String>, Error> {
    let Some(t) = s.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if t.chars().count() > MAX_DISPLAY_CHARS {
        return Err(Error::Input(format!(
            "the payload's {field} is longer than {MAX_DISPLAY_CHARS} characters"
        )));
    }
    if t.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Err(Error::Input(format!(
            "the payload's {field} contains control characters"
        )));
    }
    Ok(Some(t.to_owned()))
}

/// Unicode's explicit bidirectional formatting characters (embeddings, overrides, isolates).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Input to [`crate::VerifyPush::enroll`].
#[derive(Debug, Clone)]
pub struct EnrollRequest {
    /// The payload.
    pub payload: EnrollmentPayload,
    /// Name for the factor.
    pub friendly_name: FriendlyName,
    /// Optional metadata sent to the server (string values).
    pub metadata: Option<BTreeMap<String, String>>,
}

impl EnrollRequest {
    /// A request with no metadata.
    pub fn new(payload: EnrollmentPayload, friendly_name: FriendlyName) -> Self {
        Self {
            payload,
            friendly_name,
            metadata: None,
        }
    }
}

impl EnrollmentPayload {
    /// Builds a payload from its parts, validating them.
    pub fn new(
        token: &str,
        service_sid: &str,
        identity: &str,
        base_url: Option<&str>,
    ) -> Result<Self, Error> {
        let token = token.trim();
        if token.is_empty() || token.len() > MAX_TOKEN || token.chars().any(char::is_whitespace) {
            return Err(Error::Input(
                "the access token is empty, too long or contains spaces".into(),
            ));
        }
        let base = match base_url {
            Some(b) if !b.trim().is_empty() => parse_base_url(b.trim())?,
            _ => parse_base_url(TWILIO_BASE_URL)?,
        };
        Ok(Self {
            token: AccessToken::new(token),
            service_sid: service_sid.trim().parse()?,
            identity: identity.trim().parse()?,
            factor_type: FactorType::Push,
            base_url: base,
            origin: None,
            service_name: None,
            user_name: None,
        })
    }

    /// This payload with the relying party's display names, checked by [`parse_display_text`].
    pub fn with_names(
        mut self,
        service_name: Option<&str>,
        user_name: Option<&str>,
    ) -> Result<Self, Error> {
        self.service_name = parse_display_text("serviceName", service_name)?;
        self.user_name = parse_display_text("userName", user_name)?;
        Ok(self)
    }

    /// This payload with the relying party's web origin; an empty string means none.
    pub fn with_origin(mut self, origin: Option<&str>) -> Result<Self, Error> {
        self.origin = match origin.map(str::trim) {
            Some(o) if !o.is_empty() => Some(parse_web_origin(o)?),
            _ => None,
        };
        Ok(self)
    }
}

/// Longest web origin accepted (a scheme, a DNS name of at most 253 bytes and a port).
const MAX_ORIGIN: usize = 300;

/// Parses a web origin, `scheme://host[:port]` with nothing after it (a trailing `/` is
/// tolerated), and returns its normalized form as browsers send it in the `Origin` header:
/// lower-case scheme and host, IDNA host, no default port. Only `https`, or `http` to
/// loopback, is accepted (the same rule as base URLs).
pub fn parse_web_origin(s: &str) -> Result<String, Error> {
    let bad = |why: &str| {
        Error::Input(format!(
            "origin {:?} is not a web origin: {why}",
            crate::ids::clip(s)
        ))
    };
    if s.len() > MAX_ORIGIN {
        return Err(bad("too long"));
    }
    let u = url::Url::parse(s).map_err(|e| bad(&e.to_string()))?;
    check_base_url(&u)?;
    if !u.username().is_empty() || u.password().is_some() {
        return Err(bad("it has a user name or password"));
    }
    if u.path() != "/" || u.query().is_some() || u.fragment().is_some() {
        return Err(bad("it has a path, query or fragment"));
    }
    match u.origin() {
        o @ url::Origin::Tuple(..) => Ok(o.ascii_serialization()),
        url::Origin::Opaque(_) => Err(bad("it has no host")),
    }
}

/// Parses and checks an API base URL (https, or http to loopback), forcing a trailing `/`.
pub fn parse_base_url(s: &str) -> Result<url::Url, Error> {
    let mut u = url::Url::parse(s).map_err(|e| {
        Error::Input(format!(
            "base URL {:?} is invalid: {e}",
            crate::ids::clip(s)
        ))
    })?;
    check_base_url(&u)?;
    if u.query().is_some() || u.fragment().is_some() {
        return Err(Error::Input(
            "base URL must not have a query or fragment".into(),
        ));
    }
    if u.path() == "/" {
        // A bare host: the API lives under /v2/ on Twilio and on the emulator.
        u.set_path("/v2/");
    } else if !u.path().ends_with('/') {
        let p = format!("{}/", u.path());
        u.set_path(&p);
    }
    Ok(u)
}

fn check_factor_type(t: Option<&str>) -> Result<(), Error> {
    match t {
        None | Some("push") => Ok(()),
        Some(other) => Err(Error::Input(format!(
            "factor type {:?} is not supported (only push)",
            crate::ids::clip(other)
        ))),
    }
}

impl FromStr for EnrollmentPayload {
    type Err = Error;

    /// Accepts the JSON payload `{"token","serviceSid","identity","factorType","baseUrl","origin",
    /// "serviceName","userName"}` or the link
    /// `assent://enroll?token=…&serviceSid=…&identity=…&factorType=push&baseUrl=…&origin=…`
    /// (`origin` optional, see [`parse_web_origin`]; `serviceName` and `userName` optional,
    /// see [`parse_display_text`]).
    fn from_str(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        if s.len() > MAX_PAYLOAD {
            return Err(Error::Input("enrolment payload is too large".into()));
        }
        if s.starts_with('{') {
            #[derive(serde::Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Json {
                token: String,
                service_sid: String,
                identity: String,
                factor_type: Option<String>,
                base_url: Option<String>,
                origin: Option<String>,
                service_name: Option<String>,
                user_name: Option<String>,
            }
            let j: Json = serde_json::from_str(s)
                .map_err(|e| Error::Input(format!("enrolment JSON is invalid: {e}")))?;
            check_factor_type(j.factor_type.as_deref())?;
            return Self::new(&j.token, &j.service_sid, &j.identity, j.base_url.as_deref())?
                .with_origin(j.origin.as_deref())?
                .with_names(j.service_name.as_deref(), j.user_name.as_deref());
        }
        let url = url::Url::parse(s)
            .map_err(|_| Error::Input("enrolment payload is neither JSON nor a link".into()))?;
        if url.scheme() != "assent" || url.host_str() != Some("enroll") {
            return Err(Error::Input(
                "enrolment link must start with assent://enroll?".into(),
            ));
        }
        let mut token = None;
        let mut service = None;
        let mut identity = None;
        let mut factor_type = None;
        let mut base = None;
        let mut origin = None;
        let mut service_name = None;
        let mut user_name = None;
        for (k, v) in url.query_pairs() {
            let slot = match k.as_ref() {
                "token" => &mut token,
                "serviceSid" => &mut service,
                "identity" => &mut identity,
                "factorType" => &mut factor_type,
                "baseUrl" => &mut base,
                "origin" => &mut origin,
                "serviceName" => &mut service_name,
                "userName" => &mut user_name,
                _ => continue,
            };
            *slot = Some(v.into_owned());
        }
        let need = |v: Option<String>, name: &str| {
            v.ok_or_else(|| Error::Input(format!("enrolment link lacks {name}")))
        };
        check_factor_type(factor_type.as_deref())?;
        Self::new(
            &need(token, "token")?,
            &need(service, "serviceSid")?,
            &need(identity, "identity")?,
            base.as_deref(),
        )?
        .with_origin(origin.as_deref())?
        .with_names(service_name.as_deref(), user_name.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VA: &str = "VA0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_json_and_link() {
        let j = format!(
            r#"{{"token":"eyJ.a.b.c.d","serviceSid":"{VA}","identity":"user-1","factorType":"push","baseUrl":"http://127.0.0.1:8790/v2/"}}"#
        );
        let p: EnrollmentPayload = j.parse().unwrap();
        assert_eq!(p.token.expose(), "eyJ.a.b.c.d");
        assert_eq!(p.base_url.as_str(), "http://127.0.0.1:8790/v2/");
        let link = format!(
            "assent://enroll?token=eyJ.a%2Bb&serviceSid={VA}&identity=user-1&factorType=push&baseUrl=http%3A%2F%2Flocalhost%3A9%2Fv2"
        );
        let p: EnrollmentPayload = link.parse().unwrap();
        assert_eq!(p.token.expose(), "eyJ.a+b");
        assert_eq!(p.base_url.as_str(), "http://localhost:9/v2/");
        assert!(!format!("{p:?}").contains("eyJ"));
        let p: EnrollmentPayload = format!(r#"{{"token":"t","serviceSid":"{VA}","identity":"u"}}"#)
            .parse()
            .unwrap();
        assert_eq!(p.base_url.as_str(), TWILIO_BASE_URL);
        assert_eq!(
            parse_base_url("https://verify.twilio.com")
                .unwrap()
                .as_str(),
            TWILIO_BASE_URL
        );
        assert_eq!(
            parse_base_url("http://127.0.0.1:8790/v2").unwrap().as_str(),
            "http://127.0.0.1:8790/v2/"
        );
    }

    #[test]
    fn origin_is_optional_validated_and_normalized() {
        use crate::ErrorCode;
        let j =
            |o: &str| format!(r#"{{"token":"t","serviceSid":"{VA}","identity":"u","origin":{o}}}"#);
        let p: EnrollmentPayload = j(r#""HTTPS://Bank.Example:443/""#).parse().unwrap();
        assert_eq!(p.origin.as_deref(), Some("https://bank.example"));
        let p: EnrollmentPayload = j(r#""http://127.0.0.1:8790""#).parse().unwrap();
        assert_eq!(p.origin.as_deref(), Some("http://127.0.0.1:8790"));
        let p: EnrollmentPayload = j("null").parse().unwrap();
        assert_eq!(p.origin, None);
        let p: EnrollmentPayload = j("\"\"").parse().unwrap();
        assert_eq!(p.origin, None);
        let link = format!(
            "assent://enroll?token=t&serviceSid={VA}&identity=u&origin=https%3A%2F%2Fbank.example%3A8443"
        );
        let p: EnrollmentPayload = link.parse().unwrap();
        assert_eq!(p.origin.as_deref(), Some("https://bank.example:8443"));
        for bad in [
            "https://bank.example/login",
            "https://bank.example?x=1",
            "https://bank.example#top",
            "https://user:pw@bank.example",
            "ftp://bank.example",
            "bank.example",
            "data:text/html,hi",
        ] {
            let err = j(&format!("{bad:?}"))
                .parse::<EnrollmentPayload>()
                .unwrap_err();
            assert_eq!(err.code(), ErrorCode::Input, "{bad}");
        }
        let err = j(r#""http://bank.example""#)
            .parse::<EnrollmentPayload>()
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InsecureUrl);
        assert_eq!(
            parse_web_origin("http://localhost:80").unwrap(),
            "http://localhost"
        );
    }

    #[test]
    fn rejects_bad_payloads() {
        use crate::ErrorCode;
        let bad = [
            "".to_string(),
            "hello".into(),
            "https://example.com/enroll?token=x".into(),
            format!("assent://enroll?serviceSid={VA}&identity=u"),
            "assent://enroll?token=t&serviceSid=VA12&identity=u".to_string(),
            format!("assent://enroll?token=t&serviceSid={VA}&identity=a%2Fb"),
            format!("assent://enroll?token=t&serviceSid={VA}&identity=u&factorType=totp"),
            format!(r#"{{"token":"","serviceSid":"{VA}","identity":"u"}}"#),
        ];
        for b in bad {
            assert_eq!(
                b.parse::<EnrollmentPayload>().unwrap_err().code(),
                ErrorCode::Input,
                "{b}"
            );
        }
        let insecure = format!(
            "assent://enroll?token=t&serviceSid={VA}&identity=u&baseUrl=http%3A%2F%2Fexample.com%2Fv2%2F"
        );
        assert_eq!(
            insecure.parse::<EnrollmentPayload>().unwrap_err().code(),
            ErrorCode::InsecureUrl
        );
    }

    #[test]
    fn display_names_are_read_from_json_and_link() {
        let j = format!(
            r#"{{"token":"t","serviceSid":"{VA}","identity":"u","serviceName":" Example Bank ","userName":"alice"}}"#
        );
        let p: EnrollmentPayload = j.parse().unwrap();
        assert_eq!(p.service_name.as_deref(), Some("Example Bank"));
        assert_eq!(p.user_name.as_deref(), Some("alice"));
        let link = format!(
            "assent://enroll?token=t&serviceSid={VA}&identity=u&serviceName=Caf%C3%A9&userName="
        );
        let p: EnrollmentPayload = link.parse().unwrap();
        assert_eq!(p.service_name.as_deref(), Some("Café"));
        assert_eq!(p.user_name, None, "empty means none");
    }

    #[test]
    fn hostile_display_names_are_refused() {
        use crate::ErrorCode;
        let long = "x".repeat(MAX_DISPLAY_CHARS + 1);
        for (field, value) in [
            ("serviceName", long.as_str()),
            ("userName", long.as_str()),
            ("serviceName", "Bank\\u0007"),
            ("serviceName", "Bank\\nPay now"),
            ("userName", "alice\\u202egnp.exe"),
            ("userName", "\\u2066evil\\u2069"),
        ] {
            let j = format!(
                r#"{{"token":"t","serviceSid":"{VA}","identity":"u","{field}":"{value}"}}"#
            );
            let err = j.parse::<EnrollmentPayload>().unwrap_err();
            assert_eq!(err.code(), ErrorCode::Input, "{field}={value:?}");
            assert!(err.to_string().contains(field), "{err}");
        }
        let ok = "é".repeat(MAX_DISPLAY_CHARS);
        assert_eq!(
            parse_display_text("serviceName", Some(&ok)).unwrap(),
            Some(ok.clone()),
            "the limit counts characters, not bytes"
        );
    }
}
