"""Bar files of any size: validated, converted to Parquet and hashed while they stream in.

An upload arrives as an iterator of byte chunks (a gRPC client stream, which
the catalog's event loop receives a few chunks ahead of the parser). A CSV is
cut into blocks at line ends and parsed by pyarrow's multi-threaded reader
a block at a time; each batch is checked by the rules of
services.adapters.market_data (the error names the file's row), converted
and written by a writer thread to a local Parquet file whose SHA-256 is
computed a row group at a time as it is written. Receiving, parsing,
checking and writing overlap, on both cores. Memory stays flat whatever the
file's size. A Parquet upload keeps its index at the end of the file, so it is
spooled to a local file first and then read a row group at a time.

Appending reads the stored series' file a batch at a time beside the upload:
rows up to the series' last bar must equal the stored ones, later rows are
added. Nothing here touches the object store: the caller stores the result.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import io
import os
import queue
import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from services.adapters.market_data import COLUMNS, ROW_GROUP_ROWS, SCHEMA, validated_columns
from services.adapters.upload_tables import column_names, is_parquet
from services.domain.errors import ConflictError, ValidationError

_ALIASES = {"date": "timestamp", "__index_level_0__": "timestamp"}
_BLOCK_BYTES = 4 << 20  # CSV lines parsed at a time: ~60,000 minute bars; 1 MiB cost 15-20% more per-batch overhead
_PARSE_BYTES = 1 << 20  # pyarrow's own block within one: a block's quarters parse on both cores
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

    def remaining(self) -> Iterator[bytes | memoryview]:
        """What is still unread, as the pieces it came in (no copy): for a reader that does its own cutting."""
        if self._buffer:
            piece, self._buffer = self._buffer, memoryview(b"")
            self.consumed += len(piece)
            yield piece
        for piece in self._chunks:
            self.consumed += len(piece)
            yield piece

    def push_back(self, data: bytes) -> None:
        """Puts `data` in front of what is still unread (a header peeked at)."""
        self._buffer = memoryview(bytes(data) + bytes(self._buffer))
        self.consumed -= len(data)


class _HashedFile:
    """A local file written by Arrow's own (native) file, hashed by reading back what was written.

    Writing through a Python file object took the GIL for each of the ~900 writes
    of a million bars, and the writer thread waited for the parsing thread's GIL at
    each; this way it takes it once per row group, to hash the bytes just written.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.sink = pa.OSFile(path, mode="wb")
        self.digest = hashlib.sha256()
        self.size = 0

    def hash_written(self) -> None:
        """Hashes the bytes written since the last call (the file is opened for it only then)."""
        with open(self.path, "rb") as written:
            written.seek(self.size)
            while data := written.read(1 << 20):
                self.digest.update(data)
                self.size += len(data)

    def close(self) -> None:
        """Closes the file (idempotent)."""
        if not self.sink.closed:
            self.sink.close()


class _BarWriter:
    """Writes validated bars as the stored Parquet layout, in row groups of ROW_GROUP_ROWS, hashing as it goes.

    Compression and writing run in a thread of their own, a row group or two
    behind the parsing (pyarrow releases the GIL for both), so the two use
    both cores the way pyarrow's own multi-threaded reader does.
    """

    _QUEUED_GROUPS = 2  # row groups waiting to be written: what the overlap costs in memory (~5 MB)

    def __init__(self, path: str) -> None:
        self.path = path
        self._sink = _HashedFile(path)
        self._writer = pq.ParquetWriter(self._sink.sink, SCHEMA, compression="zstd")
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
                    self._sink.hash_written()
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
        self._sink.sink.close()
        self._sink.hash_written()
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
        with contextlib.closing(_validated_batches(chunks, content_type, out_path)) as batches:
            for _, bars in batches:
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
        with contextlib.closing(_validated_batches(chunks, content_type, out_path)) as batches:
            for offset, bars in batches:
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
    if is_parquet(head, content_type):
        raw = _parquet_batches(reader, scratch_path + ".upload")
    else:
        raw = _csv_batches(reader)
    offset, previous = 0, None
    # Closed here, not left to the garbage collector: a generator abandoned on a refused
    # row sits in its traceback's reference cycle, and the collector could finalize it
    # (joining its parse thread) in a thread holding threading's shutdown lock, which
    # that join takes too: a test run hung there.
    with contextlib.closing(raw):
        for columns in raw:
            rows = len(columns["timestamp"])
            if rows == 0:
                continue
            bars = validated_columns(columns, offset=offset, previous=previous)
            table = pa.Table.from_arrays([pa.array(bars[name]) for name in COLUMNS], schema=SCHEMA)
            previous = bars["timestamp"][-1]
            yield offset, table
            offset += rows


