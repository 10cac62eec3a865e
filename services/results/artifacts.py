"""Run artifacts read from the object store a piece at a time, never whole.

JSON renderings read the Parquet file through ranged GETs, one record batch
at a time; downloads pass the stored bytes through in 1 MiB chunks. A run
stored inside a sweep batch's file (a URI ending in `#<run id>`, see
`services.adapters.batch_parquet`) is read from its own row groups, and its
download is that run's standalone file, written a row group at a time. Every
check that can fail (status, URI, object present, Parquet footer readable)
runs before the first piece is handed out, so a failure is a clean 409
instead of a stream cut short.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq
import urllib3
from minio.error import S3Error

from services.adapters.artifact_encoding import EQUITY_ENCODING, TRADES_ENCODING, ParquetEncoding
from services.adapters.batch_parquet import run_file_chunks, run_row_groups
from services.adapters.object_store import CHUNK_BYTES, ObjectStore
from services.adapters.ranged_object import RangedObject
from services.domain.errors import ConflictError, NotFoundError, UnavailableError, ValidationError
from services.results.bar_dates import BarDateFormatter
from services.results.records import COMPLETED, BacktestRecord
from services.results.row_group_reads import RowGroupReads, row_group_spans
from services.results.windows import RowWindow

log = logging.getLogger(__name__)
BATCH_ROWS = 4096  # rows per batch: amortises the hop to a worker thread, keeps its Python objects to ~1 MB
# The columns of the executor's trades artifact, in the order of the Trade message.
TRADE_COLUMNS = ("entry_date", "exit_date", "side", "entry_price", "exit_price", "size", "pnl", "return_pct", "status")
TRADE_DATES = ("entry_date", "exit_date")
WHOLE = RowWindow()  # no window: every row, read exactly as before windows existed
# An artifact up to this size is fetched in one GET at its first read (the footer's) and read
# from memory: SeaweedFS spends ~4 ms of CPU on a GET whatever its length (a 64 KiB range
# 6.5 ms, a whole 6.3 MB object 12 ms), and a million-point curve (3.6 MB) read a block at a
# time took a HEAD and nine GETs. Larger files keep their bounded, ranged reads.
WHOLE_READ_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class ArtifactKind:
    """One kind of run artifact.

    name: short name, also the download's file-name prefix.
    uri_field: attribute of BacktestRecord that holds the artifact's URI.
    encoding: how the executor encodes a run's own file; a run's file rebuilt from a batch file gets the same.
    """

    name: str
    uri_field: str
    encoding: ParquetEncoding

    def file_name(self, backtest_id: str) -> str:
        """Name the download is saved under, e.g. `equity_<id>.parquet`."""
        return f"{self.name}_{backtest_id}.parquet"

    def content_disposition(self, backtest_id: str) -> str:
        """Value of the content-disposition header that makes clients save the download."""
        return f"attachment; filename={self.file_name(backtest_id)}"


class _Located(NamedTuple):
    """An artifact's file in the store, and the run's part of it."""

    key: str
    size: int
    run_id: str | None  # None: the file is the run's own


EQUITY = ArtifactKind("equity", "equity_curve_uri", EQUITY_ENCODING)
TRADES = ArtifactKind("trades", "trades_uri", TRADES_ENCODING)


class Artifacts:
    """Finds and reads the artifacts of completed runs; every method blocks (call from a thread).

    store: the artifact store.
    """

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def equity_rows(self, record: BacktestRecord, window: RowWindow = WHOLE) -> Iterator[tuple[list[str], list[float]]]:
        """(dates, equities) lists per batch of the equity curve's points in `window`; 409 when it cannot be read."""
        batches = self.equity_batches(record, BATCH_ROWS, window)
        formatter = BarDateFormatter()
        for batch in batches:
            (dates,) = formatter.format(batch.column(0))
            yield dates, batch.column(1).to_pylist()

    def trade_rows(self, record: BacktestRecord, window: RowWindow = WHOLE) -> Iterator[dict[str, list]]:
        """Column name -> values per batch of the trades entered in `window` (only columns the file has); 409 here."""
        parquet, row_groups = self._open_parquet(record, TRADES)
        columns = [name for name in TRADE_COLUMNS if name in parquet.schema_arrow.names]
        dates = [name for name in TRADE_DATES if name in columns]
        formatter = BarDateFormatter()

        def read(groups: list[int] | None) -> Iterator[pa.RecordBatch]:
            return _batches(parquet, columns, groups)

        batches = window.applied(parquet, "entry_date", f"trade list of backtest {record.id}", row_groups, read)
        for batch in batches:
            rows = {name: batch.column(name).to_pylist() for name in columns if name not in dates}
            rows.update(zip(dates, formatter.format(*(batch.column(name) for name in dates)), strict=True))
            yield rows

    def equity_batches(
        self, record: BacktestRecord, batch_rows: int, window: RowWindow = WHOLE
    ) -> Iterator[pa.RecordBatch]:
        """Record batches of the curve's `date` and `equity` columns, of the points in `window`.

        A 409 is raised by this call, before the first batch is asked for, when the curve cannot be read
        (or windowed: a `date` column of no dates). Row groups outside the window are not read.
        Its row groups are not fetched ahead as the trade list's are (RowGroupReads): tried, the
        curve's first byte came ~10 ms sooner and its last no sooner, and the memory test's JSON
        text grew 54.6 MB over the warmed-up service (limit 50).
        """
        parquet, row_groups = self._open_parquet(record, EQUITY)
        if not {"date", "equity"} <= set(parquet.schema_arrow.names):
            raise ConflictError(f"the equity artifact of backtest {record.id} lacks a date or equity column")
        what = f"equity curve of backtest {record.id}"
        return window.applied(
            parquet, "date", what, row_groups, lambda groups: _batches(parquet, ["date", "equity"], groups, batch_rows)
        )

    def trade_batches(
        self, record: BacktestRecord, batch_rows: int, window: RowWindow = WHOLE
    ) -> Iterator[pa.RecordBatch]:
        """Record batches of the trade columns the file has (see TRADE_COLUMNS), row groups fetched ahead; 409 here.

        Only trades entered in `window`; row groups whose entry dates lie outside it are not fetched.

        The text columns come dictionary-encoded, as stored (TRADES_ENCODING): the JSON printer
        wants a code per row and the distinct texts, which decoding them to strings and encoding
        them again cost ~3% of the service's CPU for a trade list.
        """
        located = self._locate(record, TRADES)
        source = self._ranged(located)
        parquet, row_groups = self._open_parquet(record, TRADES, located, source)
        columns = [name for name in TRADE_COLUMNS if name in parquet.schema_arrow.names]
        texts = [name for name in TRADES.encoding.dictionary_columns if name in columns]

        def fetched_ahead(groups: list[int] | None) -> Iterator[pa.RecordBatch]:
            fetched = self._fetched_ahead(parquet, source, columns, groups, read_dictionary=texts)
            return _batches(fetched, columns, groups, batch_rows)

        return window.applied(parquet, "entry_date", f"trade list of backtest {record.id}", row_groups, fetched_ahead)

    def file_chunks(self, record: BacktestRecord, kind: ArtifactKind) -> Iterator[bytes]:
        """The run's Parquet file in chunks, the first already produced; 409 when missing.

        A file of its own passes through in 1 MiB chunks; a run inside a
        batch file comes as its own file, a row group at a time.
        """
        located = self._locate(record, kind)
        if located.run_id is None:
            chunks = self.store.stream(located.key, chunk_bytes=CHUNK_BYTES)
        else:
            parquet, row_groups = self._open_parquet(record, kind, located)
            chunks = run_file_chunks(parquet, row_groups, encoding=kind.encoding)
        try:
            first = next(chunks, b"")  # the first read happens here, so a vanished object is still a 409
        except NotFoundError as err:
            raise _missing(record, kind) from err
        return itertools.chain([first], chunks)

    def read_table(self, record: BacktestRecord, kind: ArtifactKind, columns: list[str]) -> pa.Table:
        """The run's whole artifact as one Arrow table of `columns` (those the file has); 409 when unreadable.

        For reports, which need every row at once: a million-bar curve's two columns are ~16 MB.
        """
        parquet, row_groups = self._open_parquet(record, kind)
        present = [name for name in columns if name in parquet.schema_arrow.names]
        if row_groups is None:
            return parquet.read(columns=present, use_threads=False)
        return parquet.read_row_groups(row_groups, columns=present, use_threads=False)

    def _ranged(self, located: _Located) -> RangedObject:
        """The artifact's file over ranged reads: fetched whole at its first read up to WHOLE_READ_BYTES."""
        return RangedObject(self.store, located.key, located.size, whole=located.size <= WHOLE_READ_BYTES)

    def _open_parquet(
        self,
        record: BacktestRecord,
        kind: ArtifactKind,
        located: _Located | None = None,
        source: RangedObject | None = None,
    ) -> tuple[pq.ParquetFile, list[int] | None]:
        """The artifact as a ParquetFile over `source` (default: _ranged), its footer read, and the run's row groups.

        Row groups None: all of them, the run has a file of its own.
        """
        located = located or self._locate(record, kind)
        run_id = located.run_id
        try:
            # buffer_size makes pyarrow read column chunks a block at a time instead of whole.
            parquet = pq.ParquetFile(source or self._ranged(located), buffer_size=CHUNK_BYTES, pre_buffer=False)
        except NotFoundError as err:
            raise _missing(record, kind) from err
        except pa.ArrowException as err:
            raise ConflictError(f"the {kind.name} artifact of backtest {record.id} is not a Parquet file") from err
        if run_id is None:
            return parquet, None
        row_groups = run_row_groups(parquet, run_id)
        if row_groups is None:
            raise ConflictError(f"the {kind.name} artifact of backtest {record.id} is missing from its batch file")
        return parquet, row_groups

    def _fetched_ahead(
        self,
        parquet: pq.ParquetFile,
        source: RangedObject,
        columns: list[str],
        row_groups: list[int] | None,
        read_dictionary: list[str],
    ) -> pq.ParquetFile:
        """`parquet` (opened over `source`) again, its footer as read, with the chunks of `columns` fetched ahead.

        A whole source already holds the file (fetched with the footer): it is read from memory.
        Otherwise over RowGroupReads, each row group's chunks in parallel GETs.
        """
        if not source.whole:
            spans = row_group_spans(parquet.metadata, columns, row_groups)
            source = RowGroupReads(self.store, source.key, source.size, spans)
        return pq.ParquetFile(
            source,
            metadata=parquet.metadata,
            buffer_size=CHUNK_BYTES,
            pre_buffer=False,
            read_dictionary=read_dictionary,
        )

    def _locate(self, record: BacktestRecord, kind: ArtifactKind) -> _Located:
        """Where the artifact is, or ConflictError saying why the run has none."""
        if record.status != COMPLETED:
            raise ConflictError(f"backtest {record.id} is {record.status}, not {COMPLETED}: it has no results yet")
        uri = getattr(record, kind.uri_field)
        try:
            ref = self.store.artifact(uri, field=kind.uri_field)
        except ValidationError:  # none yet, or one an admin PATCHed before the rule was this strict
            raise ConflictError(f"backtest {record.id} has no {kind.name} artifact in the store") from None
        key, run_id = ref.key, ref.run_id
        try:
            size = self.store.size(key)
        except (S3Error, urllib3.exceptions.HTTPError) as err:
            # The first contact with the store on every path: an unreachable or
            # misconfigured store is a 503 to retry, not a 500.
            # The store's own words (host, port, bucket) go to the log, not to the client.
            log.warning("artifact store unavailable", extra={"backtest_id": record.id, "uri": uri}, exc_info=True)
            raise UnavailableError(
                f"the artifact store cannot serve the {kind.name} artifact of backtest {record.id}; retry later"
            ) from err
        if size is None:
            raise _missing(record, kind)
        return _Located(key, size, run_id)


def _batches(
    parquet: pq.ParquetFile, columns: list[str], row_groups: list[int] | None, batch_rows: int = BATCH_ROWS
) -> Iterator[pa.RecordBatch]:
    """Record batches of `columns` in `row_groups` (None: all).

    Single-threaded, because each stream already has its worker thread.
    """
    return parquet.iter_batches(batch_size=batch_rows, row_groups=row_groups, columns=columns, use_threads=False)


def _missing(record: BacktestRecord, kind: ArtifactKind) -> ConflictError:
    """The 409 for an artifact whose URI is set but whose object is gone."""
    return ConflictError(f"the {kind.name} artifact of backtest {record.id} is missing from the store")
