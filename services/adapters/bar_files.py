"""Stored bars back out as files, a row group at a time: Parquet (the stored layout), CSV or JSON.

The whole series as Parquet is the stored object itself, streamed as it is
(its SHA-256 is the series'). A window (start and/or end) or CSV reads the
stored file a row group at a time through ranged reads, skipping row groups
whose timestamp statistics lie outside the window, and writes each piece as
it goes, so memory stays at about one row group whatever the series' size.

JSON is an array of bar objects, `[{"timestamp":"2024-01-02T09:30:00",
"open":101.25,...},...]`, for looking at exactly the bars a run read: every
number is printed as the shortest text that reads back as the same double.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from services.adapters.market_data import COLUMNS, PARQUET_TYPE, SCHEMA
from services.adapters.object_store import CHUNK_BYTES, ObjectStore
from services.adapters.ranged_object import RangedObject
from services.domain.dates import parse_bounds
from services.domain.errors import FieldViolation, ValidationError

CSV_TYPE = "text/csv"
JSON_TYPE = "application/json"
FORMATS = {"parquet": PARQUET_TYPE, "csv": CSV_TYPE, "json": JSON_TYPE}


@dataclass(frozen=True)
class Window:
    """Which bars, in which format.

    start, end: inclusive bounds (tz-naive UTC), None for the series' own.
    file_format: "parquet", "csv" or "json".
    """

    start: pd.Timestamp | None
    end: pd.Timestamp | None
    file_format: str

    @classmethod
    def parse(cls, start: str, end: str, file_format: str) -> Window:
        """The window a request names; one ValidationError naming every bad field."""
        low, high, violations = parse_bounds(start, end)
        chosen = (file_format or "parquet").lower()
        if chosen not in FORMATS:
            violations.append(FieldViolation("format", f"{file_format!r} is not one of {', '.join(FORMATS)}"))
        if violations:
            raise ValidationError(violations)
        return cls(low, high, chosen)

    @property
    def whole(self) -> bool:
        """Whether every bar is wanted."""
        return self.start is None and self.end is None

    @property
    def content_type(self) -> str:
        """The media type of the file."""
        return FORMATS[self.file_format]


def file_chunks(store: ObjectStore, key: str, window: Window) -> Iterator[bytes]:
    """The bars of the stored series at `key` within `window`, as a file in pieces (blocking)."""
    if window.whole and window.file_format == "parquet":
        yield from store.stream(key)
        return
    size = store.size(key)
    stored = pq.ParquetFile(RangedObject(store, key, size or 0), buffer_size=CHUNK_BYTES, pre_buffer=False)
    sink = _Drain()
    if window.file_format == "parquet":
        writer = pq.ParquetWriter(pa.PythonFile(sink, mode="w"), SCHEMA, compression="zstd")
        for table in _windowed(stored, window):
            writer.write_table(table)
            yield from sink.take()
        writer.close()
        yield from sink.take()
        return
    if window.file_format == "json":
        yield from _json_array(_windowed(stored, window))
        return
    # pyarrow quotes header names whatever the quoting style: the header is written here, bare.
    sink.write((",".join(COLUMNS) + "\n").encode())
    for table in _windowed(stored, window):
        pacsv.write_csv(_csv_columns(table), sink, pacsv.WriteOptions(include_header=False, quoting_style="none"))
        yield from sink.take()
    yield from sink.take()  # no bar in the window: the header alone


def _windowed(stored: pq.ParquetFile, window: Window) -> Iterator[pa.Table]:
    """The stored row groups overlapping the window, cut to it."""
    low = None if window.start is None else window.start.as_unit("us").to_datetime64()
    high = None if window.end is None else window.end.as_unit("us").to_datetime64()
    for index in range(stored.num_row_groups):
        stats = stored.metadata.row_group(index).column(0).statistics
        if stats is not None and stats.has_min_max:
            before = low is not None and np.datetime64(stats.max) < low
            after = high is not None and np.datetime64(stats.min) > high
            if before or after:
                continue
        table = stored.read_row_group(index, columns=list(COLUMNS), use_threads=False).cast(SCHEMA)
        stamps = table.column("timestamp").to_numpy()
        first = 0 if low is None else int(np.searchsorted(stamps, low, side="left"))
        last = len(stamps) if high is None else int(np.searchsorted(stamps, high, side="right"))
        if last > first:
            yield table.slice(first, last - first)


def _csv_columns(table: pa.Table) -> pa.Table:
    """Bars with ISO-8601 timestamps (`2024-01-02T09:30:00`), the form uploads use."""
    # numpy prints whole seconds (flooring, as strftime's %S does) six times faster than pandas' strftime.
    seconds = table.column("timestamp").to_numpy().astype("datetime64[s]")
    return table.set_column(0, "timestamp", pa.array(np.datetime_as_string(seconds), pa.string()))


def _json_array(tables: Iterator[pa.Table]) -> Iterator[bytes]:
    """The bars as one JSON array, a piece per row group: `[` before the first, `]` after the last."""
    opened = False
    for table in tables:
        rows = _json_rows(table)
        yield (b"[" + rows[1:]) if not opened else rows
        opened = True
    yield b"]" if opened else b"[]"


def _json_rows(table: pa.Table) -> bytes:
    """Bars as JSON objects, each after a comma, printed by Arrow's kernels (no Python per row).

    Arrow casts a double to the shortest text that reads back as the same double
    (`101.25`, `100`, `1e-7`): valid JSON numbers; the rules keep NaN and infinities out of stored bars.
    """
    pieces: list = [',{"timestamp":"', _csv_columns(table).column("timestamp"), '"']
    for name in COLUMNS[1:]:
        pieces += [f',"{name}":', pc.cast(table.column(name), pa.string())]
    pieces.append("}")
    joined = pc.binary_join_element_wise(*pieces, "")
    return b"".join(_string_bytes(chunk) for chunk in joined.chunks)


def _string_bytes(strings: pa.StringArray) -> bytes:
    """The values of a string array (no nulls) back to back: its data buffer, between its first and last offsets."""
    offsets = np.frombuffer(strings.buffers()[1], np.int32)[strings.offset : strings.offset + len(strings) + 1]
    return strings.buffers()[2].slice(offsets[0], offsets[-1] - offsets[0]).to_pybytes() if len(strings) else b""


class _Drain(io.RawIOBase):
    """A write-only sink whose bytes are taken out as they are written."""

    def __init__(self) -> None:
        self._pieces: list[bytes] = []
        self._size = 0

    def writable(self) -> bool:
        """Always: this is a writer."""
        return True

    def write(self, data) -> int:
        """Keeps a copy of `data` until taken."""
        piece = bytes(data)
        self._pieces.append(piece)
        self._size += len(piece)
        return len(piece)

    def tell(self) -> int:
        """Bytes written so far."""
        return self._size

    def take(self) -> Iterator[bytes]:
        """What was written since the last take, as one piece (nothing when empty)."""
        if self._pieces:
            piece = b"".join(self._pieces)
            self._pieces.clear()
            yield piece
