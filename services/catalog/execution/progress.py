"""A task's live progress, for WatchTask: its state now, then each time it changes, until it ends.

How a watcher learns of a change: the catalog replica that commits one (a
run started or settled, a cancel) publishes a core-NATS event on the task's
subject (services.adapters.bus), and the watcher, subscribed before its
first read, reads the task's row again. Why NATS and not PostgreSQL
LISTEN/NOTIFY: a NOTIFY in the run reports' transactions would take
PostgreSQL's global notification lock at every commit, on the hottest path
of the fleet; a NATS publish after the commit costs a few microseconds, and
the catalog already publishes one per settled run for synchronous execute.
And no watcher holds a database connection: each read borrows a pooled one
for a primary-key lookup (and, when the count of completed runs moved, one
query for the best run, at most once a second), so a thousand watchers cost
events, not sessions.

Core NATS is at-most-once, so a watcher also reads the row every
`RECHECK_S` without an event: a lost event delays an update by that much,
never hangs the stream. A burst of events (a 10,000-run search reports many
batches a second) is read once per `MIN_GAP_S`: the stream carries every
state it reads that differs from the last, so intermediate counts may be
skipped but the counts it shows only grow, and the last element is the
final state.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import nats.errors
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.adapters.bus import Bus
from services.domain.errors import NotFoundError
from services.domain.metric_table import LOWER, direction
from services.domain.statuses import FINAL_TASK_STATUSES, RunStatus

RECHECK_S = 2.0
MIN_GAP_S = 0.1
# The best-run query reads every completed run's metric (56 ms for 10,000 runs where we measured), so
# a watcher runs it at most once a second, and at most 1/20 of its time: the best may lag the counts by
# that much, but the last element's is read after the task ended.
BEST_MIN_INTERVAL_S = 1.0
BEST_COST_FACTOR = 20.0
# What an execute task's best run is ranked by: the searches' default rank metric.
DEFAULT_METRIC = "perf_sharpe_ratio"

_READ = text(
    """
    SELECT status, succeeded, failed, revoked, total, updated_at, backtest_id, params ->> 'rank_metric' AS rank_metric
    FROM tasks WHERE id = :task_id
    """
)
_COUNTS = text("SELECT status, succeeded, failed, revoked, total, updated_at FROM tasks WHERE id = :task_id")
# The best completed run of the task by `metric`; JSONB holds no NaN or infinity, so every number ranks.
_BEST = """
    SELECT id, (metrics ->> :metric)::float8 AS value FROM backtests
    WHERE (sweep_id = :task_id OR id = :backtest_id) AND status = :completed
          AND split_part(job_id, '.', 1) = :task_text AND jsonb_typeof(metrics -> :metric) = 'number'
    ORDER BY value {order}, id LIMIT 1
"""
_BEST_HIGHER = text(_BEST.format(order="DESC"))
_BEST_LOWER = text(_BEST.format(order="ASC"))


@dataclass(frozen=True)
class Best:
    """The best completed run so far: its id, the metric ranked by and its value."""

    backtest_id: uuid.UUID
    metric: str
    value: float


@dataclass(frozen=True)
class Progress:
    """One element of a watch: the task as it stands."""

    task_id: uuid.UUID
    status: str
    succeeded: int
    failed: int
    revoked: int
    total: int
    updated_at: datetime
    best: Best | None

    @property
    def ended(self) -> bool:
        """Whether the task is final: the watch ends after this element."""
        return self.status in FINAL_TASK_STATUSES


@dataclass(frozen=True)
class _Task:
    """What a watch reads once: which runs are the task's and what ranks them."""

    task_id: uuid.UUID
    backtest_id: uuid.UUID | None
    metric: str


class ProgressWatch:
    """Streams tasks' progress.

    sessions: session factory of the catalog database.
    bus: the connected bus (task events).
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], bus: Bus) -> None:
        self.sessions = sessions
        self.bus = bus

    async def watch(self, task_id: uuid.UUID) -> AsyncIterator[Progress]:
        """The task's progress now, then at each change, ending with its final state; NotFoundError first if unknown."""
        subscription = await self.bus.subscribe_task_events(str(task_id))
        try:
            async with self.sessions() as session:
                row = (await session.execute(_READ, {"task_id": task_id})).one_or_none()
                if row is None:
                    raise NotFoundError("task", str(task_id))
                task = _Task(task_id, row.backtest_id, row.rank_metric or DEFAULT_METRIC)
                best = await self._best(session, task) if row.succeeded else None
            last = _progress(task, row, best)
            yield last
            best_at, best_due = row.succeeded, time.monotonic()
            while not last.ended:
                await _next_change(subscription)
                async with self.sessions() as session:
                    row = (await session.execute(_COUNTS, {"task_id": task_id})).one()
                    final = row.status in FINAL_TASK_STATUSES
                    if row.succeeded != best_at and (final or time.monotonic() >= best_due):
                        began = time.monotonic()
                        best, best_at = await self._best(session, task), row.succeeded
                        best_due = time.monotonic() + max(
                            BEST_MIN_INTERVAL_S, BEST_COST_FACTOR * (time.monotonic() - began)
                        )
                current = _progress(task, row, best)
                if current != last:
                    yield current
                    last = current
        finally:
            try:
                await subscription.unsubscribe()
            except Exception:  # NATS away: the subscription goes with the connection
                pass

    @staticmethod
    async def _best(session: AsyncSession, task: _Task) -> Best | None:
        statement = _BEST_LOWER if direction(task.metric) == LOWER else _BEST_HIGHER
        parameters = {
            "metric": task.metric,
            "task_id": task.task_id,
            "task_text": str(task.task_id),
            "backtest_id": task.backtest_id,
            "completed": RunStatus.COMPLETED,
        }
        row = (await session.execute(statement, parameters)).one_or_none()
        return None if row is None else Best(row.id, task.metric, row.value)


def _progress(task: _Task, row, best: Best | None) -> Progress:
    return Progress(
        task_id=task.task_id,
        status=row.status,
        succeeded=row.succeeded,
        failed=row.failed,
        revoked=row.revoked,
        total=row.total,
        updated_at=row.updated_at,
        best=best,
    )


async def _next_change(subscription) -> None:
    """Returns after an event (and the burst behind it) or after RECHECK_S without one."""
    try:
        await subscription.next_msg(timeout=RECHECK_S)
    except (TimeoutError, nats.errors.TimeoutError):
        return
    await asyncio.sleep(MIN_GAP_S)
    while subscription.pending_msgs:  # one read for the whole burst
        await subscription.next_msg(timeout=MIN_GAP_S)
