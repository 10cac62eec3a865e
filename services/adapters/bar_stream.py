"""Bar files of any size: validated, converted to Parquet and hashed while they stream in.

An upload arrives as an iterator of byte chunks (a gRPC client stream). A CSV
is parsed by pyarrow's streaming reader a block at a time; each batch is
checked by the rules of services.adapters.market_data (the error names the
file's row), converted and written to a local Parquet file whose SHA-256 is
computed as its bytes are written. Memory stays flat whatever the file's
size. A Parquet upload keeps its index at the end of the file, so it is
spooled to a local file first and then read a row group at a time.

Appending reads the stored series' file a batch at a time beside the upload:
rows up to the series' last bar must equal the stored ones, later rows are
added. Nothing here touches the object store: the caller stores the result.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import queue
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from services.adapters.market_data import COLUMNS, ROW_GROUP_ROWS, SCHEMA, validate_batch
from services.adapters.upload_tables import column_names, is_parquet
from services.domain.errors import ConflictError, ValidationError

_ALIASES = {"date": "timestamp", "__index_level_0__": "timestamp"}
_BLOCK_BYTES = 4 << 20  # pyarrow's CSV block: ~60,000 minute bars; 1 MiB cost 15-20% more per-batch overhead
_MAX_HEADER_BYTES = 1 << 20  # a header row longer than this is not one (and is not held)
# What pandas.read_csv reads as missing (the rule of the unary import), so both paths agree.
_NULLS = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN"]
_NULLS += ["<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]


@dataclass(frozen=True)
class ConvertedBars:
    """A validated series written as the stored Parquet layout to a local file.

    path: the local Parquet file.
    sha256: hex SHA-256 of the file's bytes.
    size: the file's size in bytes.
    rows: number of bars.
    start, end: first and last bar timestamps (tz-naive UTC); None when rows is 0.
    """

    path: str
    sha256: str
    size: int
    rows: int
    start: pd.Timestamp | None
    end: pd.Timestamp | None


class ChunkReader(io.RawIOBase):
    """A readable binary file over an iterator of byte chunks (blocking, one pass).

    chunks: the pieces, in order; empty pieces are skipped.
    """

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = memoryview(b"")
        self.consumed = 0  # bytes handed out so far

    def readable(self) -> bool:
        """Always: this is a reader."""
        return True

    def readinto(self, target) -> int:
        """Fills `target` from the chunks (all of it unless they end first: pyarrow reads a block per call)."""
        view, filled = memoryview(target).cast("B"), 0
        while filled < len(view):
            if not self._buffer:
                piece = next(self._chunks, None)
                if piece is None:
                    break
                self._buffer = memoryview(piece).cast("B")
                continue
            count = min(len(view) - filled, len(self._buffer))
            view[filled : filled + count] = self._buffer[:count]
            self._buffer = self._buffer[count:]
            filled += count
        self.consumed += filled
        return filled

    def push_back(self, data: bytes) -> None:
        """Puts `data` in front of what is still unread (a header peeked at)."""
        self._buffer = memoryview(bytes(data) + bytes(self._buffer))
        self.consumed -= len(data)


class _HashingFile(io.RawIOBase):
    """A writable local file that hashes every byte written to it."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "wb")  # noqa: SIM115 - closed by close()
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        """Always: this is a writer."""
        return True

    def write(self, data) -> int:
        """Writes and hashes `data`."""
        view = memoryview(data)
        self._file.write(view)
        self.digest.update(view)
        self.size += len(view)
        return len(view)

    def tell(self) -> int:
        """Bytes written so far."""
        return self.size

    def close(self) -> None:
        """Closes the file (idempotent)."""
        if not self._file.closed:
            self._file.close()
        super().close()


