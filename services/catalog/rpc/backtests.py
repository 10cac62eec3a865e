"""Backtest CRUD RPCs: create, list, get, update (PATCH), delete."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from google.protobuf import empty_pb2
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backtest.v1 import backtest_pb2, catalog_pb2
from services.adapters.object_store import LazyObjectStore
from services.catalog import artifact_collection, convert, signal_binding
from services.catalog.execution.service import ExecutionService
from services.catalog.repository import backtests
from services.catalog.settings import CatalogSettings
from services.domain.commands import BacktestPatch, BacktestQuery, parse_id
from services.domain.run_config import resolve_backtest
from services.kit.status import set_http_code


class BacktestsMixin:
    """CreateBacktest, ListBacktests, GetBacktest, UpdateBacktest and DeleteBacktest."""

    settings: CatalogSettings
    sessions: async_sessionmaker[AsyncSession]
    execution: ExecutionService
    artifact_store: LazyObjectStore

    async def CreateBacktest(self, request: catalog_pb2.CreateBacktestRequest, context) -> backtest_pb2.Backtest:
        fields = convert.create_backtest_fields(request)
        plugins = await self.execution.plugins_for({fields.get("config", {}).get("signal_plugin_key") or "expression"})
        resolved = resolve_backtest(fields, plugins=plugins)
        async with self.sessions.begin() as session:
            resolved, _ = await signal_binding.bind(session, resolved)
            row = await backtests.create(session, resolved)
        await set_http_code(context, 201)
        return convert.backtest_message(row)

    async def ListBacktests(
        self, request: catalog_pb2.ListBacktestsRequest, context
    ) -> AsyncIterator[backtest_pb2.Backtest]:
        query = BacktestQuery.of(convert.list_backtests_fields(request))
        # At most MAX_LIMIT rows: read them all, release the connection, then stream.
        async with self.sessions.begin() as session:
            rows = await backtests.list_page(session, query)
        for row in rows:
            yield convert.backtest_message(row)

    async def GetBacktest(self, request: catalog_pb2.GetBacktestRequest, context) -> backtest_pb2.Backtest:
        backtest_id = parse_id("backtest_id", request.backtest_id)
        async with self.sessions.begin() as session:
            row = await backtests.get(session, backtest_id)
        return convert.backtest_message(row)

    async def UpdateBacktest(self, request: catalog_pb2.UpdateBacktestRequest, context) -> backtest_pb2.Backtest:
        backtest_id = parse_id("backtest_id", request.backtest_id)
        patch = BacktestPatch.of(convert.update_backtest_fields(request), bucket=self.settings.s3_bucket)
        async with self.sessions.begin() as session:
            row = await backtests.update_fields(session, backtest_id, patch)
        return convert.backtest_message(row)

    async def DeleteBacktest(self, request: catalog_pb2.DeleteBacktestRequest, context) -> empty_pb2.Empty:
        backtest_id = parse_id("backtest_id", request.backtest_id)
        async with self.sessions.begin() as session:
            row = await backtests.delete(session, backtest_id)
            if request.delete_artifacts:
                # Inside the transaction: a batch file other runs still read is kept, and the delete
                # answers only once the objects are gone (a store outage is a 503, the record kept).
                store = await asyncio.to_thread(self.artifact_store.get)
                uris = [row.trades_uri, row.equity_curve_uri]
                await artifact_collection.remove_run_artifacts(session, store, backtest_id, uris)
        await set_http_code(context, 204)
        return empty_pb2.Empty()
