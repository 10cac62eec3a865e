"""Records what executors report: a run's start, its success, its failure.

Every transition is a conditional UPDATE on `status = 'running'`, so a
redelivered job or a late report from a presumed-dead executor cannot
overwrite an outcome that is already committed. Task progress moves in the
same transaction as the backtest it counts.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.db.models import Backtest, Series, Task
from services.catalog.execution.leaderboard import build_leaderboard


async def start_run(session: AsyncSession, backtest_id: uuid.UUID, task_id: uuid.UUID | None) -> tuple[Backtest, Series | None] | None:
    """Counts an attempt and returns the running backtest with its series, or None if it is not running."""
    backtest = (
        await session.scalars(
            update(Backtest)
            .where(Backtest.id == backtest_id, Backtest.status == "running")
            .values(attempts=Backtest.attempts + 1)
            .returning(Backtest)
        )
    ).one_or_none()
    if backtest is None:
        return None
    if task_id is not None:
        await session.execute(update(Task).where(Task.id == task_id, Task.status == "PENDING").values(status="STARTED"))
    series = await session.get(Series, (backtest.config["symbol"], backtest.config["timeframe"]))
    return backtest, series


async def _advance_task(session: AsyncSession, task_id: uuid.UUID | None, backtest: Backtest, *, failed: bool) -> None:
    """Counts one finished run on its task and settles the task when it was the last."""
    if task_id is None:
        return
    task = await session.get(Task, task_id, with_for_update=True)
    if task is None:
        return
    task.completed += 1
    task.failed += int(failed)
    if task.kind == "execute":
        task.status = "FAILURE" if failed else "SUCCESS"
        task.error = backtest.error if failed else None
        task.result = {"backtest_id": str(backtest.id), "status": backtest.status, "metrics": backtest.metrics}
    elif task.completed >= task.total:
        task.status = "SUCCESS"
        task.result = await build_leaderboard(session, task)
    else:
        task.status = "PROGRESS"


async def _settle(session: AsyncSession, backtest_id: uuid.UUID, task_id: uuid.UUID | None, *, failed: bool, **values: Any) -> bool:
    """Moves a running backtest to its outcome and counts it on its task; False when already settled."""
    backtest = (
        await session.scalars(
            update(Backtest)
            .where(Backtest.id == backtest_id, Backtest.status == "running")
            .values(status="failed" if failed else "completed", **values)
            .returning(Backtest)
        )
    ).one_or_none()
    if backtest is None:
        return False
    await _advance_task(session, task_id, backtest, failed=failed)
    return True


async def complete_run(
    session: AsyncSession, backtest_id: uuid.UUID, task_id: uuid.UUID | None, *,
    metrics: dict[str, Any], equity_curve_uri: str, trades_uri: str,
) -> bool:
    """Commits a successful outcome; False when the run was already settled."""
    return await _settle(
        session, backtest_id, task_id, failed=False,
        metrics=metrics, equity_curve_uri=equity_curve_uri, trades_uri=trades_uri, error=None,
    )


async def fail_run(session: AsyncSession, backtest_id: uuid.UUID, task_id: uuid.UUID | None, *, reason: str) -> bool:
    """Marks a running backtest failed with `reason` (also stored as metrics.error); False when already settled."""
    return await _settle(session, backtest_id, task_id, failed=True, metrics={"error": reason}, error=reason)
