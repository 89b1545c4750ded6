"""A Verify Push device written from the protocol reference
(docs/reference/verify-push-protocol.md), independent of the Rust code.

P-256 key, factor creation with the access token, DER-signed factor verification, device JWT
(ES256, raw r||s) on every later call, and the challenge-answer JWS over the fields named in
`Twilio-Verify-Signature-Fields`.
"""

import base64
import json
import time

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Device:
    """One enrolled push factor, as a phone (or Assent) holds it."""

    def __init__(self, api_base: str):
        # api_base ends with /v2/
        self.api_base = api_base
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.factor = None
        self.session = requests.Session()
        self.session.trust_env = False  # loopback only; never a proxy

    # --- crypto -------------------------------------------------------------------------
    def public_key_b64(self) -> str:
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode("ascii")

    def jws(self, header: dict, payload: dict) -> str:
        signing_input = (
            b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(payload, separators=(",", ":")).encode())
        )
        der = self.key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return signing_input + "." + b64url(raw)

    def device_jwt(self) -> str:
        now = int(time.time())
        header = {
            "cty": "twilio-pba;v=1",
            "kid": self.factor["config"]["credential_sid"],
            "typ": "JWT",
            "alg": "ES256",
        }
        return self.jws(header, {"sub": self.factor["account_sid"], "exp": now + 600, "nbf": now})

    def _auth(self, secret: str):
        return ("token", secret)

    # --- API calls ------------------------------------------------------------------------
    def _factors_url(self, service_sid: str, identity: str) -> str:
        return f"{self.api_base}Services/{service_sid}/Entities/{identity}/Factors"

    def create_factor(self, token: str, service_sid: str, identity: str, name: str) -> dict:
        response = self.session.post(
            self._factors_url(service_sid, identity),
            auth=self._auth(token),
            data={
                "FriendlyName": name,
                "FactorType": "push",
                "Binding.PublicKey": self.public_key_b64(),
                "Binding.Alg": "ES256",
                "Config.SdkVersion": "0.1.0",
                "Config.AppId": "dev.assent.Assent",
                "Config.NotificationPlatform": "none",
            },
            timeout=10,
        )
        assert response.status_code == 201, response.text
        self.factor = response.json()
        return self.factor

    def verify_factor(self) -> dict:
        f = self.factor
        sid = f["sid"]
        der = self.key.sign(sid.encode("utf-8"), ec.ECDSA(hashes.SHA256()))
        response = self.session.post(
            f"{self._factors_url(f['service_sid'], f['identity'])}/{sid}",
            auth=self._auth(self.device_jwt()),
            data={"AuthPayload": base64.b64encode(der).decode("ascii")},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def _challenge_url(self, sid: str) -> str:
        f = self.factor
        return f"{self.api_base}Services/{f['service_sid']}/Entities/{f['identity']}/Challenges/{sid}"

    def signed_answer(self, challenge_sid: str, status: str) -> str:
        """Fetch the challenge and sign the listed fields, in the listed order, plus the status."""
        got = self.session.get(
            self._challenge_url(challenge_sid), auth=self._auth(self.device_jwt()), timeout=10
        )
        assert got.status_code == 200, got.text
        fields = got.headers.get("Twilio-Verify-Signature-Fields")
        assert fields, "missing Twilio-Verify-Signature-Fields header"
        body = got.json()
        claims = {name: body[name] for name in fields.split(",")}
        claims["status"] = status
        return self.jws({"typ": "JWT", "alg": "ES256"}, claims)

    def answer(self, challenge_sid: str, status: str) -> dict:
        """Fetch the challenge, sign the listed fields plus the new status, post it."""
        payload = self.signed_answer(challenge_sid, status)
        posted = self.session.post(
            self._challenge_url(challenge_sid),
            auth=self._auth(self.device_jwt()),
            data={"AuthPayload": payload},
            timeout=10,
        )
        assert posted.status_code == 200, posted.text
        return posted.json()
