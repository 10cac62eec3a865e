"""Reads the services' JSON-line logs from a remembered offset.

Log files are appended to across runs and restarts, so a reader starts at the
end of what existed when it was made and sees only what happened since.
Timestamps are wall clock with millisecond resolution.
"""

from __future__ import annotations

import calendar
import json
import time
from pathlib import Path


def epoch(ts: str) -> float:
    """Seconds since the epoch of a log timestamp like 2026-11-24T07:17:00.290Z."""
    stamp, _, millis = ts.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%S")) + int(millis or 0) / 1000


class LogReader:
    """JSON entries appended to `path` after `offset` (its current end when None)."""

    def __init__(self, path: Path, offset: int | None = None) -> None:
        self.path = path
        self.offset = offset if offset is not None else (path.stat().st_size if path.exists() else 0)

    def entries(self, msg: str | None = None, **match: str) -> list[dict]:
        """Entries since the offset whose `msg` and fields equal the given values; each has `t` (epoch seconds)."""
        if not self.path.exists():
            return []
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read()
        found = []
        for line in data.splitlines():
            if not line.startswith(b"{"):
                continue  # the supervisor's run headers, tracebacks
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line still being written
            if msg is not None and entry.get("msg") != msg:
                continue
            if any(entry.get(key) != value for key, value in match.items()):
                continue
            entry["t"] = epoch(entry["ts"])
            found.append(entry)
        return found

    def wait_for(self, msg: str, *, timeout: float, interval: float = 0.05, **match: str) -> dict:
        """The first matching entry, waiting up to `timeout` seconds for it; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.entries(msg, **match)
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {msg!r} {match or ''} in {self.path} within {timeout:g} s")
            time.sleep(interval)
