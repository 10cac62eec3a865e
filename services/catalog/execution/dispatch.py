"""Claims a backtest for a run and queues its job, in one transaction.

The claim is one conditional UPDATE (services.catalog.repository.backtests.claim):
of many concurrent execute calls exactly one matches the row, the others
find it running and get 409. The job goes into the outbox in the same
transaction, so a crash before publishing loses nothing: the relay publishes
it later.

A job carries its runs' configs and the location of their bars, as claimed,
so an executor starts computing the moment it receives the job.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.adapters.bus import Job, Topology
from services.catalog import signal_binding
from services.catalog.repository import backtests, outbox, series, tasks
from services.domain.jobs import JobId
from services.domain.statuses import TaskKind


async def claim_backtest(session: AsyncSession, topology: Topology, backtest_id: uuid.UUID) -> tuple[uuid.UUID, Job]:
    """Marks the backtest running, creates its execute task and queues its job; the caller commits.

    topology: bus names, for the job's subject.
    Returns the task's id (the task is PENDING) and the queued job.
    Raises NotFoundError when the backtest does not exist, ConflictError when it is running.
    """
    task_id = uuid.uuid4()
    job_id = str(JobId.for_execute(task_id))
    claimed = await backtests.claim(session, backtest_id, job_id)
    run, logic, read_series = await signal_binding.job_signal(session, claimed)
    if run is not claimed:  # bound to its logic's current version: that is the version it runs
        await backtests.set_config(session, backtest_id, run["config"])
    await tasks.create(session, task_id, TaskKind.EXECUTE, total=1, backtest_id=backtest_id)
    config = run["config"]
    bars_uri, bars_sha256 = await series.location(session, config["symbol"], config["timeframe"])
    await backtests.set_bars_sha256(session, backtest_id, bars_sha256)
    job = Job(
        job_id=job_id,
        engine=run["engine"],
        backtest_ids=[str(backtest_id)],
        runs=[run],
        bars_uri=bars_uri,
        bars_sha256=bars_sha256,
        signal_logic=logic,
        series=read_series,
    )
    await outbox.queue_job(session, topology, job)
    return task_id, job
