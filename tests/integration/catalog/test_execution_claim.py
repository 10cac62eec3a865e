"""Claiming a run: one atomic conditional update, the job queued in the same transaction.

No executor runs in these tests, so a dispatched run stays `running`: exactly
the state in which further execute calls must get 409.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import grpc
import sqlalchemy as sa

from backtest.v1 import catalog_pb2
from services.adapters import json_codec
from services.adapters.bus import Job
from services.catalog.repository.backtests import run_fields


def test_async_execute_returns_a_pending_task_and_queues_one_job(stub, create_backtest, sync_engine):
    created = create_backtest()
    response = stub.ExecuteBacktest(catalog_pb2.ExecuteBacktestRequest(backtest_id=created.id, async_mode=True))
    assert response.status == "PENDING" and response.task_id
    assert not response.HasField("id")  # the async shape carries only the task handle
    task = stub.GetTask(catalog_pb2.GetTaskRequest(task_id=response.task_id))
    assert (task.status, task.kind, task.backtest_id) == ("PENDING", "execute", created.id)
    assert (task.progress.succeeded, task.progress.failed, task.progress.total) == (0, 0, 1)
    assert stub.GetBacktest(catalog_pb2.GetBacktestRequest(backtest_id=created.id)).status == "running"
    with sync_engine.connect() as connection:
        msg_ids = connection.scalars(
            sa.text("SELECT msg_id FROM outbox WHERE msg_id = :m"), {"m": response.task_id}
        ).all()
    assert msg_ids == [response.task_id]


def test_twenty_concurrent_executes_give_one_claim_and_nineteen_409s(stub, create_backtest, sync_engine):
    created = create_backtest()
    request = catalog_pb2.ExecuteBacktestAsyncRequest(backtest_id=created.id)

    def call(_):
        try:
            return stub.ExecuteBacktestAsync(request).task_id
        except grpc.RpcError as err:
            return err.code()

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(call, range(20)))
    winners = [o for o in outcomes if isinstance(o, str)]
    assert len(winners) == 1
    assert outcomes.count(grpc.StatusCode.ABORTED) == 19
    with sync_engine.connect() as connection:
        tasks = connection.scalar(sa.text("SELECT count(*) FROM tasks WHERE backtest_id = :b"), {"b": created.id})
    assert tasks == 1


def test_execute_of_an_unknown_backtest_is_404_and_a_bad_id_422(stub, expect_code):
    missing = catalog_pb2.ExecuteBacktestAsyncRequest(backtest_id="00000000-0000-0000-0000-000000000000")
    expect_code(lambda: stub.ExecuteBacktestAsync(missing), grpc.StatusCode.NOT_FOUND)
    bad = catalog_pb2.ExecuteBacktestAsyncRequest(backtest_id="nope")
    expect_code(lambda: stub.ExecuteBacktestAsync(bad), grpc.StatusCode.INVALID_ARGUMENT)


def test_unknown_task_is_404(stub, expect_code):
    request = catalog_pb2.GetTaskRequest(task_id="00000000-0000-0000-0000-000000000000")
    expect_code(lambda: stub.GetTask(request), grpc.StatusCode.NOT_FOUND)


def test_a_plain_claims_outbox_payload_is_the_job_as_python_builds_it(stub, create_backtest, sync_engine):
    """The one-statement claim writes its outbox payload in SQL: it decodes to the job Python builds from the row."""
    created = create_backtest()
    task_id = stub.ExecuteBacktestAsync(catalog_pb2.ExecuteBacktestAsyncRequest(backtest_id=created.id)).task_id
    with sync_engine.connect() as connection:
        payload, subject = connection.execute(
            sa.text("SELECT payload, subject FROM outbox WHERE msg_id = :m"), {"m": task_id}
        ).one()
        row = (
            connection.execute(
                sa.text(
                    "SELECT b.*, s.object_uri FROM backtests AS b LEFT JOIN series AS s"
                    " ON s.symbol = b.config ->> 'symbol' AND s.timeframe = b.config ->> 'timeframe' WHERE b.id = :b"
                ),
                {"b": created.id},
            )
            .mappings()
            .one()
        )
    expected = Job(
        job_id=task_id,
        engine=row["engine"],
        backtest_ids=[created.id],
        runs=[run_fields(row)],
        bars_uri=row["object_uri"] or "",
        bars_sha256=row["bars_sha256"] or "",
    )
    assert bytes(payload).startswith(b'{"runs": [{')  # jsonb's text form: the database wrote it, not Job.encode
    decoded = Job.decode(bytes(payload))
    assert decoded == expected
    assert json_codec.loads(decoded.encode()) == json_codec.loads(expected.encode())
    assert subject.endswith(f"jobs.backtest.{row['engine']}")
    assert (row["status"], row["job_id"]) == ("running", task_id)


def test_concurrent_executes_of_distinct_runs_each_get_their_own_task_and_job(stub, create_backtest, sync_engine):
    """Claims arriving together share statements (claim_group): each run still gets one task, one job, its own payload.

    A missing run and a running one sent in the same burst still answer 404 and 409.
    """
    created = [create_backtest() for _ in range(12)]
    busy = create_backtest()
    stub.ExecuteBacktestAsync(catalog_pb2.ExecuteBacktestAsyncRequest(backtest_id=busy.id))
    ids = [c.id for c in created] + [busy.id, "00000000-0000-0000-0000-000000000000"]

    def call(backtest_id):
        try:
            return stub.ExecuteBacktestAsync(catalog_pb2.ExecuteBacktestAsyncRequest(backtest_id=backtest_id)).task_id
        except grpc.RpcError as err:
            return err.code()

    with ThreadPoolExecutor(max_workers=len(ids)) as pool:
        outcomes = dict(zip(ids, pool.map(call, ids), strict=True))
    assert outcomes[busy.id] == grpc.StatusCode.ABORTED
    assert outcomes[ids[-1]] == grpc.StatusCode.NOT_FOUND
    task_ids = {c.id: outcomes[c.id] for c in created}
    assert all(isinstance(t, str) for t in task_ids.values()) and len(set(task_ids.values())) == len(created)
    with sync_engine.connect() as connection:
        for backtest_id, task_id in task_ids.items():
            task_backtest = connection.scalar(
                sa.text("SELECT backtest_id::text FROM tasks WHERE id = :t"), {"t": task_id}
            )
            assert task_backtest == backtest_id
            (payload,) = connection.execute(
                sa.text("SELECT payload FROM outbox WHERE msg_id = :m"), {"m": task_id}
            ).one()
            job = Job.decode(bytes(payload))
            assert (job.job_id, job.backtest_ids) == (task_id, [backtest_id])
            status, job_id = connection.execute(
                sa.text("SELECT status, job_id FROM backtests WHERE id = :b"), {"b": backtest_id}
            ).one()
            assert (status, job_id) == ("running", task_id)
