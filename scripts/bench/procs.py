"""Processes the desktop measurements start: a `verify-emulator serve` with its request log,
the Assent app (fresh data dir, enrolled through its own CLI) and the hello-tauri baseline,
plus X11 window probes."""

import datetime as dt
import json
import os
import re
import select
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from stats import ROOT
import proctree

TARGET = Path(os.environ.get("BENCH_TARGET_DIR", ROOT / "target-bench"))
ASSENT = Path(os.environ.get("BENCH_ASSENT_BIN", TARGET / "release" / "assent"))
EMULATOR = Path(os.environ.get("BENCH_EMULATOR_BIN", TARGET / "release" / "verify-emulator"))
# The Windows exe from `make package-windows`, in the bench's target dir or the default one.
WINDOWS_EXES = [Path(os.environ["BENCH_ASSENT_EXE"])] if os.environ.get("BENCH_ASSENT_EXE") else [
    TARGET / "x86_64-pc-windows-gnu" / "release" / "assent.exe",
    ROOT / "target" / "x86_64-pc-windows-gnu" / "release" / "assent.exe",
]
HELLO = Path(os.environ.get("BENCH_HELLO_BIN", TARGET / "hello-tauri" / "release" / "hello-tauri"))
LOGS = Path(os.environ.get("BENCH_LOGS", ROOT / "results" / "logs"))

_LOG_LINE = re.compile(r"^(\S+Z)\s+\w+\s+verify_emulator::http: request method=(\S+) path=(\S+) status=(\d+)")


def wait_until(what, fn, timeout, interval=0.02):
    """Polls fn() until it returns a truthy value; raises TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def stop(proc, grace=5.0):
    """SIGTERM the process and its descendants, SIGKILL what is left after `grace` seconds."""
    if proc.poll() is not None:
        return
    pids = proctree.tree(proc.pid)
    for p in pids:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


class Emulator:
    """`verify-emulator serve` on a free loopback port, in-memory or file DB, logging requests."""

    def __init__(self, name, db=":memory:"):
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log_path = LOGS / f"{name}.emulator.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [str(EMULATOR), "serve", "--listen", "127.0.0.1:0", "--db", db],
            stdout=subprocess.PIPE, stderr=self.log, text=True,
            env={**os.environ, "RUST_LOG": os.environ.get("BENCH_EMULATOR_LOG", "info")})
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            stop(self.proc)
            raise RuntimeError(f"verify-emulator did not print its ready line (see {self.log_path})")
        info = json.loads(line)
        self.base_url = info["base_url"]
        self.account_sid = info["account_sid"]
        self.auth_token = info["auth_token"]

    def requests(self):
        """(wall time, method, path, status) of every request logged so far."""
        out = []
        with open(self.log_path) as f:
            for line in f:
                m = _LOG_LINE.match(line)
                if m:
                    t = dt.datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp()
                    out.append((t, m.group(2), m.group(3), int(m.group(4))))
        return out

    def polls(self, since=0.0, until=None):
        """Wall times of the app's polls (GET …/Challenges list requests answered 200)."""
        return [t for (t, m, p, s) in self.requests()
                if m == "GET" and p.endswith("/Challenges") and s == 200
                and t >= since and (until is None or t <= until)]

    def close(self):
        stop(self.proc)
        self.log.close()


class DataDir:
    """A fresh ASSENT_DATA_DIR with one account enrolled through `assent enroll`."""

    def __init__(self, backend, identity, origin=None, local_addr=None):
        self.dir = tempfile.mkdtemp(prefix="assent-bench-")
        self.identity = identity
        # Where the app's local endpoint listens (ASSENT_LOCAL_ADDR); None: its default.
        self.local_addr = local_addr
        out = self.cli(["enroll", "-", "--name", "Bench", "--json"],
                       stdin=backend.enrollment_payload(identity, origin))
        self.factor_sid = json.loads(out)["factorSid"]

    def env(self):
        env = {**os.environ, "ASSENT_DATA_DIR": self.dir, "ASSENT_NO_SCHEME_REGISTRATION": "1",
               "RUST_LOG": os.environ.get("RUST_LOG", "info")}
        if self.local_addr:
            env["ASSENT_LOCAL_ADDR"] = self.local_addr
        return env

    def cli(self, args, stdin=None):
        r = subprocess.run([str(ASSENT), *args], input=stdin, capture_output=True, text=True,
                           env=self.env(), timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"assent {' '.join(args)} failed: {r.stderr.strip()} {r.stdout.strip()}")
        return r.stdout

    def write_settings(self, settings):
        Path(self.dir, "settings.json").write_text(json.dumps(settings))


def free_port():
    """A free loopback TCP port (closed again before use; the app says so if it is taken)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(data, name, hidden=False):
    """Starts the GUI (no embedded emulator) on `data`; returns (Popen, spawn wall time)."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = open(LOGS / f"{name}.app.log", "a")
    args = [str(ASSENT), "--no-emulator"] + (["--hidden"] if hidden else [])
    t = time.time()
    proc = subprocess.Popen(args, stdout=log, stderr=log, env=data.env(), stdin=subprocess.DEVNULL)
    log.close()
    return proc, t


def start_hello(name, hidden=False):
    """Starts hello-tauri; returns (Popen, spawn wall time)."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = open(LOGS / f"{name}.hello.log", "a")
    t = time.time()
    proc = subprocess.Popen([str(HELLO)] + (["--hidden"] if hidden else []), stdout=log,
                            stderr=log, stdin=subprocess.DEVNULL)
    log.close()
    return proc, t


def window_visible(title):
    """True when a viewable (mapped) X11 window has exactly this title."""
    r = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", f"^{re.escape(title)}$"],
                       capture_output=True, text=True)
    return r.returncode == 0 and r.stdout.strip() != ""


def nudge_input():
    """Moves the pointer by one pixel and back: the X server's idle time restarts (user active)."""
    subprocess.run(["xdotool", "mousemove_relative", "--", "1", "0"], capture_output=True)
    subprocess.run(["xdotool", "mousemove_relative", "--", "-1", "0"], capture_output=True)
