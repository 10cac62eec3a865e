"""OHLCV bar files: parse and validate uploads, write and read the stored Parquet.

Uploads are CSV or Parquet with a `timestamp` (or `date`) column and `open`,
`high`, `low`, `close`, `volume`, names case-insensitive, extra columns
ignored. Every rule is checked on whole columns at once and the first bad
data row (1-based, header not counted) is reported, so a million-bar file
validates in a fraction of a second and its owner knows which line to fix.

Stored bars are tz-naive UTC: offsets in the upload are converted, then dropped.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import datetime
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from services.adapters.object_store import PARQUET_CONTENT_TYPE
from services.domain.dates import parse_date
from services.domain.errors import ValidationError
from services.domain.symbols import check_symbol
from services.domain.timeframes import check_timeframe

PRICES = ("open", "high", "low", "close")
COLUMNS = ("timestamp", *PRICES, "volume")
PARQUET_TYPE = PARQUET_CONTENT_TYPE
# Types that say nothing about the format: we sniff the Parquet magic instead.
# `curl --data-binary @bars.csv` without -H labels the body as a form.
_GENERIC_TYPES = {"", "application/octet-stream", "binary/octet-stream", "application/x-www-form-urlencoded"}
_PARQUET_TYPES = {PARQUET_TYPE, "application/parquet", "application/x-parquet"}
_CSV_TYPES = {"text/csv", "application/csv", "text/plain", "text/comma-separated-values"}
# ~2.5 MB of float64 per group: a range read decodes only the groups it overlaps.
ROW_GROUP_ROWS = 64 * 1024
_SCHEMA = pa.schema([("timestamp", pa.timestamp("us")), *[(name, pa.float64()) for name in COLUMNS[1:]]])


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
    """Object-store key of a series, `market-data/{symbol}/{timeframe}.parquet`; ValidationError if malformed."""
    check_series(symbol, timeframe)
    return f"market-data/{symbol}/{timeframe}.parquet"


def parse_bars(data: bytes, content_type: str | None) -> pd.DataFrame:
    """Parses and validates an uploaded bar file into the stored columns.

    data: the raw file.
    content_type: its media type; Parquet is recognised by its magic when missing or generic.
    Raises ValidationError on the field `file` naming the first bad row.
    """
    if not data:
        raise ValidationError.single("file", "is empty: send a CSV or Parquet file as the request body")
    media = (content_type or "").split(";")[0].strip().lower()
    if media in _PARQUET_TYPES or (media in _GENERIC_TYPES and data[:4] == b"PAR1"):
        frame = _read_parquet(data)
    elif media in _CSV_TYPES or media in _GENERIC_TYPES:
        frame = _read_csv(data)
    else:
        raise ValidationError.single("file", f"content type {media!r} is neither text/csv nor {PARQUET_TYPE}")
    return _validate(_select_columns(frame))


def bars_to_parquet(bars: pd.DataFrame) -> bytes:
    """Serialises validated bars (columns as COLUMNS) to the stored Parquet layout.

    bars: a frame from `parse_bars` or with the same columns.
    """
    table = pa.table(
        {name: bars[name].to_numpy(dtype="datetime64[us]" if name == "timestamp" else "float64") for name in COLUMNS},
        schema=_SCHEMA,
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


def _read_parquet(data: bytes) -> pd.DataFrame:
    """The Parquet file's columns, a DatetimeIndex written by pandas turned back into a column."""
    try:
        frame = pq.read_table(pa.BufferReader(data)).to_pandas()
    except (pa.ArrowException, OSError) as err:
        raise ValidationError.single("file", f"is not a readable Parquet file: {err}") from None
    if isinstance(frame.index, pd.DatetimeIndex):
        frame = frame.rename_axis(frame.index.name or "timestamp").reset_index()
    return frame


def _read_csv(data: bytes) -> pd.DataFrame:
    """The CSV's columns; a tokenizing error names its data row."""
    try:
        return pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise ValidationError.single(
            "file", "has no header row: expected timestamp, open, high, low, close, volume"
        ) from None
    except UnicodeDecodeError as err:
        raise ValidationError.single("file", f"is not UTF-8 text (nor Parquet): {err.reason}") from None
    except pd.errors.ParserError as err:
        detail = str(err).strip().removeprefix("Error tokenizing data. C error: ")
        line = re.search(r"line (\d+)", detail)
        where = f"row {int(line.group(1)) - 1}: " if line else ""  # line 1 is the header
        raise ValidationError.single("file", f"{where}is not parseable as CSV: {detail}") from None


