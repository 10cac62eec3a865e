"""Execution RPCs: execute (sync or async), execute/async, engines available."""

from __future__ import annotations

from backtest.v1 import backtest_pb2, catalog_pb2
from services.catalog import execution_convert
from services.catalog.convert import fill_backtest
from services.catalog.execution.service import ExecutionService
from services.domain.commands import parse_id
from services.domain.statuses import TaskStatus


class ExecutionMixin:
    """ExecuteBacktest, ExecuteBacktestAsync and ListEngines."""

    execution: ExecutionService

    async def ExecuteBacktest(
        self, request: catalog_pb2.ExecuteBacktestRequest, context
    ) -> catalog_pb2.ExecuteBacktestResponse:
        backtest_id = parse_id("backtest_id", request.backtest_id)
        if request.async_mode:
            task_id = await self.execution.execute_async(backtest_id)
            return catalog_pb2.ExecuteBacktestResponse(task_id=str(task_id), status=TaskStatus.PENDING)
        row = await self.execution.execute_sync(backtest_id)
        return fill_backtest(catalog_pb2.ExecuteBacktestResponse(), row)

    async def ExecuteBacktestAsync(
        self, request: catalog_pb2.ExecuteBacktestAsyncRequest, context
    ) -> backtest_pb2.TaskRef:
        task_id = await self.execution.execute_async(parse_id("backtest_id", request.backtest_id))
        return execution_convert.task_ref(task_id)

    async def ListEngines(self, request: catalog_pb2.ListEnginesRequest, context) -> catalog_pb2.ListEnginesResponse:
        return catalog_pb2.ListEnginesResponse(engines=await self.execution.engines())
