"""Fails runs whose job JetStream gave up on (every delivery crashed or timed out).

An executor that fails a job cleanly reports the failure itself; this covers
the case where no executor survived long enough to say anything. JetStream
announces the exhausted message; its job is still in the work-queue stream
(never acked), so the catalog reads it, fails the runs it names that are
still running, and deletes the message.
"""

from __future__ import annotations

import json
import logging
import uuid

from services.adapters.bus import Bus, Job

log = logging.getLogger(__name__)


async def exhausted_job(bus: Bus, advisory_data: bytes) -> Job | None:
    """The job an exhausted-deliveries advisory is about, removed from the stream."""
    advisory = json.loads(advisory_data)
    seq = advisory.get("stream_seq")
    if seq is None:
        return None
    stream = bus.topology.stream
    try:
        message = await bus.js.get_msg(stream, seq)
    except Exception:
        log.warning("exhausted job not found in stream", extra={"stream_seq": seq})
        return None
    job = Job.decode(message.data)
    try:
        await bus.js.delete_msg(stream, seq)
    except Exception:
        log.warning("could not delete exhausted job", extra={"stream_seq": seq, "job_id": job.job_id})
    return job


def reason_for(deliveries: int | None) -> str:
    """The failure reason users see on such a run."""
    count = f"{deliveries} deliveries" if deliveries else "every delivery"
    return f"executor did not finish the run: gave up after {count} (executor crashed or timed out)"


def task_uuid(job: Job) -> uuid.UUID | None:
    """The job's task id as a UUID, if it is one."""
    try:
        return uuid.UUID(job.task_id)
    except ValueError:
        return None
