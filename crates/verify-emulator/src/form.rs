//! Tolerant `application/x-www-form-urlencoded` parsing (bodies and query strings).
//!
//! iOS percent-encodes whole `name=value` strings and leaves `&`, `=` and `/` inside values
//! unescaped, so pairs are split on `&` and then on the *first* `=` only (protocol §2).

/// Ordered form parameters; repeated keys (e.g. `Details.Fields`) are kept.
#[derive(Clone, Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a body or query string.
    pub fn parse(bytes: &[u8]) -> Self {
        // form_urlencoded splits on '&' then the first '=', and maps '+' to space.
        Params(
            form_urlencoded::parse(bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of any of `names` (aliases such as `PageToken` / `pageToken`).
    pub fn get_any(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|n| self.get(n))
    }

    /// Every value of `name`, in order.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether `name` is present at all.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

/// Standard padded base64 only (RFC 4648 §4, canonical trailing bits, no whitespace), as
/// Twilio requires for `Binding.PublicKey` ("encoded in Base64", OAI) and the verify
/// `AuthPayload`, and as both SDKs send them. Unpadded, URL-safe and line-wrapped text is
/// refused, and so is a `+` a client left unescaped (a form body turns it into a space).
pub fn decode_b64_standard(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    STANDARD.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ios_quirks() {
        // iOS leaves '=' and '/' unescaped inside values.
        let p = Params::parse(b"Binding.PublicKey=MFkw/EwY==&FriendlyName=My%20Mac&A=b=c");
        assert_eq!(p.get("Binding.PublicKey"), Some("MFkw/EwY=="));
        assert_eq!(p.get("FriendlyName"), Some("My Mac"));
        assert_eq!(p.get("A"), Some("b=c"));
        let p = Params::parse(b"Details.Fields=%7B%7D&Details.Fields=x&pageToken=T");
        assert_eq!(p.get_all("Details.Fields"), vec!["{}", "x"]);
        assert_eq!(p.get_any(&["PageToken", "pageToken"]), Some("T"));
        assert!(!p.has("Nope"));
    }

    #[test]
    fn standard_base64_only() {
        assert_eq!(decode_b64_standard("YWI+"), Some(b"ab>".to_vec()));
        assert_eq!(decode_b64_standard("YQ=="), Some(b"a".to_vec()));
        for bad in [
            "YWI ", "YWI-", "YQ", "YQ=", "YQ===", "YR==", "YW\nI+", " YWI+", "!!",
        ] {
            assert_eq!(decode_b64_standard(bad), None, "{bad:?}");
        }
    }
}
