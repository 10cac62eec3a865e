"""Finds what an error text shown to a client must not carry: exception class names, SQL, hosts and ports.

Those belong in the logs (issue 14): a message names the dependency that is
away and what to do, never the internals that failed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_PATTERNS = {
    "an exception class": re.compile(r"\b(?:[A-Z][a-z0-9]+){1,5}(?:Error|Exception|Timeout)\b|Traceback|\bexc_info\b"),
    "a library's internals": re.compile(r"\b(?:psycopg|sqlalchemy|asyncpg|urllib3|minio|nats\.|grpc\._|_cython)", re.I),
    "SQL": re.compile(
        r"\[SQL:|\bSELECT\b.+\bFROM\b|\bINSERT INTO\b|\bUPDATE\b\s+\w+\s+\bSET\b|\bDELETE FROM\b|sqlalche\.me", re.S
    ),
    "a host": re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b|\blocalhost\b|\[::1?\]"),
}


def exposures(text: str, ports: Iterable[int] = ()) -> list[str]:
    """What `text` exposes, one phrase per kind found (empty when nothing).

    text: an error message, a failure reason or a response body.
    ports: the stack's server and service ports; a message naming one exposes it.
    """
    found = [
        f"{kind} ({match.group(0)[:60]!r})" for kind, pattern in _PATTERNS.items() if (match := pattern.search(text))
    ]
    for port in ports:
        if re.search(rf"(?<![\w.]){port}(?![\w.])", text):
            found.append(f"a port ({port})")
            break
    return found
