//! Validated newtypes for Twilio identifiers (reference §2: 2-letter prefix + 32 hex chars).

use crate::error::Error;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::str::FromStr;

fn is_sid(s: &str, prefix: &str) -> bool {
    s.len() == 34 && s.starts_with(prefix) && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

macro_rules! sid_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The two-letter prefix every SID of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// The SID as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                if is_sid(s, $prefix) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(Error::Input(format!(
                        "{} must be {} followed by 32 hex digits, got {:?}",
                        stringify!($name),
                        $prefix,
                        crate::ids::clip(s)
                    )))
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// Shortens untrusted input for error messages.
pub(crate) fn clip(s: &str) -> String {
    s.chars().take(48).collect()
}

sid_type!(
    /// Account SID (`AC…`).
    AccountSid, "AC"
);
sid_type!(
    /// Verify service SID (`VA…`).
    ServiceSid, "VA"
);
sid_type!(
    /// Factor SID (`YF…`).
    FactorSid, "YF"
);
sid_type!(
    /// Challenge SID (`YC…`).
    ChallengeSid, "YC"
);

/// Entity identity: 1–64 characters of `[A-Za-z0-9_-]` (Twilio asks for 8–64 dash-separated
/// alphanumerics; we accept a little more so existing backends' identities still work, but
/// nothing that would need escaping in a URL path).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Identity(String);

impl Identity {
    /// The identity as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Identity {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::Input(format!(
                "identity must be 1-64 characters of letters, digits, '-' or '_', got {:?}",
                clip(s)
            )))
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Identity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A factor's friendly name: trimmed, 1–64 characters (Twilio's limit), no control
/// characters (it is shown on one line and sent as a form field).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct FriendlyName(String);

impl FriendlyName {
    /// Most characters (Unicode scalar values) a friendly name may have.
    pub const MAX_CHARS: usize = 64;

    /// Trims `s` and checks it.
    pub fn new(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        let n = t.chars().count();
        if n == 0 || n > Self::MAX_CHARS {
            return Err(Error::Input(format!(
                "friendly name must be 1-{} characters, got {n}",
                Self::MAX_CHARS
            )));
        }
        if t.chars().any(char::is_control) {
            return Err(Error::Input(
                "friendly name must not contain control characters".into(),
            ));
        }
        Ok(Self(t.to_owned()))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for FriendlyName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::new(s)
    }
}

impl fmt::Display for FriendlyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for FriendlyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<'de> Deserialize<'de> for FriendlyName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl From<FriendlyName> for String {
    fn from(n: FriendlyName) -> String {
        n.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn friendly_names_are_trimmed_and_bounded() {
        assert_eq!(
            FriendlyName::new("  My laptop \t").unwrap().as_str(),
            "My laptop"
        );
        // 64 characters, not bytes.
        let wide = "é".repeat(64);
        assert_eq!(FriendlyName::new(&wide).unwrap().as_str(), wide);
        for bad in ["", "   ", "Line\nbreak", "bell\u{7}"] {
            let e = FriendlyName::new(bad).unwrap_err();
            assert_eq!(e.code(), crate::ErrorCode::Input, "{bad:?}");
        }
        assert!(FriendlyName::new(&"x".repeat(65)).is_err());
        assert!(serde_json::from_str::<FriendlyName>("\"\"").is_err());
        let n: FriendlyName = serde_json::from_str("\"Work\"").unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"Work\"");
    }

    #[test]
    fn sids_are_validated() {
        let ok = "YF0123456789abcdef0123456789ABCDEF";
        assert_eq!(ok.parse::<FactorSid>().unwrap().as_str(), ok);
        assert!("YC0123456789abcdef0123456789abcdef"
            .parse::<FactorSid>()
            .is_err());
        assert!("YF0123".parse::<FactorSid>().is_err());
        assert!("YF0123456789abcdef0123456789abcdeg"
            .parse::<FactorSid>()
            .is_err());
        let e = "nope".parse::<ChallengeSid>().unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::Input);
    }

    #[test]
    fn identity_rejects_path_characters() {
        assert!("user-1234_ab".parse::<Identity>().is_ok());
        assert!("a/b".parse::<Identity>().is_err());
        assert!("".parse::<Identity>().is_err());
        assert!("a b".parse::<Identity>().is_err());
        assert!("x".repeat(65).parse::<Identity>().is_err());
    }

    #[test]
    fn serde_round_trip_validates() {
        let sid: ServiceSid =
            serde_json::from_str("\"VA0123456789abcdef0123456789abcdef\"").unwrap();
        assert_eq!(
            serde_json::to_string(&sid).unwrap(),
            "\"VA0123456789abcdef0123456789abcdef\""
        );
        assert!(serde_json::from_str::<ServiceSid>("\"VA12\"").is_err());
    }
}
