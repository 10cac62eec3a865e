"""StartJobs and CompleteJobs: an executor that coalesced several jobs reports them in one call and one transaction.

No executor runs here: the test plays one over RunReportService, against the
real catalog server, database and JetStream. Each job's runs are still
checked against that job alone (the cancel-race rule of
services.catalog.execution.outcomes).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
import sqlalchemy as sa

from backtest.v1 import catalog_pb2, run_report_pb2, run_report_pb2_grpc
from services.catalog.convert import fill_backtest
from services.catalog.repository.views import BacktestView
from services.kit.nullable_string import read_nullable


@pytest.fixture(scope="module")
def reporter(catalog_server):
    with grpc.insecure_channel(f"127.0.0.1:{catalog_server.app.service.port}") as channel:
        yield run_report_pb2_grpc.RunReportServiceStub(channel)


def _executes(stub, create_backtest, n: int) -> list[tuple[str, str]]:
    """n backtests executed asynchronously: (backtest id, job id), the job id being the task id."""
    made = []
    for _ in range(n):
        backtest_id = create_backtest().id
        request = catalog_pb2.ExecuteBacktestAsyncRequest(backtest_id=backtest_id)
        made.append((backtest_id, stub.ExecuteBacktestAsync(request).task_id))
    return made


def _outcome(artifact_prefix: str, backtest_id: str) -> run_report_pb2.RunOutcome:
    outcome = run_report_pb2.RunOutcome(
        backtest_id=backtest_id,
        equity_curve_uri=f"{artifact_prefix}jobs/j/1/equity.parquet#{backtest_id}",
        trades_uri=f"{artifact_prefix}jobs/j/1/trades.parquet#{backtest_id}",
    )
    outcome.metrics.update({"total_return": 0.1, "trade_total_trades": 2})
    return outcome


def _task(stub, task_id: str):
    return stub.GetTask(catalog_pb2.GetTaskRequest(task_id=task_id))


def _start(jobs: list[tuple[str, str]], attempt: int = 1) -> run_report_pb2.StartJobsRequest:
    request = run_report_pb2.StartJobsRequest()
    for backtest_id, job_id in jobs:
        request.jobs.add(job_id=job_id, executor_id="it", attempt=attempt, backtest_ids=[backtest_id])
    return request


def _complete(jobs: list[tuple[str, str]], artifact_prefix: str) -> run_report_pb2.CompleteJobsRequest:
    request = run_report_pb2.CompleteJobsRequest()
    for backtest_id, job_id in jobs:
        request.jobs.add(job_id=job_id, outcomes=[_outcome(artifact_prefix, backtest_id)])
    return request


def test_several_jobs_start_and_complete_in_one_call_each_against_its_own_job(
    stub, reporter, create_backtest, sync_engine, artifact_prefix
):
    jobs = _executes(stub, create_backtest, 3)
    # The third job's task is cancelled and its run executed again: the old job no longer holds it.
    (revoked_id, revoked_job) = jobs[2]
    assert stub.CancelTask(catalog_pb2.CancelTaskRequest(task_id=revoked_job)).status == "REVOKED"
    again = stub.ExecuteBacktestAsync(catalog_pb2.ExecuteBacktestAsyncRequest(backtest_id=revoked_id)).task_id

    started = reporter.StartJobs(_start(jobs))
    assert [list(job.running_ids) for job in started.jobs] == [[jobs[0][0]], [jobs[1][0]], []]
    assert [_task(stub, job_id).status for _, job_id in jobs] == ["STARTED", "STARTED", "REVOKED"]
    assert _task(stub, again).status == "PENDING"

    completed = reporter.CompleteJobs(_complete(jobs, artifact_prefix))
    assert [list(job.settled_ids) for job in completed.jobs] == [[jobs[0][0]], [jobs[1][0]], []]
    for backtest_id, job_id in jobs[:2]:
        task = _task(stub, job_id)
        assert (task.status, task.progress.succeeded, task.result["backtest_id"]) == ("SUCCESS", 1, backtest_id)
        backtest = stub.GetBacktest(catalog_pb2.GetBacktestRequest(backtest_id=backtest_id))
        assert backtest.status == "completed" and read_nullable(backtest.equity_curve_uri).endswith(f"#{backtest_id}")
    # The run executed again still belongs to its new job alone, and the old job counted no attempt on it.
    assert stub.GetBacktest(catalog_pb2.GetBacktestRequest(backtest_id=revoked_id)).status == "running"
    assert (_task(stub, again).status, _task(stub, revoked_job).progress.succeeded) == ("PENDING", 0)
    with sync_engine.connect() as connection:
        attempts = dict(
            connection.execute(
                sa.text("SELECT id::text, attempts FROM backtests WHERE id = ANY(CAST(:ids AS uuid[]))"),
                {"ids": [b for b, _ in jobs]},
            ).all()
        )
    assert [attempts[b] for b, _ in jobs] == [1, 1, 0]

    # A repeated report (a redelivery) settles nothing and counts nothing twice.
    repeated = reporter.CompleteJobs(_complete(jobs, artifact_prefix))
    assert [list(job.settled_ids) for job in repeated.jobs] == [[], [], []]
    assert _task(stub, jobs[0][1]).progress.succeeded == 1


def test_a_job_reported_twice_in_one_call_counts_once(stub, reporter, create_backtest, artifact_prefix):
    (job,) = _executes(stub, create_backtest, 1)
    reporter.StartJobs(_start([job, job]))
    completed = reporter.CompleteJobs(_complete([job, job], artifact_prefix))
    assert [list(answer.settled_ids) for answer in completed.jobs] == [[job[0]], []]
    task = _task(stub, job[1])
    assert (task.status, task.progress.succeeded, task.progress.total) == ("SUCCESS", 1, 1)


def test_bad_grouped_reports_name_the_field_and_change_nothing(stub, reporter, create_backtest, expect_invalid):
    jobs = _executes(stub, create_backtest, 2)
    bad = _complete(jobs, "s3://elsewhere/")
    expect_invalid(lambda: reporter.CompleteJobs(bad), "jobs[0].outcomes[0].equity_curve_uri")
    start = _start(jobs)
    start.jobs[1].job_id = "not-a-job"
    expect_invalid(lambda: reporter.StartJobs(start), "jobs[1].job_id")
    assert [_task(stub, job_id).status for _, job_id in jobs] == ["PENDING", "PENDING"]


def test_grouped_reports_covering_no_jobs_are_answered_empty(reporter):
    assert list(reporter.StartJobs(run_report_pb2.StartJobsRequest()).jobs) == []
    assert list(reporter.CompleteJobs(run_report_pb2.CompleteJobsRequest()).jobs) == []


def test_a_sync_execute_answers_with_the_row_its_catalog_committed(
    stub, reporter, create_backtest, sync_engine, artifact_prefix
):
    """The catalog that commits a waited-for outcome hands the row over: the answer is the stored backtest."""
    backtest_ids = [create_backtest().id for _ in range(2)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = [
            pool.submit(stub.ExecuteBacktest, catalog_pb2.ExecuteBacktestRequest(backtest_id=b, async_mode=False))
            for b in backtest_ids
        ]
        jobs = [(backtest_id, _claimed_job(sync_engine, backtest_id)) for backtest_id in backtest_ids]
        reporter.StartJobs(_start(jobs))
        reporter.CompleteJobs(_complete(jobs, artifact_prefix))
        responses = [answer.result(timeout=10) for answer in answers]
    for backtest_id, response in zip(backtest_ids, responses, strict=True):
        with sync_engine.connect() as connection:
            row = connection.execute(sa.text("SELECT * FROM backtests WHERE id = :b"), {"b": backtest_id}).one()
        stored = fill_backtest(catalog_pb2.ExecuteBacktestResponse(), BacktestView.of(row))
        assert response.status == "completed" and response.metrics["total_return"] == 0.1
        assert response == stored


def _claimed_job(sync_engine, backtest_id: str) -> str:
    """The job id (= task id) of the backtest's execute, once it is claimed."""
    deadline = time.monotonic() + 10
    while True:
        with sync_engine.connect() as connection:
            job_id = connection.scalar(
                sa.text("SELECT job_id FROM backtests WHERE id = :b AND status = 'running'"), {"b": backtest_id}
            )
        if job_id is not None:
            return job_id
        assert time.monotonic() < deadline, "the sync execute never claimed its run"
        time.sleep(0.02)
