"""CancelTask against the real catalog and database, with a run report racing the cancel.

No executor runs here: the test plays one over RunReportService. A report
that holds a run's row while the cancel runs is not waited for (the cancel
skips the row and never deadlocks); if that report commits, its outcome
counts on the REVOKED task, which stays REVOKED; if it rolls back, the
cancel's next pass revokes the run. Either way nothing is left running.
"""

from __future__ import annotations

import threading
import time

import grpc
import pytest
import sqlalchemy as sa

from backtest.v1 import catalog_pb2, run_report_pb2, run_report_pb2_grpc


@pytest.fixture(scope="module")
def reporter(catalog_server):
    with grpc.insecure_channel(f"127.0.0.1:{catalog_server.app.service.port}") as channel:
        yield run_report_pb2_grpc.RunReportServiceStub(channel)


def _sweep(stub, sync_engine, strategy_id: str, n: int) -> tuple[str, list[tuple[str, str]]]:
    """An n-run sweep nobody executes: its task id and (backtest id, job id) of each run."""
    request = catalog_pb2.SweepBacktestsRequest(strategy_id=strategy_id, engine="vectorbt")
    request.base_config.update(
        {
            "symbol": "AAPL",
            "timeframe": "1d",
            "start_date": "2020-01-01",
            "end_date": "2024-01-01",
            "signal_plugin_key": "crossover_signal",
            "signal_plugin_params": {"fast_period": 10, "slow_period": 50},
        }
    )
    for fast in range(5, 5 + n):
        request.param_grid.add().update({"signal_plugin_params.fast_period": fast})
    task_id = stub.SweepBacktests(request).task_id
    with sync_engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT id::text, job_id FROM backtests WHERE sweep_id = :t ORDER BY id"), {"t": task_id}
        ).all()
    return task_id, [tuple(row) for row in rows]


def _task(stub, task_id: str):
    return stub.GetTask(catalog_pb2.GetTaskRequest(task_id=task_id))


def _statuses(sync_engine, task_id: str) -> dict[str, str]:
    with sync_engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id::text, status FROM backtests WHERE sweep_id = :t"), {"t": task_id})
        return dict(rows.all())


def _cancel_in_background(stub, task_id: str) -> tuple[threading.Thread, list]:
    answers: list = []
    thread = threading.Thread(
        target=lambda: answers.append(stub.CancelTask(catalog_pb2.CancelTaskRequest(task_id=task_id), timeout=30))
    )
    thread.start()
    return thread, answers


def test_a_report_committing_during_the_cancel_counts_and_the_task_stays_revoked(
    stub, reporter, sync_engine, strategy_id
):
    task_id, runs = _sweep(stub, sync_engine, strategy_id, 3)
    (held, job_id), *_ = runs
    failing: list = []
    with sync_engine.connect() as report:
        # A report's transaction that has already locked one run's row.
        report.execute(sa.text("SELECT 1 FROM backtests WHERE id = :b FOR UPDATE"), {"b": held})
        cancel, answers = _cancel_in_background(stub, task_id)
        time.sleep(0.5)  # the cancel's first pass is committed by now: it skipped the held run
        assert _task(stub, task_id).status == "REVOKED"
        # The executor's FailRuns for that run queues behind the lock, then commits after the cancel's first pass.
        fail = threading.Thread(
            target=lambda: failing.append(
                reporter.FailRuns(
                    run_report_pb2.FailRunsRequest(job_id=job_id, backtest_ids=[held], reason="engine said no"),
                    timeout=30,
                )
            )
        )
        fail.start()
        time.sleep(0.3)
        report.rollback()  # releases the lock: FailRuns goes through
        fail.join(30)
        cancel.join(30)
    assert list(failing[0].settled_ids) == [held]
    (answer,) = answers
    assert answer.status == "REVOKED"
    task = _task(stub, task_id)
    assert (task.status, task.progress.revoked, task.progress.failed, task.progress.succeeded) == ("REVOKED", 2, 1, 0)
    assert sorted(_statuses(sync_engine, task_id).values()) == ["failed", "revoked", "revoked"]


def test_a_run_held_by_a_report_that_rolls_back_is_revoked_by_the_next_pass(stub, sync_engine, strategy_id):
    task_id, runs = _sweep(stub, sync_engine, strategy_id, 3)
    (held, _), *_ = runs
    with sync_engine.connect() as report:
        report.execute(sa.text("SELECT 1 FROM backtests WHERE id = :b FOR UPDATE"), {"b": held})
        cancel, answers = _cancel_in_background(stub, task_id)
        time.sleep(0.4)
        assert _statuses(sync_engine, task_id)[held] == "running"
        report.rollback()
    cancel.join(30)
    (answer,) = answers
    assert (answer.status, answer.progress.revoked, answer.progress.total) == ("REVOKED", 3, 3)
    assert set(_statuses(sync_engine, task_id).values()) == {"revoked"}


