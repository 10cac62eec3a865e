"""Strategy RPCs: create, get, list, delete."""

from __future__ import annotations

from collections.abc import AsyncIterator

from google.protobuf import empty_pb2
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backtest.v1 import backtest_pb2, catalog_pb2
from services.catalog import convert
from services.catalog.repository import strategies
from services.domain.commands import NewStrategy, Page, parse_id
from services.kit.status import set_http_code


class StrategiesMixin:
    """CreateStrategy, GetStrategy, ListStrategies and DeleteStrategy."""

    sessions: async_sessionmaker[AsyncSession]

    async def CreateStrategy(self, request: catalog_pb2.CreateStrategyRequest, context) -> backtest_pb2.Strategy:
        new = NewStrategy.of(convert.strategy_fields(request))
        async with self.sessions.begin() as session:
            row = await strategies.create(session, new)
        await set_http_code(context, 201)
        return convert.strategy_message(row)

    async def GetStrategy(self, request: catalog_pb2.GetStrategyRequest, context) -> backtest_pb2.Strategy:
        strategy_id = parse_id("strategy_id", request.strategy_id)
        async with self.sessions.begin() as session:
            row = await strategies.get(session, strategy_id)
        return convert.strategy_message(row)

    async def ListStrategies(
        self, request: catalog_pb2.ListStrategiesRequest, context
    ) -> AsyncIterator[backtest_pb2.Strategy]:
        page = Page.of(convert.page_fields(request))
        # At most MAX_LIMIT rows: read them all, release the connection, then stream.
        async with self.sessions.begin() as session:
            rows = await strategies.list_page(session, page)
        for row in rows:
            yield convert.strategy_message(row)

    async def DeleteStrategy(self, request: catalog_pb2.DeleteStrategyRequest, context) -> empty_pb2.Empty:
        strategy_id = parse_id("strategy_id", request.strategy_id)
        async with self.sessions.begin() as session:
            await strategies.delete_unreferenced(session, strategy_id)
        await set_http_code(context, 204)
        return empty_pb2.Empty()
