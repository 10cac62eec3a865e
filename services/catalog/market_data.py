"""The catalog's stored data: market-data bars and model-output (signal) series.

Bars live in the object store as Parquet, one object per version under
`market-data/{symbol}/{timeframe}/{sha256}.parquet` (services.adapters.market_data),
signal series under `signal-series/{name}.parquet` (services.adapters.signal_series_files);
an index row of each (services.catalog.repository.series, .signal_series)
describes it with its range, row count, the SHA-256 of the stored file and its URI.

Bar files stream in (services.adapters.bar_stream): validated, converted and
hashed a block at a time into a local scratch file, stored, and only then
named by the series row. A file that fails validation, or an upload that is
abandoned, stores nothing; a replaced version is retired, and collected
(services.catalog.series_collection) once no run can still be reading it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pandas as pd
from minio.error import S3Error
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from urllib3.exceptions import HTTPError

from services.adapters import bar_files, bar_stream, market_data, signal_series_files
from services.adapters.object_store import ObjectStore, S3Location
from services.catalog.repository import retired_objects, series, signal_series
from services.catalog.repository.views import SeriesView, SignalSeriesView
from services.domain.errors import ConflictError, UnavailableError
from services.domain.object_uris import object_uri


class MarketData:
    """The catalog's market data.

    sessions: session factory of the catalog database.
    location: the object store's settings; the store (and its bucket) is made on first use,
        so a catalog starts while the store is still coming up.
    scratch_dir: where uploads are converted (local disk, about the Parquet file's size); None: the system's.
    """

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], location: S3Location, *, scratch_dir: str | None = None
    ) -> None:
        self.sessions = sessions
        self.location = location
        self.scratch_dir = scratch_dir
        self._store: ObjectStore | None = None
        self._store_lock = threading.Lock()

    async def import_bars(self, symbol: str, timeframe: str, data: bytes, content_type: str) -> SeriesView:
        """Validates and stores one bar file, whole in memory, as the series (symbol, timeframe)."""
        return await self.upload_bars(symbol, timeframe, content_type, iter([data]))

    async def upload_bars(self, symbol: str, timeframe: str, content_type: str, chunks: Iterator[bytes]) -> SeriesView:
        """Replaces the series (symbol, timeframe) with a streamed bar file; returns its index entry.

        content_type: the file's media type (Parquet is sniffed when generic).
        chunks: the file's bytes in pieces, a blocking iterator (read in a worker thread).
        Raises ValidationError naming the first bad row; nothing is stored then.
        """
        market_data.check_series(symbol, timeframe)
        with self._scratch() as scratch:
            converted = await asyncio.to_thread(
                bar_stream.convert_upload, chunks, content_type, os.path.join(scratch, "bars.parquet")
            )
            return await self._commit(symbol, timeframe, converted, replaces=None)

    async def append_bars(self, symbol: str, timeframe: str, content_type: str, chunks: Iterator[bytes]) -> SeriesView:
        """Adds the streamed file's bars after the series' last one; returns the series' new index entry.

        Rows up to the stored last bar must equal the stored bars: ConflictError naming the
        first that does not, and nothing changes. NotFoundError when no series is stored.
        """
        market_data.check_series(symbol, timeframe)
        async with self.sessions() as session:
            current = await series.get(session, symbol, timeframe)
        with self._scratch() as scratch:
            stored_path = os.path.join(scratch, "stored.parquet")
            await asyncio.to_thread(self._download, current.object_uri, stored_path)
            converted = await asyncio.to_thread(
                bar_stream.append_upload, stored_path, chunks, content_type, os.path.join(scratch, "bars.parquet")
            )
            if converted is None:  # every row was already stored
                return current
            return await self._commit(symbol, timeframe, converted, replaces=current)

    async def _commit(
        self, symbol: str, timeframe: str, converted: bar_stream.ConvertedBars, *, replaces: SeriesView | None
    ) -> SeriesView:
        """Stores a converted file under its versioned key, then points the series at it.

        The object is listed in retired_objects before it is stored and taken off
        in the commit that names it, so a crash in between leaves a row the
        collector clears, never an orphan; the version it replaces is listed
        then, and deleted once no run can still be reading it.
        replaces: for an append, the version it extends: a concurrent write to the series in
            between is a ConflictError rather than a lost update.
        """
        key = market_data.version_key(symbol, timeframe, converted.sha256)
        uri = self._object_store_uri(key)
        async with self.sessions.begin() as session:
            await retired_objects.retire(session, uri)
        await asyncio.to_thread(self._put_file, key, converted.path)
        async with self.sessions.begin() as session:
            await series.lock(session, symbol, timeframe)
            previous = await series.location(session, symbol, timeframe)
            if replaces is not None and previous[1] != replaces.sha256:
                raise ConflictError(f"series {symbol}/{timeframe} changed while the append streamed; send it again")
            row = await series.upsert(
                session,
                symbol,
                timeframe,
                start=_aware(converted.start),
                end=_aware(converted.end),
                rows=converted.rows,
                sha256=converted.sha256,
                object_uri=uri,
            )
            await retired_objects.keep(session, uri)
            if previous[0] and previous[0] != uri:
                await retired_objects.retire(session, previous[0])
            return row

    async def bar_chunks(
        self, symbol: str, timeframe: str, start: str, end: str, file_format: str
    ) -> tuple[bar_files.Window, Iterator[bytes]]:
        """The window asked for and a blocking iterator of the bars in it as a file (Parquet or CSV).

        start, end: ISO-8601 bounds, inclusive; empty for the series' own.
        file_format: "parquet" (or empty) or "csv".
        """
        market_data.check_series(symbol, timeframe)
        window = bar_files.Window.parse(start, end, file_format)
        async with self.sessions() as session:
            row = await series.get(session, symbol, timeframe)
        store = await asyncio.to_thread(self._object_store)
        return window, bar_files.file_chunks(store, store.key_of(row.object_uri), window)

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

    def _put_file(self, key: str, path: str) -> None:
        """Uploads a local file (blocking; multipart for large ones)."""
        try:
            self._object_store().put_file(key, path, content_type=market_data.PARQUET_TYPE)
        except (S3Error, HTTPError, OSError) as err:
            raise UnavailableError(f"the object store cannot store {key}") from err

    def _download(self, uri: str, path: str) -> None:
        """Copies a stored series to a local file (blocking)."""
        store = self._object_store()
        try:
            store.download(store.key_of(uri), path)
        except (S3Error, HTTPError) as err:
            raise UnavailableError("the object store cannot read the stored series") from err

    def _object_store_uri(self, key: str) -> str:
        return object_uri(self.location.bucket, key)

    @contextlib.contextmanager
    def _scratch(self) -> Iterator[str]:
        """A private local directory for one upload's files, removed with whatever is left in it."""
        with tempfile.TemporaryDirectory(prefix="bars-", dir=self.scratch_dir) as path:
            yield path

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
