#!/usr/bin/python3
"""Tray test: a stand-in StatusNotifierWatcher that finds Assent's tray item and clicks its menu.

Under Xvfb there is no tray host, so libayatana-appindicator exports nothing. This script owns
org.kde.StatusNotifierWatcher on the session bus, starts a verify-emulator (the relying party's
server), enrols an account with `assent enroll`, starts Assent (hidden, private data dir, no
embedded emulator), waits for the item to register and for the app to settle, then reads its
com.canonical.dbusmenu layout and clicks items by their D-Bus IDs, as a panel does:

* with IDs read before a sign-in request arrived and the watcher went offline, "Check now"
  still reaches the watcher (the menu must not be rebuilt under a host that has read it);
* "Check now", "Open Assent" (the window must become visible), the request's own item and
  "Quit" (the process must exit with status 0).

A click is retried once, with a fresh read, only when the layout changed between the read and
the click (LayoutUpdated seen or the revision moved); a click lost for any other reason fails.
Prints one line per check and a closing "N passed, N failed" line.

Usage (inside scripts/headless.sh):
  tests/tray/sni_watcher.py PATH/TO/assent PATH/TO/verify-emulator LOGFILE
"""

import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

from dbus_next import BusType, MessageType, Variant
from dbus_next.aio import MessageBus
from dbus_next.errors import DBusError
from dbus_next.service import ServiceInterface, dbus_property, method, signal
from dbus_next.constants import PropertyAccess

PATIENCE = 60.0  # seconds; a guard against hanging, not a speed check
QUIET = 1.5  # seconds without LayoutUpdated after which the menu counts as settled
WATCHER = "org.kde.StatusNotifierWatcher"
ACCOUNT = "Tray test"
# The app's default filter plus the watcher's debug lines: "check requested; polling now" proves
# that a Check now click reached the watcher, "poll done" that a poll finished. Both module
# paths the watcher has had.
APP_LOG_FILTER = ("info,zbus=warn,tao=warn,wry=warn,tracing=warn,hyper=warn,reqwest=warn,"
                  "assent::core::watcher=debug,assent_core::watcher=debug")
CHECK_REQUESTED = "check requested; polling now"
POLL_DONE = "poll done"


class Watcher(ServiceInterface):
    """The part of the StatusNotifierWatcher interface AppIndicator uses."""

    def __init__(self):
        super().__init__(WATCHER)
        self.items = []
        self.registered = asyncio.Event()

    @method()
    def RegisterStatusNotifierItem(self, service: "s"):  # noqa: F821 (D-Bus signature)
        # The sender is captured by the message handler below; AppIndicator passes its path.
        self.items.append(service)
        self.registered.set()
        self.StatusNotifierItemRegistered(service)

    @method()
    def RegisterStatusNotifierHost(self, service: "s"):  # noqa: F821
        pass

    @dbus_property(access=PropertyAccess.READ)
    def RegisteredStatusNotifierItems(self) -> "as":  # noqa: F821
        return list(self.items)

    @dbus_property(access=PropertyAccess.READ)
    def IsStatusNotifierHostRegistered(self) -> "b":  # noqa: F821
        return True

    @dbus_property(access=PropertyAccess.READ)
    def ProtocolVersion(self) -> "i":  # noqa: F821
        return 0

    @signal()
    def StatusNotifierItemRegistered(self, service) -> "s":  # noqa: F821
        return service

    @signal()
    def StatusNotifierHostRegistered(self):
        return None


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def record(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"PASS tray: {name}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL tray: {name}: {detail}", flush=True)
        return ok


