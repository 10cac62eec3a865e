"""Publishes outbox rows to JetStream and marks them published.

Runs after each dispatch (so jobs leave at once) and on a timer (so rows left
behind by a crash or a NATS outage go out later). Rows are locked with SKIP
LOCKED, so several catalog replicas never publish the same row concurrently;
JetStream's Nats-Msg-Id dedupe covers a crash between publish and mark.

The request that committed a job publishes it straight away too
(`publish_committed`) and marks its row afterwards, off the request's path:
a relay pass would add a locked read and an update before the job leaves.
If that publish fails, the row is still unpublished and the relay retries it;
if a relay pass publishes it as well, JetStream drops the repeat. Marks are
group-committed: while one marking transaction runs, the marks of the
requests published meanwhile gather and go in the next one, and each
marking transaction first waits MARK_GATHER_S for more, so a burst of single
executes costs a few marking transactions, not one each (at ~100 executes a
second a mark took about as long as the gap between two, so nearly every
execute paid one). A relay pass leaves alone the rows this catalog published
and is about to mark.
"""

from __future__ import annotations

import asyncio
import logging

from psycopg.types.json import Jsonb
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.adapters.bus import Bus, Job
from services.catalog.db.models import OutboxMessage

log = logging.getLogger(__name__)
BATCH = 100
# How long the marks of directly published jobs gather before one UPDATE marks them all.
MARK_GATHER_S = 0.02
# Marks directly published rows; a row the relay got to first keeps its mark.
_MARK = text(
    """
    UPDATE outbox AS o SET published_at = now(), stream_seq = p.stream_seq
    FROM jsonb_to_recordset(CAST(:published AS jsonb)) AS p(msg_id text, stream_seq bigint)
    WHERE o.msg_id = p.msg_id AND o.published_at IS NULL
    """
)


class OutboxRelay:
    """Moves queued jobs from the database to the bus.

    sessions: session factory of the catalog database.
    bus: connected job bus.
    autocommit: an engine on that database whose connections stay in autocommit (for the marks).
    period: seconds between sweeps for rows left behind.
    """

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], bus: Bus, *, autocommit: AsyncEngine, period: float = 2.0
    ) -> None:
        self.sessions = sessions
        self.autocommit = autocommit
        self.bus = bus
        self.period = period
        self._kick = asyncio.Event()
        self._unmarked: dict[str, int] = {}  # msg_id -> stream sequence, published and waiting for a mark
        self._in_marking: dict[str, int] = {}  # ... and those of the marking transaction in flight
        self._marking: asyncio.Task | None = None

    def kick(self) -> None:
        """Asks for a publish pass now (after a commit that queued jobs)."""
        self._kick.set()

    async def publish_committed(self, jobs: list[Job]) -> None:
        """Publishes jobs whose outbox rows were just committed; their rows are marked in the background."""
        try:
            if len(jobs) == 1:  # an execute's job: no task wrapped around its one publish
                sequences = [await self.bus.publish_job(jobs[0])]
            else:  # concurrently: a sweep's jobs wait for their acks together, not one after another
                sequences = await asyncio.gather(*(self.bus.publish_job(job) for job in jobs))
        except Exception:  # NATS is down: the rows stay unpublished for the relay's retries
            log.warning("direct publish failed; left to the relay", exc_info=True)
            self.kick()
            return
        self._unmarked.update({job.job_id: sequence for job, sequence in zip(jobs, sequences, strict=True)})
        if self._marking is None or self._marking.done():
            self._marking = asyncio.create_task(self._mark_while_unmarked())

    def sequences_of_task(self, task_id: str) -> list[int]:
        """Where this catalog published the task's jobs whose rows are not marked yet (a cancel deletes them too)."""
        prefix = f"{task_id}."
        return [
            seq
            for pending in (self._unmarked, self._in_marking)
            for msg_id, seq in pending.items()
            if msg_id == task_id or msg_id.startswith(prefix)
        ]

    async def _mark_while_unmarked(self) -> None:
        """Marks what is waiting, in one transaction, and again for what gathered meanwhile, until nothing waits."""
        while self._unmarked:
            await asyncio.sleep(MARK_GATHER_S)  # let a burst's marks gather: one UPDATE for several
            self._in_marking, self._unmarked = self._unmarked, {}
            try:
                await self._mark_published(self._in_marking)
            finally:
                self._in_marking = {}

    async def _mark_published(self, published: dict[str, int]) -> None:
        """Sets published_at and the stream sequence of each msg_id -> sequence."""
        try:
            async with self.autocommit.connect() as connection:
                # One UPDATE is its own transaction: in autocommit, one round trip instead of BEGIN, UPDATE, COMMIT.
                await connection.execute(
                    _MARK, {"published": Jsonb([{"msg_id": m, "stream_seq": q} for m, q in published.items()])}
                )
        except Exception:  # the relay will publish them again; JetStream drops the repeats
            log.warning("could not mark published jobs", exc_info=True)

    async def drain(self) -> None:
        """Waits for background marking to finish (at shutdown)."""
        if self._marking is not None:
            await asyncio.gather(self._marking, return_exceptions=True)

    async def publish_pending(self) -> int:
        """Publishes every unpublished row; returns how many went out."""
        sent = 0
        while True:
            # Published already, their marks on the way (a failed mark leaves them to a later pass).
            marking = [*self._unmarked, *self._in_marking]
            async with self.sessions() as session, session.begin():
                rows = (
                    await session.scalars(
                        select(OutboxMessage)
                        .where(OutboxMessage.published_at.is_(None), OutboxMessage.msg_id.not_in(marking))
                        .order_by(OutboxMessage.id)
                        .limit(BATCH)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
                for row in rows:
                    row.stream_seq = await self.bus.publish_job(Job.decode(row.payload))
                    row.published_at = func.now()
                sent += len(rows)
            if len(rows) < BATCH:
                return sent

    async def run(self, stop: asyncio.Event) -> None:
        """Publishes on every kick and every `period` seconds until `stop` is set."""
        while not stop.is_set():
            try:
                count = await self.publish_pending()
                if count:
                    log.info("outbox published", extra={"count": count})
            except Exception:  # NATS or the database is down: keep the rows, try again
                log.warning("outbox publish failed", exc_info=True)
            self._kick.clear()
            try:
                await asyncio.wait_for(self._kick.wait(), timeout=self.period)
            except TimeoutError:
                pass
