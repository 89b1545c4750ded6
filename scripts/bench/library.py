"""Parses the verify-push round-trip bench output (`cargo bench -p verify-push --bench
roundtrip`, saved to a file by run.sh) into results/parts/library.json.
Usage: library.py OUTPUT_FILE"""

import re
import sys
from pathlib import Path

from stats import missing, write_part

LINE = re.compile(r"^(?P<name>.+?)\s+runs\s+(?P<n>\d+)\s+median\s+(?P<med>[\d.]+) ms\s+p95\s+(?P<p95>[\d.]+) ms"
                  r"\s+min\s+(?P<min>[\d.]+) ms\s+max\s+(?P<max>[\d.]+) ms")


def main(argv):
    path = Path(argv[0]) if argv else None
    rows = []
    text = path.read_text() if path and path.exists() else ""
    for line in text.splitlines():
        m = LINE.match(line.strip())
        if not m:
            continue
        name = m.group("name").strip()
        row = {"figure": f"library: {name}", "unit": "ms", "n": int(m.group("n")),
               "median": float(m.group("med")), "p95": float(m.group("p95")),
               "min": float(m.group("min")), "max": float(m.group("max")),
               "target": None, "met": None, "samples": [],
               "note": "verify-push against an in-process emulator on loopback, keys in memory"}
        if name.startswith("approve"):
            row["figure"] = "approve -> server approved (library alone)"
            row["target"] = "p95 <= 50 ms"
            row["met"] = row["p95"] <= 50
        rows.append(row)
    if not rows:
        rows.append(missing("approve -> server approved (library alone)", "ms",
                            "verify-push roundtrip bench output not found", "p95 <= 50 ms"))
    write_part("library", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
