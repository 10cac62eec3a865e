"""How executors report a job's runs: jobs carry their configs, reports cover a whole job.

No executor runs here: the test plays one over RunReportService, against the
real catalog server, database and JetStream.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import grpc
import nats
import pytest
import sqlalchemy as sa
from google.protobuf import json_format

from backtest.v1 import catalog_pb2, run_report_pb2, run_report_pb2_grpc
from services.adapters.bus import Job


@pytest.fixture(scope="module")
def reporter(catalog_server):
    with grpc.insecure_channel(f"127.0.0.1:{catalog_server.app.service.port}") as channel:
        yield run_report_pb2_grpc.RunReportServiceStub(channel)


def _outbox_row(sync_engine, msg_id: str):
    with sync_engine.connect() as connection:
        return connection.execute(
            sa.text("SELECT payload, published_at FROM outbox WHERE msg_id = :m"), {"m": msg_id}
        ).one()


def _published_job(nats_url: str, subject: str) -> Job:
    """The last job on `subject` in the JetStream stream."""

    async def read() -> bytes:
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            stream = await js.find_stream_name_by_subject(subject)
            return (await js.get_last_msg(stream, subject)).data
        finally:
            await nc.close()

    return Job.decode(asyncio.run(read()))


def test_an_execute_job_carries_the_claimed_config_and_is_published_then_marked(
    stub, create_backtest, sync_engine, catalog_server, nats_url
):
    created = create_backtest(commission=0.0)
    task_id = stub.ExecuteBacktestAsync(catalog_pb2.ExecuteBacktestAsyncRequest(backtest_id=created.id)).task_id
    job = Job.decode(_outbox_row(sync_engine, task_id).payload)
    assert (job.job_id, str(job.task_id), job.engine, job.backtest_ids) == (task_id, task_id, "vectorbt", [created.id])
    (run,) = job.runs
    assert run["strategy_id"] == created.strategy_id
    assert (run["engine"], run["initial_capital"], run["commission"], run["slippage"]) == (
        "vectorbt",
        100000.0,
        0.0,
        0.0005,
    )
    with sync_engine.connect() as connection:
        stored = connection.scalar(sa.text("SELECT config FROM backtests WHERE id = :b"), {"b": created.id})
    assert run["config"] == stored
    assert run["config"]["signal_plugin_params"] == {"fast_period": 10, "slow_period": 50, "ma_type": "sma"}
    assert job.bars_uri == "" and job.bars_sha256 == ""  # no AAPL series in this database
    # The request published it itself; the row is marked off the request's path.
    deadline = time.monotonic() + 5
    while _outbox_row(sync_engine, task_id).published_at is None:
        assert time.monotonic() < deadline, "outbox row never marked published"
        time.sleep(0.05)
    subject = catalog_server.app.execution.bus.topology.job_subject("vectorbt")
    assert _published_job(nats_url, subject).job_id == task_id


def _sweep(stub, sync_engine, strategy_id: str, n: int) -> tuple[str, list[str]]:
    """Submits an n-config vectorbt sweep; returns its task id and its backtest ids in grid order."""
    base = {
        "symbol": "AAPL",
        "timeframe": "1d",
        "start_date": "2020-01-01",
        "end_date": "2024-01-01",
        "signal_plugin_key": "crossover_signal",
        "signal_plugin_params": {"fast_period": 10, "slow_period": 50},
    }
    request = catalog_pb2.SweepBacktestsRequest(strategy_id=strategy_id, engine="vectorbt", rank_metric="total_return")
    request.base_config.update(base)
    for fast in range(5, 5 + n):
        request.param_grid.add().update({"signal_plugin_params.fast_period": fast})
    task_id = stub.SweepBacktests(request).task_id
    with sync_engine.connect() as connection:
        params = connection.scalar(sa.text("SELECT params FROM tasks WHERE id = :t"), {"t": task_id})
    return task_id, [run["backtest_id"] for run in params["runs"]]


def _status(stub, backtest_id: str) -> str:
    return stub.GetBacktest(catalog_pb2.GetBacktestRequest(backtest_id=backtest_id)).status


def _outcome(artifact_prefix: str, backtest_id: str, total_return: float) -> run_report_pb2.RunOutcome:
    outcome = run_report_pb2.RunOutcome(
        backtest_id=backtest_id,
        equity_curve_uri=f"{artifact_prefix}{backtest_id}/equity.parquet",
        trades_uri=f"{artifact_prefix}{backtest_id}/trades.parquet",
    )
    outcome.metrics.update({"total_return": total_return, "trade_total_trades": 3})
    return outcome


def test_one_report_per_call_covers_a_whole_batch_and_settles_the_sweep(
    stub, reporter, sync_engine, strategy_id, artifact_prefix
):
    task_id, ids = _sweep(stub, sync_engine, strategy_id, 4)
    with sync_engine.connect() as connection:
        (payload,) = connection.scalars(
            sa.text("SELECT payload FROM outbox WHERE msg_id LIKE :j"), {"j": f"{task_id}.%"}
        ).all()
    job = Job.decode(payload)  # no live executors: one broadcast batch
    assert job.backtest_ids == ids and [r["config"]["signal_plugin_params"]["fast_period"] for r in job.runs] == [
        5,
        6,
        7,
        8,
    ]

    started = reporter.StartRuns(run_report_pb2.StartRunsRequest(job_id=job.job_id, backtest_ids=ids, attempt=1))
    assert list(started.running_ids) == ids
    assert stub.GetTask(catalog_pb2.GetTaskRequest(task_id=task_id)).status == "STARTED"

    complete = run_report_pb2.CompleteRunsRequest(job_id=job.job_id)
    complete.outcomes.extend(_outcome(artifact_prefix, b, r) for b, r in zip(ids[:3], (0.1, 0.3, 0.2), strict=True))
    assert list(reporter.CompleteRuns(complete).settled_ids) == ids[:3]
    task = stub.GetTask(catalog_pb2.GetTaskRequest(task_id=task_id))
    assert (task.status, task.progress.succeeded, task.progress.failed, task.progress.total) == ("PROGRESS", 3, 0, 4)
    # A repeated report (redelivery) settles nothing and counts nothing twice.
    assert list(reporter.CompleteRuns(complete).settled_ids) == []
    # Only the run still running is wanted by a later attempt.
    again = reporter.StartRuns(run_report_pb2.StartRunsRequest(job_id=job.job_id, backtest_ids=ids, attempt=2))
    assert list(again.running_ids) == ids[3:]

    failed = reporter.FailRuns(
        run_report_pb2.FailRunsRequest(
            job_id=job.job_id, backtest_ids=ids, reason="engine exploded", cause=run_report_pb2.FAILURE_CAUSE_RUN_ERROR
        )
    )
    assert list(failed.settled_ids) == ids[3:]
    assert [_status(stub, b) for b in ids] == ["completed"] * 3 + ["failed"]
    done = stub.GetTask(catalog_pb2.GetTaskRequest(task_id=task_id))
    assert (done.status, done.progress.succeeded, done.progress.failed) == ("SUCCESS", 3, 1)
    board = json_format.MessageToDict(done.result)["leaderboard"]
    assert [e["backtest_id"] for e in board] == [ids[1], ids[2], ids[0], ids[3]]
    assert board[0]["metrics"]["trade_total_trades"] == 3 and board[-1]["error"] == "engine exploded"


def test_bad_reports_name_the_field_and_change_nothing(stub, reporter, create_backtest, expect_invalid):
    created = create_backtest()
    task_id = stub.ExecuteBacktestAsync(catalog_pb2.ExecuteBacktestAsyncRequest(backtest_id=created.id)).task_id
    bad = run_report_pb2.CompleteRunsRequest(job_id=task_id)
    bad.outcomes.add(backtest_id=created.id, equity_curve_uri="file:///etc/passwd", trades_uri="file:///x")
    expect_invalid(lambda: reporter.CompleteRuns(bad), "outcomes[0].equity_curve_uri")
    start = run_report_pb2.StartRunsRequest(job_id=task_id, backtest_ids=[created.id, "nope"])
    expect_invalid(lambda: reporter.StartRuns(start), "backtest_ids[1]")
    fail = run_report_pb2.FailRunsRequest(job_id="not-a-job", backtest_ids=[created.id], reason="x")
    expect_invalid(lambda: reporter.FailRuns(fail), "job_id")
    assert _status(stub, created.id) == "running"


def test_an_exhausted_job_fails_its_runs_with_the_catalogs_own_words(stub, reporter, create_backtest):
    created = create_backtest()
    task_id = stub.ExecuteBacktestAsync(catalog_pb2.ExecuteBacktestAsyncRequest(backtest_id=created.id)).task_id
    exhausted = run_report_pb2.FailRunsRequest(
        job_id=task_id, backtest_ids=[created.id], cause=run_report_pb2.FAILURE_CAUSE_DELIVERIES_EXHAUSTED
    )
    assert list(reporter.FailRuns(exhausted).settled_ids) == [created.id]
    failed = stub.GetBacktest(catalog_pb2.GetBacktestRequest(backtest_id=created.id))
    assert failed.status == "failed" and "gave up after" in failed.metrics["error"]
    task = stub.GetTask(catalog_pb2.GetTaskRequest(task_id=task_id))
    assert (task.status, task.progress.succeeded, task.progress.failed) == ("FAILURE", 0, 1)


def test_reports_covering_no_runs_are_answered_empty(reporter):
    """What an executor's warm-up sends before its first job."""
    assert list(reporter.StartRuns(run_report_pb2.StartRunsRequest()).running_ids) == []
    assert list(reporter.CompleteRuns(run_report_pb2.CompleteRunsRequest()).settled_ids) == []


