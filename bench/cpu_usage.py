"""CPU seconds spent by each process of the stack (children included), by this bench, and by the rest of the machine.

Read from /proc (Linux): a process's utime + stime, summed over its
descendants (PostgreSQL serves each connection from a child process), and
the machine's busy time from /proc/stat. "other" is what the machine spent
outside the stack and the bench: other users of a shared box.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from deploy.embedded.stack import Stack

_TICK = os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[int, float]]:
    """Pid -> (parent pid, CPU seconds) of every process we may read."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "
        found[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK)
    return found


def _machine_busy() -> float:
    """Seconds all CPUs spent not idle since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return (sum(values[:8]) - idle) / _TICK


def snapshot(stack: Stack) -> dict[str, float]:
    """CPU seconds so far of each stack process (with its descendants), 'bench', and 'machine'."""
    processes = _processes()
    children = defaultdict(list)
    for pid, (parent, _) in processes.items():
        children[parent].append(pid)

    def tree(pid: int) -> float:
        return processes.get(pid, (0, 0.0))[1] + sum(tree(child) for child in children.get(pid, ()))

    assert stack.supervisor is not None
    usage = {child.name: tree(child.pid) for child in stack.supervisor.children}
    usage["bench"] = processes.get(os.getpid(), (0, 0.0))[1]
    usage["machine"] = _machine_busy()
    return usage


def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds between two snapshots, per process present in both, plus 'other'."""
    delta = {name: after[name] - before[name] for name in after if name in before}
    delta["other"] = delta["machine"] - sum(v for k, v in delta.items() if k != "machine")
    return delta
