"""Task RPCs: the state of an execute or sweep task, its cancel, and its live progress."""

from __future__ import annotations

from collections.abc import AsyncIterator

from backtest.v1 import backtest_pb2, catalog_pb2
from services.catalog import execution_convert
from services.catalog.execution.service import ExecutionService
from services.domain.commands import parse_id


class TasksMixin:
    """GetTask, CancelTask, WatchTask."""

    execution: ExecutionService

    async def GetTask(self, request: catalog_pb2.GetTaskRequest, context) -> backtest_pb2.Task:
        task = await self.execution.task(parse_id("task_id", request.task_id))
        return execution_convert.task_message(task)

    async def CancelTask(self, request: catalog_pb2.CancelTaskRequest, context) -> backtest_pb2.Task:
        task = await self.execution.cancel(parse_id("task_id", request.task_id))
        return execution_convert.task_message(task)

    async def WatchTask(self, request: catalog_pb2.WatchTaskRequest, context) -> AsyncIterator[backtest_pb2.TaskUpdate]:
        async for progress in self.execution.watch(parse_id("task_id", request.task_id)):
            yield execution_convert.task_update(progress)