def test_a_late_report_after_the_cancel_changes_nothing(stub, reporter, sync_engine, strategy_id, artifact_prefix):
    task_id, runs = _sweep(stub, sync_engine, strategy_id, 2)
    assert stub.CancelTask(catalog_pb2.CancelTaskRequest(task_id=task_id)).progress.revoked == 2
    backtest_id, job_id = runs[0]
    started = reporter.StartRuns(run_report_pb2.StartRunsRequest(job_id=job_id, backtest_ids=[backtest_id], attempt=1))
    assert list(started.running_ids) == []  # an executor that gets the job anyway drops its results
    outcome = run_report_pb2.RunOutcome(
        backtest_id=backtest_id,
        equity_curve_uri=f"{artifact_prefix}{backtest_id}/equity.parquet",
        trades_uri=f"{artifact_prefix}{backtest_id}/trades.parquet",
    )
    outcome.metrics.update({"total_return": 0.1})
    completed = reporter.CompleteRuns(run_report_pb2.CompleteRunsRequest(job_id=job_id, outcomes=[outcome]))
    assert list(completed.settled_ids) == []
    task = _task(stub, task_id)
    assert (task.status, task.progress.revoked, task.progress.succeeded) == ("REVOKED", 2, 0)
    # The queued jobs left the outbox's queue too: the relay will not publish them again.
    with sync_engine.connect() as connection:
        unpublished = connection.scalar(
            sa.text("SELECT count(*) FROM outbox WHERE msg_id LIKE :j AND published_at IS NULL"), {"j": f"{task_id}.%"}
        )
    assert unpublished == 0


def _outcome(artifact_prefix: str, backtest_id: str) -> run_report_pb2.RunOutcome:
    outcome = run_report_pb2.RunOutcome(
        backtest_id=backtest_id,
        equity_curve_uri=f"{artifact_prefix}{backtest_id}/equity.parquet",
        trades_uri=f"{artifact_prefix}{backtest_id}/trades.parquet",
    )
    outcome.metrics.update({"total_return": 0.1})
    return outcome


def test_a_revoked_run_executed_again_belongs_to_its_new_job_alone(
    stub, reporter, sync_engine, strategy_id, artifact_prefix
):
    # An executor was computing the run when its sweep was cancelled; the run is executed again at once.
    task_id, runs = _sweep(stub, sync_engine, strategy_id, 2)
    backtest_id, old_job = runs[0]
    started = reporter.StartRuns(run_report_pb2.StartRunsRequest(job_id=old_job, backtest_ids=[backtest_id], attempt=1))
    assert list(started.running_ids) == [backtest_id]
    assert stub.CancelTask(catalog_pb2.CancelTaskRequest(task_id=task_id)).progress.revoked == 2
    again = stub.ExecuteBacktestAsync(catalog_pb2.ExecuteBacktestAsyncRequest(backtest_id=backtest_id)).task_id

    # The cancelled sweep's job finishes computing now: its reports find the run running, but for
    # another job, and change nothing (neither the run nor either task).
    late = run_report_pb2.StartRunsRequest(job_id=old_job, backtest_ids=[backtest_id], attempt=2)
    assert list(reporter.StartRuns(late).running_ids) == []
    completed = reporter.CompleteRuns(
        run_report_pb2.CompleteRunsRequest(job_id=old_job, outcomes=[_outcome(artifact_prefix, backtest_id)])
    )
    assert list(completed.settled_ids) == []
    failed = reporter.FailRuns(run_report_pb2.FailRunsRequest(job_id=old_job, backtest_ids=[backtest_id], reason="x"))
    assert list(failed.settled_ids) == []
    assert _statuses(sync_engine, task_id)[backtest_id] == "running"
    old = _task(stub, task_id)
    assert (old.status, old.progress.revoked, old.progress.succeeded, old.progress.failed) == ("REVOKED", 2, 0, 0)
    assert _task(stub, again).status == "PENDING"
    with sync_engine.connect() as connection:
        attempts = connection.scalar(sa.text("SELECT attempts FROM backtests WHERE id = :b"), {"b": backtest_id})
    assert attempts == 0

    # The new job runs it: its task starts and succeeds.
    new = reporter.StartRuns(run_report_pb2.StartRunsRequest(job_id=again, backtest_ids=[backtest_id], attempt=1))
    assert list(new.running_ids) == [backtest_id]
    assert _task(stub, again).status == "STARTED"
    done = reporter.CompleteRuns(
        run_report_pb2.CompleteRunsRequest(job_id=again, outcomes=[_outcome(artifact_prefix, backtest_id)])
    )
    assert list(done.settled_ids) == [backtest_id]
    assert _task(stub, again).status == "SUCCESS"
    assert _task(stub, task_id).progress.succeeded == 0
