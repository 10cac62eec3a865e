"""Records what executors report about a job's runs: start, success, failure.

Every transition is a conditional UPDATE on `status = 'running'`, so a
redelivered job or a late report from a presumed-dead executor cannot
overwrite an outcome that is already committed. Task progress moves in the
same transaction as the backtests it counts. A report covers all runs of one
job, in one transaction: a 50-run broadcast batch is one commit, not 50.

Core statements on the tables, not ORM entities: these run once per job on
the hot path, and the ORM's identity map buys nothing here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.db.models import Backtest, Task
from services.catalog.execution.leaderboard import build_leaderboard

_backtests = Backtest.__table__
_tasks = Task.__table__


@dataclass(frozen=True)
class Success:
    """One successful run as an executor reports it."""

    backtest_id: uuid.UUID
    metrics: dict[str, Any]
    equity_curve_uri: str
    trades_uri: str


async def start_runs(session: AsyncSession, backtest_ids: list[uuid.UUID], task_id: uuid.UUID | None) -> list[uuid.UUID]:
    """Counts an attempt on each run still running and returns those, in request order."""
    running = set(
        (
            await session.scalars(
                update(_backtests)
                .where(_backtests.c.id.in_(backtest_ids), _backtests.c.status == "running")
                .values(attempts=_backtests.c.attempts + 1)
                .returning(_backtests.c.id)
            )
        ).all()
    )
    if running and task_id is not None:
        await session.execute(
            update(_tasks).where(_tasks.c.id == task_id, _tasks.c.status == "PENDING").values(status="STARTED")
        )
    return [backtest_id for backtest_id in backtest_ids if backtest_id in running]


async def _advance_task(session: AsyncSession, task_id: uuid.UUID | None, settled: list[dict[str, Any]]) -> None:
    """Counts finished runs (rows of id, status, error, metrics) on their task; settles it after the last."""
    if task_id is None or not settled:
        return
    task = (await session.execute(select(_tasks).where(_tasks.c.id == task_id).with_for_update())).one_or_none()
    if task is None:
        return
    failed = sum(row["status"] == "failed" for row in settled)
    values: dict[str, Any] = {"completed": task.completed + len(settled), "failed": task.failed + failed}
    if task.kind == "execute":
        run = settled[-1]
        values.update(
            status="FAILURE" if run["status"] == "failed" else "SUCCESS",
            error=run["error"],
            result={"backtest_id": str(run["id"]), "status": run["status"], "metrics": run["metrics"]},
        )
    elif values["completed"] >= task.total:
        # The leaderboard reads this transaction's own updates, so it sees every run settled.
        values.update(status="SUCCESS", result=await build_leaderboard(session, task_id, task.params))
    else:
        values["status"] = "PROGRESS"
    await session.execute(update(_tasks).where(_tasks.c.id == task_id).values(**values))


_SETTLED_COLUMNS = (_backtests.c.id, _backtests.c.status, _backtests.c.error, _backtests.c.metrics)

# One statement for any batch size: the outcomes travel as one JSON array,
# turned into rows by the database. A VALUES list was a new statement per
# batch, compiled anew each time (6 ms for 25 runs), and an array of jsonb
# cost as much again to quote on the way out.
_COMPLETE = text(
    """
    UPDATE backtests AS b
    SET status = 'completed', metrics = r.metrics, equity_curve_uri = r.equity_curve_uri,
        trades_uri = r.trades_uri, error = NULL, updated_at = now()
    FROM jsonb_to_recordset(CAST(:outcomes AS jsonb)) AS r(id uuid, metrics jsonb, equity_curve_uri text, trades_uri text)
    WHERE b.id = r.id AND b.status = 'running'
    RETURNING b.id
    """
)


async def complete_runs(session: AsyncSession, task_id: uuid.UUID | None, successes: list[Success]) -> list[uuid.UUID]:
    """Commits successful outcomes; returns the ids this call settled (the others were settled already)."""
    if not successes:
        return []
    outcomes = [
        {"id": str(s.backtest_id), "metrics": s.metrics, "equity_curve_uri": s.equity_curve_uri, "trades_uri": s.trades_uri}
        for s in successes
    ]
    done = set((await session.execute(_COMPLETE, {"outcomes": Jsonb(outcomes)})).scalars().all())
    # The settled rows as _advance_task reads them, in report order, from what was reported.
    settled = [
        {"id": s.backtest_id, "status": "completed", "error": None, "metrics": s.metrics}
        for s in successes if s.backtest_id in done
    ]
    await _advance_task(session, task_id, settled)
    return [row["id"] for row in settled]


async def fail_runs(session: AsyncSession, backtest_ids: list[uuid.UUID], task_id: uuid.UUID | None, *, reason: str) -> list[uuid.UUID]:
    """Marks running backtests failed with `reason` (also stored as metrics.error); returns those it settled."""
    if not backtest_ids:
        return []
    rows = (
        await session.execute(
            update(_backtests)
            .where(_backtests.c.id.in_(backtest_ids), _backtests.c.status == "running")
            .values(status="failed", metrics={"error": reason}, error=reason)
            .returning(*_SETTLED_COLUMNS)
        )
    ).mappings().all()
    settled = [dict(row) for row in rows]
    await _advance_task(session, task_id, settled)
    return [row["id"] for row in settled]
