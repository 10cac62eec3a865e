"""Stored-data RPCs (services.catalog.market_data): bar series and model-output signal series."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

from backtest.v1 import backtest_pb2, catalog_pb2, signals_pb2
from services.catalog.market_data import MarketData
from services.catalog.repository.views import SeriesView, SignalSeriesView


class MarketDataRpc:
    """ImportBars, ListSeries, GetSeries, ImportSignalSeries, ListSignalSeries and GetSignalSeries."""

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

    async def ImportSignalSeries(
        self, request: signals_pb2.ImportSignalSeriesRequest, context
    ) -> signals_pb2.SignalSeriesSummary:
        row = await self.market_data.import_signal_series(request.name, request.file.data, request.file.content_type)
        return _signal_summary(row)

    async def ListSignalSeries(
        self, request: signals_pb2.ListSignalSeriesRequest, context
    ) -> AsyncIterator[signals_pb2.SignalSeriesSummary]:
        for row in await self.market_data.list_signal_series():
            yield _signal_summary(row)

    async def GetSignalSeries(
        self, request: signals_pb2.GetSignalSeriesRequest, context
    ) -> signals_pb2.SignalSeriesSummary:
        return _signal_summary(await self.market_data.get_signal_series(request.name))


def _iso(moment: datetime) -> str:
    """A stored (aware) time as naive UTC ISO-8601, like the stored rows."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat()


def _signal_summary(row: SignalSeriesView) -> signals_pb2.SignalSeriesSummary:
    """The wire summary of a signal series."""
    return signals_pb2.SignalSeriesSummary(
        name=row.name, symbols=row.symbols, start=_iso(row.start), end=_iso(row.end), rows=row.rows, sha256=row.sha256
    )


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
