"""Claims a backtest for a run and queues its job, in one transaction.

The claim is a single conditional UPDATE (status <> 'running'): of many
concurrent execute calls exactly one matches the row, the others find it
running and get 409. The job goes into the outbox in the same transaction,
so a crash before publishing loses nothing: the relay publishes it later.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.adapters.bus import Job, Topology
from services.catalog.db.models import Backtest, OutboxMessage, Task
from services.domain.errors import ConflictError, NotFoundError


def queue_job(session: AsyncSession, topology: Topology, job: Job) -> None:
    """Adds `job` to the outbox of the session's transaction."""
    session.add(OutboxMessage(subject=topology.job_subject(job.engine), msg_id=job.job_id, payload=job.encode()))


async def claim_backtest(session: AsyncSession, topology: Topology, backtest_id: uuid.UUID) -> Task:
    """Marks the backtest running, creates its execute task and queues its job.

    session: an open session; the caller commits.
    topology: bus names, for the job's subject.
    backtest_id: the backtest to run.
    Raises NotFoundError when it does not exist, ConflictError when it is running.
    """
    task_id = uuid.uuid4()
    claimed = await session.execute(
        update(Backtest)
        .where(Backtest.id == backtest_id, Backtest.status != "running")
        .values(
            status="running", claimed_at=func.now(), attempts=0, job_id=str(task_id), error=None,
            metrics={}, trades_uri=None, equity_curve_uri=None,
        )
        .returning(Backtest.engine)
    )
    engine = claimed.scalar_one_or_none()
    if engine is None:
        exists = await session.scalar(select(Backtest.id).where(Backtest.id == backtest_id))
        if exists is None:
            raise NotFoundError("backtest", str(backtest_id))
        raise ConflictError(f"backtest {backtest_id} is already running")
    task = Task(id=task_id, kind="execute", status="PENDING", backtest_id=backtest_id, total=1)
    session.add(task)
    queue_job(session, topology, Job(job_id=str(task_id), task_id=str(task_id), engine=engine, backtest_ids=[str(backtest_id)]))
    await session.flush()
    return task
