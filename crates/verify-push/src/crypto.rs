//! P-256 keys and signatures in the encodings Twilio expects (reference §8.1, §6.3, D2).

use crate::error::Error;
use crate::secret::SecretKeyBytes;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use p256::elliptic_curve::Generate;
use p256::pkcs8::{DecodePublicKey, EncodePublicKey};
use zeroize::Zeroize;

/// A factor's signing key. Wraps `p256::ecdsa::SigningKey`, which zeroizes itself on drop.
pub struct KeyPair {
    signing: SigningKey,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyPair([redacted])")
    }
}

impl KeyPair {
    /// A fresh random key from the OS RNG.
    pub fn generate() -> Self {
        Self {
            signing: SigningKey::generate(),
        }
    }

    /// Loads a key from its raw 32-byte scalar.
    pub fn from_secret(bytes: &SecretKeyBytes) -> Result<Self, Error> {
        SigningKey::from_slice(bytes.expose())
            .map(|signing| Self { signing })
            .map_err(|_| Error::KeyStorage("stored private key is not a valid P-256 scalar".into()))
    }

    /// The raw scalar for the key store; the intermediate array is zeroized.
    pub fn to_secret(&self) -> SecretKeyBytes {
        let mut bytes = self.signing.to_bytes();
        let out = SecretKeyBytes::new(bytes.as_slice().to_vec());
        bytes.as_mut_slice().zeroize();
        out
    }

    /// DER SubjectPublicKeyInfo of the public key (91 bytes).
    pub fn public_key_spki_der(&self) -> Result<Vec<u8>, Error> {
        self.signing
            .verifying_key()
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .map_err(|e| Error::Initialization(format!("encoding the public key: {e}")))
    }

    /// `Binding.PublicKey`: standard base64 (padded, unwrapped) of the SPKI DER.
    pub fn public_key_base64(&self) -> Result<String, Error> {
        Ok(STANDARD.encode(self.public_key_spki_der()?))
    }

    /// ECDSA-SHA256 signature, DER encoded (verify-factor's `AuthPayload`).
    pub fn sign_der(&self, msg: &[u8]) -> Vec<u8> {
        let sig: DerSignature = self.signing.sign(msg);
        sig.as_bytes().to_vec()
    }

    /// ECDSA-SHA256 signature as raw 64-byte r‖s (JWS ES256).
    pub fn sign_raw(&self, msg: &[u8]) -> [u8; 64] {
        let sig: Signature = self.signing.sign(msg);
        let mut out = [0u8; 64];
        out.copy_from_slice(&sig.to_bytes());
        out
    }

    /// The public half.
    pub fn verifying_key(&self) -> VerifyingKey {
        *self.signing.verifying_key()
    }
}

/// Parses a base64 SPKI public key (as sent in `Binding.PublicKey`).
pub fn public_key_from_base64(b64: &str) -> Result<VerifyingKey, Error> {
    let der = STANDARD
        .decode(b64)
        .map_err(|e| Error::Input(format!("public key is not base64: {e}")))?;
    VerifyingKey::from_public_key_der(&der)
        .map_err(|e| Error::Input(format!("public key is not P-256 SPKI: {e}")))
}

/// Verifies a DER signature (as the server does for verify-factor).
pub fn verify_der(key: &VerifyingKey, msg: &[u8], der: &[u8]) -> Result<(), Error> {
    let sig = DerSignature::from_bytes(der)
        .map_err(|_| Error::Input("signature is not valid DER".into()))?;
    key.verify(msg, &sig)
        .map_err(|_| Error::Input("signature does not verify".into()))
}

/// Verifies a raw r‖s signature.
pub fn verify_raw(key: &VerifyingKey, msg: &[u8], raw: &[u8]) -> Result<(), Error> {
    let sig = Signature::from_slice(raw)
        .map_err(|_| Error::Input("signature is not 64 bytes r||s".into()))?;
    key.verify(msg, &sig)
        .map_err(|_| Error::Input("signature does not verify".into()))
}