class _BarWriter:
    """Writes validated bars as the stored Parquet layout, in row groups of ROW_GROUP_ROWS, hashing as it goes.

    Compression and writing run in a thread of their own, a row group or two
    behind the parsing (pyarrow releases the GIL for both), so the two use
    both cores the way pyarrow's own multi-threaded reader does.
    """

    _QUEUED_GROUPS = 2  # row groups waiting to be written: what the overlap costs in memory (~5 MB)

    def __init__(self, path: str) -> None:
        self.path = path
        self._sink = _HashingFile(path)
        self._writer = pq.ParquetWriter(pa.PythonFile(self._sink, mode="w"), SCHEMA, compression="zstd")
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self.rows = 0
        self.start: pd.Timestamp | None = None
        self.end: pd.Timestamp | None = None
        self._queue: queue.Queue[pa.Table | None] = queue.Queue(self._QUEUED_GROUPS)
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="bar-writer", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while (table := self._queue.get()) is not None:
            if self._failure is None:
                try:
                    self._writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
                except BaseException as exc:  # noqa: BLE001 - handed to the producing thread
                    self._failure = exc

    def write(self, table: pa.Table) -> None:
        """Adds bars (SCHEMA's columns) after those written before."""
        if self._failure is not None:
            raise self._failure
        if table.num_rows == 0:
            return
        if self.start is None:
            self.start = pd.Timestamp(table.column("timestamp")[0].as_py())
        self.end = pd.Timestamp(table.column("timestamp")[-1].as_py())
        self.rows += table.num_rows
        self._pending.append(table)
        self._pending_rows += table.num_rows
        if self._pending_rows >= ROW_GROUP_ROWS:
            self._flush(final=False)

    def _flush(self, *, final: bool) -> None:
        # Whole row groups only until the end, so the same bars give the same bytes (and SHA-256)
        # whatever the batches they arrived in.
        whole = self._pending_rows if final else self._pending_rows - self._pending_rows % ROW_GROUP_ROWS
        if whole == 0:
            return
        pending = pa.concat_tables(self._pending)
        self._queue.put(pending.slice(0, whole))
        rest = pending.slice(whole)
        self._pending, self._pending_rows = ([rest] if rest.num_rows else []), rest.num_rows

    def _stop(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def finish(self) -> ConvertedBars:
        """Closes the file and describes it."""
        self._flush(final=True)
        self._stop()
        if self._failure is not None:
            raise self._failure
        self._writer.close()
        self._sink.close()
        return ConvertedBars(self.path, self._sink.digest.hexdigest(), self._sink.size, self.rows, self.start, self.end)

    def abandon(self) -> None:
        """Closes and deletes the partial file."""
        if self._thread.is_alive():
            self._failure = self._failure or RuntimeError("abandoned")
            self._stop()
        try:
            self._writer.close()
        except (OSError, pa.ArrowException):
            pass
        self._sink.close()
        _remove(self.path)


def convert_upload(chunks: Iterator[bytes], content_type: str | None, out_path: str) -> ConvertedBars:
    """Validates an uploaded bar file as it streams and writes it to `out_path` as stored Parquet.

    chunks: the file's bytes in pieces (blocking iterator).
    content_type: its media type; Parquet is recognised by its magic when missing or generic.
    out_path: where the Parquet file goes; deleted again when the upload is refused or fails.
    Raises ValidationError on `file` naming the first bad row; nothing is left at out_path then.
    """
    writer = _BarWriter(out_path)
    try:
        for _, bars in _validated_batches(chunks, content_type, out_path):
            writer.write(bars)
        if writer.rows == 0:
            raise ValidationError.single("file", "has no data rows")
        return writer.finish()
    except BaseException:
        writer.abandon()
        raise


def append_upload(
    stored_path: str, chunks: Iterator[bytes], content_type: str | None, out_path: str
) -> ConvertedBars | None:
    """Writes the stored series followed by the upload's bars after its last one to `out_path`.

    stored_path: a local copy of the stored series' Parquet file.
    chunks, content_type: the uploaded file, as for convert_upload.
    Rows of the upload up to the stored series' last bar must equal the stored bars
    (ConflictError naming the first row that does not); they are not added again.
    Returns None when the upload adds no bar (nothing is written then).
    """
    stored = pq.ParquetFile(stored_path)
    last = _last_timestamp(stored)
    writer = _BarWriter(out_path)
    try:
        for batch in stored.iter_batches(batch_size=ROW_GROUP_ROWS, columns=list(COLUMNS)):
            writer.write(pa.Table.from_batches([batch]).cast(SCHEMA))
        stored_rows = writer.rows
        cursor: _StoredCursor | None = None
        saw_rows = False
        for offset, bars in _validated_batches(chunks, content_type, out_path):
            saw_rows = True
            stamps = bars.column("timestamp").to_numpy()
            overlap = int(np.searchsorted(stamps, last, side="right")) if last is not None else 0
            if overlap:
                if cursor is None:
                    cursor = _StoredCursor(stored, stamps[0])
                cursor.match(bars.slice(0, overlap), offset)
            if overlap < len(stamps):
                if cursor is not None and not cursor.exhausted():
                    missing = cursor.peek_timestamp()
                    raise ConflictError(
                        f"row {offset + overlap + 1}: the file skips the stored bar at {pd.Timestamp(missing)}; "
                        "rows up to the series' last bar must equal the stored bars"
                    )
                writer.write(bars.slice(overlap))
        if not saw_rows:
            raise ValidationError.single("file", "has no data rows")
        if writer.rows == stored_rows:
            writer.abandon()
            return None
        return writer.finish()
    except BaseException:
        writer.abandon()
        raise


class _StoredCursor:
    """Walks the stored bars from a timestamp on, comparing them with uploaded rows."""

    def __init__(self, stored: pq.ParquetFile, start: np.datetime64) -> None:
        self._batches = stored.iter_batches(batch_size=ROW_GROUP_ROWS)
        self._current: pa.Table | None = None
        self._position = 0
        self._skip_before(start)

    def _fill(self) -> bool:
        while self._current is None or self._position >= self._current.num_rows:
            batch = next(self._batches, None)
            if batch is None:
                self._current = None
                return False
            self._current = pa.Table.from_batches([batch]).select(list(COLUMNS)).cast(SCHEMA)
            self._position = 0
        return True

    def _skip_before(self, start: np.datetime64) -> None:
        while self._fill():
            stamps = self._current.column("timestamp").to_numpy()
            index = int(np.searchsorted(stamps, start, side="left"))
            if index < len(stamps):
                self._position = index
                return
            self._position = len(stamps)

    def exhausted(self) -> bool:
        """Whether every stored bar from the start on has been matched."""
        return not self._fill()

    def peek_timestamp(self) -> np.datetime64:
        """The next stored bar's timestamp (the cursor must not be exhausted)."""
        return self._current.column("timestamp").to_numpy()[self._position]

    def match(self, rows: pa.Table, offset: int) -> None:
        """Checks that `rows` (uploaded, the file's rows offset+1...) equal the next stored bars."""
        done = 0
        while done < rows.num_rows:
            if not self._fill():
                stamp = pd.Timestamp(rows.column("timestamp")[done].as_py())
                raise ConflictError(f"row {offset + done + 1}: the series has no bar at {stamp}")
            take = min(rows.num_rows - done, self._current.num_rows - self._position)
            mine = rows.slice(done, take)
            theirs = self._current.slice(self._position, take)
            for name in COLUMNS:
                ours, stored = mine.column(name).to_numpy(), theirs.column(name).to_numpy()
                unequal = ours != stored
                if unequal.any():
                    at = int(unequal.argmax())
                    raise ConflictError(_difference(offset + done + at + 1, name, ours[at], stored[at], stored, at))
            done += take
            self._position += take


def _difference(row: int, name: str, uploaded, stored_value, stored: np.ndarray, at: int) -> str:
    """Why an uploaded row differs from the stored bar it overlaps."""
    if name == "timestamp":
        return (
            f"row {row}: timestamp {pd.Timestamp(uploaded)} is not the stored bar there "
            f"({pd.Timestamp(stored_value)}); rows up to the series' last bar must equal the stored bars"
        )
    return (
        f"row {row}: {name} {uploaded:.10g} differs from the stored bar's {stored_value:.10g}; "
        "rows up to the series' last bar must equal the stored bars"
    )


def _last_timestamp(stored: pq.ParquetFile) -> np.datetime64 | None:
    """The last bar's timestamp of a stored file, from its last row group."""
    groups = stored.metadata.num_row_groups
    if groups == 0:
        return None
    stamps = stored.read_row_group(groups - 1, columns=["timestamp"]).column("timestamp")
    return stamps.to_numpy()[-1] if len(stamps) else None


def _validated_batches(
    chunks: Iterator[bytes], content_type: str | None, scratch_path: str
) -> Iterator[tuple[int, pa.Table]]:
    """(rows before the batch, validated bars as SCHEMA) for each batch of the upload, in order."""
    reader = ChunkReader(chunks)
    head = reader.read(4) or b""
    if not head:
        raise ValidationError.single("file", "is empty: send a CSV or Parquet file as the request body")
    reader.push_back(head)
    raw = _parquet_batches(reader, scratch_path + ".upload") if is_parquet(head, content_type) else _csv_batches(reader)
    offset, previous = 0, None
    for frame in raw:
        if len(frame) == 0:
            continue
        bars = validate_batch(frame, offset=offset, previous=previous)
        table = pa.table({name: bars[name].to_numpy() for name in COLUMNS}).cast(SCHEMA)
        previous = bars["timestamp"].to_numpy()[-1]
        yield offset, table
        offset += len(frame)


def _csv_batches(reader: ChunkReader) -> Iterator[pd.DataFrame]:
    """The CSV's required columns a block at a time, typed where pyarrow can, as text where it cannot."""
    header, raw_header = _read_header(reader)
    chosen = column_names(header, COLUMNS, _ALIASES)
    reader.push_back(raw_header)
    options = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in header},
        include_columns=chosen,
        strings_can_be_null=True,
        null_values=_NULLS,
    )
    try:
        stream = pacsv.open_csv(
            pa.PythonFile(reader, mode="r"),
            read_options=pacsv.ReadOptions(block_size=_BLOCK_BYTES),
            convert_options=options,
        )
    except pa.ArrowInvalid as err:
        raise ValidationError.single("file", f"is not parseable as CSV: {err}") from None
    rows = 0
    while True:
        try:
            batch = stream.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as err:
            # pyarrow names no row; the batch that failed starts after the rows read so far.
            raise ValidationError.single("file", f"row {rows + 1} or later: is not parseable as CSV: {err}") from None
        rows += batch.num_rows
        # include_columns keeps `chosen`'s order: the i-th column is COLUMNS[i].
        yield pd.DataFrame({name: _typed(batch.column(i), name) for i, name in enumerate(COLUMNS)})


