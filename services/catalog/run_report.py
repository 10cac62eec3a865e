"""RunReportService: how executors report a run's start, success and failure."""

from __future__ import annotations

import uuid

from backtest.v1 import backtest_pb2, run_report_pb2, run_report_pb2_grpc
from services.catalog import execution_convert
from services.catalog.commands import parse_id
from services.catalog.convert import fill_backtest
from services.catalog.execution.service import ExecutionService
from services.domain.errors import ValidationError
from services.kit.grpc_server import Registration
from services.kit.status import translate_errors

SERVICE_NAME = run_report_pb2.DESCRIPTOR.services_by_name["RunReportService"].full_name


def _task(raw: str) -> uuid.UUID | None:
    return parse_id("task_id", raw) if raw else None


class RunReportServicer(run_report_pb2_grpc.RunReportServiceServicer):
    """Internal service; the gateway never routes to it.

    execution: the catalog's execution use cases.
    artifact_prefix: URIs of reported artifacts must start with it.
    """

    def __init__(self, execution: ExecutionService, *, artifact_prefix: str) -> None:
        self.execution = execution
        self.artifact_prefix = artifact_prefix

    def registration(self) -> Registration:
        """What GrpcService needs to serve this servicer."""
        return (run_report_pb2_grpc.add_RunReportServiceServicer_to_server, self, SERVICE_NAME)

    @translate_errors
    async def StartRun(self, request: run_report_pb2.StartRunRequest, context) -> run_report_pb2.StartRunResponse:
        started = await self.execution.start_run(parse_id("backtest_id", request.backtest_id), _task(request.task_id))
        if started is None:
            return run_report_pb2.StartRunResponse(proceed=False)
        backtest, series = started
        response = run_report_pb2.StartRunResponse(proceed=True, backtest=fill_backtest(backtest_pb2.Backtest(), backtest))
        if series is not None:
            response.bars_uri, response.bars_sha256 = series.object_uri, series.sha256
        return response

    @translate_errors
    async def CompleteRun(self, request: run_report_pb2.CompleteRunRequest, context) -> run_report_pb2.CompleteRunResponse:
        for name in ("equity_curve_uri", "trades_uri"):
            if not getattr(request, name).startswith(self.artifact_prefix):
                raise ValidationError.single(name, f"must start with {self.artifact_prefix}")
        await self.execution.complete_run(
            parse_id("backtest_id", request.backtest_id), _task(request.task_id),
            metrics=execution_convert.metrics_dict(request),
            equity_curve_uri=request.equity_curve_uri, trades_uri=request.trades_uri,
        )
        return run_report_pb2.CompleteRunResponse()

    @translate_errors
    async def FailRun(self, request: run_report_pb2.FailRunRequest, context) -> run_report_pb2.FailRunResponse:
        if request.final:
            await self.execution.fail_run(parse_id("backtest_id", request.backtest_id), _task(request.task_id), reason=request.reason)
        return run_report_pb2.FailRunResponse()
