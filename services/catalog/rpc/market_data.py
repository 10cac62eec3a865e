"""Stored-data RPCs (services.catalog.market_data): bar series and model-output signal series."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

from google.api import httpbody_pb2

from backtest.v1 import backtest_pb2, catalog_pb2, signals_pb2
from services.catalog.market_data import MarketData
from services.catalog.repository.views import SeriesView, SignalSeriesView
from services.domain.errors import ValidationError
from services.kit.allocator import giving_back
from services.kit.client_streams import ReadAheadStream


class MarketDataRpc:
    """Bar series (ImportBars, UploadBars, AppendBars, DownloadBars, ListSeries, GetSeries) and signal series."""

    market_data: MarketData

    async def ImportBars(self, request: catalog_pb2.ImportBarsRequest, context) -> backtest_pb2.SeriesSummary:
        row = await self.market_data.import_bars(
            request.symbol, request.timeframe, request.file.data, request.file.content_type
        )
        return _summary(row)

    async def UploadBars(self, requests: AsyncIterator[catalog_pb2.UploadBarsRequest], context):
        return await self._streamed(requests, self.market_data.upload_bars)

    async def AppendBars(self, requests: AsyncIterator[catalog_pb2.AppendBarsRequest], context):
        return await self._streamed(requests, self.market_data.append_bars)

    async def _streamed(self, requests: AsyncIterator, store: Callable[..., Awaitable[SeriesView]]):
        """Runs an upload use case over a client stream: the first message names the series."""
        first = await anext(requests, None)
        if first is None:
            raise ValidationError.single("file", "is empty: send a CSV or Parquet file as the request body")
        rest = ReadAheadStream(requests, asyncio.get_running_loop(), lambda message: message.file.data)
        chunks = giving_back(itertools.chain([first.file.data], rest))
        try:
            row = await store(first.symbol, first.timeframe, first.file.content_type, chunks)
        finally:
            rest.close()  # an abandoned upload: wake the parsing thread so it gives up
        return _summary(row)

    async def DownloadBars(
        self, request: catalog_pb2.DownloadBarsRequest, context
    ) -> AsyncIterator[httpbody_pb2.HttpBody]:
        window, chunks = await self.market_data.bar_chunks(
            request.symbol, request.timeframe, request.start, request.end, request.format
        )
        name = f"{request.symbol}_{request.timeframe}.{window.file_format}"
        await context.send_initial_metadata((("content-disposition", f'attachment; filename="{name}"'),))
        content_type = window.content_type
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            yield httpbody_pb2.HttpBody(content_type=content_type, data=chunk)
            content_type = ""  # the gateway takes the type from the first message

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
