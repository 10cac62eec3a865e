"""Claims a backtest for a run and queues its job, in one transaction.

The claim is a single conditional UPDATE (status <> 'running'): of many
concurrent execute calls exactly one matches the row, the others find it
running and get 409. The job goes into the outbox in the same transaction,
so a crash before publishing loses nothing: the relay publishes it later.

A job carries its runs' configs and the location of their bars, as claimed,
so an executor starts computing the moment it receives the job.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.adapters.bus import Job, Topology
from services.catalog.db.models import Backtest, OutboxMessage, Series, Task
from services.domain.errors import ConflictError, NotFoundError
from services.domain.jobs import JobId

_backtests = Backtest.__table__
# What an executor needs of a backtest to resolve and run it.
RUN_COLUMNS = ("strategy_id", "engine", "initial_capital", "commission", "slippage", "config")


def run_fields(values: dict[str, Any]) -> dict[str, Any]:
    """The job's copy of one run: RUN_COLUMNS of a backtest row (or of the values it was created with)."""
    fields = {name: values[name] for name in RUN_COLUMNS}
    fields["strategy_id"] = str(fields["strategy_id"])
    return fields


async def series_location(session: AsyncSession, symbol: str, timeframe: str) -> tuple[str, str]:
    """(object URI, sha256) of the stored series; empty strings when there is none."""
    row = (
        await session.execute(
            select(Series.object_uri, Series.sha256).where(Series.symbol == symbol, Series.timeframe == timeframe)
        )
    ).one_or_none()
    return (row.object_uri, row.sha256) if row is not None else ("", "")


async def queue_job(session: AsyncSession, topology: Topology, job: Job) -> None:
    """Adds `job` to the outbox of the session's transaction."""
    await session.execute(
        insert(OutboxMessage.__table__).values(
            subject=topology.job_subject(job.engine), msg_id=job.job_id, payload=job.encode()
        )
    )


async def claim_backtest(session: AsyncSession, topology: Topology, backtest_id: uuid.UUID) -> tuple[Task, Job]:
    """Marks the backtest running, creates its execute task and queues its job.

    session: an open session; the caller commits.
    topology: bus names, for the job's subject.
    backtest_id: the backtest to run.
    Returns the task (PENDING) and the queued job.
    Raises NotFoundError when it does not exist, ConflictError when it is running.
    """
    task_id = uuid.uuid4()
    claimed = (
        (
            await session.execute(
                update(_backtests)
                .where(_backtests.c.id == backtest_id, _backtests.c.status != "running")
                .values(
                    status="running",
                    claimed_at=func.now(),
                    attempts=0,
                    job_id=str(JobId.for_execute(task_id)),
                    error=None,
                    metrics={},
                    trades_uri=None,
                    equity_curve_uri=None,
                )
                .returning(*(_backtests.c[name] for name in RUN_COLUMNS))
            )
        )
        .mappings()
        .one_or_none()
    )
    if claimed is None:
        exists = await session.scalar(select(_backtests.c.id).where(_backtests.c.id == backtest_id))
        if exists is None:
            raise NotFoundError("backtest", str(backtest_id))
        raise ConflictError(f"backtest {backtest_id} is already running")
    await session.execute(
        insert(Task.__table__).values(id=task_id, kind="execute", status="PENDING", backtest_id=backtest_id, total=1)
    )
    config = claimed["config"]
    bars_uri, bars_sha256 = await series_location(session, config["symbol"], config["timeframe"])
    job = Job(
        job_id=str(JobId.for_execute(task_id)),
        engine=claimed["engine"],
        backtest_ids=[str(backtest_id)],
        runs=[run_fields(claimed)],
        bars_uri=bars_uri,
        bars_sha256=bars_sha256,
    )
    await queue_job(session, topology, job)
    return Task(id=task_id, kind="execute", status="PENDING", backtest_id=backtest_id, total=1), job