def test_a_metric_that_is_not_finite_is_stored_as_null(stub, reporter, sync_engine, strategy_id, artifact_prefix):
    task_id, ids = _sweep(stub, sync_engine, strategy_id, 2)
    reporter.StartRuns(run_report_pb2.StartRunsRequest(job_id=f"{task_id}.0", backtest_ids=ids, attempt=1))
    complete = run_report_pb2.CompleteRunsRequest(job_id=f"{task_id}.0")
    complete.outcomes.extend(
        _outcome(artifact_prefix, b, r) for b, r in zip(ids, (float("nan"), float("inf")), strict=True)
    )
    # JSONB has no NaN or infinity: the report still lands, with nulls.
    assert list(reporter.CompleteRuns(complete).settled_ids) == ids
    stored = stub.GetBacktest(catalog_pb2.GetBacktestRequest(backtest_id=ids[0]))
    assert json_format.MessageToDict(stored.metrics) == {"total_return": None, "trade_total_trades": 3}
    board = json_format.MessageToDict(stub.GetTask(catalog_pb2.GetTaskRequest(task_id=task_id)).result)["leaderboard"]
    assert [e["metrics"]["total_return"] for e in board] == [None, None]


def test_an_execute_jobs_one_run_settles_with_its_task_in_one_statement(
    stub, reporter, create_backtest, sync_engine, artifact_prefix
):
    """CompleteRuns of an execute task's job (one autocommit statement): the run, its task and their lock order."""
    created = create_backtest()
    task_id = stub.ExecuteBacktestAsync(catalog_pb2.ExecuteBacktestAsyncRequest(backtest_id=created.id)).task_id
    started = reporter.StartRuns(
        run_report_pb2.StartRunsRequest(job_id=task_id, backtest_ids=[created.id], attempt=1, executor_id="x")
    )
    assert list(started.running_ids) == [created.id]
    assert stub.GetTask(catalog_pb2.GetTaskRequest(task_id=task_id)).status == "STARTED"
    outcome = _outcome(artifact_prefix, created.id, 0.25)
    outcome.return_block_sums.extend([0.5, -0.25])
    outcome.return_block_squares.extend([0.75, 0.125])
    # Another job's report (a run executed again since) changes nothing.
    stale = run_report_pb2.CompleteRunsRequest(job_id=str(uuid.uuid4()), outcomes=[outcome])
    assert list(reporter.CompleteRuns(stale).settled_ids) == []
    assert _status(stub, created.id) == "running"

    complete = run_report_pb2.CompleteRunsRequest(job_id=task_id, outcomes=[outcome])
    assert list(reporter.CompleteRuns(complete).settled_ids) == [created.id]
    assert list(reporter.CompleteRuns(complete).settled_ids) == []  # a redelivery counts nothing twice
    stored = stub.GetBacktest(catalog_pb2.GetBacktestRequest(backtest_id=created.id))
    uris = (stored.equity_curve_uri.string_value, stored.trades_uri.string_value)
    assert stored.status == "completed" and uris == (outcome.equity_curve_uri, outcome.trades_uri)
    assert json_format.MessageToDict(stored.metrics) == {"total_return": 0.25, "trade_total_trades": 3}
    with sync_engine.connect() as connection:
        blocks = connection.scalar(sa.text("SELECT return_blocks FROM backtests WHERE id = :b"), {"b": created.id})
        task = connection.execute(
            sa.text("SELECT status, succeeded, failed, error, result FROM tasks WHERE id = :t"), {"t": task_id}
        ).one()
    assert blocks == {"sums": [0.5, -0.25], "squares": [0.75, 0.125]}
    assert (task.status, task.succeeded, task.failed, task.error) == ("SUCCESS", 1, 0, None)
    assert task.result == {
        "backtest_id": created.id,
        "status": "completed",
        "metrics": {"total_return": 0.25, "trade_total_trades": 3},
    }


def test_an_execute_report_after_its_task_was_revoked_counts_and_the_task_stays_revoked(
    stub, reporter, create_backtest, sync_engine, artifact_prefix
):
    """A report that settles its run as the cancel comes (the cancel skipped the held row) only counts."""
    created = create_backtest()
    task_id = stub.ExecuteBacktestAsync(catalog_pb2.ExecuteBacktestAsyncRequest(backtest_id=created.id)).task_id
    with sync_engine.begin() as connection:  # as the cancel leaves it when a report held the run's row
        connection.execute(
            sa.text("UPDATE tasks SET status = 'REVOKED', error = 'cancelled' WHERE id = :t"), {"t": task_id}
        )
    complete = run_report_pb2.CompleteRunsRequest(job_id=task_id, outcomes=[_outcome(artifact_prefix, created.id, 0.1)])
    assert list(reporter.CompleteRuns(complete).settled_ids) == [created.id]
    with sync_engine.connect() as connection:
        task = connection.execute(
            sa.text("SELECT status, succeeded, error, result FROM tasks WHERE id = :t"), {"t": task_id}
        ).one()
    assert (task.status, task.succeeded, task.error, task.result) == ("REVOKED", 1, "cancelled", None)
