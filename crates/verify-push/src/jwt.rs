//! Device-authentication JWTs (reference §6) and challenge-response JWS (reference §7).

use crate::crypto::{b64url, b64url_decode, verify_raw, KeyPair};
use crate::error::Error;
use crate::ids::AccountSid;
use crate::secret::DeviceJwt;
use p256::ecdsa::VerifyingKey;
use serde_json::{Map, Value};

/// `cty` of device JWTs.
pub const DEVICE_JWT_CTY: &str = "twilio-pba;v=1";
/// Lifetime of a device JWT in seconds (`exp = nbf + 600`).
pub const DEVICE_JWT_TTL_SECS: i64 = 600;

fn json_str(s: &str) -> String {
    // Serializing a &str cannot fail.
    serde_json::to_string(s).unwrap_or_default()
}

/// Builds the device JWT for one request: header `{cty, kid, typ, alg}`, claims `{sub, exp, nbf}`,
/// in the Android SDK's key order. `now` is the server-corrected Unix time.
pub fn device_jwt(
    key: &KeyPair,
    credential_sid: &str,
    account: &AccountSid,
    now: i64,
) -> DeviceJwt {
    let header = format!(
        r#"{{"cty":{},"kid":{},"typ":"JWT","alg":"ES256"}}"#,
        json_str(DEVICE_JWT_CTY),
        json_str(credential_sid)
    );
    let claims = format!(
        r#"{{"sub":{},"exp":{},"nbf":{}}}"#,
        json_str(account.as_str()),
        now + DEVICE_JWT_TTL_SECS,
        now
    );
    DeviceJwt::new(sign_compact(key, header.as_bytes(), claims.as_bytes()))
}

/// Builds the JSON claims for a challenge answer: each field named in
/// `Twilio-Verify-Signature-Fields` copied from the challenge response, then `status`.
pub fn challenge_claims(
    signature_fields: &str,
    challenge: &Map<String, Value>,
    status: &str,
) -> Result<Map<String, Value>, Error> {
    let mut out = Map::new();
    for field in signature_fields.split(',') {
        if field.is_empty() {
            continue;
        }
        let value = challenge.get(field).ok_or_else(|| {
            Error::Input(format!(
                "signature field {field:?} is not in the challenge response"
            ))
        })?;
        out.insert(field.to_owned(), value.clone());
    }
    if out.is_empty() {
        return Err(Error::Input(
            "signature fields or response not set (empty Twilio-Verify-Signature-Fields)".into(),
        ));
    }
    out.insert("status".into(), Value::String(status.to_owned()));
    Ok(out)
}

/// The challenge `AuthPayload`: compact JWS, header `{"typ":"JWT","alg":"ES256"}`.
pub fn challenge_jws(key: &KeyPair, claims: &Map<String, Value>) -> Result<String, Error> {
    let payload = serde_json::to_vec(claims)
        .map_err(|e| Error::AuthenticationToken(format!("serializing claims: {e}")))?;
    Ok(sign_compact(
        key,
        br#"{"typ":"JWT","alg":"ES256"}"#,
        &payload,
    ))
}

fn sign_compact(key: &KeyPair, header: &[u8], payload: &[u8]) -> String {
    let signing_input = format!("{}.{}", b64url(header), b64url(payload));
    let sig = key.sign_raw(signing_input.as_bytes());
    format!("{signing_input}.{}", b64url(&sig))
}

/// A decoded compact JWS (signature not yet checked).
#[derive(Debug, Clone)]
pub struct DecodedJws {
    /// Protected header.
    pub header: Map<String, Value>,
    /// Claims.
    pub claims: Map<String, Value>,
    /// `base64url(header) + "." + base64url(claims)`, the bytes that were signed.
    pub signing_input: String,
    /// Raw r‖s signature.
    pub signature: Vec<u8>,
}

impl DecodedJws {
    /// Checks the ES256 signature with `key`.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), Error> {
        verify_raw(key, self.signing_input.as_bytes(), &self.signature)
    }
}