/// DER ECDSA signature → raw r‖s (64 bytes), like the SDKs' `transcodeECSignatureToConcat`.
pub fn der_to_raw(der: &[u8]) -> Result<[u8; 64], Error> {
    let sig =
        Signature::from_der(der).map_err(|_| Error::Input("signature is not valid DER".into()))?;
    let mut out = [0u8; 64];
    out.copy_from_slice(&sig.to_bytes());
    Ok(out)
}

/// Raw r‖s → DER ECDSA signature.
pub fn raw_to_der(raw: &[u8]) -> Result<Vec<u8>, Error> {
    let sig = Signature::from_slice(raw)
        .map_err(|_| Error::Input("signature is not 64 bytes r||s".into()))?;
    Ok(sig.to_der().as_bytes().to_vec())
}

/// base64url without padding (JWS segments).
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding.
pub fn b64url_decode(s: &str) -> Result<Vec<u8>, Error> {
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|e| Error::Input(format!("not base64url: {e}")))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// RFC 6979 A.2.5 P-256 private scalar, used for the reference's self-generated vectors.
    pub(crate) const RFC6979_KEY: &str =
        "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";

    pub(crate) fn test_key() -> KeyPair {
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&RFC6979_KEY[i * 2..i * 2 + 2], 16).unwrap())
            .collect();
        KeyPair::from_secret(&SecretKeyBytes::new(bytes)).unwrap()
    }

    #[test]
    fn der_to_raw_matches_sdk_vector() {
        // Same vector in twilio-verify-ios JwtSignerTests.swift and android JwtSignerTest.kt.
        let der = STANDARD
            .decode("MEQCIFtun9Ioo+W+juCG7sOl8PPPuozb8cspsUtpu2TxnzP/AiAi1VpFNTr2eK+VX3b1DLHy8rPm3MOpTvUH14hyNr0Gfg==")
            .unwrap();
        let raw = der_to_raw(&der).unwrap();
        assert_eq!(
            STANDARD.encode(raw),
            "W26f0iij5b6O4Ibuw6Xw88+6jNvxyymxS2m7ZPGfM/8i1VpFNTr2eK+VX3b1DLHy8rPm3MOpTvUH14hyNr0Gfg=="
        );
        assert_eq!(raw_to_der(&raw).unwrap(), der);
    }

    #[test]
    fn bad_signatures_are_typed_errors() {
        assert!(der_to_raw(b"\x30\x01").is_err());
        assert!(raw_to_der(&[0u8; 10]).is_err());
    }

    #[test]
    fn spki_matches_reference_vector() {
        let k = test_key();
        assert_eq!(
            k.public_key_base64().unwrap(),
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Z5A/4QCLi8maQa6elWKLxk8vGyDC1+n1F3o8KU1EYimQ=="
        );
        let fresh = KeyPair::generate();
        let b64 = fresh.public_key_base64().unwrap();
        assert_eq!(b64.len(), 124);
        assert!(b64.starts_with("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"));
        assert_eq!(public_key_from_base64(&b64).unwrap(), fresh.verifying_key());
    }

    #[test]
    fn reference_verify_payload_verifies_and_ours_too() {
        let k = test_key();
        let vk = k.verifying_key();
        let sid = b"YF00000000000000000000000000000001";
        let theirs = STANDARD
            .decode("MEUCIQDBazJOT69A+h9OLqe67i0ozybTf2+IMHoiAN112s2dSgIga6WqLK1xbRVxoW1QYYbiL8dDHnKyyIu2w+HHu+9kai0=")
            .unwrap();
        verify_der(&vk, sid, &theirs).unwrap();
        let ours = k.sign_der(sid);
        verify_der(&vk, sid, &ours).unwrap();
        assert!(verify_der(&vk, b"YF00000000000000000000000000000002", &ours).is_err());
        let raw = k.sign_raw(sid);
        verify_raw(&vk, sid, &raw).unwrap();
    }

    #[test]
    fn secret_round_trip() {
        let k = KeyPair::generate();
        let s = k.to_secret();
        assert_eq!(s.expose().len(), 32);
        let k2 = KeyPair::from_secret(&s).unwrap();
        assert_eq!(k.verifying_key(), k2.verifying_key());
        assert!(KeyPair::from_secret(&SecretKeyBytes::new(vec![0; 32])).is_err());
        assert!(format!("{k:?}").contains("redacted"));
    }
}
