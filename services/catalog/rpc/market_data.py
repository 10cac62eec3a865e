"""Market-data RPCs: import a bar file, list the stored series, describe one.

Bars live in the object store as Parquet under `market-data/{symbol}/{timeframe}.parquet`
(see services.adapters.market_data); the `series` table indexes them with
their range, row count and the SHA-256 of the stored file. An import replaces
the series. A file that fails validation is refused before anything is
written, so a 422 changes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import cached_property

import pandas as pd
from minio.error import S3Error
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from urllib3.exceptions import HTTPError

from backtest.v1 import backtest_pb2, catalog_pb2
from services.adapters import market_data
from services.adapters.object_store import ObjectStore
from services.catalog.db.models import Series
from services.catalog.settings import CatalogSettings
from services.domain.errors import NotFoundError, UnavailableError


class MarketDataRpc:
    """ImportBars, ListSeries and GetSeries; builds its object store from the S3 settings on first use."""

    settings: CatalogSettings
    sessions: async_sessionmaker[AsyncSession]

    async def ImportBars(self, request: catalog_pb2.ImportBarsRequest, context) -> backtest_pb2.SeriesSummary:
        symbol, timeframe = request.symbol, request.timeframe
        key = market_data.object_key(symbol, timeframe)
        # Parsing a million rows takes a fraction of a second: off the event loop, not on it.
        bars = await asyncio.to_thread(market_data.parse_bars, request.file.data, request.file.content_type)
        data = await asyncio.to_thread(market_data.bars_to_parquet, bars)
        async with self.sessions.begin() as session:
            await _lock_series(session, symbol, timeframe)
            uri = await asyncio.to_thread(self._store_bars, key, data)
            row = await _upsert(session, symbol, timeframe, bars, data, uri)
        return _summary(row)

    async def ListSeries(
        self, request: catalog_pb2.ListSeriesRequest, context
    ) -> AsyncIterator[backtest_pb2.SeriesSummary]:
        # One row per series: read them all, release the connection, then stream.
        async with self.sessions.begin() as session:
            rows = list(await session.scalars(select(Series).order_by(Series.symbol, Series.timeframe)))
        for row in rows:
            yield _summary(row)

    async def GetSeries(self, request: catalog_pb2.GetSeriesRequest, context) -> backtest_pb2.SeriesSummary:
        market_data.check_series(request.symbol, request.timeframe)
        async with self.sessions.begin() as session:
            row = await session.get(Series, (request.symbol, request.timeframe))
        if row is None:
            raise NotFoundError("series", f"{request.symbol}/{request.timeframe}")
        return _summary(row)

    @cached_property
    def market_data_store(self) -> ObjectStore:
        """The object store named by the catalog's S3 settings, its bucket created if missing (blocking)."""
        store = ObjectStore(self.settings.s3_location())
        store.ensure_bucket()
        return store

    def _store_bars(self, key: str, data: bytes) -> str:
        """Writes the Parquet file (blocking: run it in a thread) and returns its URI."""
        try:
            return self.market_data_store.put_bytes(key, data, content_type=market_data.PARQUET_TYPE)
        except (S3Error, HTTPError, OSError) as err:
            raise UnavailableError(f"object store cannot store {key}: {err}") from err


async def _lock_series(session: AsyncSession, symbol: str, timeframe: str) -> None:
    """Serialises imports of one series until commit, so the stored file and its row always match."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"series {symbol}/{timeframe}", 0))))


async def _upsert(
    session: AsyncSession, symbol: str, timeframe: str, bars: pd.DataFrame, data: bytes, uri: str
) -> Series:
    """Inserts or replaces the series row describing `bars`, stored as `data` at `uri`."""
    values = {
        "start": _aware(bars["timestamp"].iloc[0]),
        "end": _aware(bars["timestamp"].iloc[-1]),
        "rows": len(bars),
        "sha256": hashlib.sha256(data).hexdigest(),
        "object_uri": uri,
    }
    replace = {**values, "updated_at": func.now()}
    statement = (
        insert(Series)
        .values(symbol=symbol, timeframe=timeframe, **values)
        .on_conflict_do_update(index_elements=[Series.symbol, Series.timeframe], set_=replace)
        .returning(Series)
        .execution_options(populate_existing=True)
    )
    return await session.scalar(statement)


def _aware(moment: pd.Timestamp) -> datetime:
    """A stored (naive UTC) bar time as the aware datetime timestamptz columns take."""
    return moment.to_pydatetime().replace(tzinfo=UTC)


def _summary(row: Series) -> backtest_pb2.SeriesSummary:
    """The wire summary of a series row; times as naive UTC ISO-8601, like the stored bars."""
    return backtest_pb2.SeriesSummary(
        symbol=row.symbol,
        timeframe=row.timeframe,
        start=row.start.astimezone(UTC).replace(tzinfo=None).isoformat(),
        end=row.end.astimezone(UTC).replace(tzinfo=None).isoformat(),
        rows=row.rows,
        sha256=row.sha256,
    )
