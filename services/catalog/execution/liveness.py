"""Who moves a run out of `running`, and when: every path, in one table, and the code each one runs.

A backtest is `running` from its claim until an outcome is committed. Its job
(services.domain.jobs) stays in the work queue all that time: an executor
acks it only after the outcome is committed, and JetStream redelivers a job
whose executor died or stalled. These are all the ways a run leaves
`running` without completing, or is seen not to:

- run error: the run cannot succeed on its config and data (no bars in
  range, plugin or engine error). The executor decides (FailRuns,
  FAILURE_CAUSE_RUN_ERROR); failed, with the executor's reason.
- infrastructure: an infrastructure error (catalog, store, network) outlived
  the job's last delivery. The executor decides
  (FAILURE_CAUSE_INFRASTRUCTURE); failed, naming the error.
- deliveries exhausted: the job arrives for a delivery beyond
  JOB_MAX_DELIVER: every earlier executor died or stalled before an
  outcome, so it fails unrun rather than take down another. The executor
  decides (FAILURE_CAUSE_DELIVERIES_EXHAUSTED); failed (`DELIVERIES_EXHAUSTED`).
- orphan scan: running and unchanged for ORPHAN_RUN_AFTER_S, and its job
  no longer in the queue (or it never had one: PATCHed to running). The
  catalog decides (`Liveness.reap_orphans`); failed (`ORPHAN_SCAN`).
- sync timeout: a synchronous execute waited SYNC_EXECUTE_TIMEOUT_S. The
  catalog answers 504 (`Liveness.sync_timeout`); the run stays running.
- administrative PATCH: a user sets `status` by hand (UpdateBacktest); the
  run becomes what was set, and a job still queued for it finds it settled
  and drops its result.
- cancel: a user cancels the run's task (CancelTask). The catalog decides
  (services.catalog.execution.cancel); revoked, and the task REVOKED. Its
  queued job leaves the stream, an executor that holds it drops it unrun,
  and a result reported later changes nothing.

Each failure goes through `Liveness.fail`, which words the reason, commits it
with `outcomes.fail_runs` (a conditional update on `running`, in the same
transaction as the progress of the task the job names) and then tells
synchronous waiters. An outcome committed first always wins: a late or
repeated report changes nothing. The job leaves the queue only when its
executor acks it, after that commit, so no failure is lost to a crash.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.adapters.bus import Bus
from services.catalog.execution import outcomes
from services.domain.errors import DeadlineError
from services.domain.jobs import JobId
from services.domain.statuses import FINAL_TASK_STATUSES, RunStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LivenessPath:
    """One row of the table above.

    name: the path's name, logged with each failure it causes.
    decides: the process that decides (and where).
    reason: the failure reason users read, formatted with the report's `detail` and `deliveries`;
        None for a path that fails nothing itself.
    """

    name: str
    decides: str
    reason: str | None


RUN_ERROR = LivenessPath("run error", "executor: FailRuns, FAILURE_CAUSE_RUN_ERROR", "{detail}")
INFRASTRUCTURE = LivenessPath("infrastructure", "executor: FailRuns, FAILURE_CAUSE_INFRASTRUCTURE", "{detail}")
DELIVERIES_EXHAUSTED = LivenessPath(
    "deliveries exhausted",
    "executor: FailRuns, FAILURE_CAUSE_DELIVERIES_EXHAUSTED",
    "executor did not finish the run: gave up after {deliveries} deliveries (executor crashed or timed out)",
)
ORPHAN_SCAN = LivenessPath(
    "orphan scan",
    "catalog: Liveness.reap_orphans",
    "no job holds this run any more: it was set running without one, or its job left the queue without an outcome",
)
SYNC_TIMEOUT = LivenessPath("sync timeout", "catalog: Liveness.sync_timeout", None)
ADMINISTRATIVE_PATCH = LivenessPath("administrative PATCH", "catalog: UpdateBacktest", None)
# Revoked, not failed: the words are services.catalog.execution.cancel.reason_of's.
CANCEL = LivenessPath("cancel", "catalog: CancelTask (services/catalog/execution/cancel.py)", None)
# Every path, in the table's order (docs/reliability.md lists the same; a unit test holds them together).
PATHS = (RUN_ERROR, INFRASTRUCTURE, DELIVERIES_EXHAUSTED, ORPHAN_SCAN, SYNC_TIMEOUT, ADMINISTRATIVE_PATCH, CANCEL)

# Running backtests not touched for a while, with what the outbox knows of their job.
_CANDIDATES = text(
    """
    SELECT b.id, b.job_id, o.id IS NOT NULL AS has_job, o.published_at IS NOT NULL AS published, o.stream_seq
    FROM backtests AS b LEFT JOIN outbox AS o ON o.msg_id = b.job_id
    WHERE b.status = :running AND b.updated_at < now() - make_interval(secs => :older_than_s)
    """
)
_OPEN_TASKS = text("SELECT id FROM tasks WHERE id = ANY(CAST(:ids AS uuid[])) AND status <> ALL(:final)")


class Liveness:
    """The catalog's side of the table.

    sessions: session factory of the catalog database.
    bus: the connected job bus (the orphan scan asks its stream about jobs).
    announce: tells synchronous waiters that these runs settled with this status, and the task's watchers.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: Bus,
        announce: Callable[[list[uuid.UUID], str, uuid.UUID | None], Awaitable[None]],
    ) -> None:
        self.sessions = sessions
        self.bus = bus
        self.announce = announce

    async def executor_failed(
        self, job: JobId, backtest_ids: list[uuid.UUID], path: LivenessPath, detail: str
    ) -> list[uuid.UUID]:
        """Run error, infrastructure, deliveries exhausted: an executor reports these runs of `job` failed.

        path: RUN_ERROR, INFRASTRUCTURE or DELIVERIES_EXHAUSTED (the report's FailureCause).
        detail: the executor's words, the reason of RUN_ERROR and INFRASTRUCTURE.
        """
        return await self.fail(path, backtest_ids, job.task_id, detail=detail, job=job)

    async def reap_orphans(self, *, older_than_s: float) -> list[uuid.UUID]:
        """Orphan scan: fails running backtests unchanged for `older_than_s` whose job left the queue."""
        async with self.sessions() as session:
            orphans = await self._find_orphans(session, older_than_s)
        failed = []
        for task_id, backtest_ids in orphans.items():
            failed += await self.fail(ORPHAN_SCAN, backtest_ids, task_id)
        return failed

    @staticmethod
    def sync_timeout(backtest_id: uuid.UUID, timeout_s: float) -> DeadlineError:
        """Sync timeout: the 504 a synchronous execute answers; the run itself stays running."""
        log.info("sync execute timed out", extra={"backtest_id": str(backtest_id), "path": SYNC_TIMEOUT.name})
        return DeadlineError(f"backtest {backtest_id} did not finish within {timeout_s:g} s; it is still running")

    async def fail(
        self,
        path: LivenessPath,
        backtest_ids: list[uuid.UUID],
        task_id: uuid.UUID | None,
        *,
        detail: str = "",
        job: JobId | None = None,
    ) -> list[uuid.UUID]:
        """Commits the failure of the runs still running among `backtest_ids`; returns those it settled.

        path: the row of the table; its reason is what users read.
        task_id: the open task counting the runs, None when none does.
        detail: the reporter's own words, for paths whose reason is them.
        job: the reporting executor's job: only runs it still holds fail (not one executed again since).
        """
        reason = path.reason.format(detail=detail, deliveries=self.bus.topology.max_deliver)
        async with self.sessions.begin() as session:
            settled = await outcomes.fail_runs(session, backtest_ids, task_id, reason=reason, job=job)
        if settled:
            ids = [str(i) for i in settled]
            log.info("runs failed", extra={"path": path.name, "backtest_ids": ids, "reason": reason})
        await self.announce(settled, RunStatus.FAILED, task_id)
        return settled

    async def _find_orphans(
        self, session: AsyncSession, older_than_s: float
    ) -> dict[uuid.UUID | None, list[uuid.UUID]]:
        """Orphaned runs by the still-open task that counts them (None: none does)."""
        parameters = {"older_than_s": older_than_s, "running": RunStatus.RUNNING}
        orphans: list[tuple[uuid.UUID, uuid.UUID | None]] = []
        for row in (await session.execute(_CANDIDATES, parameters)).all():
            if row.has_job and (not row.published or await self.bus.job_queued(row.stream_seq)):
                continue  # the relay has yet to publish it, or it is queued, in flight or waiting out a retry
            orphans.append((row.id, JobId.parse(row.job_id).task_id if row.job_id else None))
        if not orphans:
            return {}
        tasks = list({task for _, task in orphans if task is not None})
        final = [str(status) for status in FINAL_TASK_STATUSES]
        open_tasks = set((await session.scalars(_OPEN_TASKS, {"ids": tasks, "final": final})).all()) if tasks else set()
        grouped: dict[uuid.UUID | None, list[uuid.UUID]] = defaultdict(list)
        for backtest_id, task in orphans:
            # A finished task (an earlier execute of a run PATCHed back to running) is not counted again.
            grouped[task if task in open_tasks else None].append(backtest_id)
        return dict(grouped)
