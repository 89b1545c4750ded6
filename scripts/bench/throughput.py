"""Emulator throughput beside Stoplight Prism, same load generator (wrk), same request:
device-authenticated `GET …/Challenges/{YC}` (the emulator checks the device JWT's ES256
signature on every request; Prism mocks the same path from twilio_verify_v2.json).
Runs alternate between the two servers (BENCH_TP_RUNS runs of BENCH_TP_SECS each), then the
emulator's create->approve cycles/s come from its own load bench (results/emulator-bench.json,
written by `cargo bench -p verify-emulator --bench emulator_load`, run by run.sh).

Writes results/parts/throughput.json."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import procs
from stats import RESULTS, ROOT, figure, missing, write_part
from twilio import Backend, Device

QUICK = os.environ.get("BENCH_QUICK") == "1"
RUNS = int(os.environ.get("BENCH_TP_RUNS", "3" if QUICK else "5"))
SECS = int(os.environ.get("BENCH_TP_SECS", "5"))
CONNS = int(os.environ.get("BENCH_TP_CONNECTIONS", "16"))
THREADS = int(os.environ.get("BENCH_TP_THREADS", "2"))
SPEC = Path(os.environ.get("BENCH_SPEC", ROOT / "docs" / "reference" / "twilio_verify_v2.json"))
PRISM = Path(os.environ.get("BENCH_PRISM", procs.TARGET / "node" / "node_modules" / ".bin" / "prism"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wrk(url, auth):
    """One wrk run: (requests/s, non-2xx count)."""
    out = subprocess.run(["wrk", f"-t{THREADS}", f"-c{CONNS}", f"-d{SECS}s", "--latency",
                          "-H", f"Authorization: {auth}", "-H", "Accept: application/json", url],
                         capture_output=True, text=True, timeout=SECS + 60).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errs = re.search(r"Socket errors:.*", out)
    if not rps:
        raise RuntimeError(f"wrk printed no rate: {out}")
    return float(rps.group(1)), int(bad.group(1)) if bad else 0, errs.group(0) if errs else ""


def status_of(url, auth):
    req = urllib.request.Request(url, headers={"Authorization": auth, "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def main():
    rows = []
    if shutil.which("wrk") is None:
        write_part("throughput", [missing("fetch-challenge requests/s", "req/s", "wrk not installed")])
        return 1
    tmp = procs.TARGET / "tmp-throughput"
    tmp.mkdir(parents=True, exist_ok=True)
    db = tmp / "emulator.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    emu = procs.Emulator("throughput", db=str(db))
    prisms = []
    try:
        backend = Backend(emu.base_url, emu.account_sid, emu.auth_token)
        backend.create_service("Throughput bench")
        device = Device(emu.base_url)
        device.enroll(backend.service_sid, "bench-load-user", backend.access_token("bench-load-user"))
        yc = backend.create_challenge("bench-load-user", device.factor["sid"], "Load")
        path = device.challenge_path(yc)
        emu_url = emu.base_url.rstrip("/") + path

        prism_ok = PRISM.exists() and SPEC.exists()
        prism_urls = {}
        if prism_ok:
            # Prism as a developer would start it (default info log), and with logging off.
            for label, extra in (("default", []), ("quiet", ["-v", "error"])):
                port = free_port()
                plog = open(procs.LOGS / f"throughput.prism-{label}.log", "w")
                prisms.append(subprocess.Popen(
                    [str(PRISM), "mock", str(SPEC), "-h", "127.0.0.1", "-p", str(port), *extra],
                    stdout=plog, stderr=plog, stdin=subprocess.DEVNULL))
                prism_urls[label] = f"http://127.0.0.1:{port}{path}"
                try:
                    procs.wait_until("Prism to listen", lambda: _listening(port), 120, interval=0.2)
                except TimeoutError:
                    prism_ok = False
            prism_url = prism_urls.get("default")
        emu_rates, prism_rates, quiet_rates, notes = [], [], [], []
        # Fresh device JWT per run (valid 10 min), the same header for both servers.
        auth = device.auth_header()
        notes.append(f"first answer: emulator HTTP {status_of(emu_url, auth)}"
                     + (f", Prism HTTP {status_of(prism_url, auth)}" if prism_ok else ""))
        emu_bad = prism_bad = 0
        # One warm-up run each (connections, SQLite caches, Node's JIT), not reported.
        wrk(emu_url, auth)
        if prism_ok:
            wrk(prism_url, auth)
            wrk(prism_urls["quiet"], auth)
        for run in range(RUNS):
            auth = device.auth_header()
            r, bad, _ = wrk(emu_url, auth)
            emu_rates.append(r)
            emu_bad += bad
            if prism_ok:
                r, bad, _ = wrk(prism_url, auth)
                prism_rates.append(r)
                prism_bad += bad
                r, bad, _ = wrk(prism_urls["quiet"], auth)
                quiet_rates.append(r)
                prism_bad += bad
            print(f"bench: throughput run {run + 1}/{RUNS}: emulator {emu_rates[-1]:.0f}/s"
                  + (f", Prism {prism_rates[-1]:.0f}/s" if prism_ok else ""), flush=True)
        load = f"wrk -t{THREADS} -c{CONNS} {SECS} s per run, runs alternate"
        emu_row = figure("emulator fetch-challenge (device JWT checked each request)", "req/s",
                         emu_rates, digits=0, note=f"{load}; non-2xx {emu_bad}; {notes[0]}")
        rows.append(emu_row)
        if prism_ok:
            prism_row = figure("Prism mock fetch-challenge (same spec, same request)", "req/s",
                               prism_rates, digits=0, note=f"prism mock with default options (info log); non-2xx {prism_bad} (both Prism rows)")
            rows.append(prism_row)
            rows.append(figure("Prism mock fetch-challenge, logging off (-v error)", "req/s",
                               quiet_rates, digits=0))
            # Against the faster of the two Prism configurations in the same run.
            best = [max(a, b) for a, b in zip(prism_rates, quiet_rates)]
            ratio = [a / b for a, b in zip(emu_rates, best) if b]
            rows.append(figure("emulator / Prism fetch throughput", "x", ratio, digits=2,
                               target=">= 1.0x", check=lambda r: r["median"] >= 1.0,
                               note="paired per run, against the faster Prism row"))
        else:
            rows.append(missing("Prism mock fetch-challenge", "req/s",
                                f"Prism ({PRISM}) or spec ({SPEC}) missing or not listening"))
    finally:
        for prism in prisms:
            procs.stop(prism)
        emu.close()

    cycles = RESULTS / "emulator-bench.json"
    if cycles.exists():
        doc = json.loads(cycles.read_text())
        for sc in doc.get("scenarios", []):
            if sc.get("scenario") == "approve_cycle":
                rows.append(figure("emulator create->approve cycles (emulator_load bench)", "cycles/s",
                                   sc.get("runs_per_sec", []), digits=1,
                                   note=f"{doc.get('workers')} workers, {doc.get('secs_per_run')} s runs, "
                                        f"in-process reqwest load generator; errors {sc.get('errors')}; "
                                        "Prism cannot do this (stateless mock); "
                                        f"measured {doc.get('date', '?')[:19]}Z"))
            elif sc.get("scenario") == "fetch_challenge":
                rows.append(figure("emulator fetch-challenge (emulator_load bench, in-process)", "req/s",
                                   sc.get("runs_per_sec", []), digits=0,
                                   note="fresh device JWT signed per request by the generator; "
                                        f"measured {doc.get('date', '?')[:19]}Z"))
        loaded = doc.get("preloaded", {})
        empty_by_name = {sc.get("scenario"): sc for sc in doc.get("scenarios", [])}
        for sc in loaded.get("scenarios", []):
            name = sc.get("scenario")
            label = {"approve_cycle": "create->approve cycles", "fetch_challenge": "fetch-challenge"}.get(name, name)
            unit = "cycles/s" if name == "approve_cycle" else "req/s"
            rows.append(figure(f"emulator {label}, {loaded.get('challenges')} challenges / "
                               f"{loaded.get('factors')} factors preloaded", unit,
                               sc.get("runs_per_sec", []), digits=1,
                               note=f"emulator_load bench, same run as the empty-DB row; errors {sc.get('errors')}"))
            base = empty_by_name.get(name, {}).get("runs_per_sec", [])
            ratio = [a / b for a, b in zip(sc.get("runs_per_sec", []), base) if b]
            rows.append(figure(f"emulator {label}: preloaded / empty DB", "x", ratio, digits=2,
                               target=">= 0.8x", check=lambda r: r["median"] >= 0.8,
                               note="paired per run"))
    else:
        rows.append(missing("emulator create->approve cycles", "cycles/s",
                            "results/emulator-bench.json missing (emulator_load bench did not run)"))
    write_part("throughput", rows)
    return 0


def _listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


if __name__ == "__main__":
    sys.exit(main())
