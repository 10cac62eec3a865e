"""Finds running backtests that nothing will ever finish, so they can be failed.

A run is in the hands of its job while that job is in the work queue:
pending, in flight, or waiting out a retry (JetStream keeps a work-queue
message until it is acked, and an executor acks only after the outcome is
committed). A backtest still `running` whose job has left the queue, or that
has no job at all (an admin PATCHed it to running), is an orphan. Runs whose
job JetStream gave up on are failed by the max-deliveries advisory instead;
their message stays queued until then.

Failing an orphan is a conditional update on `status = 'running'`, like
every outcome, so a run whose executor committed between the scan and the
update keeps its result.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.adapters.bus import Bus

REASON = "no job holds this run any more: it was set running without one, or its job left the queue without an outcome"

_CANDIDATES = text(
    """
    SELECT b.id, b.sweep_id, b.job_id, o.id IS NOT NULL AS has_job, o.published_at IS NOT NULL AS published,
           o.stream_seq
    FROM backtests AS b LEFT JOIN outbox AS o ON o.msg_id = b.job_id
    WHERE b.status = 'running' AND b.updated_at < now() - make_interval(secs => :older_than_s)
    """
)
_OPEN_TASKS = text("SELECT id FROM tasks WHERE id = ANY(CAST(:ids AS uuid[])) AND status NOT IN ('SUCCESS', 'FAILURE')")


def _task_of(sweep_id: uuid.UUID | None, job_id: str | None) -> uuid.UUID | None:
    """The task that counts the run: its sweep, or the execute task its job is named after."""
    if sweep_id is not None:
        return sweep_id
    try:
        return uuid.UUID(job_id) if job_id else None
    except ValueError:
        return None


async def find_orphans(
    session: AsyncSession, bus: Bus, *, older_than_s: float
) -> dict[uuid.UUID | None, list[uuid.UUID]]:
    """Orphaned runs not updated for `older_than_s` seconds, by the still-open task that counts them (None: none)."""
    orphans: list[tuple[uuid.UUID, uuid.UUID | None]] = []
    for row in (await session.execute(_CANDIDATES, {"older_than_s": older_than_s})).all():
        if row.sweep_id is not None and row.job_id == str(row.sweep_id):
            continue  # created before sweep backtests named their own job: cannot tell
        if row.has_job:
            if not row.published:
                continue  # the relay has yet to publish it
            if row.stream_seq is None or await bus.job_queued(row.stream_seq):
                continue  # still queued, or published before sequences were kept: cannot tell
        orphans.append((row.id, _task_of(row.sweep_id, row.job_id)))
    if not orphans:
        return {}
    tasks = {task for _, task in orphans if task is not None}
    open_tasks = set((await session.scalars(_OPEN_TASKS, {"ids": list(tasks)})).all()) if tasks else set()
    grouped: dict[uuid.UUID | None, list[uuid.UUID]] = defaultdict(list)
    for backtest_id, task in orphans:
        # A finished task (an earlier execute of a run PATCHed back to running) is not counted again.
        grouped[task if task in open_tasks else None].append(backtest_id)
    return dict(grouped)
