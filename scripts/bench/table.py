"""Merges results/parts/*.json into results/bench.json and prints ONE table:
figure | median | p95 | min | max | n | target | met?   (targets are read, never asserted).
Indented rows ("  of which ...") split the row above into parts measured on the same samples;
their medians need not add up to its median (a median of sums is not a sum of medians)."""

import json
import os
import platform
import subprocess
import sys
import time

from stats import PARTS, RESULTS, ROOT

ORDER = ["notify", "approve-window", "silent", "library", "startup", "window", "soak", "sizes", "throughput"]


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float) and abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:g}"


def git_rev():
    r = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return r.stdout.strip() or None


def main():
    parts = {p.stem: json.loads(p.read_text()) for p in sorted(PARTS.glob("*.json"))}
    names = [n for n in ORDER if n in parts] + sorted(n for n in parts if n not in ORDER)
    rows = [r for n in names for r in parts[n]["rows"]]
    doc = {
        "benchmark": "make bench (Assent)",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "git": git_rev(),
        "quick": os.environ.get("BENCH_QUICK") == "1",
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                    "loadavg_at_end": os.getloadavg()},
        "rows": rows,
    }
    out = RESULTS / "bench.json"
    out.write_text(json.dumps(doc, indent=2) + "\n")

    head = ["figure", "unit", "median", "p95", "min", "max", "n", "target", "met?"]
    table = [head]
    for r in rows:
        met = {True: "yes", False: "NO", None: "-"}[r.get("met")]
        table.append([r["figure"], r.get("unit", ""), fmt(r.get("median")), fmt(r.get("p95")),
                      fmt(r.get("min")), fmt(r.get("max")), str(r.get("n", 0)),
                      r.get("target") or "-", met])
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    line = lambda row: "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"
    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in table[1:]:
        print(line(row))
    notes = [(r["figure"], r["note"]) for r in rows if r.get("note")]
    if notes:
        print("\nNotes:")
        for name, note in notes:
            print(f"  - {name.strip()}: {note}")
    print(f"\nwrote {out} (load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
