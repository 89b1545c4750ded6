//! Device-side helpers for tests (feature `testing`): a P-256 key that produces what the
//! mobile SDKs send — SPKI public key, DER verify-factor payload, device JWT, challenge JWS —
//! plus Basic-auth header values. Not for production use.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::Generate;
use p256::pkcs8::EncodePublicKey;
use serde_json::{json, Value};

/// A device key pair. `Debug` never prints the private key.
#[derive(Clone)]
pub struct DeviceKey {
    sk: SigningKey,
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceKey([redacted])")
    }
}

impl DeviceKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        DeviceKey {
            sk: SigningKey::generate(),
        }
    }

    /// A key from a 32-byte big-endian scalar (test vectors).
    pub fn from_scalar(bytes: &[u8]) -> Option<Self> {
        SigningKey::from_slice(bytes)
            .ok()
            .map(|sk| DeviceKey { sk })
    }

    /// `Binding.PublicKey`: base64 DER SubjectPublicKeyInfo.
    pub fn public_key_b64(&self) -> String {
        match self.sk.verifying_key().to_public_key_der() {
            Ok(der) => STANDARD.encode(der.as_bytes()),
            Err(_) => String::new(),
        }
    }

    /// Verify-factor `AuthPayload`: base64 DER ECDSA-P256-SHA256 over `msg` (the factor SID).
    pub fn sign_der_b64(&self, msg: &str) -> String {
        let sig: Signature = self.sk.sign(msg.as_bytes());
        STANDARD.encode(sig.to_der().as_bytes())
    }

    /// Compact JWS ES256 (raw r‖s) of `header` and `claims` as compact JSON.
    pub fn sign_jws(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig: Signature = self.sk.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }

    /// Compact JWS ES256 over exactly these header and payload JSON texts (to mimic SDK
    /// serializations such as escaped `\/` or another key order).
    pub fn sign_jws_raw(&self, header_json: &str, claims_json: &str) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header_json),
            URL_SAFE_NO_PAD.encode(claims_json)
        );
        let sig: Signature = self.sk.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }

    /// Device JWT as the SDKs mint it (§6): `kid` = credential SID, `sub` = account SID.
    pub fn device_jwt(
        &self,
        credential_sid: &str,
        account_sid: &str,
        nbf: i64,
        exp: i64,
    ) -> String {
        self.sign_jws(
            &json!({"cty": "twilio-pba;v=1", "kid": credential_sid, "typ": "JWT", "alg": "ES256"}),
            &json!({"sub": account_sid, "exp": exp, "nbf": nbf}),
        )
    }

    /// Device JWT valid now (nbf = now, exp = now + 600).
    pub fn device_jwt_now(&self, credential_sid: &str, account_sid: &str) -> String {
        let now = chrono::Utc::now().timestamp();
        self.device_jwt(credential_sid, account_sid, now, now + 600)
    }

    /// Challenge `AuthPayload` (§7): the listed fields copied from the fetched challenge JSON,
    /// in the listed order (as Android builds them), then `status` (in place when listed,
    /// else last). A field missing from the JSON is copied as null.
    pub fn challenge_jws(&self, challenge: &Value, signature_fields: &str, status: &str) -> String {
        let mut order: Vec<&str> = Vec::new();
        for f in signature_fields.split(',') {
            if !order.contains(&f) {
                order.push(f);
            }
        }
        if !order.contains(&"status") {
            order.push("status");
        }
        let members: Vec<String> = order
            .iter()
            .map(|f| {
                let v = if *f == "status" {
                    json!(status)
                } else {
                    challenge.get(*f).cloned().unwrap_or(Value::Null)
                };
                format!("{}:{v}", Value::from(*f))
            })
            .collect();
        self.sign_jws_raw(
            r#"{"typ":"JWT","alg":"ES256"}"#,
            &format!("{{{}}}", members.join(",")),
        )
    }
}

/// `Authorization` value for Basic `user:pass`.
pub fn basic(user: &str, pass: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{pass}")))
}

/// `Authorization` value for device calls (`token:<token or JWT>`).
pub fn device_basic(token: &str) -> String {
    basic("token", token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signer_matches_reference_key_and_verifies() {
        let scalar: Vec<u8> = (0..32)
            .map(|i| {
                u8::from_str_radix(
                    &"c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721"
                        [i * 2..i * 2 + 2],
                    16,
                )
                .unwrap()
            })
            .collect();
        let k = DeviceKey::from_scalar(&scalar).unwrap();
        assert!(k
            .public_key_b64()
            .starts_with("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYP7U"));
        let vk = crate::crypto::parse_spki_b64(&k.public_key_b64()).unwrap();
        let sid = "YF00000000000000000000000000000001";
        assert!(crate::crypto::verify_der_b64(&vk, sid.as_bytes(), &k.sign_der_b64(sid)).is_ok());
        let jwt = k.device_jwt(
            "CR00000000000000000000000000000001",
            "AC00000000000000000000000000000001",
            1,
            2,
        );
        assert!(crate::crypto::verify_jws(&jwt, &vk).is_ok());
        assert!(!format!("{k:?}").contains("c9af"));
    }
}
