"""Fixtures: a real `verify-emulator serve` process and a twilio Client pointed at it."""

import json
import os
import pathlib
import subprocess
import sys

import pytest
from twilio.rest import Client

sys.path.insert(0, str(pathlib.Path(__file__).parent))

REPO_ROOT = pathlib.Path(__file__).resolve().parents[4]


@pytest.fixture(scope="session")
def emulator():
    binary = os.environ.get("VERIFY_EMULATOR_BIN", str(REPO_ROOT / "target/debug/verify-emulator"))
    if not pathlib.Path(binary).is_file():
        pytest.fail(
            f"emulator binary {binary} not found: build it (cargo build -p verify-emulator) "
            "or set VERIFY_EMULATOR_BIN"
        )
    process = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--db", ":memory:"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL if os.environ.get("QUIET_EMULATOR") else None,
        text=True,
    )
    try:
        line = process.stdout.readline()
        if not line:
            pytest.fail(f"emulator exited before printing its address (code {process.wait()})")
        info = json.loads(line)
        yield info
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def client(emulator):
    client = Client(emulator["account_sid"], emulator["auth_token"])
    # The helper library builds every Verify URL from this domain base.
    client.verify.base_url = emulator["base_url"].rstrip("/")
    session = getattr(client.http_client, "session", None)
    if session is not None:
        session.trust_env = False  # loopback only; never a proxy from the environment
    return client
