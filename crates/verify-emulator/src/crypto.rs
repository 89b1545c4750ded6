//! Signature checks: SPKI public keys, DER ECDSA (verify factor), compact JWS ES256 (device
//! JWT, challenge AuthPayload), and Twilio's webhook HMAC-SHA1 signature.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{DerSignature, Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde_json::Value;

use crate::form::decode_b64_standard;

/// Why a key or signature was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    /// Not valid base64 / base64url.
    #[error("not valid base64")]
    Base64,
    /// Not a DER SubjectPublicKeyInfo of a P-256 key.
    #[error("not a P-256 SubjectPublicKeyInfo")]
    PublicKey,
    /// Not a well-formed signature encoding.
    #[error("malformed signature")]
    SignatureFormat,
    /// The signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// Not a three-part compact JWS with JSON header and payload.
    #[error("malformed JWS: {0}")]
    Jws(&'static str),
}

/// Parses standard padded base64 DER SPKI (`Binding.PublicKey`) into a P-256 verifying key.
pub fn parse_spki_b64(b64: &str) -> Result<VerifyingKey, CryptoError> {
    let der = decode_b64_standard(b64).ok_or(CryptoError::Base64)?;
    VerifyingKey::from_public_key_der(&der).map_err(|_| CryptoError::PublicKey)
}

/// Canonical base64 of a stored public key's SPKI (what `binding.public_key` echoes).
pub fn spki_b64_canonical(b64: &str) -> Result<String, CryptoError> {
    let der = decode_b64_standard(b64).ok_or(CryptoError::Base64)?;
    VerifyingKey::from_public_key_der(&der).map_err(|_| CryptoError::PublicKey)?;
    Ok(STANDARD.encode(der))
}

/// Verifies a standard padded base64 DER ECDSA-P256-SHA256 signature over `msg`
/// (verify-factor AuthPayload).
pub fn verify_der_b64(key: &VerifyingKey, msg: &[u8], sig_b64: &str) -> Result<(), CryptoError> {
    let der = decode_b64_standard(sig_b64).ok_or(CryptoError::Base64)?;
    let sig = DerSignature::from_bytes(&der).map_err(|_| CryptoError::SignatureFormat)?;
    key.verify(msg, &sig).map_err(|_| CryptoError::BadSignature)
}

/// Header and claims of a compact JWS.
#[derive(Debug, Clone)]
pub struct Jws {
    /// Decoded protected header.
    pub header: Value,
    /// Decoded payload (claims).
    pub claims: Value,
}

/// Decodes a compact JWS *without* checking its signature (to read `kid` first).
pub fn decode_jws_unverified(compact: &str) -> Result<Jws, CryptoError> {
    let mut parts = compact.split('.');
    let (Some(h), Some(p), Some(_s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(CryptoError::Jws("expected three parts"));
    };
    let header = decode_json_part(h)?;
    let claims = decode_json_part(p)?;
    if !header.is_object() || !claims.is_object() {
        return Err(CryptoError::Jws("header and payload must be JSON objects"));
    }
    Ok(Jws { header, claims })
}

fn decode_json_part(part: &str) -> Result<Value, CryptoError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| CryptoError::Base64)?;
    serde_json::from_slice(&bytes).map_err(|_| CryptoError::Jws("part is not JSON"))
}

/// Verifies a compact ES256 JWS (raw r‖s signature) over the received `header.payload`
/// bytes — never a re-serialization — and returns its decoded parts.
pub fn verify_jws(compact: &str, key: &VerifyingKey) -> Result<Jws, CryptoError> {
    let jws = decode_jws_unverified(compact)?;
    if jws.header.get("alg").and_then(Value::as_str) != Some("ES256") {
        return Err(CryptoError::Jws("alg must be ES256"));
    }
    let last_dot = compact.rfind('.').ok_or(CryptoError::Jws("no signature"))?;
    let signing_input = &compact.as_bytes()[..last_dot];
    let raw = URL_SAFE_NO_PAD
        .decode(compact[last_dot + 1..].trim_end_matches('='))
        .map_err(|_| CryptoError::Base64)?;
    let sig = Signature::from_slice(&raw).map_err(|_| CryptoError::SignatureFormat)?;
    key.verify(signing_input, &sig)
        .map_err(|_| CryptoError::BadSignature)?;
    Ok(jws)
}

