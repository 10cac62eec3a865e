"""OHLCV bar files: parse and validate uploads, write and read the stored Parquet.

Uploads are CSV or Parquet with a `timestamp` (or `date`) column and `open`,
`high`, `low`, `close`, `volume`, names case-insensitive, extra columns
ignored; they are read and checked by services.adapters.upload_tables, so the
first bad data row is named. Stored bars are tz-naive UTC.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from services.adapters.object_store import PARQUET_CONTENT_TYPE
from services.adapters.upload_tables import first, numbers, raise_earliest, read_upload, select_columns, timestamps
from services.domain.dates import parse_date
from services.domain.errors import ValidationError
from services.domain.symbols import check_symbol
from services.domain.timeframes import check_timeframe

PRICES = ("open", "high", "low", "close")
COLUMNS = ("timestamp", *PRICES, "volume")
PARQUET_TYPE = PARQUET_CONTENT_TYPE
# ~2.5 MB of float64 per group: a range read decodes only the groups it overlaps.
ROW_GROUP_ROWS = 64 * 1024
SCHEMA = pa.schema([("timestamp", pa.timestamp("us")), *[(name, pa.float64()) for name in COLUMNS[1:]]])


def check_series(symbol: str, timeframe: str) -> None:
    """Raises one ValidationError naming every bad field of a series address."""
    violations = []
    for check, value in ((check_symbol, symbol), (check_timeframe, timeframe)):
        try:
            check(value)
        except ValidationError as err:
            violations += err.violations
    if violations:
        raise ValidationError(violations)


def object_key(symbol: str, timeframe: str) -> str:
    """Where series were stored before versioned keys, `market-data/{symbol}/{timeframe}.parquet`.

    Series imported since then live under `version_key`; a series row names its object's URI either way.
    ValidationError if the address is malformed.
    """
    check_series(symbol, timeframe)
    return f"market-data/{symbol}/{timeframe}.parquet"


def version_key(symbol: str, timeframe: str, sha256: str) -> str:
    """Object-store key of one version of a series, `market-data/{symbol}/{timeframe}/{sha256}.parquet`.

    Named by content, so a replaced or extended series is a new object: a run
    reads the very object its job names, never a mix of two versions.
    """
    check_series(symbol, timeframe)
    return f"market-data/{symbol}/{timeframe}/{sha256}.parquet"


def is_series_key(key: str) -> bool:
    """Whether `key` is where a series is stored (`object_key` or `version_key` form)."""
    parts = key.split("/")
    if parts[0] != "market-data" or len(parts) not in (3, 4) or not parts[-1].endswith(".parquet"):
        return False
    try:
        if len(parts) == 3:
            return object_key(parts[1], parts[2].removesuffix(".parquet")) == key
        digest = parts[3].removesuffix(".parquet")
        return re.fullmatch("[0-9a-f]{64}", digest) is not None and version_key(parts[1], parts[2], digest) == key
    except ValidationError:
        return False


def parse_bars(data: bytes, content_type: str | None) -> pd.DataFrame:
    """Parses and validates an uploaded bar file into the stored columns.

    data: the raw file.
    content_type: its media type; Parquet is recognised by its magic when missing or generic.
    Raises ValidationError on the field `file` naming the first bad row.
    """
    frame = read_upload(data, content_type, COLUMNS)
    return _validate(select_columns(frame, COLUMNS, {"date": "timestamp"}))


def bars_to_parquet(bars: pd.DataFrame) -> bytes:
    """Serialises validated bars (columns as COLUMNS) to the stored Parquet layout.

    bars: a frame from `parse_bars` or with the same columns.
    """
    table = pa.table(
        {name: bars[name].to_numpy(dtype="datetime64[us]" if name == "timestamp" else "float64") for name in COLUMNS},
        schema=SCHEMA,
    )
    sink = pa.BufferOutputStream()
    # Statistics (on by default) let range reads skip row groups by timestamp.
    pq.write_table(table, sink, row_group_size=ROW_GROUP_ROWS, compression="zstd")
    return sink.getvalue().to_pybytes()


def read_bars(
    source: str | bytes | BinaryIO,
    start: str | datetime | None = None,
    end: str | datetime | None = None,
) -> pd.DataFrame:
    """Reads stored bars with a DatetimeIndex `timestamp` and float columns open..volume.

    source: a local file path, the file's bytes, or a seekable binary file.
    start: first timestamp to include (ISO string or datetime; offsets converted to UTC); None for all.
    end: last timestamp to include, inclusive; None for all.
    """
    condition = None
    for bound, keep in ((start, pc.greater_equal), (end, pc.less_equal)):
        if bound is not None:
            moment = parse_date(bound) if isinstance(bound, str) else _naive_utc(pd.Timestamp(bound))
            term = keep(pc.field("timestamp"), pa.scalar(moment.as_unit("us").to_datetime64(), pa.timestamp("us")))
            condition = term if condition is None else condition & term
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = pa.BufferReader(source)
    table = pq.read_table(source, columns=list(COLUMNS), filters=condition)
    return table.to_pandas().set_index("timestamp")


def _naive_utc(moment: pd.Timestamp) -> pd.Timestamp:
    """`moment` in UTC without a zone, the way stored bars are."""
    return moment.tz_convert("UTC").tz_localize(None) if moment.tzinfo is not None else moment


def _validate(raw: pd.DataFrame) -> pd.DataFrame:
    """Coerces the columns and checks every rule; the error names the earliest bad row."""
    if len(raw) == 0:
        raise ValidationError.single("file", "has no data rows")
    return validate_batch(raw)


def validate_batch(raw: pd.DataFrame, *, offset: int = 0, previous: np.datetime64 | None = None) -> pd.DataFrame:
    """Coerces one batch of rows (columns as COLUMNS) and checks every rule; the error names the earliest bad row.

    offset: data rows of the file before this batch, so the error counts rows from the file's start.
    previous: the timestamp of the row just before the batch, which its first row must follow.
    """
    return pd.DataFrame(validated_columns(raw, offset=offset, previous=previous))


def validated_columns(
    raw: Mapping[str, pd.Series], *, offset: int = 0, previous: np.datetime64 | None = None
) -> dict[str, np.ndarray]:
    """`validate_batch` of columns by name, returning the coerced columns as arrays (no frame built or copied).

    raw: each of COLUMNS as a Series (a DataFrame will do).
    """
    stamps, problems = timestamps(raw["timestamp"])
    bars = {"timestamp": stamps}
    for name in COLUMNS[1:]:
        bars[name], column_problems = numbers(raw[name], name)
        problems += column_problems
    o, h, lo, c, v = (bars[name] for name in COLUMNS[1:])
    top, bottom = np.fmax(o, c), np.fmin(o, c)  # the candle body
    # Row 0 compares with the previous batch's last row, or with itself (never out of order).
    head = stamps[:1] if previous is None else np.array([previous], dtype=stamps.dtype)
    before = np.concatenate([head, stamps[:-1]])
    with np.errstate(invalid="ignore"):  # NaN compares False; those rows were already reported
        problems += [
            *[first(bars[n] <= 0, lambda i, n=n: f"{n} {bars[n][i]:.10g} is not positive") for n in PRICES],
            first(v < 0, lambda i: f"volume {v[i]:.10g} is negative"),
            first(h < top, lambda i: f"high {h[i]:.10g} is below max(open, close) {top[i]:.10g}"),
            first(lo > bottom, lambda i: f"low {lo[i]:.10g} is above min(open, close) {bottom[i]:.10g}"),
        ]
    disorder = np.zeros(len(stamps), dtype=bool)
    disorder[1:] = stamps[1:] <= before[1:]
    if previous is not None and len(stamps):
        disorder[0] = stamps[0] <= before[0]
    problems.append(first(disorder, lambda i: _disorder(stamps[i], before[i])))
    raise_earliest(problems, offset=offset)
    return bars


def _disorder(stamp: np.datetime64, before: np.datetime64) -> str:
    """Why a timestamp that is not after its predecessor is wrong."""
    relation = "repeats" if stamp == before else "is earlier than"
    previous = pd.Timestamp(before)
    return f"timestamp {pd.Timestamp(stamp)} {relation} the previous row's {previous} (must be sorted and unique)"
