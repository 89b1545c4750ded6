#!/usr/bin/python3
"""Renders the production build in real WebKitGTK (the Linux app's engine) under the app's CSP,
with the mocked bridge from mock-bridge.mjs, and saves a PNG of the 800x600 window.

Exits non-zero on a CSP violation, a page error, or when the app did not render.
Needs a display (Xvfb) and Debian's gir1.2-webkit2-4.1 + python3-gi-cairo:
    Xvfb :95 -screen 0 1024x768x24 & DISPLAY=:95 /usr/bin/python3 scripts/webkit-check.py pending out.png [--dark]
"""
import json
import os
import subprocess
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("WebKit2", "4.1")
from gi.repository import GLib, Gtk, WebKit2  # noqa: E402

UI = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
scenario, out = sys.argv[1], sys.argv[2]
dark = "--dark" in sys.argv[3:]

server = subprocess.Popen(["node", "scripts/mock-bridge.mjs", scenario], cwd=UI, stdout=subprocess.PIPE, text=True)
info = json.loads(server.stdout.readline())
result = {"ok": False}

if dark:
    Gtk.Settings.get_default().set_property("gtk-application-prefer-dark-theme", True)

errors_js = """
window.__errors = [];
window.addEventListener("error", (e) => window.__errors.push(String(e.message)));
window.addEventListener("unhandledrejection", (e) => window.__errors.push("rejection: " + String(e.reason && e.reason.message || e.reason)));
"""
ucm = WebKit2.UserContentManager()
ucm.add_script(
    WebKit2.UserScript(
        info["script"] + errors_js,
        WebKit2.UserContentInjectedFrames.TOP_FRAME,
        WebKit2.UserScriptInjectionTime.START,
        None,
        None,
    )
)
view = WebKit2.WebView.new_with_user_content_manager(ucm)
view.get_settings().set_hardware_acceleration_policy(WebKit2.HardwareAccelerationPolicy.NEVER)
win = Gtk.Window(title="Assent UI check")
win.set_default_size(800, 600)
win.add(view)
win.show_all()

PROBE = """JSON.stringify({
  csp: window.__cspViolations || [],
  errors: window.__errors || [],
  cards: document.querySelectorAll('[data-testid=challenge-card]').length,
  accounts: document.querySelectorAll('[data-testid=account-item]').length,
  countdown: (document.querySelector('[data-testid=challenge-countdown]') || {}).textContent || null,
  dark: matchMedia('(prefers-color-scheme: dark)').matches,
  bg: getComputedStyle(document.body).backgroundColor,
  ua: navigator.userAgent,
  scrollY: window.scrollY, inner: [innerWidth, innerHeight],
  active: document.activeElement && document.activeElement.getAttribute('data-challenge-sid'),
})"""


def done():
    server.terminate()
    Gtk.main_quit()
    return False


def on_snapshot(v, res):
    surface = v.get_snapshot_finish(res)
    surface.write_to_png(out)
    result["ok"] = True
    done()


def on_probe(v, res):
    value = v.evaluate_javascript_finish(res)
    probe = json.loads(value.to_string())
    result["probe"] = probe
    print(json.dumps(probe, indent=1))
    v.get_snapshot(WebKit2.SnapshotRegion.VISIBLE, WebKit2.SnapshotOptions.NONE, None, on_snapshot)


def probe():
    view.evaluate_javascript(PROBE, -1, None, None, None, on_probe)
    return False


def on_load(v, event):
    if event == WebKit2.LoadEvent.FINISHED:
        GLib.timeout_add(1500, probe)


view.connect("load-changed", on_load)
view.load_uri(info["base"])
GLib.timeout_add_seconds(30, done)
Gtk.main()

p = result.get("probe")
if not result["ok"] or not p:
    sys.exit("no snapshot (timeout)")
if p["csp"] or p["errors"]:
    sys.exit(f"CSP violations {p['csp']} / page errors {p['errors']}")
if p["accounts"] == 0 and p["cards"] == 0 and scenario != "empty":
    sys.exit("the app did not render")
print(f"wrote {out}")