class Emulator:
    """`verify-emulator serve` on an ephemeral loopback port, in memory; killed by stop()."""

    def __init__(self, binary, log_path):
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--db", ":memory:"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True)
        self.base_url = self.account_sid = self.auth_token = None

    async def ready(self):
        loop = asyncio.get_running_loop()
        line = await asyncio.wait_for(loop.run_in_executor(None, self.proc.stdout.readline), PATIENCE)
        if not line:
            raise RuntimeError(f"verify-emulator exited before its ready line (log: {self.log.name})")
        ready = json.loads(line)
        self.base_url = ready["base_url"].rstrip("/") + "/"
        self.account_sid, self.auth_token = ready["account_sid"], ready["auth_token"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.log.close()


class RelyingParty:
    """The website's backend: Verify v2 calls with the account credentials (blocking, stdlib)."""

    def __init__(self, emu):
        self.base = emu.base_url
        cred = f"{emu.account_sid}:{emu.auth_token}".encode()
        self.auth = "Basic " + base64.b64encode(cred).decode()

    def post(self, path, fields):
        req = urllib.request.Request(self.base + path, data=urllib.parse.urlencode(fields).encode(),
                                     headers={"Authorization": self.auth}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=PATIENCE) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"POST {path}: {e.code} {e.read()!r}") from None

    def api(self):
        return self.base + "v2/"

    def create_service(self):
        return self.post("v2/Services", [("FriendlyName", "tray test")])["sid"]

    def access_token(self, service, identity):
        return self.post(f"v2/Services/{service}/AccessTokens",
                         [("Identity", identity), ("FactorType", "push")])["token"]

    def create_challenge(self, service, identity, factor, message):
        return self.post(f"v2/Services/{service}/Entities/{identity}/Challenges",
                         [("FactorSid", factor), ("Details.Message", message)])["sid"]

    def set_error_rate(self, rate):
        self.post("_emulator/faults", [("ErrorRate", str(rate))])


class AppLog:
    """The app's stdout/stderr, read back for its stable log lines (docs/design.md)."""

    def __init__(self, path):
        self.path = path

    def text(self):
        with open(self.path, errors="replace") as f:
            return f.read()

    def mark(self):
        return len(self.text())

    def has(self, needle, since=0):
        return needle in self.text()[since:]


def flatten(node, out):
    """(id, props, children) from GetLayout → list of (id, label)."""
    item_id, props, children = node
    label = props.get("label")
    if label is not None:
        out.append((item_id, label.value.replace("_", "")))
    for child in children:
        flatten(child.value, out)
    return out


class Snapshot:
    """One GetLayout read: the revision, the LayoutUpdated count before it, label → ID."""

    def __init__(self, revision, updates, ids):
        self.revision, self.updates, self.ids = revision, updates, ids


class TrayMenu:
    """The item's com.canonical.dbusmenu, read and clicked like a tray host does."""

    def __init__(self, iface):
        self.iface = iface
        self.updates = 0
        self.last_update = time.monotonic()
        iface.on_layout_updated(self._layout_updated)

    def _layout_updated(self, _revision, _parent):
        self.updates += 1
        self.last_update = time.monotonic()

    async def read(self):
        updates = self.updates
        revision, layout = await self.iface.call_get_layout(0, -1, [])
        return Snapshot(revision, updates, dict((label, i) for i, label in flatten(layout, [])))

    async def revision(self):
        revision, _ = await self.iface.call_get_layout(0, 0, [])
        return revision

    async def settle(self):
        """Waits until no LayoutUpdated came for QUIET seconds; False if it never calms down."""
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            if time.monotonic() - self.last_update >= QUIET:
                return True
            await asyncio.sleep(0.1)
        return False

    async def event(self, item_id):
        await self.iface.call_event(item_id, "clicked", Variant("s", ""), int(time.time()))

    async def click(self, label, snap):
        """Clicks `label` by its ID in `snap`; None on success, else why it failed. Retries once,
        after a fresh read, only when the layout changed since `snap` (then the ID may rightly
        be gone); a click that fails on an unchanged layout is a failure."""
        if label not in snap.ids:
            return f"no item {label!r} in the menu (has {sorted(snap.ids)})"
        try:
            await self.event(snap.ids[label])
            return None
        except DBusError as e:
            first = e
        changed = self.updates != snap.updates or await self.revision() != snap.revision
        if not changed:
            return (f"click on {label!r} (id {snap.ids[label]}) failed although the layout had not "
                    f"changed since it was read (revision {snap.revision}): {first.text}")
        print(f"note tray: the layout changed between read and click on {label!r} "
              f"({first.text}); reading it again", flush=True)
        fresh = await self.read()
        if label not in fresh.ids:
            return f"after a layout change there is no item {label!r} (has {sorted(fresh.ids)})"
        try:
            await self.event(fresh.ids[label])
            return None
        except DBusError as e:
            return f"click on {label!r} failed again after a fresh read (id {fresh.ids[label]}): {e.text}"


