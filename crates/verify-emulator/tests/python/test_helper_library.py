"""Twilio's official Python helper library, used as a relying party would, against the emulator.

A device (device.py, Python `cryptography`) enrols and answers challenges; a local HTTP listener
receives the webhook, which must validate with twilio.request_validator.RequestValidator.
"""

import hashlib
import http.server
import json
import os
import pathlib
import queue
import subprocess
import threading
import urllib.parse

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator, get_signature_algorithm

from device import Device


def identity_for(username: str) -> str:
    return hashlib.sha256(username.encode()).hexdigest()


class WebhookSink:
    """Records every request made to it; answers 200."""

    def __init__(self):
        self.received = queue.Queue()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _record(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8") if length else ""
                sink.received.put(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                    }
                )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = _record
            do_GET = _record

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/verify"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook_sink():
    sink = WebhookSink()
    yield sink
    sink.close()


@pytest.fixture(scope="module")
def service(client):
    return client.verify.v2.services.create(friendly_name="Helper library test")


def enrol(client, emulator, service, username):
    """Backend: entity + access token; device: create + verify factor."""
    identity = identity_for(username)
    services = client.verify.v2.services(service.sid)
    entity = services.entities.create(identity=identity)
    assert entity.identity == identity
    assert entity.sid.startswith("YE")
    token = services.access_tokens.create(
        identity=identity, factor_type="push", factor_friendly_name=f"{username}'s desktop", ttl=300
    )
    assert token.sid.startswith("YK") and token.token
    assert token.factor_type == "push" and token.ttl == 300
    fetched = services.access_tokens(token.sid).fetch()
    assert fetched.sid == token.sid and fetched.entity_identity == identity

    device = Device(emulator["base_url"].rstrip("/") + "/v2/")
    factor = device.create_factor(token.token, service.sid, identity, f"{username}'s desktop")
    assert factor["status"] == "unverified"
    assert factor["config"]["credential_sid"]
    assert device.verify_factor()["status"] == "verified"
    return identity, device


def test_services_are_created_fetched_listed_and_updated(client):
    created = client.verify.v2.services.create(friendly_name="Owl Bank")
    assert created.sid.startswith("VA") and created.friendly_name == "Owl Bank"
    assert created.account_sid == client.account_sid
    fetched = client.verify.v2.services(created.sid).fetch()
    assert fetched.sid == created.sid
    updated = client.verify.v2.services(created.sid).update(friendly_name="Owl Bank 2")
    assert updated.friendly_name == "Owl Bank 2"
    assert created.sid in [s.sid for s in client.verify.v2.services.list()]


def test_enrol_then_list_factors(client, emulator, service):
    identity, device = enrol(client, emulator, service, "alice")
    factors = client.verify.v2.services(service.sid).entities(identity).factors.list()
    assert [f.sid for f in factors] == [device.factor["sid"]]
    assert factors[0].status == "verified"
    assert factors[0].factor_type == "push"
    one = client.verify.v2.services(service.sid).entities(identity).factors(factors[0].sid).fetch()
    assert one.identity == identity
    entities = client.verify.v2.services(service.sid).entities.list()
    assert identity in [e.identity for e in entities]


def test_challenge_with_details_and_hidden_details(client, emulator, service):
    identity, device = enrol(client, emulator, service, "bob")
    challenges = client.verify.v2.services(service.sid).entities(identity).challenges
    fields = [{"label": "Browser", "value": "Firefox on Linux"}, {"label": "IP", "value": "127.0.0.1"}]
    created = challenges.create(
        factor_sid=device.factor["sid"],
        details_message="Sign in to Owl Bank",
        details_fields=fields,
        hidden_details={"transaction_id": "tx-42"},
    )
    assert created.sid.startswith("YC") and created.status == "pending"
    assert created.details["message"] == "Sign in to Owl Bank"
    assert created.details["fields"] == fields
    assert created.hidden_details == {"transaction_id": "tx-42"}
    assert created.expiration_date > created.date_created

    fetched = challenges(created.sid).fetch()
    assert fetched.sid == created.sid and fetched.factor_sid == device.factor["sid"]
    listed = challenges.list(factor_sid=device.factor["sid"])
    assert created.sid in [c.sid for c in listed]
    pending = challenges.list(factor_sid=device.factor["sid"], status="pending")
    assert created.sid in [c.sid for c in pending]

    device.answer(created.sid, "denied")
    assert challenges(created.sid).fetch().status == "denied"
    assert created.sid not in [c.sid for c in challenges.list(status="pending")]


def test_unknown_challenge_is_a_twilio_404(client, service):
    identity = identity_for("nobody-here")
    with pytest.raises(TwilioRestException) as info:
        client.verify.v2.services(service.sid).entities(identity).challenges(
            "YC" + "0" * 32
        ).fetch()
    assert info.value.status == 404
    assert info.value.code == 20404


def test_twilio_codes_reach_the_helper_library(client, service):
    """The helper library surfaces Verify's own codes (emulator error table)."""
    services = client.verify.v2.services(service.sid)
    identity = identity_for("carol-codes")
    services.entities.create(identity=identity)
    with pytest.raises(TwilioRestException) as info:
        services.entities.create(identity=identity)
    assert (info.value.status, info.value.code) == (409, 60301)
    with pytest.raises(TwilioRestException) as info:
        services.access_tokens.create(identity=identity, factor_type="push", ttl=30)
    assert (info.value.status, info.value.code) == (400, 60305)


