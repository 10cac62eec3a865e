"""Running backtests that no queued job holds are failed; a run whose job is still queued is left alone.

Also the relay's side of it: a job it publishes keeps its stream sequence, which the reaper asks about.
"""

from __future__ import annotations

import time
import uuid

import sqlalchemy as sa

from backtest.v1 import catalog_pb2
from services.adapters.bus import Job
from services.catalog.execution.liveness import ORPHAN_SCAN

REASON = ORPHAN_SCAN.reason


def reap(catalog_server, older_than_s: float = 0.0) -> list[str]:
    """One orphan scan inside the running catalog; the ids it failed."""
    execution = catalog_server.app.execution
    return [str(i) for i in catalog_server._run(execution.liveness.reap_orphans(older_than_s=older_than_s))]


def backtest(stub, backtest_id: str):
    return stub.GetBacktest(catalog_pb2.GetBacktestRequest(backtest_id=backtest_id))


def published_seq(sync_engine, job_id: str) -> int:
    """The job's stream sequence once the catalog has marked its outbox row (in the background)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with sync_engine.connect() as connection:
            seq = connection.scalar(sa.text("SELECT stream_seq FROM outbox WHERE msg_id = :m"), {"m": job_id})
        if seq is not None:
            return seq
        time.sleep(0.05)
    raise AssertionError(f"outbox row {job_id} was never marked published")


def test_a_backtest_set_running_without_a_job_is_failed(stub, catalog_server, create_backtest):
    created = create_backtest()
    stub.UpdateBacktest(catalog_pb2.UpdateBacktestRequest(backtest_id=created.id, status="running"))
    assert created.id not in reap(catalog_server, older_than_s=3600)  # not stale yet by that measure
    assert backtest(stub, created.id).status == "running"

    assert created.id in reap(catalog_server)
    failed = backtest(stub, created.id)
    assert (failed.status, failed.metrics["error"]) == ("failed", REASON)


def test_a_run_whose_job_is_queued_stays_running_and_is_failed_once_the_job_is_gone(
    stub, catalog_server, create_backtest, sync_engine
):
    created = create_backtest()
    task_id = stub.ExecuteBacktestAsync(catalog_pb2.ExecuteBacktestAsyncRequest(backtest_id=created.id)).task_id
    seq = published_seq(sync_engine, task_id)  # an execute's job is named after its task
    # No executor consumes this stream: the job waits in the queue, so the run is not an orphan.
    assert created.id not in reap(catalog_server)
    assert backtest(stub, created.id).status == "running"

    # The job leaves the queue without an outcome (as if its stream were purged).
    bus = catalog_server.app.execution.bus
    catalog_server._run(bus.js.delete_msg(bus.topology.stream, seq))
    assert created.id in reap(catalog_server)
    assert backtest(stub, created.id).status == "failed"
    task = stub.GetTask(catalog_pb2.GetTaskRequest(task_id=task_id))
    assert (task.status, task.error) == ("FAILURE", REASON)


def test_the_relay_publishes_a_row_left_unpublished_and_records_where_the_job_went(catalog_server, sync_engine):
    """A commit whose publish never happened (a crash in between): the relay sends it and keeps its sequence."""
    execution = catalog_server.app.execution
    job = Job(job_id=f"{uuid.uuid4()}.0", engine="vectorbt", backtest_ids=[])
    with sync_engine.begin() as connection:
        connection.execute(
            sa.text("INSERT INTO outbox (subject, msg_id, payload) VALUES (:s, :m, :p)"),
            {"s": execution.topology.job_subject("vectorbt"), "m": job.job_id, "p": job.encode()},
        )
    assert catalog_server._run(execution.relay.publish_pending()) >= 1
    seq = published_seq(sync_engine, job.job_id)
    assert catalog_server._run(execution.bus.job_queued(seq))
    stored = catalog_server._run(execution.bus.js.get_msg(execution.topology.stream, seq))
    assert Job.decode(stored.data).job_id == job.job_id
