"""The floor under every catalog transaction: a round trip and a durable commit on the stack's PostgreSQL.

`SELECT txid_current()` assigns a transaction id, so its COMMIT writes and
flushes a WAL record, as every claim, StartRuns and CompleteRuns commit does.
Nothing is changed in the database.
"""

from __future__ import annotations

import psycopg

from bench.session import Session
from bench.timing import Samples, repeat


def _dsn(database_url: str) -> str:
    """A libpq URL from the services' SQLAlchemy URL (postgresql+psycopg://...)."""
    scheme, _, rest = database_url.partition("://")
    return "postgresql://" + rest if scheme.startswith("postgresql") else database_url


def measure(database_url: str, *, times: int) -> tuple[Samples, Samples]:
    """(round trips of SELECT 1, write transactions BEGIN; txid_current(); COMMIT), `times` each."""
    with psycopg.connect(_dsn(database_url), autocommit=True) as conn:
        round_trip = repeat(lambda: conn.execute("SELECT 1").fetchone(), times=times, warm_up=2)

        def commit() -> None:
            with conn.transaction():
                conn.execute("SELECT txid_current()").fetchone()

        return round_trip, repeat(commit, times=times, warm_up=2)


def of_session(session: Session) -> tuple[Samples, Samples]:
    """`measure` on the session's stack, once per bench run: every section that shows it shows the same reading."""
    if "commit_latency" not in session.memo:
        session.memo["commit_latency"] = measure(session.stack.env["DATABASE_URL"], times=session.options.runs)
    return session.memo["commit_latency"]
