"""Process-tree probes from /proc: PSS (smaps_rollup) and CPU time (stat) of a process and
all its descendants (the Tauri app plus its WebKit network and web processes)."""

import os

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _ppid_map():
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # exited while we looked
        # comm may contain spaces and parentheses: the fields after the last ')' are fixed.
        fields = stat[stat.rfind(")") + 2:].split()
        out[int(entry)] = int(fields[1])
    return out


def tree(pid):
    """pid and all its live descendants."""
    children = {}
    for p, pp in _ppid_map().items():
        children.setdefault(pp, []).append(p)
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        if os.path.exists(f"/proc/{p}"):
            found.append(p)
            todo.extend(children.get(p, []))
    return found


def pss_kib(pids):
    """Sum of Pss over pids (KiB); processes that vanished count 0."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def cpu_ticks(pids):
    """utime+stime (clock ticks) summed over pids, keyed by pid (so exits can be noticed)."""
    out = {}
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        # fields[0] is state (field 3); utime is field 14, stime field 15.
        out[p] = int(fields[11]) + int(fields[12])
    return out


def names(pids):
    """comm of each pid, for the report (which processes were counted)."""
    out = []
    for p in pids:
        try:
            with open(f"/proc/{p}/comm") as f:
                out.append(f.read().strip())
        except OSError:
            pass
    return out