/// Splits and decodes a compact JWS (three base64url parts, JSON header and claims).
pub fn decode_jws(token: &str) -> Result<DecodedJws, Error> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Input(
            "a JWS has exactly three dot-separated parts".into(),
        ));
    };
    let obj = |seg: &str, what: &str| -> Result<Map<String, Value>, Error> {
        let bytes = b64url_decode(seg)?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(Error::Input(format!("JWS {what} is not a JSON object"))),
        }
    };
    Ok(DecodedJws {
        header: obj(h, "header")?,
        claims: obj(p, "claims")?,
        signing_input: format!("{h}.{p}"),
        signature: b64url_decode(s)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::tests::test_key;

    const REF_DEVICE_JWT: &str = "eyJjdHkiOiJ0d2lsaW8tcGJhO3Y9MSIsImtpZCI6IkNSMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDEiLCJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJBQzAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAxIiwiZXhwIjoxNzAwMDAwNjAwLCJuYmYiOjE3MDAwMDAwMDB9.9akLUGOt4vXI6ixilMWpNJR_yVo4_C0dTudT6MBEgmuPmwFTJ_A6EPVVxjQ_qEDpuLQXvXVP6GU0kVSpp9c4Gg";
    const REF_CHALLENGE_JWS: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJzaWQiOiJZQzAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAxIiwiZmFjdG9yX3NpZCI6IllGMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDEiLCJkZXRhaWxzIjp7Im1lc3NhZ2UiOiJMb2dpbj8iLCJmaWVsZHMiOlt7ImxhYmVsIjoiSVAiLCJ2YWx1ZSI6IjEwLjAuMC4xIn1dLCJkYXRlIjoiMjAyMy0xMS0xNFQyMjoxMzoyMFoifSwiZXhwaXJhdGlvbl9kYXRlIjoiMjAyMy0xMS0xNFQyMjoxODoyMFoiLCJzdGF0dXMiOiJhcHByb3ZlZCJ9.dN0-sNr76jzYm8RHmuCXdkTYld_J6CpIcSt5GJHKlChzP3N6u_wlJvseW-zodvShquf7SRGbI1tqUVeYM3E6qA";

    fn account() -> AccountSid {
        "AC00000000000000000000000000000001".parse().unwrap()
    }

    #[test]
    fn device_jwt_matches_reference_header_and_claims() {
        let k = test_key();
        let jwt = device_jwt(
            &k,
            "CR00000000000000000000000000000001",
            &account(),
            1_700_000_000,
        );
        let ours: Vec<&str> = jwt.expose().split('.').collect();
        let theirs: Vec<&str> = REF_DEVICE_JWT.split('.').collect();
        // ECDSA in the reference was randomized: header and claims must match byte for byte,
        // and both signatures must verify.
        assert_eq!(ours[0], theirs[0]);
        assert_eq!(ours[1], theirs[1]);
        let vk = k.verifying_key();
        decode_jws(jwt.expose()).unwrap().verify(&vk).unwrap();
        let reference = decode_jws(REF_DEVICE_JWT).unwrap();
        reference.verify(&vk).unwrap();
        assert_eq!(
            reference.header["kid"],
            "CR00000000000000000000000000000001"
        );
        assert_eq!(reference.claims["exp"], 1_700_000_600);
    }

    #[test]
    fn challenge_claims_take_named_fields_plus_status() {
        let body: Value = serde_json::json!({
            "sid": "YC00000000000000000000000000000001",
            "factor_sid": "YF00000000000000000000000000000001",
            "details": {"message": "Login?", "fields": [{"label": "IP", "value": "10.0.0.1"}], "date": "2023-11-14T22:13:20Z"},
            "expiration_date": "2023-11-14T22:18:20Z",
            "status": "pending",
            "hidden_details": null,
            "extra": 1
        });
        let map = body.as_object().unwrap();
        let claims =
            challenge_claims("sid,factor_sid,details,expiration_date", map, "approved").unwrap();
        assert_eq!(claims.len(), 5);
        assert_eq!(claims["status"], "approved");
        assert_eq!(claims["details"], body["details"]);
        assert!(!claims.contains_key("extra"));
        // A listed `status` is overwritten with the new one.
        let c2 = challenge_claims("sid,status", map, "denied").unwrap();
        assert_eq!(c2["status"], "denied");
        // Semantically equal to the reference vector's claims.
        let reference = decode_jws(REF_CHALLENGE_JWS).unwrap();
        assert_eq!(reference.claims, claims);
        reference.verify(&test_key().verifying_key()).unwrap();

        let k = test_key();
        let jws = challenge_jws(&k, &claims).unwrap();
        let d = decode_jws(&jws).unwrap();
        assert_eq!(d.header, reference.header);
        assert_eq!(d.claims, claims);
        d.verify(&k.verifying_key()).unwrap();
    }

    #[test]
    fn missing_or_empty_signature_fields_are_errors() {
        let map = serde_json::json!({"sid": "x"});
        let map = map.as_object().unwrap();
        assert!(challenge_claims("sid,nope", map, "approved").is_err());
        assert!(challenge_claims("", map, "approved").is_err());
    }

    #[test]
    fn decode_rejects_garbage() {
        assert!(decode_jws("a.b").is_err());
        assert!(decode_jws("a.b.c.d").is_err());
        assert!(decode_jws("!!.??.**").is_err());
        // Swap in other claims: the signature must no longer verify.
        let mut parts: Vec<String> = REF_DEVICE_JWT.split('.').map(str::to_owned).collect();
        parts[1] = b64url(br#"{"sub":"AC00000000000000000000000000000002"}"#);
        let tampered = decode_jws(&parts.join(".")).unwrap();
        assert!(tampered.verify(&test_key().verifying_key()).is_err());
    }
}
