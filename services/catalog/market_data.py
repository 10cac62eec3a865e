"""The catalog's stored data: market-data bars and model-output (signal) series.

Bars live in the object store as Parquet under `market-data/{symbol}/{timeframe}.parquet`
(services.adapters.market_data), signal series under `signal-series/{name}.parquet`
(services.adapters.signal_series_files); an index row of each
(services.catalog.repository.series, .signal_series) describes it with its
range, row count and the SHA-256 of the stored file. An import replaces the
series. A file that fails validation is refused before anything is
written, so a 422 changes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from datetime import UTC, datetime

import pandas as pd
from minio.error import S3Error
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from urllib3.exceptions import HTTPError

from services.adapters import market_data, signal_series_files
from services.adapters.object_store import ObjectStore, S3Location
from services.catalog.repository import series, signal_series
from services.catalog.repository.views import SeriesView, SignalSeriesView
from services.domain.errors import UnavailableError


class MarketData:
    """The catalog's market data.

    sessions: session factory of the catalog database.
    location: the object store's settings; the store (and its bucket) is made on first use,
        so a catalog starts while the store is still coming up.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], location: S3Location) -> None:
        self.sessions = sessions
        self.location = location
        self._store: ObjectStore | None = None
        self._store_lock = threading.Lock()

    async def import_bars(self, symbol: str, timeframe: str, data: bytes, content_type: str) -> SeriesView:
        """Validates and stores one bar file as the series (symbol, timeframe); returns its index entry."""
        key = market_data.object_key(symbol, timeframe)
        # Parsing a million rows takes a fraction of a second: off the event loop, not on it.
        bars = await asyncio.to_thread(market_data.parse_bars, data, content_type)
        parquet = await asyncio.to_thread(market_data.bars_to_parquet, bars)
        async with self.sessions.begin() as session:
            await series.lock(session, symbol, timeframe)
            uri = await asyncio.to_thread(self._put, key, parquet)
            return await series.upsert(
                session,
                symbol,
                timeframe,
                start=_aware(bars["timestamp"].iloc[0]),
                end=_aware(bars["timestamp"].iloc[-1]),
                rows=len(bars),
                sha256=hashlib.sha256(parquet).hexdigest(),
                object_uri=uri,
            )

    async def import_signal_series(self, name: str, data: bytes, content_type: str) -> SignalSeriesView:
        """Validates and stores one model-output series file as series `name`; returns its index entry."""
        key = signal_series_files.object_key(name)
        frame = await asyncio.to_thread(signal_series_files.parse_series, data, content_type)
        parquet = await asyncio.to_thread(signal_series_files.series_to_parquet, frame)
        async with self.sessions.begin() as session:
            await signal_series.lock(session, name)
            uri = await asyncio.to_thread(self._put, key, parquet)
            stamps = frame["timestamp"]
            return await signal_series.upsert(
                session,
                name,
                symbols=sorted(frame["symbol"].unique().tolist()),
                start=_aware(stamps.min()),
                end=_aware(stamps.max()),
                rows=len(frame),
                sha256=hashlib.sha256(parquet).hexdigest(),
                object_uri=uri,
            )

    async def list_signal_series(self) -> list[SignalSeriesView]:
        """Every stored signal series, by name."""
        async with self.sessions() as session:
            return await signal_series.list_all(session)

    async def get_signal_series(self, name: str) -> SignalSeriesView:
        """One stored signal series; ValidationError for a malformed name, NotFoundError when none is stored."""
        signal_series_files.check_name(name)
        async with self.sessions() as session:
            return await signal_series.get(session, name)

    async def list_series(self) -> list[SeriesView]:
        """Every stored series, by symbol then timeframe."""
        async with self.sessions() as session:
            return await series.list_all(session)

    async def get_series(self, symbol: str, timeframe: str) -> SeriesView:
        """One stored series; ValidationError for a malformed address, NotFoundError when none is stored."""
        market_data.check_series(symbol, timeframe)
        async with self.sessions() as session:
            return await series.get(session, symbol, timeframe)

    def _put(self, key: str, data: bytes) -> str:
        """Writes the Parquet file (blocking: run it in a thread) and returns its URI."""
        try:
            return self._object_store().put_bytes(key, data, content_type=market_data.PARQUET_TYPE)
        except (S3Error, HTTPError, OSError) as err:
            raise UnavailableError(f"the object store cannot store {key}") from err

    def _object_store(self) -> ObjectStore:
        with self._store_lock:
            if self._store is None:
                store = ObjectStore(self.location)
                store.ensure_bucket()
                self._store = store
            return self._store


def _aware(moment: pd.Timestamp) -> datetime:
    """A stored (naive UTC) bar time as the aware datetime timestamptz columns take."""
    return moment.to_pydatetime().replace(tzinfo=UTC)
