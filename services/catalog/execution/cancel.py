"""Cancels a task: its unfinished runs are revoked and the task ends REVOKED, in one transaction.

The task's row is locked first (FOR UPDATE); its runs still `running` are
then revoked with SKIP LOCKED. Every run report locks its backtests before
the task (services.catalog.execution.outcomes), so the cancel never waits on
a backtest lock while holding the task: no deadlock. A run whose outcome a
report is committing at that very moment is skipped; that report then waits
for the task row, and its outcome counts on the REVOKED task once the
cancel commits (it had finished). `revoke_stragglers` sweeps up any such run
whose report rolled back instead, so nothing is left `running`.

Afterwards (services.catalog.execution.service) the revoked jobs still in the
work queue are deleted from the stream and the task id goes into the bus's
revoked set, so an executor that already holds one of its jobs drops it
unrun (Celery's revoke). Neither is needed for correctness: a revoked run is
no longer `running`, so an executor's late outcome for it changes nothing
(StartRuns and CompleteRuns are conditional on `running`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from psycopg.types.json import Jsonb
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.domain.errors import ConflictError, NotFoundError
from services.domain.statuses import FINAL_TASK_STATUSES, RunStatus, TaskStatus

_LOCK_TASK = text("SELECT status, backtest_id FROM tasks WHERE id = :task_id FOR UPDATE")

# The task's runs still running: a search's carry its id as sweep_id, an
# execute's is the task's backtest_id; the job id names the task either way
# (services.domain.jobs), which keeps a later execute of the same backtest out.
_REVOKE_RUNS = text(
    """
    WITH victims AS (
        SELECT id FROM backtests
        WHERE (sweep_id = :task_id OR id = :backtest_id) AND status = :running
              AND split_part(job_id, '.', 1) = :task_text
        FOR UPDATE SKIP LOCKED
    )
    UPDATE backtests AS b SET status = :revoked, error = :reason, metrics = :metrics, updated_at = now()
    FROM victims WHERE b.id = victims.id
    RETURNING b.id, b.job_id
    """
)
_FINISH_TASK = text(
    """
    UPDATE tasks SET status = :task_revoked, revoked = revoked + :count, updated_at = now()
    WHERE id = :task_id
    """
)
# Jobs the relay has yet to publish: they never will.
_DROP_UNPUBLISHED = text(
    "DELETE FROM outbox WHERE msg_id = ANY(CAST(:jobs AS text[])) AND published_at IS NULL RETURNING msg_id"
)
# Where the others sit in the stream, to delete them from the queue.
_PUBLISHED = text("SELECT stream_seq FROM outbox WHERE msg_id = ANY(CAST(:jobs AS text[])) AND stream_seq IS NOT NULL")
_STILL_RUNNING = text(
    """
    SELECT count(*) FROM backtests
    WHERE (sweep_id = :task_id OR id = :backtest_id) AND status = :running AND split_part(job_id, '.', 1) = :task_text
    """
)


@dataclass(frozen=True)
class Revocation:
    """What one cancel pass changed.

    revoked: the runs it revoked.
    stream_seqs: where their published jobs sit in the work queue.
    skipped: runs it found being settled by a report at that moment (locked).
    """

    revoked: list[uuid.UUID]
    stream_seqs: list[int]
    skipped: int


def reason_of(task_id: uuid.UUID) -> str:
    """The words a revoked run carries (its metrics' `error`)."""
    return f"revoked: task {task_id} was cancelled before this run finished"


async def _revoke(
    session: AsyncSession, task_id: uuid.UUID, backtest_id: uuid.UUID | None
) -> tuple[list[uuid.UUID], list[int], int]:
    """Revokes the task's runs still running (skipping those a report holds) and counts them on the task.

    Returns the revoked runs, their published jobs' stream sequences, and how many runs it skipped.
    """
    reason = reason_of(task_id)
    parameters = {
        "task_id": task_id,
        "task_text": str(task_id),
        "backtest_id": backtest_id,
        "running": RunStatus.RUNNING,
        "revoked": RunStatus.REVOKED,
        "reason": reason,
        "metrics": Jsonb({"error": reason}),
    }
    rows = (await session.execute(_REVOKE_RUNS, parameters)).all()
    jobs = sorted({row.job_id for row in rows if row.job_id})
    seqs: list[int] = []
    if jobs:
        await session.execute(_DROP_UNPUBLISHED, {"jobs": jobs})
        seqs = list((await session.scalars(_PUBLISHED, {"jobs": jobs})).all())
    still = await session.scalar(_STILL_RUNNING, parameters)
    await session.execute(_FINISH_TASK, {"task_id": task_id, "task_revoked": TaskStatus.REVOKED, "count": len(rows)})
    return [row.id for row in rows], seqs, int(still or 0)


async def cancel_task(session: AsyncSession, task_id: uuid.UUID) -> Revocation:
    """Revokes the task's unfinished runs and marks it REVOKED; the caller commits.

    Raises NotFoundError when the task does not exist, ConflictError naming its state when it already ended.
    """
    task = (await session.execute(_LOCK_TASK, {"task_id": task_id})).one_or_none()
    if task is None:
        raise NotFoundError("task", str(task_id))
    if task.status in FINAL_TASK_STATUSES:
        raise ConflictError(f"task {task_id} already ended: it is {task.status}")
    revoked, seqs, skipped = await _revoke(session, task_id, task.backtest_id)
    return Revocation(revoked, seqs, skipped)


async def revoke_stragglers(session: AsyncSession, task_id: uuid.UUID) -> Revocation:
    """Another pass over a REVOKED task: revokes runs a concurrent report held during the cancel but left running.

    The caller commits. A run that report settled meanwhile is no longer running and stays as it settled.
    """
    task = (await session.execute(_LOCK_TASK, {"task_id": task_id})).one_or_none()
    if task is None or task.status != TaskStatus.REVOKED:
        return Revocation([], [], 0)
    revoked, seqs, skipped = await _revoke(session, task_id, task.backtest_id)
    return Revocation(revoked, seqs, skipped)
