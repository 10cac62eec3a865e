"""The catalog lookups a report makes, over the results service's catalog channel."""

from __future__ import annotations

import grpc

from backtest.v1 import catalog_pb2
from services.kit.status import from_rpc_error
from services.results.catalog_client import CatalogClient
from services.results.report import convert
from services.results.report.records import RunRecord, TaskRecord


class CatalogReads:
    """Whole backtests and tasks from the catalog, as platform errors when a lookup fails.

    catalog: the results service's catalog client, whose channel and deadline are shared.
    """

    def __init__(self, catalog: CatalogClient) -> None:
        self.catalog = catalog

    async def backtest(self, backtest_id: str) -> RunRecord:
        """The backtest `backtest_id`; NotFoundError (404), ValidationError (422) as the catalog says."""
        request = catalog_pb2.GetBacktestRequest(backtest_id=backtest_id)
        try:
            message = await self.catalog.stub.GetBacktest(request, timeout=self.catalog.timeout)
        except grpc.aio.AioRpcError as err:
            raise from_rpc_error(err) from err
        return convert.run_record(message)

    async def task(self, task_id: str) -> TaskRecord:
        """The task `task_id`; NotFoundError (404), ValidationError (422) as the catalog says."""
        try:
            message = await self.catalog.stub.GetTask(
                catalog_pb2.GetTaskRequest(task_id=task_id), timeout=self.catalog.timeout
            )
        except grpc.aio.AioRpcError as err:
            raise from_rpc_error(err) from err
        return convert.task_record(message)
