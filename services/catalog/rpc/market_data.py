"""Market-data RPCs: import a bar file, list the stored series, describe one (services.catalog.market_data)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC

from backtest.v1 import backtest_pb2, catalog_pb2
from services.catalog.market_data import MarketData
from services.catalog.repository.views import SeriesView


class MarketDataRpc:
    """ImportBars, ListSeries and GetSeries."""

    market_data: MarketData

    async def ImportBars(self, request: catalog_pb2.ImportBarsRequest, context) -> backtest_pb2.SeriesSummary:
        row = await self.market_data.import_bars(
            request.symbol, request.timeframe, request.file.data, request.file.content_type
        )
        return _summary(row)

    async def ListSeries(
        self, request: catalog_pb2.ListSeriesRequest, context
    ) -> AsyncIterator[backtest_pb2.SeriesSummary]:
        # One row per series: read them all, release the connection, then stream.
        for row in await self.market_data.list_series():
            yield _summary(row)

    async def GetSeries(self, request: catalog_pb2.GetSeriesRequest, context) -> backtest_pb2.SeriesSummary:
        return _summary(await self.market_data.get_series(request.symbol, request.timeframe))


def _summary(row: SeriesView) -> backtest_pb2.SeriesSummary:
    """The wire summary of a series; times as naive UTC ISO-8601, like the stored bars."""
    return backtest_pb2.SeriesSummary(
        symbol=row.symbol,
        timeframe=row.timeframe,
        start=row.start.astimezone(UTC).replace(tzinfo=None).isoformat(),
        end=row.end.astimezone(UTC).replace(tzinfo=None).isoformat(),
        rows=row.rows,
        sha256=row.sha256,
    )
