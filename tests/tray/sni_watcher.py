#!/usr/bin/python3
"""Tray test: a stand-in StatusNotifierWatcher that finds Assent's tray item and clicks its menu.

Under Xvfb there is no tray host, so libayatana-appindicator exports nothing. This script owns
org.kde.StatusNotifierWatcher on the session bus, starts Assent (hidden, private data dir, no
embedded emulator), waits for the item to register, reads its com.canonical.dbusmenu layout and
clicks "Check now", "Open Assent" (the window must become visible) and "Quit" (the process must
exit with status 0). Prints one line per check and a closing "N passed, N failed" line.

Usage (inside scripts/headless.sh): tests/tray/sni_watcher.py PATH/TO/assent LOGFILE
"""

import asyncio
import os
import subprocess
import sys
import tempfile
import time

from dbus_next import BusType, Message, MessageType, Variant
from dbus_next.aio import MessageBus
from dbus_next.service import ServiceInterface, dbus_property, method, signal
from dbus_next.constants import PropertyAccess

PATIENCE = 60.0  # seconds; a guard against hanging, not a speed check
WATCHER = "org.kde.StatusNotifierWatcher"


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


def flatten(node, out):
    """(id, props, children) from GetLayout → list of (id, label)."""
    item_id, props, children = node
    label = props.get("label")
    if label is not None:
        out.append((item_id, label.value.replace("_", "")))
    for child in children:
        flatten(child.value, out)
    return out


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
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.2)
    return predicate()


async def main(app_bin, log_path):
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
    env = dict(os.environ, ASSENT_DATA_DIR=data_dir)
    log = open(log_path, "w")
    app = subprocess.Popen([app_bin, "--hidden", "--no-emulator"], env=env,
                           stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
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
        menu = bus.get_proxy_object(sender, menu_path, menu_node).get_interface("com.canonical.dbusmenu")

        async def items():
            _rev, layout = await menu.call_get_layout(0, -1, [])
            return dict((label, item_id) for item_id, label in flatten(layout, []))

        labels = await items()
        wanted = ["Open Assent", "Check now", "Quit"]
        missing = [w for w in wanted if w not in labels]
        if not checks.record("menu offers Open Assent, Check now, Quit", not missing,
                             f"missing {missing}; menu has {sorted(labels)}"):
            return checks

        async def click(label):
            await menu.call_event(labels[label], "clicked", Variant("s", ""), int(time.time()))

        hidden_at_start = not window_visible()
        checks.record("window starts hidden with --hidden", hidden_at_start, "a window titled Assent is visible")

        await click("Check now")
        await asyncio.sleep(1.0)
        alive = app.poll() is None
        logged = "check_now" in open(log_path, errors="replace").read()
        checks.record("Check now reaches the app and it keeps running", alive and logged,
                      f"alive={alive}, 'check_now' in app log={logged} ({log_path})")
        labels = await items()  # the menu may have been rebuilt

        await click("Open Assent")
        shown = await poll(window_visible)
        checks.record("Open Assent shows the window", shown, "no visible window titled Assent")

        labels = await items()
        await click("Quit")
        try:
            rc = await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(None, app.wait), PATIENCE)
        except asyncio.TimeoutError:
            rc = None
        checks.record("Quit exits with status 0", rc == 0, f"exit status {rc}")
        return checks
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
        log.close()
        bus.disconnect()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    result = asyncio.run(main(sys.argv[1], sys.argv[2]))
    print(f"tray: {result.passed} passed, {result.failed} failed")
    sys.exit(0 if result.failed == 0 and result.passed > 0 else 1)
