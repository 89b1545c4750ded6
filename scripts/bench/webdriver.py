"""A minimal W3C WebDriver client (stdlib) for tauri-driver: new session launching the app,
find by CSS, click, delete session. Enough for timing one click; tests/e2e has the full one."""

import json
import time
import urllib.error
import urllib.request

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


class WebDriverError(Exception):
    """A WebDriver error answer (other than 'no such element' where that is expected)."""


def _call(method, url, body=None, timeout=60):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"{}").get("value")
    except urllib.error.HTTPError as e:
        value = json.loads(e.read() or b"{}").get("value", {})
        raise WebDriverError(f"{method} {url}: {e.code} {value.get('error')}: {value.get('message')}") from None


class Session:
    """One WebDriver session = one app process started by tauri-driver."""

    def __init__(self, driver_url, application):
        self.base = driver_url.rstrip("/")
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "wry", "tauri:options": {"application": application}}}}
        value = _call("POST", f"{self.base}/session", caps, timeout=120)
        self.url = f"{self.base}/session/{value['sessionId']}"

    def find(self, css):
        """The element id of the first match, or None."""
        try:
            value = _call("POST", f"{self.url}/element", {"using": "css selector", "value": css})
        except WebDriverError as e:
            if "no such element" in str(e):
                return None
            raise
        return value[ELEMENT]

    def wait_css(self, css, timeout):
        deadline = time.monotonic() + timeout
        while True:
            element = self.find(css)
            if element:
                return element
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout} s waiting for {css}")
            time.sleep(0.05)

    def click(self, element):
        _call("POST", f"{self.url}/element/{element}/click", {})

    def close(self):
        try:
            _call("DELETE", self.url)
        except (WebDriverError, OSError):
            pass  # the app is gone either way once the driver drops the session