def _select_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The required columns by case-insensitive name, `date` standing in for `timestamp`."""
    names: dict[str, str] = {}
    for column in frame.columns:
        key = str(column).strip().lower()
        if key in names:
            raise ValidationError.single("file", f"has two columns named {key!r}")
        names[key] = column
    if "timestamp" not in names and "date" in names:
        names["timestamp"] = names["date"]
    missing = [name for name in COLUMNS if name not in names]
    if missing:
        found = ", ".join(map(str, frame.columns)) or "none"
        # One column whose name holds separators: the file is delimited by something else.
        hint = "; separate columns with commas" if len(frame.columns) == 1 and re.search(r"[;\t|]", found) else ""
        raise ValidationError.single("file", f"lacks column(s) {', '.join(missing)} (found: {found}){hint}")
    selected = frame[[names[name] for name in COLUMNS]]
    selected.columns = list(COLUMNS)
    return selected.reset_index(drop=True)


def _validate(raw: pd.DataFrame) -> pd.DataFrame:
    """Coerces the columns and checks every rule; the error names the earliest bad row."""
    if len(raw) == 0:
        raise ValidationError.single("file", "has no data rows")
    stamps, problems = _timestamps(raw["timestamp"])
    bars = {"timestamp": stamps}
    for name in COLUMNS[1:]:
        bars[name], column_problems = _numbers(raw[name], name)
        problems += column_problems
    o, h, lo, c, v = (bars[name] for name in COLUMNS[1:])
    top, bottom = np.fmax(o, c), np.fmin(o, c)  # the candle body
    before = np.concatenate([stamps[:1], stamps[:-1]])  # row 0 compares with itself: never out of order
    with np.errstate(invalid="ignore"):  # NaN compares False; those rows were already reported
        problems += [
            *[_first(bars[n] <= 0, lambda i, n=n: f"{n} {bars[n][i]:.10g} is not positive") for n in PRICES],
            _first(v < 0, lambda i: f"volume {v[i]:.10g} is negative"),
            _first(h < top, lambda i: f"high {h[i]:.10g} is below max(open, close) {top[i]:.10g}"),
            _first(lo > bottom, lambda i: f"low {lo[i]:.10g} is above min(open, close) {bottom[i]:.10g}"),
        ]
    disorder = np.zeros(len(stamps), dtype=bool)
    disorder[1:] = stamps[1:] <= before[1:]
    problems.append(_first(disorder, lambda i: _disorder(stamps[i], before[i])))
    # The earliest row with any problem; at that row, the first rule in column order.
    found = [(row, rank, describe) for rank, (row, describe) in enumerate(problems) if row >= 0]
    if found:
        row, _, describe = min(found, key=lambda item: item[:2])
        raise ValidationError.single("file", f"row {row + 1}: {describe(row)}")
    return pd.DataFrame(bars)


def _first(bad: np.ndarray, describe: Callable[[int], str]) -> tuple[int, Callable[[int], str]]:
    """(index of the first True in `bad` or -1, how to describe that row)."""
    return (int(bad.argmax()) if bad.any() else -1), describe


def _disorder(stamp: np.datetime64, before: np.datetime64) -> str:
    """Why a timestamp that is not after its predecessor is wrong."""
    relation = "repeats" if stamp == before else "is earlier than"
    previous = pd.Timestamp(before)
    return f"timestamp {pd.Timestamp(stamp)} {relation} the previous row's {previous} (must be sorted and unique)"


def _timestamps(raw: pd.Series) -> tuple[np.ndarray, list]:
    """Timestamps as datetime64[us] tz-naive UTC, and the first missing or unparseable one."""
    missing = raw.isna().to_numpy()
    if isinstance(raw.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(raw.dtype):
        parsed = pd.to_datetime(raw, utc=True)
    else:
        # Parquet dates arrive as datetime.date objects: str() makes them ISO text like the CSV's.
        parsed = pd.to_datetime(raw.astype("str"), format="ISO8601", errors="coerce", utc=True)
    stamps = parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    return stamps, [
        _first(missing, lambda i: "timestamp is missing"),
        _first(np.isnat(stamps) & ~missing, lambda i: f"timestamp {str(raw.iloc[i])!r} is not an ISO-8601 date/time"),
    ]


def _numbers(raw: pd.Series, name: str) -> tuple[np.ndarray, list]:
    """The column as float64, and its first missing (NaN), non-numeric or infinite value."""
    missing = raw.isna().to_numpy()  # read_csv already turned "", "NaN", "nan", "NA" into NA
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return values, [
        _first(missing, lambda i: f"{name} is missing (NaN)"),
        _first(np.isnan(values) & ~missing, lambda i: f"{name} {str(raw.iloc[i])!r} is not a number"),
        _first(np.isinf(values), lambda i: f"{name} {raw.iloc[i]} is not finite"),
    ]
