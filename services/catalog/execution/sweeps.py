"""Creates a sweep's backtests and task and queues its jobs, in one transaction.

Every configuration becomes a backtest tagged with the sweep (its task id),
claimed as running from the start. The runs are cut into jobs by the
domain's planner (services.domain.job_planning): batches that share bars for
an engine that batches, one job per run for one that does not.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.adapters.bus import Job, Topology
from services.catalog import signal_binding
from services.catalog.db.models import Strategy
from services.catalog.repository import backtests, outbox, series, tasks
from services.domain.errors import NotFoundError
from services.domain.job_planning import plan_jobs
from services.domain.jobs import JobId
from services.domain.run_config import ResolvedBacktest
from services.domain.signal_logic import LogicVersion
from services.domain.statuses import TaskKind


async def create_sweep(
    session: AsyncSession,
    topology: Topology,
    runs: list[ResolvedBacktest],
    overrides: list[dict[str, Any]],
    *,
    rank_metric: str,
    workers: int,
    logic: dict[str, LogicVersion],
) -> tuple[uuid.UUID, list[Job]]:
    """Stores the sweep's backtests and task and queues its jobs; the caller commits.

    runs: resolved configurations, in grid order, all of one strategy and engine.
    overrides: the param_grid entries, parallel to `runs`.
    rank_metric: flat metric the leaderboard ranks by.
    workers: live executors offering the sweep's engine.
    logic: the signal logic versions the runs are bound to, by id (their jobs carry the trees).
    Returns the task's id and the queued jobs.
    """
    task_id = uuid.uuid4()
    ids = [str(uuid.uuid4()) for _ in runs]
    params = {
        "engine": runs[0].engine,
        "rank_metric": rank_metric,
        "runs": [{"backtest_id": i, "overrides": o} for i, o in zip(ids, overrides, strict=True)],
    }
    jobs = await queue_search(session, topology, task_id, ids, runs, params, workers=workers, logic=logic)
    return task_id, jobs


async def queue_search(
    session: AsyncSession,
    topology: Topology,
    task_id: uuid.UUID,
    ids: list[str],
    runs: list[ResolvedBacktest],
    params: dict[str, Any],
    *,
    workers: int,
    logic: dict[str, LogicVersion],
    max_batch: int | None = None,
) -> list[Job]:
    """Stores a search's task and backtests (one statement) and queues its batched jobs; the caller commits.

    ids: the backtest ids to create, parallel to `runs`. params: the task's
    params. max_batch: bound on the runs of one job (plan_jobs').
    """
    strategy_id = uuid.UUID(runs[0].strategy_id)
    if await session.scalar(select(Strategy.id).where(Strategy.id == strategy_id)) is None:
        raise NotFoundError("strategy", str(strategy_id))
    plan = plan_jobs(ids, runs, workers=workers, max_batch=max_batch)
    # Each backtest names the job that runs it: the orphan scan asks the stream about that job.
    job_of = {member: str(JobId.for_sweep(task_id, n)) for n, members in enumerate(plan) for member in members}
    await tasks.create(session, task_id, TaskKind.SWEEP, total=len(runs), params=params)
    locations: dict[tuple[str, str], tuple[str, str]] = {}
    for run in runs:
        key = (run.config.symbol, run.config.timeframe)
        if key not in locations:
            locations[key] = await series.location(session, *key)
    await backtests.insert_sweep_runs(
        session,
        task_id,
        [
            (uuid.UUID(i), r, job_of[i], locations[r.config.symbol, r.config.timeframe][1])
            for i, r in zip(ids, runs, strict=True)
        ],
    )
    fields = {backtest_id: backtests.run_fields(run.to_dict()) for backtest_id, run in zip(ids, runs, strict=True)}
    jobs = []
    by_id = dict(zip(ids, runs, strict=True))
    for members in plan:
        config = fields[members[0]]["config"]
        version = logic.get(config.get("signal_logic_id"))
        members_runs = [by_id[member] for member in members]
        bars_uri, bars_sha256 = locations[config["symbol"], config["timeframe"]]
        job = Job(
            job_id=job_of[members[0]],
            engine=runs[0].engine,
            backtest_ids=members,
            runs=[fields[member] for member in members],
            bars_uri=bars_uri,
            bars_sha256=bars_sha256,
            signal_logic=version.to_job() if version is not None else None,
            series=await signal_binding.series_locations(session, members_runs, version),
        )
        await outbox.queue_job(session, topology, job)
        jobs.append(job)
    return jobs