/// `X-Twilio-Signature`: base64(HMAC-SHA1(auth token, URL + sorted name+value pairs)).
///
/// Pairs are sorted by name, then value (twilio-python sorts repeated values), as in
/// <https://www.twilio.com/docs/usage/webhooks/webhooks-security>. For GET requests pass the
/// full URL including the query string and no params.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut data = String::from(url);
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    // HMAC accepts keys of any length, so this cannot fail; fall back to an empty tag anyway.
    match Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()) {
        Ok(mut mac) => {
            mac.update(data.as_bytes());
            STANDARD.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors from the protocol reference §13 (key = RFC 6979 A.2.5 P-256 private scalar).
    const SPKI: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Z5A/4QCLi8maQa6elWKLxk8vGyDC1+n1F3o8KU1EYimQ==";
    const VERIFY_PAYLOAD: &str = "MEUCIQDBazJOT69A+h9OLqe67i0ozybTf2+IMHoiAN112s2dSgIga6WqLK1xbRVxoW1QYYbiL8dDHnKyyIu2w+HHu+9kai0=";
    const DEVICE_JWT: &str = "eyJjdHkiOiJ0d2lsaW8tcGJhO3Y9MSIsImtpZCI6IkNSMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDEiLCJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJBQzAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAxIiwiZXhwIjoxNzAwMDAwNjAwLCJuYmYiOjE3MDAwMDAwMDB9.9akLUGOt4vXI6ixilMWpNJR_yVo4_C0dTudT6MBEgmuPmwFTJ_A6EPVVxjQ_qEDpuLQXvXVP6GU0kVSpp9c4Gg";
    const CHALLENGE_JWS: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJzaWQiOiJZQzAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAxIiwiZmFjdG9yX3NpZCI6IllGMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDEiLCJkZXRhaWxzIjp7Im1lc3NhZ2UiOiJMb2dpbj8iLCJmaWVsZHMiOlt7ImxhYmVsIjoiSVAiLCJ2YWx1ZSI6IjEwLjAuMC4xIn1dLCJkYXRlIjoiMjAyMy0xMS0xNFQyMjoxMzoyMFoifSwiZXhwaXJhdGlvbl9kYXRlIjoiMjAyMy0xMS0xNFQyMjoxODoyMFoiLCJzdGF0dXMiOiJhcHByb3ZlZCJ9.dN0-sNr76jzYm8RHmuCXdkTYld_J6CpIcSt5GJHKlChzP3N6u_wlJvseW-zodvShquf7SRGbI1tqUVeYM3E6qA";
    const SCALAR: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn spki_matches_rfc6979_key() {
        use p256::pkcs8::EncodePublicKey;
        let sk = p256::ecdsa::SigningKey::from_slice(&hex(SCALAR)).unwrap();
        let der = sk.verifying_key().to_public_key_der().unwrap();
        assert_eq!(STANDARD.encode(der.as_bytes()), SPKI);
        assert_eq!(parse_spki_b64(SPKI).unwrap(), *sk.verifying_key());
        assert_eq!(spki_b64_canonical(SPKI).unwrap(), SPKI);
        assert_eq!(parse_spki_b64("MFkw"), Err(CryptoError::PublicKey));
        assert_eq!(parse_spki_b64("%%%"), Err(CryptoError::Base64));
    }

    #[test]
    fn der_verify_factor_vector() {
        let key = parse_spki_b64(SPKI).unwrap();
        let sid = b"YF00000000000000000000000000000001";
        assert_eq!(verify_der_b64(&key, sid, VERIFY_PAYLOAD), Ok(()));
        let other = b"YF00000000000000000000000000000002";
        assert_eq!(
            verify_der_b64(&key, other, VERIFY_PAYLOAD),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            verify_der_b64(&key, sid, "AAAA"),
            Err(CryptoError::SignatureFormat)
        );
    }

    #[test]
    fn device_jwt_vector() {
        let key = parse_spki_b64(SPKI).unwrap();
        let jws = verify_jws(DEVICE_JWT, &key).unwrap();
        assert_eq!(jws.header["kid"], "CR00000000000000000000000000000001");
        assert_eq!(jws.header["cty"], "twilio-pba;v=1");
        assert_eq!(jws.claims["sub"], "AC00000000000000000000000000000001");
        assert_eq!(jws.claims["nbf"], 1_700_000_000);
        assert_eq!(jws.claims["exp"], 1_700_000_600);
        // One flipped payload character breaks it: verification is over the received bytes.
        let mut tampered = DEVICE_JWT.to_string();
        tampered.replace_range(120..121, "A");
        assert!(verify_jws(&tampered, &key).is_err());
    }

    #[test]
    fn challenge_jws_vector() {
        let key = parse_spki_b64(SPKI).unwrap();
        let jws = verify_jws(CHALLENGE_JWS, &key).unwrap();
        assert_eq!(jws.claims["status"], "approved");
        assert_eq!(jws.claims["details"]["fields"][0]["value"], "10.0.0.1");
        let other = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        assert_eq!(
            verify_jws(CHALLENGE_JWS, other.verifying_key()).unwrap_err(),
            CryptoError::BadSignature
        );
        assert!(decode_jws_unverified("a.b").is_err());
    }

    #[test]
    fn twilio_python_request_validator_vectors() {
        // twilio-python tests/unit/test_request_validator.py
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let p = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let params = p(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
            ("Caller", "+14158675309"),
        ]);
        assert_eq!(
            twilio_signature("12345", url, &params),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
        let dup = p(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
        ]);
        assert_eq!(
            twilio_signature("12345", url, &dup),
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        );
    }
}
