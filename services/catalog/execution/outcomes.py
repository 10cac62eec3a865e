"""Records what executors report about a job's runs: start, success, failure.

Every transition is a conditional UPDATE on `status = 'running'`, so a
redelivered job or a late report from a presumed-dead executor cannot
overwrite an outcome that is already committed. An executor's report also
names its job, and touches only runs that job still holds (`job_id`): a run
revoked or settled and then executed again is running for its new job, and
the old job, still computing somewhere, must neither settle it (counting it
on the old task, and leaving the new task to wait forever) nor count its
attempts. Task progress moves in the same transaction as the backtests it
counts. A report covers all runs of one job, in one transaction: a 50-run
broadcast batch is one commit, not 50. An executor that coalesced several
queued jobs into one computation reports them all in one transaction too
(`start_jobs`, `complete_jobs`: a group commit), each run still matched
against the job that reports it.

Core statements on the tables, not ORM entities: these run once per job on
the hot path, and the ORM's identity map buys nothing here. Status words are
bound parameters from services.domain.statuses, never SQL literals.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, fields
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.catalog.db.models import Backtest, Task
from services.catalog.execution.grid_search import build_grid_leaderboard, is_grid
from services.catalog.execution.leaderboard import build_leaderboard
from services.catalog.repository.views import BacktestView
from services.domain.jobs import JobId
from services.domain.statuses import RunStatus, TaskKind, TaskStatus

_backtests = Backtest.__table__
_tasks = Task.__table__
_WORDS = {
    "running": RunStatus.RUNNING,
    "completed": RunStatus.COMPLETED,
    "task_pending": TaskStatus.PENDING,
    "task_started": TaskStatus.STARTED,
    "task_progress": TaskStatus.PROGRESS,
    "task_revoked": TaskStatus.REVOKED,
    "execute": TaskKind.EXECUTE,
    "sweep": TaskKind.SWEEP,
}


@dataclass(frozen=True)
class Success:
    """One successful run as an executor reports it."""

    backtest_id: uuid.UUID
    metrics: dict[str, Any]
    equity_curve_uri: str
    trades_uri: str
    return_blocks: dict[str, list[float]] | None = None


# One round trip: count the attempt on every run still running, and move the
# task from PENDING to STARTED when any is.
_START = text(
    """
    WITH started AS (
        UPDATE backtests SET attempts = attempts + 1, updated_at = now()
        WHERE id = ANY(CAST(:ids AS uuid[])) AND status = :running AND job_id = :job_id
        RETURNING id
    ), task AS (
        UPDATE tasks SET status = :task_started, updated_at = now()
        WHERE id = :task_id AND status = :task_pending AND EXISTS (SELECT 1 FROM started)
    )
    SELECT id FROM started
    """
)


async def start_runs(session: AsyncSession, job: JobId, backtest_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """Counts an attempt on each run `job` still holds running and returns those, in request order."""
    parameters = {"ids": backtest_ids, "job_id": str(job), "task_id": job.task_id, **_WORDS}
    running = set((await session.execute(_START, parameters)).scalars().all())
    return [backtest_id for backtest_id in backtest_ids if backtest_id in running]


# start_runs for several jobs: each (run, job) pair travels as one JSON row, so a
# run counts an attempt only while the job reporting it holds it.
_START_MANY = text(
    """
    UPDATE backtests AS b SET attempts = b.attempts + 1, updated_at = now()
    FROM jsonb_to_recordset(CAST(:runs AS jsonb)) AS r(id uuid, job_id text)
    WHERE b.id = r.id AND b.status = :running AND b.job_id = r.job_id
    RETURNING b.id
    """
)
# The started jobs' tasks, locked in id order (two executors' reports may share a
# sweep's task) before they move from PENDING to STARTED.
_LOCK_TASKS = text("SELECT id FROM tasks WHERE id = ANY(CAST(:task_ids AS uuid[])) ORDER BY id FOR UPDATE")
_START_TASKS = text(
    """
    UPDATE tasks SET status = :task_started, updated_at = now()
    WHERE id = ANY(CAST(:task_ids AS uuid[])) AND status = :task_pending
    """
)


async def start_jobs(session: AsyncSession, jobs: list[tuple[JobId, list[uuid.UUID]]]) -> list[list[uuid.UUID]]:
    """`start_runs` of several jobs in one transaction: per job, the runs it still holds, in request order."""
    rows = [{"id": str(b), "job_id": str(job)} for job, ids in jobs for b in ids]
    if not rows:
        return [[] for _ in jobs]
    running = set((await session.execute(_START_MANY, {"runs": Jsonb(rows), **_WORDS})).scalars().all())
    started = [[b for b in ids if b in running] for _, ids in jobs]
    task_ids = sorted({job.task_id for (job, _), ids in zip(jobs, started, strict=True) if ids})
    if task_ids:
        if len(task_ids) > 1:
            await session.execute(_LOCK_TASKS, {"task_ids": task_ids})
        await session.execute(_START_TASKS, {"task_ids": task_ids, **_WORDS})
    return started


# Counts settled runs on their task in one UPDATE, whose row lock orders
# concurrent reports. An execute task takes its run's outcome at once; a sweep
# moves to PROGRESS, and the report that settles its last run gets its params
# back, to rank the leaderboard in the same transaction. (RETURNING sees the
# updated counts.) A cancelled task stays REVOKED: a run that was settling as
# the cancel came (services.catalog.execution.cancel) is only counted.
_PROGRESS = text(
    """
    UPDATE tasks SET
        succeeded = succeeded + :succeeded, failed = failed + :failed, updated_at = now(),
        status = CASE WHEN status = :task_revoked THEN status
                      WHEN kind = :execute THEN :execute_status
                      WHEN succeeded + failed + :succeeded + :failed < total THEN :task_progress ELSE status END,
        error = CASE WHEN kind = :execute AND status <> :task_revoked THEN :error ELSE error END,
        result = CASE WHEN kind = :execute AND status <> :task_revoked THEN CAST(:result AS jsonb) ELSE result END
    WHERE id = :task_id
    RETURNING CASE WHEN kind = :sweep AND status <> :task_revoked AND succeeded + failed >= total
                        AND succeeded + failed - :succeeded - :failed < total THEN params END
    """
)


async def _advance_task(session: AsyncSession, task_id: uuid.UUID | None, settled: list[dict[str, Any]]) -> None:
    """Counts finished runs (rows of id, status, error, metrics) on their task; settles it after the last."""
    if task_id is None or not settled:
        return
    run = settled[-1]  # an execute task has one run
    failed = sum(row["status"] == RunStatus.FAILED for row in settled)
    parameters = {
        "task_id": task_id,
        "succeeded": len(settled) - failed,
        "failed": failed,
        "execute_status": TaskStatus.FAILURE if run["status"] == RunStatus.FAILED else TaskStatus.SUCCESS,
        "error": run["error"],
        "result": Jsonb({"backtest_id": str(run["id"]), "status": run["status"], "metrics": run["metrics"]}),
        **_WORDS,
    }
    sweep_params = (await session.execute(_PROGRESS, parameters)).scalar()
    if sweep_params is not None:
        # The leaderboard reads this transaction's own updates, so it sees every run settled.
        build = build_grid_leaderboard if is_grid(sweep_params) else build_leaderboard
        leaderboard = await build(session, task_id, sweep_params)
        finish = update(_tasks).where(_tasks.c.id == task_id).values(status=TaskStatus.SUCCESS, result=leaderboard)
        await session.execute(finish)


_SETTLED_COLUMNS = (_backtests.c.id, _backtests.c.status, _backtests.c.error, _backtests.c.metrics)


async def complete_runs(session: AsyncSession, job: JobId, successes: list[Success]) -> list[uuid.UUID]:
    """Commits `job`'s successful outcomes; returns the ids this call settled.

    The others were settled already, or are running for another job (executed again since).
    """
    (settled,) = await complete_jobs(session, [(job, successes)])
    return settled


# Marks reported runs completed; each outcome carries the job reporting it, and a run
# settles only while that job still holds it running.
# One statement for any batch size: the outcomes travel as one JSON array,
# turned into rows by the database. A VALUES list was a new statement per
# batch, compiled anew each time (6 ms for 25 runs), and an array of jsonb
# cost as much again to quote on the way out.
_COMPLETE_SQL = """
    UPDATE backtests AS b
    SET status = :completed, metrics = r.metrics, equity_curve_uri = r.equity_curve_uri,
        trades_uri = r.trades_uri, return_blocks = r.return_blocks, error = NULL, updated_at = now()
    FROM jsonb_to_recordset(CAST(:outcomes AS jsonb))
         AS r(id uuid, job_id text, metrics jsonb, equity_curve_uri text, trades_uri text, return_blocks jsonb)
    WHERE b.id = r.id AND b.status = :running AND b.job_id = r.job_id
    RETURNING {returning}
    """
_COMPLETE = text(_COMPLETE_SQL.format(returning="b.id"))
# The same, returning the settled rows as clients see them (and the job holding each): for the
# runs a synchronous execute of this catalog waits for, which then need not read their row back.
_VIEW_COLUMNS = tuple(_backtests.c[f.name] for f in fields(BacktestView))
_COMPLETE_VIEWS = text(
    _COMPLETE_SQL.format(returning=", ".join(f"b.{c.name}" for c in (*_VIEW_COLUMNS, _backtests.c.job_id)))
).columns(*_VIEW_COLUMNS, _backtests.c.job_id)


async def complete_jobs(session: AsyncSession, jobs: list[tuple[JobId, list[Success]]]) -> list[list[uuid.UUID]]:
    """Commits the successful outcomes of several jobs in one transaction; per job, the ids it settled.

    Every backtest row is locked by the one UPDATE before any task row, and the
    tasks are then counted in id order: the lock order cancel and other reports
    rely on (services.catalog.execution.cancel).
    """
    settled, _ = await complete_jobs_viewing(session, jobs, frozenset())
    return settled


async def complete_jobs_viewing(
    session: AsyncSession, jobs: list[tuple[JobId, list[Success]]], wanted: Collection[uuid.UUID]
) -> tuple[list[list[uuid.UUID]], dict[uuid.UUID, tuple[str, BacktestView]]]:
    """`complete_jobs`, and the settled rows among `wanted` as (job id holding it, view), by id."""
    outcomes = [
        {
            "id": str(s.backtest_id),
            "job_id": str(job),
            "metrics": s.metrics,
            "equity_curve_uri": s.equity_curve_uri,
            "trades_uri": s.trades_uri,
            "return_blocks": s.return_blocks,
        }
        for job, successes in jobs
        for s in successes
    ]
    if not outcomes:
        return [[] for _ in jobs], {}
    parameters = {"outcomes": Jsonb(outcomes), **_WORDS}
    views: dict[uuid.UUID, tuple[str, BacktestView]] = {}
    if any(s.backtest_id in wanted for _, successes in jobs for s in successes):
        rows = (await session.execute(_COMPLETE_VIEWS, parameters)).all()
        done = {row.id for row in rows}
        views = {row.id: (row.job_id, BacktestView.of(row)) for row in rows if row.id in wanted}
    else:
        done = set((await session.execute(_COMPLETE, parameters)).scalars().all())
    settled: list[list[dict[str, Any]]] = []
    for _, successes in jobs:
        rows = []
        for s in successes:
            if s.backtest_id in done:  # a run reported twice (a redelivered copy in the same batch) counts once
                done.discard(s.backtest_id)
                rows.append({"id": s.backtest_id, "status": RunStatus.COMPLETED, "error": None, "metrics": s.metrics})
        settled.append(rows)
    by_task: dict[uuid.UUID, list[dict[str, Any]]] = {}
    executes: set[uuid.UUID] = set()
    for (job, _), rows in zip(jobs, settled, strict=True):
        if rows:
            by_task.setdefault(job.task_id, []).extend(rows)
            if job.part is None:
                executes.add(job.task_id)
    if len(by_task) > 1 and len(executes) > 1:
        # A coalesced batch settles many execute tasks: lock every task in id order, then count
        # the execute tasks' runs in one statement instead of one each.
        await session.execute(_LOCK_TASKS, {"task_ids": sorted(by_task)})
        done_tasks = await _advance_executes(session, {task_id: by_task[task_id] for task_id in executes})
        by_task = {task_id: rows for task_id, rows in by_task.items() if task_id not in done_tasks}
    for task_id in sorted(by_task):
        await _advance_task(session, task_id, by_task[task_id])
    return [[row["id"] for row in rows] for rows in settled], views


# _PROGRESS for several execute tasks (one run each) from one JSON array; a cancelled task
# stays REVOKED and only counts. Returns the tasks it counted (any other kind is left out).
_PROGRESS_EXECUTES = text(
    """
    UPDATE tasks AS t SET
        succeeded = t.succeeded + r.succeeded, failed = t.failed + r.failed, updated_at = now(),
        status = CASE WHEN t.status = :task_revoked THEN t.status ELSE r.status END,
        error = CASE WHEN t.status = :task_revoked THEN t.error ELSE r.error END,
        result = CASE WHEN t.status = :task_revoked THEN t.result ELSE r.result END
    FROM jsonb_to_recordset(CAST(:tasks AS jsonb))
         AS r(id uuid, succeeded integer, failed integer, status text, error text, result jsonb)
    WHERE t.id = r.id AND t.kind = :execute
    RETURNING t.id
    """
)


async def _advance_executes(session: AsyncSession, settled: dict[uuid.UUID, list[dict[str, Any]]]) -> set[uuid.UUID]:
    """`_advance_task` of several execute tasks (each settled run by task) in one statement; the tasks it counted."""
    rows = []
    for task_id, runs in settled.items():
        run = runs[-1]  # an execute task has one run
        failed = sum(r["status"] == RunStatus.FAILED for r in runs)
        rows.append(
            {
                "id": str(task_id),
                "succeeded": len(runs) - failed,
                "failed": failed,
                "status": TaskStatus.FAILURE if run["status"] == RunStatus.FAILED else TaskStatus.SUCCESS,
                "error": run["error"],
                "result": {"backtest_id": str(run["id"]), "status": run["status"], "metrics": run["metrics"]},
            }
        )
    return set((await session.execute(_PROGRESS_EXECUTES, {"tasks": Jsonb(rows), **_WORDS})).scalars().all())


async def fail_runs(
    session: AsyncSession,
    backtest_ids: list[uuid.UUID],
    task_id: uuid.UUID | None,
    *,
    reason: str,
    job: JobId | None = None,
) -> list[uuid.UUID]:
    """Marks running backtests failed with `reason` (also stored as metrics.error); returns those it settled.

    task_id: the task counting the runs; None when no open task does (an orphan PATCHed to running).
    job: the reporting executor's job, whose runs alone it may fail; None for the catalog's own decisions.
    """
    if not backtest_ids:
        return []
    conditions = [_backtests.c.id.in_(backtest_ids), _backtests.c.status == RunStatus.RUNNING]
    if job is not None:
        conditions.append(_backtests.c.job_id == str(job))
    rows = (
        (
            await session.execute(
                update(_backtests)
                .where(*conditions)
                .values(status=RunStatus.FAILED, metrics={"error": reason}, error=reason)
                .returning(*_SETTLED_COLUMNS)
            )
        )
        .mappings()
        .all()
    )
    settled = [dict(row) for row in rows]
    await _advance_task(session, task_id, settled)
    return [row["id"] for row in settled]


def separate_executes(jobs: list[tuple[JobId, list[Any]]]) -> bool:
    """Whether `jobs` are execute jobs of distinct tasks, one run each: a coalesced batch of single runs."""
    tasks = {job.task_id for job, _ in jobs}
    return len(tasks) == len(jobs) and all(job.part is None and len(runs) == 1 for job, runs in jobs)


# start_jobs of execute jobs (separate_executes), in one statement: each run counts an attempt
# while its job holds it running, and that job's task moves from PENDING to STARTED. An execute
# task has one run, and its row is updated only after that run's row (the task UPDATE reads
# `started`), so the lock order cancel and other reports rely on holds without locking the tasks
# in id order first: two reports can share a task only by sharing its run, and the second waits
# on the run's row before touching the task. One statement is its own transaction: in
# autocommit one round trip, not BEGIN, two or three statements and COMMIT.
_START_EXECUTES = text(
    """
    WITH started AS (
        UPDATE backtests AS b SET attempts = b.attempts + 1, updated_at = now()
        FROM jsonb_to_recordset(CAST(:runs AS jsonb)) AS r(id uuid, job_id text, task_id uuid)
        WHERE b.id = r.id AND b.status = :running AND b.job_id = r.job_id
        RETURNING b.id, r.task_id
    ), task AS (
        UPDATE tasks AS t SET status = :task_started, updated_at = now()
        FROM started AS s
        WHERE t.id = s.task_id AND t.status = :task_pending
    )
    SELECT id FROM started
    """
)


async def start_executes(session: AsyncConnection, jobs: list[tuple[JobId, list[uuid.UUID]]]) -> list[list[uuid.UUID]]:
    """`start_jobs` of execute jobs of distinct tasks (separate_executes) as one statement; run it in autocommit."""
    rows = [{"id": str(ids[0]), "job_id": str(job), "task_id": str(job.task_id)} for job, ids in jobs]
    running = set((await session.execute(_START_EXECUTES, {"runs": Jsonb(rows), **_WORDS})).scalars().all())
    return [[b for b in ids if b in running] for _, ids in jobs]


# complete_jobs of execute jobs (separate_executes, one of them included: the report a sync
# execute waits for), as one statement: each run settled only while its job holds it running,
# and its task counted from the run's new row, so the run's row is locked before the task's,
# the order start_executes explains; a cancelled task stays REVOKED and only counts. One
# statement is its own transaction: in autocommit one round trip, not BEGIN, two UPDATEs and COMMIT.
_COMPLETE_EXECUTES = text(
    f"""
    WITH done AS (
        UPDATE backtests AS b
        SET status = :completed, metrics = r.metrics, equity_curve_uri = r.equity_curve_uri,
            trades_uri = r.trades_uri, return_blocks = r.return_blocks, error = NULL, updated_at = now()
        FROM jsonb_to_recordset(CAST(:outcomes AS jsonb))
             AS r(id uuid, job_id text, task_id uuid, metrics jsonb, equity_curve_uri text, trades_uri text,
                  return_blocks jsonb)
        WHERE b.id = r.id AND b.status = :running AND b.job_id = r.job_id
        RETURNING {", ".join(f"b.{c.name}" for c in (*_VIEW_COLUMNS, _backtests.c.job_id))}, r.task_id
    ), counted AS (
        UPDATE tasks AS t SET
            succeeded = t.succeeded + 1, updated_at = now(),
            status = CASE WHEN t.status = :task_revoked THEN t.status ELSE :task_success END,
            error = CASE WHEN t.status = :task_revoked THEN t.error ELSE NULL END,
            result = CASE WHEN t.status = :task_revoked THEN t.result
                          ELSE jsonb_build_object('backtest_id', d.id, 'status', d.status, 'metrics', d.metrics) END
        FROM done AS d
        WHERE t.id = d.task_id AND t.kind = :execute
    )
    SELECT {", ".join(c.name for c in (*_VIEW_COLUMNS, _backtests.c.job_id))} FROM done
    """
).columns(*_VIEW_COLUMNS, _backtests.c.job_id)


async def complete_executes(
    session: AsyncConnection, jobs: list[tuple[JobId, list[Success]]], wanted: Collection[uuid.UUID]
) -> tuple[list[list[uuid.UUID]], dict[uuid.UUID, tuple[str, BacktestView]]]:
    """`complete_jobs_viewing` of execute jobs of distinct tasks (separate_executes) as one statement.

    Run it in autocommit (the statement is then its own transaction).
    """
    outcomes = [
        {
            "id": str(s.backtest_id),
            "job_id": str(job),
            "task_id": str(job.task_id),
            "metrics": s.metrics,
            "equity_curve_uri": s.equity_curve_uri,
            "trades_uri": s.trades_uri,
            "return_blocks": s.return_blocks,
        }
        for job, (s,) in jobs
    ]
    parameters = {"outcomes": Jsonb(outcomes), "task_success": TaskStatus.SUCCESS, **_WORDS}
    rows = (await session.execute(_COMPLETE_EXECUTES, parameters)).all()
    done = {row.id for row in rows}
    views = {row.id: (row.job_id, BacktestView.of(row)) for row in rows if row.id in wanted}
    return [[s.backtest_id] if s.backtest_id in done else [] for _, (s,) in jobs], views