def window_visible(name="Assent"):
    """True when an X window titled `name` is mapped (xdotool --onlyvisible)."""
    r = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", f"^{name}$"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    return r.returncode == 0 and r.stdout.strip() != ""


async def poll(predicate, timeout=PATIENCE):
    """Polls a plain or async predicate every 0.2 s until true or `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value or time.monotonic() >= deadline:
            return bool(value)
        await asyncio.sleep(0.2)


async def enrol(app_bin, env, rp):
    """Enrols one account through the CLI (same data dir as the app); returns (service,
    identity, factor SID)."""
    service = rp.create_service()
    identity = f"tray-{uuid.uuid4().hex}"
    payload = json.dumps({"token": rp.access_token(service, identity), "serviceSid": service,
                          "identity": identity, "factorType": "push", "baseUrl": rp.api()})
    r = await asyncio.get_running_loop().run_in_executor(None, lambda: subprocess.run(
        [app_bin, "enroll", "-", "--name", ACCOUNT, "--json"], input=payload, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=PATIENCE))
    if r.returncode != 0:
        raise RuntimeError(f"assent enroll failed ({r.returncode}): {r.stdout} {r.stderr}")
    return service, identity, json.loads(r.stdout)["factorSid"]


async def held_ids_survive_changes(checks, menu, log, rp, service, identity, factor):
    """The regression check: a host read the menu; then a request arrives and the watcher goes
    offline (each of which used to rebuild the whole menu, renumbering every item). The host's
    "Check now" ID must still work: no re-read, no retry."""
    held = await menu.read()
    if not checks.record("menu offers Open Assent, No pending requests, Check now, Quit",
                         all(w in held.ids for w in ["Open Assent", "No pending requests", "Check now", "Quit"]),
                         f"menu has {sorted(held.ids)}"):
        return None
    message = "Tray regression sign-in"
    label = f"{ACCOUNT}: {message}"
    sid = rp.create_challenge(service, identity, factor, message)

    async def listed():
        return label in (await menu.read()).ids
    if not checks.record("a new request gets its own menu item", await poll(listed),
                         f"no item {label!r} within {PATIENCE:.0f}s"):
        return None
    mark = log.mark()
    rp.set_error_rate(1)
    offline = await poll(lambda: log.has("watcher offline", since=mark))
    rp.set_error_rate(0)
    if not checks.record("the watcher reports offline while the server fails", offline,
                         f"no 'watcher offline' in the app log ({log.path})"):
        return None
    await menu.settle()

    mark = log.mark()
    try:
        await menu.event(held.ids["Check now"])
        error = None
    except DBusError as e:
        error = f"{e.type}: {e.text}"
    reached = error is None and await poll(lambda: log.has(CHECK_REQUESTED, since=mark))
    checks.record("Check now by an ID read before a request arrived and the watcher went offline "
                  "reaches the watcher", reached,
                  error or f"no {CHECK_REQUESTED!r} in the app log after the click ({log.path})")
    return label, sid


async def main(app_bin, emulator_bin, log_path):
    checks = Checks()
    bus = await MessageBus(bus_type=BusType.SESSION).connect()
    watcher = Watcher()
    senders = []

    def remember_sender(msg):
        if msg.message_type == MessageType.METHOD_CALL and msg.member == "RegisterStatusNotifierItem":
            senders.append(msg.sender)
        return None

    bus.add_message_handler(remember_sender)
    bus.export("/StatusNotifierWatcher", watcher)
    await bus.request_name(WATCHER)

    data_dir = tempfile.mkdtemp(prefix="assent-tray-")
    # Fast polling so the watcher notices the request and the failing server within a second.
    with open(os.path.join(data_dir, "settings.json"), "w") as f:
        json.dump({"pollIntervalSecs": 1, "idlePollIntervalSecs": 1}, f)
    env = dict(os.environ, ASSENT_DATA_DIR=data_dir, ASSENT_NO_SCHEME_REGISTRATION="1",
               RUST_LOG=APP_LOG_FILTER)
    emu = Emulator(emulator_bin, os.path.splitext(log_path)[0] + "-emulator.log")
    log = open(log_path, "w")
    app = None
    try:
        await emu.ready()
        rp = RelyingParty(emu)
        service, identity, factor = await enrol(app_bin, env, rp)
        app = subprocess.Popen([app_bin, "--hidden", "--no-emulator"], env=env,
                               stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        app_log = AppLog(log_path)
        try:
            await asyncio.wait_for(watcher.registered.wait(), PATIENCE)
        except asyncio.TimeoutError:
            pass
        if not checks.record("tray item registers with the watcher", bool(watcher.items and senders),
                             f"nothing registered in {PATIENCE:.0f}s (app log: {log_path})"):
            return checks
        sender, path = senders[0], watcher.items[0]
        if not path.startswith("/"):
            # Some implementations pass a bus name instead of a path.
            sender, path = path, "/StatusNotifierItem"
        item_node = await bus.introspect(sender, path)
        item = bus.get_proxy_object(sender, path, item_node).get_interface("org.kde.StatusNotifierItem")
        menu_path = await item.get_menu()
        menu_node = await bus.introspect(sender, menu_path)
        menu = TrayMenu(bus.get_proxy_object(sender, menu_path, menu_node).get_interface("com.canonical.dbusmenu"))
        # A round trip, so the LayoutUpdated match rule is in force before anything is read.
        await menu.revision()

        # Settle: the first poll is done (its events are out) and the menu has stopped changing.
        polled = await poll(lambda: app_log.has(POLL_DONE))
        settled = await menu.settle()
        if not checks.record("the app settles (first poll done, menu quiet for a while)", polled and settled,
                             f"{POLL_DONE!r} in the app log={polled}, menu quiet={settled} ({log_path})"):
            return checks

        hidden_at_start = not window_visible()
        checks.record("window starts hidden with --hidden", hidden_at_start, "a window titled Assent is visible")

        # The retry must not hide a lost click: an ID the menu does not have, on a layout that
        # has not changed, is a failure.
        snap = await menu.read()
        bogus = Snapshot(snap.revision, snap.updates, {"Check now": max(snap.ids.values()) + 1000})
        failed = await menu.click("Check now", bogus)
        checks.record("a click lost on an unchanged layout is reported, not retried",
                      failed is not None and "had not changed" in failed,
                      f"click() returned {failed!r}")

        request = await held_ids_survive_changes(checks, menu, app_log, rp, service, identity, factor)

        snap = await menu.read()
        mark = app_log.mark()
        failed = await menu.click("Check now", snap)
        reached = failed is None and await poll(lambda: app_log.has(CHECK_REQUESTED, since=mark))
        alive = app.poll() is None
        checks.record("Check now reaches the watcher and the app keeps running", reached and alive,
                      failed or f"alive={alive}, {CHECK_REQUESTED!r} in the app log={reached} ({log_path})")

        snap = await menu.read()
        failed = await menu.click("Open Assent", snap)
        shown = failed is None and await poll(window_visible)
        checks.record("Open Assent shows the window", shown, failed or "no visible window titled Assent")

        if request is not None:
            label, sid = request
            snap = await menu.read()
            mark = app_log.mark()
            failed = await menu.click(label, snap)
            reached = failed is None and await poll(
                lambda: app_log.has(f"item=challenge:{factor}:{sid}", since=mark))
            checks.record("a request's item reaches the app with its factor and challenge", reached,
                          failed or f"no 'item=challenge:{factor}:{sid}' in the app log ({log_path})")

        snap = await menu.read()
        failed = await menu.click("Quit", snap)
        rc = None
        if failed is None:
            try:
                rc = await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(None, app.wait), PATIENCE)
            except asyncio.TimeoutError:
                pass
        checks.record("Quit exits with status 0", rc == 0, failed or f"exit status {rc}")
        return checks
    finally:
        if app is not None and app.poll() is None:
            app.kill()
            app.wait()
        emu.stop()
        log.close()
        bus.disconnect()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    result = asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
    print(f"tray: {result.passed} passed, {result.failed} failed")
    sys.exit(0 if result.failed == 0 and result.passed > 0 else 1)