def _typed(column: pa.Array, name: str) -> pd.Series:
    """A text column as its type when every value converts cleanly; else as text, for the rules to name the bad one.

    Values are trimmed like read_csv's skipinitialspace, but only when they do not convert as they
    are: trimming copies the column, and a value that converts untrimmed converts to the same.
    """
    kind = pa.timestamp("us") if name == "timestamp" else pa.float64()
    if column.null_count == 0:  # a null stays one after trimming: the rules name it
        try:
            return pd.Series(pc.cast(column, kind).to_numpy(zero_copy_only=False), copy=False)
        except pa.ArrowInvalid:
            pass
    trimmed = pc.utf8_trim_whitespace(column)
    if trimmed.null_count == 0:
        try:
            return pd.Series(pc.cast(trimmed, kind).to_numpy(zero_copy_only=False), copy=False)
        except pa.ArrowInvalid:
            pass
    return pd.Series(trimmed.to_numpy(zero_copy_only=False), dtype=object)


def _read_header(reader: ChunkReader) -> tuple[list[str], bytes]:
    """The header row's column names, and the raw bytes read (a UTF-8 byte-order mark dropped)."""
    pieces, size = [], 0
    while size < _MAX_HEADER_BYTES:
        piece = reader.read(64 * 1024)
        if not piece:
            break
        pieces.append(piece)
        size += len(piece)
        if b"\n" in piece:
            break
    raw = b"".join(pieces)
    if b"\n" not in raw and size >= _MAX_HEADER_BYTES:
        raise ValidationError.single(
            "file", f"has no line break in its first {_MAX_HEADER_BYTES // 1024} KiB: not a CSV with a header row"
        )
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    line = raw.split(b"\n", 1)[0]
    try:
        text = line.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError as err:
        raise ValidationError.single("file", f"is not UTF-8 text (nor Parquet): {err.reason}") from None
    if not text.strip():
        raise ValidationError.single("file", f"has no header row: expected {', '.join(COLUMNS)}")
    return next(csv.reader([text])), raw


def _parquet_batches(reader: ChunkReader, spool_path: str) -> Iterator[pd.DataFrame]:
    """The Parquet upload's required columns a row group at a time (spooled to `spool_path` first)."""
    try:
        with open(spool_path, "wb") as spool:
            shutil.copyfileobj(reader, spool, 1 << 20)
        try:
            upload = pq.ParquetFile(spool_path)
            chosen = column_names(upload.schema_arrow.names, COLUMNS, _ALIASES)
        except (pa.ArrowException, OSError) as err:
            raise ValidationError.single("file", f"is not a readable Parquet file: {err}") from None
        for batch in upload.iter_batches(batch_size=ROW_GROUP_ROWS, columns=chosen):
            yield pd.DataFrame({name: batch.column(i).to_pandas() for i, name in enumerate(COLUMNS)})
    finally:
        _remove(spool_path)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
