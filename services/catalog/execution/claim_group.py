"""Claims of concurrent executes gathered into one statement (a group commit).

A burst of small executes claimed each run with a statement of its own: per
execute a pooled connection checked out and returned, a statement sent
through SQLAlchemy and psycopg, and a commit in PostgreSQL. Here the
executes that arrive while a claim statement is in flight wait for it to
end and then go together in the next one (`dispatch.claim_plain` claims
several runs, each with its own task and job, in one autocommit statement).
Nothing waits on a timer: a lone execute is claimed at once, and under load
a claim waits at most for the statement before it.

Each execute still gets exactly its own answer: the runs the statement did
not claim (missing, running, or needing binding), and every run of a
statement that failed, are left to the caller, which claims them alone as
before; a database outage fails each execute of the statement as it
would have failed alone. Two
executes of the same backtest never share a statement: the second waits
for the next one, where it finds the run running (409).
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import psycopg
from sqlalchemy.ext.asyncio import AsyncEngine

from services.adapters.bus import Job, Topology
from services.catalog.execution.dispatch import claim_plain
from services.kit.outages import unreachable_dependency

log = logging.getLogger(__name__)

# Most runs one claim statement takes (a bound on its size; 16 clients send at most 16 at once).
MAX_GROUP = 64

Claim = tuple[uuid.UUID, Job]


class ClaimGroup:
    """Gathers the plain claims of concurrent executes into one statement at a time.

    autocommit: an engine whose connections stay in autocommit (db.engine.autocommit_engine).
    topology: bus names, for the jobs' subject.
    """

    def __init__(self, autocommit: AsyncEngine, topology: Topology) -> None:
        self.autocommit = autocommit
        self.topology = topology
        self._waiting: list[tuple[uuid.UUID, asyncio.Future]] = []
        self._claiming: asyncio.Task | None = None

    async def claim(self, backtest_id: uuid.UUID) -> Claim | None:
        """(task id, queued job) once the run is claimed and committed; None when the group did not claim it.

        None means: missing, running, needing binding, or the group's statement failed;
        the caller claims it alone (`dispatch.claim_plain` or `claim_backtest`) and gets the answer there.
        """
        claimed: asyncio.Future = asyncio.get_running_loop().create_future()
        self._waiting.append((backtest_id, claimed))
        if self._claiming is None:
            self._claiming = asyncio.create_task(self._claim_while_waiting())
        # Shielded: a cancelled call must not cancel the statement other executes wait on.
        return await asyncio.shield(claimed)

    async def _claim_while_waiting(self) -> None:
        """Claims what waits, one statement at a time, until nothing waits."""
        try:
            while self._waiting:
                group, self._waiting = _distinct(self._waiting)
                await self._claim_group(group)
        finally:
            self._claiming = None

    async def _claim_group(self, group: list[tuple[uuid.UUID, asyncio.Future]]) -> None:
        try:
            async with self.autocommit.connect() as connection:
                claimed = await claim_plain(connection, self.topology, [backtest_id for backtest_id, _ in group])
        except Exception as exc:
            if _outage(exc):  # the database is away: each execute fails as it would have alone
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                return
            # Anything else (a deadlock with another catalog's group): each execute claims alone.
            log.warning("a grouped claim failed; its executes claim alone", exc_info=True)
            claimed = {}
        for backtest_id, future in group:
            if not future.done():
                future.set_result(claimed.get(backtest_id))


def _outage(exc: Exception) -> bool:
    """Whether `exc` says the database is unreachable.

    A deadlock or a serialization failure is not, though SQLAlchemy calls it OperationalError as it does
    an outage: the statement rolled back, and each claim alone may pass.
    """
    if isinstance(getattr(exc, "orig", None), (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)):
        return False
    return unreachable_dependency(exc) is not None


def _distinct(
    waiting: list[tuple[uuid.UUID, asyncio.Future]],
) -> tuple[list[tuple[uuid.UUID, asyncio.Future]], list[tuple[uuid.UUID, asyncio.Future]]]:
    """(the next statement's claims: distinct runs, at most MAX_GROUP; the rest, in arrival order)."""
    group: list[tuple[uuid.UUID, asyncio.Future]] = []
    rest: list[tuple[uuid.UUID, asyncio.Future]] = []
    seen: set[uuid.UUID] = set()
    for item in waiting:
        if item[0] in seen or len(group) >= MAX_GROUP:
            rest.append(item)
        else:
            seen.add(item[0])
            group.append(item)
    return group, rest
