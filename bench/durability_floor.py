"""The least a durable synchronous execute can cost on this machine, measured.

"completed" means the results are readable: before a sync execute answers,
the run's artifacts are objects in the store and its outcome is a committed
row. Whatever the architecture, that is at least one S3 PUT and one durable
PostgreSQL commit after the computation, one after the other. This module
times the smallest of each on the stack's own servers, so the bench can show
how far below any ratio target that floor already sits.
"""

from __future__ import annotations

import uuid

from bench import commit_latency
from bench.session import Session
from bench.timing import Samples, repeat

SMALL_OBJECT = b"x" * 1024  # smaller than any artifact


def smallest_put(session: Session) -> Samples:
    """PUTs of a 1 kB object to the artifact bucket (one key, removed afterwards)."""
    key = f"bench/floor-{uuid.uuid4().hex}"
    try:
        return repeat(lambda: session.store.put_bytes(key, SMALL_OBJECT), times=session.options.runs, warm_up=2)
    finally:
        session.store.remove(key)


def measure(session: Session) -> tuple[Samples, Samples]:
    """(smallest S3 PUT, durable PostgreSQL commit) on the stack's servers."""
    _, commit = commit_latency.of_session(session)
    return smallest_put(session), commit
