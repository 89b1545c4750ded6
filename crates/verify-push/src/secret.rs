//! Secret newtypes: their Debug and Display print `[redacted]` and their bytes are zeroized on
//! drop, so a stray `{:?}` or log line cannot leak a token, JWT or private key.

use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

const REDACTED: &str = "[redacted]";

macro_rules! secret_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret string.
            pub fn new(s: impl Into<String>) -> Self {
                Self(s.into())
            }

            /// The secret itself. Call only where it is put on the wire.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), REDACTED)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(REDACTED)
            }
        }
    };
}

secret_string!(
    /// The enrolment access token (an opaque JWE) used once, to create a factor.
    AccessToken
);
secret_string!(
    /// A device-authentication JWT (reference §6), minted fresh for each request.
    DeviceJwt
);

/// Private key bytes (the raw 32-byte P-256 scalar) as handed to and from a key store.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecretKeyBytes(Vec<u8>);

impl SecretKeyBytes {
    /// Wraps key bytes; the caller should zeroize its own copy.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The bytes. Call only to hand them to the key store or the signer.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretKeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKeyBytes({REDACTED})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let t = AccessToken::new("eyJsecret");
        assert_eq!(format!("{t:?}"), "AccessToken([redacted])");
        assert_eq!(format!("{t}"), "[redacted]");
        assert_eq!(t.expose(), "eyJsecret");
        let k = SecretKeyBytes::new(vec![1, 2, 3]);
        assert!(!format!("{k:?}").contains('1'));
        let j = DeviceJwt::new("a.b.c");
        assert!(!format!("{j:?} {j}").contains("a.b.c"));
    }
}