def _csv_batches(reader: ChunkReader) -> Iterator[dict[str, pd.Series]]:
    """The CSV's required columns a block at a time, typed where pyarrow can, as text where it cannot.

    The file is cut into blocks of about _BLOCK_BYTES at line ends, and each is parsed by
    pyarrow's multi-threaded reader straight to the stored types, on both cores, while the
    previous block is checked. A block that does not parse that way (a value that is
    missing, padded, not a number, a time with an offset) is parsed again as text and
    converted column by column, so the rules name its first bad value as before.
    """
    header, raw_header = _read_header(reader)
    chosen = column_names(header, COLUMNS, _ALIASES)
    parser = _BlockParser(header, chosen)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="csv-parse") as parsing:
        pending, rows = None, 0
        for block in _blocks(reader, raw_header):
            upcoming = parsing.submit(parser.parse, block)
            if pending is not None:
                columns = _parsed(pending, rows)
                rows += len(columns["timestamp"])
                yield columns
            pending = upcoming
        if pending is not None:
            yield _parsed(pending, rows)


def _parsed(parsing: Future, rows_before: int) -> dict[str, pd.Series]:
    """A block's columns once parsed; a parse error names the rows before the block."""
    try:
        return parsing.result()
    except pa.ArrowInvalid as err:
        # pyarrow names no row; the block that failed starts after the rows read before it.
        message = f"row {rows_before + 1} or later: is not parseable as CSV: {err}"
        raise ValidationError.single("file", message) from None


def _blocks(reader: ChunkReader, raw_header: bytes) -> Iterator[bytes]:
    """The data rows in blocks of about _BLOCK_BYTES, each cut after a line break (the last may lack one).

    Pieces are held as received and joined once per block: the one copy of the upload's bytes.
    """
    first = raw_header.split(b"\n", 1)[1] if b"\n" in raw_header else b""
    held: list[bytes | memoryview] = [first] if first else []
    size = len(first)
    for piece in reader.remaining():
        if not piece:
            continue
        held.append(piece)
        size += len(piece)
        if size < _BLOCK_BYTES:
            continue
        cut = (piece if isinstance(piece, bytes) else bytes(piece)).rfind(b"\n")
        if cut < 0:  # no line ends in this piece: read on
            continue
        view = memoryview(piece)
        block = b"".join([*held[:-1], view[: cut + 1]])
        rest = view[cut + 1 :]
        held, size = ([rest] if len(rest) else []), len(rest)
        yield block
    if held:
        yield b"".join(held)


class _BlockParser:
    """Parses blocks of CSV lines into the required columns (COLUMNS' order)."""

    def __init__(self, header: list[str], chosen: list) -> None:
        self._read = pacsv.ReadOptions(column_names=header, use_threads=True, block_size=_PARSE_BYTES)
        kinds = dict(zip(chosen, (pa.timestamp("us"), *[pa.float64()] * (len(COLUMNS) - 1)), strict=True))
        self._typed = pacsv.ConvertOptions(column_types=kinds, include_columns=chosen, null_values=_NULLS)
        self._text = pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            include_columns=chosen,
            strings_can_be_null=True,
            null_values=_NULLS,
        )

    def parse(self, block: bytes) -> dict[str, pd.Series]:
        """The block's columns; ArrowInvalid when it is not CSV with the header's columns."""
        source = pa.py_buffer(block)
        try:
            table = pacsv.read_csv(pa.BufferReader(source), read_options=self._read, convert_options=self._typed)
            if not any(column.null_count for column in table.columns):
                return {name: pd.Series(table.column(i).to_numpy(), copy=False) for i, name in enumerate(COLUMNS)}
        except pa.ArrowInvalid:
            pass
        table = pacsv.read_csv(pa.BufferReader(source), read_options=self._read, convert_options=self._text)
        # include_columns keeps `chosen`'s order: the i-th column is COLUMNS[i].
        return {name: _typed(table.column(i), name) for i, name in enumerate(COLUMNS)}


def _typed(column: pa.ChunkedArray, name: str) -> pd.Series:
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


def _parquet_batches(reader: ChunkReader, spool_path: str) -> Iterator[dict[str, pd.Series]]:
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
            yield {name: batch.column(i).to_pandas() for i, name in enumerate(COLUMNS)}
    finally:
        _remove(spool_path)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
