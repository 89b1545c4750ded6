"""Figures of `make bench`: summary statistics and the per-measurement JSON parts.

Every measurement script appends figures to results/parts/<part>.json; table.py merges the
parts into results/bench.json and prints the table. A figure is a median with min/max over
repeated samples (n), plus the target it is read against (never asserted).
"""

import json
import math
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(os.environ.get("BENCH_RESULTS", ROOT / "results"))
PARTS = RESULTS / "parts"


def quantile(samples, q):
    """Nearest-rank quantile (q in 0..1) of a non-empty list; NaN when empty."""
    if not samples:
        return math.nan
    s = sorted(samples)
    return s[round((len(s) - 1) * q)]


def figure(name, unit, samples, target=None, check=None, note="", p95=False, digits=3):
    """A table row from raw samples.

    target: text shown in the table (e.g. "<= 1.0 s"); check: function(row) -> bool deciding
    "met?" from the row (None: no target). p95 adds the 95th percentile to the row.
    """
    samples = [float(x) for x in samples if x is not None and not math.isnan(float(x))]
    row = {
        "figure": name,
        "unit": unit,
        "n": len(samples),
        "median": round(statistics.median(samples), digits) if samples else None,
        "min": round(min(samples), digits) if samples else None,
        "max": round(max(samples), digits) if samples else None,
        "target": target,
        "met": None,
        "note": note,
        "samples": [round(x, digits) for x in samples],
    }
    if p95:
        row["p95"] = round(quantile(samples, 0.95), digits) if samples else None
    if check is not None and samples:
        row["met"] = bool(check(row))
    return row


def missing(name, unit, why, target=None):
    """A row for a figure that could not be measured in this run (shown, never hidden)."""
    return {"figure": name, "unit": unit, "n": 0, "median": None, "min": None, "max": None,
            "target": target, "met": None, "note": f"not measured: {why}", "samples": []}


def write_part(part, rows, extra=None):
    """Writes (replaces) results/parts/<part>.json."""
    PARTS.mkdir(parents=True, exist_ok=True)
    doc = {"part": part, "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "rows": rows}
    if extra:
        doc["extra"] = extra
    path = PARTS / f"{part}.json"
    path.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"bench: wrote {path}")
