//! A Verify Push device written from the protocol reference
//! (`docs/reference/verify-push-protocol.md`, not from the emulator's code), so the tests check
//! the emulator against an independent implementation.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePublicKey as _;
use serde_json::{json, Value};
use url::Url;

/// A device's P-256 key.
pub struct DeviceKey {
    key: SigningKey,
}

impl DeviceKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        loop {
            let bytes: [u8; 32] = rand::random();
            // Out-of-range scalars are astronomically rare; just draw again.
            if let Ok(key) = SigningKey::from_slice(&bytes) {
                return Self { key };
            }
        }
    }

    /// `Binding.PublicKey`: base64 of the DER SubjectPublicKeyInfo.
    pub fn public_key_b64(&self) -> String {
        let der = self
            .key
            .verifying_key()
            .to_public_key_der()
            .expect("P-256 public key encodes as SPKI");
        STANDARD.encode(der.as_bytes())
    }

    /// `AuthPayload` of factor verification: base64 DER signature over `message`.
    pub fn sign_der_b64(&self, message: &str) -> String {
        let sig: Signature = self.key.sign(message.as_bytes());
        STANDARD.encode(sig.to_der().as_bytes())
    }

    /// Compact JWS, ES256 with the raw r‖s signature.
    pub fn jws(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig: Signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }

    /// Device-authentication JWT for every call after factor creation.
    pub fn device_jwt(&self, credential_sid: &str, account_sid: &str) -> String {
        let now = chrono::Utc::now().timestamp();
        self.jws(
            &json!({"cty": "twilio-pba;v=1", "kid": credential_sid, "typ": "JWT", "alg": "ES256"}),
            &json!({"sub": account_sid, "exp": now + 600, "nbf": now}),
        )
    }

    /// Answer JWS: the listed fields of the fetched challenge plus the new status.
    pub fn challenge_payload(
        &self,
        challenge: &Value,
        signature_fields: &str,
        status: &str,
    ) -> String {
        let mut claims = serde_json::Map::new();
        for name in signature_fields.split(',') {
            claims.insert(
                name.to_owned(),
                challenge.get(name).cloned().unwrap_or(Value::Null),
            );
        }
        claims.insert("status".into(), Value::String(status.to_owned()));
        self.jws(
            &json!({"typ": "JWT", "alg": "ES256"}),
            &Value::Object(claims),
        )
    }
}

/// An enrolled device talking to the API over HTTP.
pub struct Device {
    http: reqwest::Client,
    api_base: Url,
    key: DeviceKey,
    /// The factor JSON returned at creation.
    pub factor: Value,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

impl Device {
    /// Creates the factor with the access token, then verifies it (create + verify).
    pub async fn enroll(
        http: &reqwest::Client,
        api_base: &Url,
        token: &str,
        service_sid: &str,
        identity: &str,
        name: &str,
    ) -> Result<Self, String> {
        let key = DeviceKey::generate();
        let url = api_base
            .join(&format!(
                "Services/{service_sid}/Entities/{identity}/Factors"
            ))
            .map_err(|e| e.to_string())?;
        let response = http
            .post(url)
            .basic_auth("token", Some(token))
            .form(&[
                ("FriendlyName", name),
                ("FactorType", "push"),
                ("Binding.PublicKey", key.public_key_b64().as_str()),
                ("Binding.Alg", "ES256"),
                ("Config.SdkVersion", "0.1.0"),
                ("Config.AppId", "dev.assent.Test"),
                ("Config.NotificationPlatform", "none"),
            ])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let factor: Value = response.json().await.map_err(|e| e.to_string())?;
        if status.as_u16() != 201 {
            return Err(format!("create factor: HTTP {status}: {factor}"));
        }
        let device = Self {
            http: http.clone(),
            api_base: api_base.clone(),
            key,
            factor,
        };
        let sid = device.factor_sid();
        let verified = device
            .post(
                &device.factor_path(),
                &[("AuthPayload", device.key.sign_der_b64(&sid))],
            )
            .await?;
        if text(&verified, "status") != "verified" {
            return Err(format!("verify factor: {verified}"));
        }
        Ok(device)
    }

    /// `YF…`
    pub fn factor_sid(&self) -> String {
        text(&self.factor, "sid")
    }

    fn factor_path(&self) -> String {
        format!(
            "Services/{}/Entities/{}/Factors/{}",
            text(&self.factor, "service_sid"),
            text(&self.factor, "identity"),
            self.factor_sid()
        )
    }

    fn challenge_path(&self, sid: &str) -> String {
        format!(
            "Services/{}/Entities/{}/Challenges/{sid}",
            text(&self.factor, "service_sid"),
            text(&self.factor, "identity"),
        )
    }

    /// A fresh device JWT for this factor.
    pub fn jwt(&self) -> String {
        let credential = self
            .factor
            .pointer("/config/credential_sid")
            .and_then(Value::as_str)
            .unwrap_or_default();
        self.key
            .device_jwt(credential, &text(&self.factor, "account_sid"))
    }

    async fn post(&self, path: &str, form: &[(&str, String)]) -> Result<Value, String> {
        let url = self.api_base.join(path).map_err(|e| e.to_string())?;
        let response = self
            .http
            .post(url)
            .basic_auth("token", Some(self.jwt()))
            .form(form)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("POST {path}: HTTP {status}: {body}"));
        }
        Ok(body)
    }

    /// D5: the challenge JSON and its `Twilio-Verify-Signature-Fields` header.
    pub async fn fetch_challenge(&self, sid: &str) -> Result<(Value, String), String> {
        let url = self
            .api_base
            .join(&self.challenge_path(sid))
            .map_err(|e| e.to_string())?;
        let response = self
            .http
            .get(url)
            .basic_auth("token", Some(self.jwt()))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let fields = response
            .headers()
            .get("Twilio-Verify-Signature-Fields")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("GET challenge: HTTP {status}: {body}"));
        }
        Ok((body, fields))
    }

    /// D5 + D7: fetch, sign, post the answer; returns the POST's challenge JSON.
    pub async fn answer(&self, sid: &str, status: &str) -> Result<Value, String> {
        let (challenge, fields) = self.fetch_challenge(sid).await?;
        if fields.is_empty() {
            return Err("no Twilio-Verify-Signature-Fields header".into());
        }
        let payload = self.key.challenge_payload(&challenge, &fields, status);
        self.post(&self.challenge_path(sid), &[("AuthPayload", payload)])
            .await
    }

    /// [`Device::answer`] with a `Metadata` form field (a JSON object text).
    pub async fn answer_with_metadata(
        &self,
        sid: &str,
        status: &str,
        metadata: &str,
    ) -> Result<Value, String> {
        let (challenge, fields) = self.fetch_challenge(sid).await?;
        if fields.is_empty() {
            return Err("no Twilio-Verify-Signature-Fields header".into());
        }
        let payload = self.key.challenge_payload(&challenge, &fields, status);
        self.post(
            &self.challenge_path(sid),
            &[("AuthPayload", payload), ("Metadata", metadata.to_owned())],
        )
        .await
    }

    /// The key, for tests that build requests by hand.
    pub fn key(&self) -> &DeviceKey {
        &self.key
    }
}
