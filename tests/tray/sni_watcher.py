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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "bench"))
import proctree  # noqa: E402 (process-tree probes shared with the bench)
from x11 import close_window, window_visible  # noqa: E402

from dbus_next import BusType, MessageType, Variant
from dbus_next.aio import MessageBus
from dbus_next.errors import DBusError
from dbus_next.service import ServiceInterface, dbus_property, method, signal
from dbus_next.constants import PropertyAccess

PATIENCE = 60.0  # seconds; a guard against hanging, not a speed check
QUIET = 1.5  # seconds without LayoutUpdated after which the menu counts as settled
WATCHER = "org.kde.StatusNotifierWatcher"
ACCOUNT = "Tray test"
# A second account for the closed-window checks: its one request gets a notification of its own
# (two requests of one account are grouped, and a group offers only Open).
CLOSED_ACCOUNT = "Closed window"
# The app's default filter plus the watcher's debug lines: "check requested; polling now" proves
# that a Check now click reached the watcher, "poll done" that a poll finished. Both module
# paths the watcher has had.
APP_LOG_FILTER = ("info,zbus=warn,tao=warn,wry=warn,tracing=warn,hyper=warn,reqwest=warn,"
                  "assent::core::watcher=debug,assent_core::watcher=debug")
CHECK_REQUESTED = "check requested; polling now"
# src-tauri/src/window.rs and webkit.rs.
WINDOW_READY = "main window ready"
WINDOW_READY_FOCUS = "focus=true"
RELEASED = "released WebKit's leftovers"
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

    def challenge_status(self, service, identity, sid):
        req = urllib.request.Request(f"{self.base}v2/Services/{service}/Entities/{identity}/Challenges/{sid}",
                                     headers={"Authorization": self.auth})
        with urllib.request.urlopen(req, timeout=PATIENCE) as resp:
            return json.loads(resp.read())["status"]

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


async def enrol(app_bin, env, rp, name=ACCOUNT):
    """Enrols one account through the CLI (same data dir as the app); returns (service,
    identity, factor SID)."""
    service = rp.create_service()
    identity = f"tray-{uuid.uuid4().hex}"
    payload = json.dumps({"token": rp.access_token(service, identity), "serviceSid": service,
                          "identity": identity, "factorType": "push", "baseUrl": rp.api()})
    r = await asyncio.get_running_loop().run_in_executor(None, lambda: subprocess.run(
        [app_bin, "enroll", "-", "--name", name, "--json"], input=payload, env=env,
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


def webkit_processes(pid):
    """comm of each WebKit helper process (web, network) in the app's process tree."""
    return [n for n in proctree.names(proctree.tree(pid)) if n.startswith("WebKit")]


def web_processes(pid):
    return [n for n in webkit_processes(pid) if n.startswith("WebKitWebProc")]


async def close_to_tray(checks, app, app_log, what):
    """Closes the window as a window manager's close button does; checks that the web view and
    its web process go and that the app stays in the tray."""
    mark = app_log.mark()
    sent = close_window()
    gone = sent > 0 and await poll(lambda: not window_visible())
    no_web = gone and await poll(lambda: not web_processes(app.pid))
    checks.record(f"{what}: closing the window ends its web process, the app stays in the tray",
                  gone and no_web and app.poll() is None,
                  f"close sent to {sent} window(s), window gone={gone}, "
                  f"WebKit processes left={webkit_processes(app.pid)}, alive={app.poll() is None}")
    return mark


async def open_and_wait_ready(menu, app_log, label):
    """Clicks `label` in the menu; None when the window is shown with its page ready, else why not."""
    snap = await menu.read()
    mark = app_log.mark()
    failed = await menu.click(label, snap)
    if failed:
        return failed, mark
    if not await poll(lambda: app_log.has(WINDOW_READY, since=mark) and window_visible()):
        return (f"no {WINDOW_READY!r} in the app log or no visible window after {label!r} "
                f"({app_log.path})"), mark
    return None, mark


async def window_lifecycle(checks, menu, app, app_log, rp, closed):
    """No web view while closed: closing ends WebKit's web and network processes; a request that
    arrives meanwhile still gets its notification and tray item and is approved from the
    notification without a window; reopening shows a page that has its data."""
    mark = await close_to_tray(checks, app, app_log, "first close")
    released = await poll(lambda: app_log.has(RELEASED, since=mark))
    checks.record("WebKit's network process is ended once no view is left",
                  released and not webkit_processes(app.pid),
                  f"released line={released}, WebKit processes left={webkit_processes(app.pid)}")

    service, identity, factor = closed
    message = "Approve me while the window is closed"
    label = f"{CLOSED_ACCOUNT}: {message}"
    sid = rp.create_challenge(service, identity, factor, message)

    async def listed():
        return label in (await menu.read()).ids
    in_menu = await poll(listed)
    # Logged once the notification server has returned the notification's id.
    notified = await poll(lambda: any(f"challenge={sid}" in line for line in app_log.text()[mark:].splitlines()
                                      if "notification shown" in line))
    checks.record("a request that arrives while closed gets its tray item and notification",
                  in_menu and notified, f"tray item={in_menu}, notification={notified} ({app_log.path})")
    with open(os.environ["ASSENT_DUNST_PICK_FILE"], "w") as f:
        f.write("^#Approve|,approve\\]\n")
    subprocess.run(["dunstctl", "context"], check=False, timeout=PATIENCE)
    approved = await poll(lambda: rp.challenge_status(service, identity, sid) == "approved")
    checks.record("Approve from the notification works without creating a window",
                  approved and not window_visible() and not web_processes(app.pid),
                  f"server status approved={approved}, window visible={window_visible()}, "
                  f"WebKit processes={webkit_processes(app.pid)}")

    for i in range(3):
        failed, _ = await open_and_wait_ready(menu, app_log, "Open Assent")
        checks.record(f"reopen {i + 1}: Open Assent creates the window, shown once its page is ready",
                      failed is None and bool(web_processes(app.pid)), failed or "no WebKit web process")
        await close_to_tray(checks, app, app_log, f"reopen {i + 1}")


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
        closed = await enrol(app_bin, env, rp, CLOSED_ACCOUNT)
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
        checks.record("started --hidden, the app holds no web view (no WebKit process)",
                      not webkit_processes(app.pid), f"WebKit processes: {webkit_processes(app.pid)}")

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

        failed, _ = await open_and_wait_ready(menu, app_log, "Open Assent")
        checks.record("Open Assent shows the window once its page has its data", failed is None, failed)

        await window_lifecycle(checks, menu, app, app_log, rp, closed)

        if request is not None:
            # From the tray while no window exists: the new window opens on that card.
            label, sid = request
            failed, mark = await open_and_wait_ready(menu, app_log, label)
            reached = failed is None and app_log.has(f"item=challenge:{factor}:{sid}", since=mark)
            checks.record("a request's item reaches the app with its factor and challenge", reached,
                          failed or f"no 'item=challenge:{factor}:{sid}' in the app log ({log_path})")
            focused = reached and app_log.has(WINDOW_READY_FOCUS, since=mark)
            checks.record("the window opened from a request's item is handed that card to focus", focused,
                          f"no {WINDOW_READY_FOCUS!r} after the click ({log_path})")

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
