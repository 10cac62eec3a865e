"""Model-output series files: parse and validate uploads, write and read the stored Parquet.

An upload is CSV or Parquet with columns `timestamp` (or `date`), `symbol` and
`value`, names case-insensitive, extra columns ignored. A row is one value
of the series for one symbol at one time; a (symbol, timestamp) pair appears
once. Values are finite numbers; symbols follow the ticker grammar. The
stored file is sorted by symbol, then time, so a run reads its symbol's rows
only (row-group statistics skip the rest).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from services.adapters.upload_tables import first, numbers, raise_earliest, read_upload, select_columns, timestamps
from services.domain.errors import ValidationError
from services.domain.symbols import RULE, is_symbol

COLUMNS = ("timestamp", "symbol", "value")
ROW_GROUP_ROWS = 64 * 1024
_SCHEMA = pa.schema([("timestamp", pa.timestamp("us")), ("symbol", pa.string()), ("value", pa.float64())])
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_name(name: object) -> str:
    """`name` when it can name a series (1-64 letters, digits, `.`, `_`, `-`); a ValidationError naming `name`."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise ValidationError.single(
            "name", "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def object_key(name: str) -> str:
    """Object-store key of a series, `signal-series/{name}.parquet`; ValidationError if the name is malformed."""
    return f"signal-series/{check_name(name)}.parquet"


def parse_series(data: bytes, content_type: str | None) -> pd.DataFrame:
    """The upload's rows as (timestamp, symbol, value), sorted by symbol and time.

    Raises ValidationError on the field `file` naming the first bad row of the upload.
    """
    raw = select_columns(read_upload(data, content_type, COLUMNS), COLUMNS, {"date": "timestamp"})
    if len(raw) == 0:
        raise ValidationError.single("file", "has no data rows")
    stamps, problems = timestamps(raw["timestamp"])
    values, value_problems = numbers(raw["value"], "value")
    symbols = raw["symbol"].astype("string").fillna("").to_numpy(dtype=object)
    bad_symbol = np.fromiter((not is_symbol(s) for s in symbols), dtype=bool, count=len(symbols))
    problems += [first(bad_symbol, lambda i: f"symbol {symbols[i]!r} is not a ticker: {RULE}")]
    problems += value_problems
    frame = pd.DataFrame({"timestamp": stamps, "symbol": symbols, "value": values})
    repeated = frame.duplicated(["symbol", "timestamp"], keep="first").to_numpy() & ~np.isnat(stamps)
    problems.append(first(repeated, lambda i: f"symbol {symbols[i]} already has a value at {pd.Timestamp(stamps[i])}"))
    raise_earliest(problems)
    return frame.sort_values(["symbol", "timestamp"], kind="stable").reset_index(drop=True)


def series_to_parquet(frame: pd.DataFrame) -> bytes:
    """The stored Parquet of a frame from `parse_series`."""
    table = pa.Table.from_pandas(frame[list(COLUMNS)], schema=_SCHEMA, preserve_index=False)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=ROW_GROUP_ROWS, compression="zstd")
    return sink.getvalue().to_pybytes()


def read_symbol(data: bytes, symbol: str) -> tuple[np.ndarray, np.ndarray]:
    """(timestamps as datetime64[us], values) of one symbol in a stored series, in time order."""
    table = pq.read_table(pa.BufferReader(data), filters=pc.field("symbol") == symbol, columns=["timestamp", "value"])
    return table["timestamp"].to_numpy(), table["value"].to_numpy()
