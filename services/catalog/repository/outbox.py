"""The outbox: jobs written in the transaction that decided them, published by the relay afterwards."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.adapters.bus import Job, Topology
from services.catalog.db.models import OutboxMessage


async def queue_job(session: AsyncSession, topology: Topology, job: Job) -> None:
    """Adds `job` to the outbox of the session's transaction; its id becomes the message's dedupe id."""
    values = {"subject": topology.job_subject(job.engine), "msg_id": job.job_id, "payload": job.encode()}
    await session.execute(insert(OutboxMessage.__table__).values(**values))
