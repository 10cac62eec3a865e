"""RunReportService: how executors report the start, success and failure of a job's runs (or of several jobs')."""

from __future__ import annotations

import math
import uuid

from backtest.v1 import run_report_pb2, run_report_pb2_grpc
from services.catalog import execution_convert
from services.catalog.execution import liveness
from services.catalog.execution.outcomes import Success
from services.catalog.execution.service import ExecutionService
from services.domain.commands import parse_id
from services.domain.errors import ValidationError
from services.domain.jobs import JobId
from services.domain.object_uris import parse_artifact_uri
from services.kit.grpc_server import Registration

SERVICE_NAME = run_report_pb2.DESCRIPTOR.services_by_name["RunReportService"].full_name


def _job(raw: str, field: str = "job_id") -> JobId:
    try:
        return JobId.parse(raw)
    except ValueError:
        raise ValidationError.single(field, "must be a job id (<task UUID> or <task UUID>.<n>)") from None


def _ids(field: str, raw: list[str]) -> list[uuid.UUID]:
    return [parse_id(f"{field}[{i}]", value) for i, value in enumerate(raw)]


def _strings(ids: list[uuid.UUID]) -> list[str]:
    return [str(i) for i in ids]


# The liveness path of each FailureCause an executor reports (unset reads as a run error).
_PATHS = {
    run_report_pb2.FAILURE_CAUSE_UNSPECIFIED: liveness.RUN_ERROR,
    run_report_pb2.FAILURE_CAUSE_RUN_ERROR: liveness.RUN_ERROR,
    run_report_pb2.FAILURE_CAUSE_INFRASTRUCTURE: liveness.INFRASTRUCTURE,
    run_report_pb2.FAILURE_CAUSE_DELIVERIES_EXHAUSTED: liveness.DELIVERIES_EXHAUSTED,
}


class RunReportServicer(run_report_pb2_grpc.RunReportServiceServicer):
    """Internal service; the gateway never routes to it.

    execution: the catalog's execution use cases.
    bucket: the platform's bucket; reported URIs must name artifacts in it (services.domain.object_uris).
    """

    def __init__(self, execution: ExecutionService, *, bucket: str) -> None:
        self.execution = execution
        self.bucket = bucket

    def registration(self) -> Registration:
        """What GrpcService needs to serve this servicer."""
        return (run_report_pb2_grpc.add_RunReportServiceServicer_to_server, self, SERVICE_NAME)

    async def StartRuns(self, request: run_report_pb2.StartRunsRequest, context) -> run_report_pb2.StartRunsResponse:
        if not request.backtest_ids:  # an executor's warm-up opens the channel with an empty report
            return run_report_pb2.StartRunsResponse()
        running = await self.execution.start_runs(_job(request.job_id), _ids("backtest_ids", request.backtest_ids))
        return run_report_pb2.StartRunsResponse(running_ids=_strings(running))

    async def StartJobs(self, request: run_report_pb2.StartJobsRequest, context) -> run_report_pb2.StartJobsResponse:
        jobs = [
            (_job(job.job_id, f"jobs[{i}].job_id"), _ids(f"jobs[{i}].backtest_ids", job.backtest_ids))
            for i, job in enumerate(request.jobs)
        ]
        running = await self.execution.start_jobs(jobs)
        return run_report_pb2.StartJobsResponse(
            jobs=[run_report_pb2.StartRunsResponse(running_ids=_strings(ids)) for ids in running]
        )

    async def CompleteJobs(
        self, request: run_report_pb2.CompleteJobsRequest, context
    ) -> run_report_pb2.CompleteJobsResponse:
        jobs = [
            (
                _job(job.job_id, f"jobs[{i}].job_id"),
                [self._success(j, outcome, f"jobs[{i}].") for j, outcome in enumerate(job.outcomes)],
            )
            for i, job in enumerate(request.jobs)
        ]
        settled = await self.execution.complete_jobs(jobs)
        return run_report_pb2.CompleteJobsResponse(
            jobs=[run_report_pb2.CompleteRunsResponse(settled_ids=_strings(ids)) for ids in settled]
        )

    def _success(self, index: int, outcome: run_report_pb2.RunOutcome, prefix: str = "") -> Success:
        for name in ("equity_curve_uri", "trades_uri"):
            parse_artifact_uri(getattr(outcome, name), self.bucket, field=f"{prefix}outcomes[{index}].{name}")
        return Success(
            backtest_id=parse_id(f"{prefix}outcomes[{index}].backtest_id", outcome.backtest_id),
            metrics=execution_convert.metrics_dict(outcome.metrics),
            equity_curve_uri=outcome.equity_curve_uri,
            trades_uri=outcome.trades_uri,
            return_blocks=_blocks(outcome),
        )

    async def CompleteRuns(
        self, request: run_report_pb2.CompleteRunsRequest, context
    ) -> run_report_pb2.CompleteRunsResponse:
        if not request.outcomes:
            return run_report_pb2.CompleteRunsResponse()
        successes = [self._success(i, outcome) for i, outcome in enumerate(request.outcomes)]
        settled = await self.execution.complete_runs(_job(request.job_id), successes)
        return run_report_pb2.CompleteRunsResponse(settled_ids=_strings(settled))

    async def FailRuns(self, request: run_report_pb2.FailRunsRequest, context) -> run_report_pb2.FailRunsResponse:
        path = _PATHS.get(request.cause, liveness.RUN_ERROR)
        ids = _ids("backtest_ids", request.backtest_ids)
        settled = await self.execution.fail_runs(_job(request.job_id), ids, path, request.reason)
        return run_report_pb2.FailRunsResponse(settled_ids=_strings(settled))


def _blocks(outcome: run_report_pb2.RunOutcome) -> dict[str, list[float]] | None:
    """The run's per-block return sums as stored; None when the executor sent none (or an older one)."""
    sums, squares = list(outcome.return_block_sums), list(outcome.return_block_squares)
    # JSON has no NaN: a run whose returns are not all finite takes no part in PBO, as a failed one.
    if not sums or len(sums) != len(squares) or not all(math.isfinite(v) for v in (*sums, *squares)):
        return None
    return {"sums": sums, "squares": squares}
