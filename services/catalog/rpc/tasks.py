"""Task RPCs: the state of an execute or sweep task."""

from __future__ import annotations

from backtest.v1 import backtest_pb2, catalog_pb2
from services.catalog import execution_convert
from services.catalog.execution.service import ExecutionService
from services.domain.commands import parse_id


class TasksMixin:
    """GetTask."""

    execution: ExecutionService

    async def GetTask(self, request: catalog_pb2.GetTaskRequest, context) -> backtest_pb2.Task:
        task = await self.execution.task(parse_id("task_id", request.task_id))
        return execution_convert.task_message(task)
