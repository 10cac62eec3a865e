"""Reads backtest records from the catalog over gRPC; the results service never opens the database."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import grpc

from backtest.v1 import catalog_pb2, catalog_pb2_grpc
from services.domain.errors import NotFoundError
from services.kit.status import from_rpc_error
from services.results import convert
from services.results.records import BacktestRecord

CALL_TIMEOUT_S = 10.0  # a record lookup is one indexed read; longer means catalog is in trouble


class CatalogClient:
    """An async client of CatalogService.GetBacktest that raises platform errors.

    address: "host:port" of the catalog's gRPC server.
    timeout: seconds one lookup may take before it fails with DeadlineError.
    """

    def __init__(self, address: str, *, timeout: float = CALL_TIMEOUT_S) -> None:
        self.channel = grpc.aio.insecure_channel(address)
        self.stub = catalog_pb2_grpc.CatalogServiceStub(self.channel)
        self.timeout = timeout

    async def get_backtest(self, backtest_id: str) -> BacktestRecord:
        """The record of `backtest_id`; NotFoundError (404), ValidationError (422) and the rest as catalog said."""
        try:
            message = await self.stub.GetBacktest(
                catalog_pb2.GetBacktestRequest(backtest_id=backtest_id), timeout=self.timeout
            )
        except grpc.aio.AioRpcError as err:
            raise from_rpc_error(err) from err
        return convert.backtest_record(message)

    async def get_backtests(self, backtest_ids: Sequence[str]) -> list[BacktestRecord]:
        """The records of `backtest_ids` in order, looked up concurrently.

        backtest_ids: ids to fetch; when some do not exist, one NotFoundError names all of them.
        """
        found = await asyncio.gather(*(self.get_backtest(i) for i in backtest_ids), return_exceptions=True)
        for outcome in found:
            if isinstance(outcome, BaseException) and not isinstance(outcome, NotFoundError):
                raise outcome
        missing = [i for i, outcome in zip(backtest_ids, found, strict=True) if isinstance(outcome, NotFoundError)]
        if missing:
            raise NotFoundError("backtest", missing)
        return list(found)

    async def close(self) -> None:
        """Closes the channel; pending calls are cancelled."""
        await self.channel.close()
