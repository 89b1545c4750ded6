"""Release binary sizes (Assent for Linux and, when built, Windows; hello-tauri for reference)
and the .deb from the Tauri bundler. Usage: sizes.py [DEB_PATH|-]. Writes results/parts/sizes.json."""

import os
import sys
from pathlib import Path

import procs
from stats import figure, missing, write_part

MB = 1_000_000


def main(argv):
    rows = []
    if procs.ASSENT.exists():
        rows.append(figure("release binary size (assent, stripped)", "MB",
                           [procs.ASSENT.stat().st_size / MB], digits=2, target="<= 15 MB",
                           check=lambda r: r["median"] <= 15, note=str(procs.ASSENT)))
    else:
        rows.append(missing("release binary size (assent)", "MB", f"{procs.ASSENT} not built", "<= 15 MB"))
    # Built by `make package-windows` (not by the bench: a release cross build takes minutes).
    exe = next((p for p in procs.WINDOWS_EXES if p.exists()), None)
    if exe:
        rows.append(figure("release binary size (assent.exe, Windows x86_64-gnu, stripped)", "MB",
                           [exe.stat().st_size / MB], digits=2, target="<= 15 MB",
                           check=lambda r: r["median"] <= 15, note=str(exe)))
    else:
        rows.append(missing("release binary size (assent.exe, Windows)", "MB",
                            "not built: run make package-windows", "<= 15 MB"))
    if procs.HELLO.exists():
        rows.append(figure("hello-tauri release binary size (reference)", "MB",
                           [procs.HELLO.stat().st_size / MB], digits=2))
    deb = Path(argv[0]) if argv and argv[0] != "-" else None
    if deb and deb.exists():
        rows.append(figure(".deb bundle size (tauri bundle --bundles deb)", "MB",
                           [deb.stat().st_size / MB], digits=2, note=deb.name))
    else:
        rows.append(missing(".deb bundle size", "MB", os.environ.get("BENCH_DEB_WHY", "bundler did not produce a .deb")))
    write_part("sizes", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
