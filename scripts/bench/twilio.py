"""A relying-party backend (account credentials) and a minimal push device (P-256 key), both
over plain HTTP to a verify-emulator on loopback. Written from the protocol notes
(docs/reference/verify-push-protocol.md), stdlib + `cryptography` only."""

import base64
import http.client
import json
import time
import urllib.parse

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


class HttpError(Exception):
    """A non-2xx answer (status and body kept for the message)."""


def basic(user, password):
    raw = f"{user}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode()


class Http:
    """One keep-alive HTTP/1.1 connection to host:port (reconnects once on a dropped socket)."""

    def __init__(self, base_url):
        u = urllib.parse.urlsplit(base_url)
        self.host, self.port = u.hostname, u.port or 80
        self.conn = None

    def request(self, method, path, auth, form=None):
        body = urllib.parse.urlencode(form) if form is not None else None
        headers = {"Authorization": auth, "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
                break
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        doc = json.loads(data) if data else {}
        if resp.status >= 300:
            raise HttpError(f"{method} {path}: HTTP {resp.status}: {doc}")
        return doc, resp


class Backend:
    """The relying party: creates services, access tokens and challenges."""

    def __init__(self, base_url, account_sid, auth_token):
        self.http = Http(base_url)
        self.auth = basic(account_sid, auth_token)
        self.base_url = base_url.rstrip("/") + "/"
        self.service_sid = None

    def post(self, path, form):
        return self.http.request("POST", "/v2/" + path, self.auth, form)[0]

    def get(self, path):
        return self.http.request("GET", "/v2/" + path, self.auth)[0]

    def create_service(self, name):
        self.service_sid = self.post("Services", {"FriendlyName": name})["sid"]
        return self.service_sid

    def access_token(self, identity):
        doc = self.post(f"Services/{self.service_sid}/AccessTokens",
                        {"Identity": identity, "FactorType": "push", "Ttl": "300"})
        return doc["token"]

    def enrollment_payload(self, identity, origin=None):
        """The JSON the demo relying party hands to Assent (docs/design.md); `origin` names
        the relying party's web origin (silent approval)."""
        payload = {"token": self.access_token(identity), "serviceSid": self.service_sid,
                   "identity": identity, "factorType": "push", "baseUrl": self.base_url + "v2/"}
        if origin:
            payload["origin"] = origin
        return json.dumps(payload)

    def create_challenge(self, identity, factor_sid, message, hidden=None):
        doc = self.post(f"Services/{self.service_sid}/Entities/{identity}/Challenges", {
            "FactorSid": factor_sid,
            "Details.Message": message,
            "Details.Fields": json.dumps({"label": "IP", "value": "127.0.0.1"}),
            "HiddenDetails": json.dumps({"transaction_id": "tx-bench", **(hidden or {})}),
        })
        return doc["sid"]

    def challenge_status(self, identity, challenge_sid):
        path = f"Services/{self.service_sid}/Entities/{identity}/Challenges/{challenge_sid}"
        return self.get(path)["status"]


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Device:
    """A push device: its own P-256 key, factor create + verify, device JWTs."""

    def __init__(self, base_url):
        self.http = Http(base_url)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.factor = None

    def _sign_raw(self, message):
        der = self.key.sign(message, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def jwt(self, ttl=600):
        """Device-authentication JWT (ES256, kid = credential SID)."""
        now = int(time.time())
        header = {"cty": "twilio-pba;v=1", "kid": self.factor["config"]["credential_sid"],
                  "typ": "JWT", "alg": "ES256"}
        claims = {"sub": self.factor["account_sid"], "exp": now + ttl, "nbf": now}
        signing_input = (_b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         _b64url(json.dumps(claims, separators=(",", ":")).encode()))
        return signing_input + "." + _b64url(self._sign_raw(signing_input.encode()))

    def auth_header(self):
        return basic("token", self.jwt())

    def enroll(self, service_sid, identity, access_token):
        spki = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.factor, _ = self.http.request(
            "POST", f"/v2/Services/{service_sid}/Entities/{identity}/Factors",
            basic("token", access_token), {
                "FriendlyName": "bench device", "FactorType": "push",
                "Binding.PublicKey": base64.b64encode(spki).decode(), "Binding.Alg": "ES256",
                "Config.SdkVersion": "0.1.0", "Config.AppId": "dev.assent.Bench",
                "Config.NotificationPlatform": "none"})
        sid = self.factor["sid"]
        proof = base64.b64encode(self.key.sign(sid.encode(), ec.ECDSA(hashes.SHA256()))).decode()
        verified, _ = self.http.request(
            "POST", f"/v2/Services/{service_sid}/Entities/{identity}/Factors/{sid}",
            self.auth_header(), {"AuthPayload": proof})
        if verified.get("status") != "verified":
            raise HttpError(f"factor not verified: {verified}")
        return sid

    def challenge_path(self, challenge_sid):
        f = self.factor
        return f"/v2/Services/{f['service_sid']}/Entities/{f['identity']}/Challenges/{challenge_sid}"

    def fetch_challenge(self, challenge_sid):
        return self.http.request("GET", self.challenge_path(challenge_sid), self.auth_header())[0]