def test_answer_metadata_through_the_helper_library(client, emulator, service):
    """`ChallengeContext.update(metadata=...)` encodes Metadata as the emulator expects."""
    identity, device = enrol(client, emulator, service, "erin")
    challenges = client.verify.v2.services(service.sid).entities(identity).challenges
    created = challenges.create(factor_sid=device.factor["sid"], details_message="Metadata?")
    payload = device.signed_answer(created.sid, "approved")
    with pytest.raises(TwilioRestException) as info:
        challenges(created.sid).update(auth_payload=payload, metadata={"os": {"name": "Linux"}})
    assert (info.value.status, info.value.code) == (400, 60200)
    assert challenges(created.sid).fetch().status == "pending"
    updated = challenges(created.sid).update(auth_payload=payload, metadata={"os": "Linux"})
    assert updated.status == "approved"
    assert challenges(created.sid).fetch().metadata == {"os": "Linux"}


def test_webhooks_crud_and_signed_delivery(client, emulator, service, webhook_sink):
    webhooks = client.verify.v2.services(service.sid).webhooks
    hook = webhooks.create(
        friendly_name="approvals",
        event_types=["challenge.approved", "challenge.denied"],
        webhook_url=webhook_sink.url,
    )
    assert hook.sid.startswith("YW") and hook.status == "enabled"
    assert hook.webhook_url == webhook_sink.url
    assert sorted(hook.event_types) == ["challenge.approved", "challenge.denied"]
    assert webhooks(hook.sid).fetch().friendly_name == "approvals"
    assert hook.sid in [w.sid for w in webhooks.list()]
    updated = webhooks(hook.sid).update(friendly_name="approvals and denials")
    assert updated.friendly_name == "approvals and denials"

    identity, device = enrol(client, emulator, service, "carol")
    challenge = client.verify.v2.services(service.sid).entities(identity).challenges.create(
        factor_sid=device.factor["sid"],
        details_message="Approve transfer",
        hidden_details={"transaction_id": "tx-webhook"},
    )
    device.answer(challenge.sid, "approved")
    assert (
        client.verify.v2.services(service.sid).entities(identity).challenges(challenge.sid).fetch().status
        == "approved"
    )

    # Wait for the delivery (a bound on waiting, not a speed assertion).
    delivery = webhook_sink.received.get(timeout=15)
    signature = delivery["headers"].get("x-twilio-signature")
    assert signature, f"no X-Twilio-Signature header: {delivery['headers']}"
    host = urllib.parse.urlparse(webhook_sink.url).netloc
    url = f"http://{host}{delivery['path']}"
    # Verify Push webhooks are form posts ("parameters", https://www.twilio.com/docs/verify/api/webhooks),
    # so the signature is the X-Twilio-Signature form scheme: URL + sorted name/value pairs. The
    # bodySHA256 scheme is for application/json bodies only and must not appear here.
    content_type = delivery["headers"].get("content-type", "")
    assert content_type.startswith("application/x-www-form-urlencoded"), content_type
    assert "bodySHA256" not in delivery["path"], delivery["path"]
    params = dict(urllib.parse.parse_qsl(delivery["body"], keep_blank_values=True))
    event = params
    algorithm = get_signature_algorithm(delivery["headers"].get("x-twilio-webhooks-signature-settings"))
    validator = RequestValidator(emulator["auth_token"])
    assert validator.validate(url, params, signature, algorithm), (url, delivery)
    assert not RequestValidator("not-the-token").validate(url, params, signature, algorithm)
    # A tampered, dropped or added parameter breaks the signature.
    tampered = dict(params, challenge_sid="YC" + "0" * 32)
    assert not validator.validate(url, tampered, signature, algorithm)
    dropped = {k: v for k, v in params.items() if k != "factor_sid"}
    assert not validator.validate(url, dropped, signature, algorithm)
    assert not validator.validate(url, dict(params, extra="1"), signature, algorithm)
    assert not validator.validate(url + "?bodySHA256=" + "0" * 64, params, signature, algorithm)
    assert event.get("type") == "challenge.approved", event
    assert event.get("challenge_sid") == challenge.sid, event
    assert event.get("factor_sid") == device.factor["sid"], event

    webhooks(hook.sid).delete()
    assert hook.sid not in [w.sid for w in webhooks.list()]


def test_readme_ci_example_device_cli_approves(client, emulator, service, tmp_path):
    """The README's CI recipe: helper library on the backend side, `verify-emulator device`
    (the real client library) as the phone."""
    repo = pathlib.Path(__file__).resolve().parents[4]
    binary = os.environ.get("VERIFY_EMULATOR_BIN", str(repo / "target/debug/verify-emulator"))
    svc = client.verify.v2.services(service.sid)
    identity = "ci-example-user-01"
    token = svc.access_tokens.create(identity=identity, factor_type="push").token
    payload = json.dumps({"token": token, "serviceSid": service.sid, "identity": identity,
                          "factorType": "push", "baseUrl": emulator["base_url"] + "v2/"})
    state = str(tmp_path / "dev")
    enrolled = json.loads(subprocess.check_output(
        [binary, "device", "--state", state, "enroll", payload]))
    assert enrolled["status"] == "verified"
    challenge = svc.entities(identity).challenges.create(
        factor_sid=enrolled["factor_sid"], details_message="Sign in to CI")
    subprocess.check_call([binary, "device", "--state", state, "approve", challenge.sid],
                          stdout=subprocess.DEVNULL)
    assert svc.entities(identity).challenges(challenge.sid).fetch().status == "approved"
    # Denying it afterwards is refused and leaves it approved.
    refused = subprocess.run([binary, "device", "--state", state, "deny", challenge.sid],
                             capture_output=True, text=True)
    assert refused.returncode == 1 and "already_responded" in refused.stderr
    assert svc.entities(identity).challenges(challenge.sid).fetch().status == "approved"
