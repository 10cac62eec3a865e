"""Tables users upload (CSV or Parquet): read them, pick the named columns, check values a column at a time.

Shared by market-data bars and model-output series. Every rule runs on whole
columns, and a problem is reported at the earliest data row that breaks any
rule (1-based, header not counted), so a million-row file validates in a
fraction of a second and its owner knows which line to fix. Timestamps are
stored tz-naive UTC: offsets in the upload are converted, then dropped.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from services.adapters.object_store import PARQUET_CONTENT_TYPE
from services.domain.errors import ValidationError

# Types that say nothing about the format: we sniff the Parquet magic instead.
# `curl --data-binary @bars.csv` without -H labels the body as a form.
_GENERIC_TYPES = {"", "application/octet-stream", "binary/octet-stream", "application/x-www-form-urlencoded"}
_PARQUET_TYPES = {PARQUET_CONTENT_TYPE, "application/parquet", "application/x-parquet"}
_CSV_TYPES = {"text/csv", "application/csv", "text/plain", "text/comma-separated-values"}

# (row index or -1 when no row breaks the rule, how to describe that row)
Problem = tuple[int, Callable[[int], str]]


def read_upload(data: bytes, content_type: str | None, columns: Iterable[str]) -> pd.DataFrame:
    """The uploaded file as a frame, whatever its columns; a ValidationError on the field `file` otherwise.

    content_type: the media type; Parquet is recognised by its magic when missing or generic.
    columns: the columns the file should have, named in the message of a file with no header row.
    """
    if not data:
        raise ValidationError.single("file", "is empty: send a CSV or Parquet file as the request body")
    media = (content_type or "").split(";")[0].strip().lower()
    if media in _PARQUET_TYPES or (media in _GENERIC_TYPES and data[:4] == b"PAR1"):
        return _read_parquet(data)
    if media in _CSV_TYPES or media in _GENERIC_TYPES:
        return _read_csv(data, ", ".join(columns))
    raise ValidationError.single("file", f"content type {media!r} is neither text/csv nor {PARQUET_CONTENT_TYPE}")


def select_columns(frame: pd.DataFrame, columns: tuple[str, ...], aliases: Mapping[str, str]) -> pd.DataFrame:
    """The required columns by case-insensitive name, in `columns` order; extra columns are dropped.

    aliases: other names a column may go by (`date` for `timestamp`), used when the column's own is absent.
    """
    selected = frame[column_names(list(frame.columns), columns, aliases)]
    selected.columns = list(columns)
    return selected.reset_index(drop=True)


def column_names(found: list, columns: tuple[str, ...], aliases: Mapping[str, str]) -> list:
    """The file's names of the required `columns` (in that order), matched as `select_columns` does.

    found: the file's column names, as it spells them.
    Raises ValidationError on `file` for a duplicate or a missing column.
    """
    names: dict[str, object] = {}
    for column in found:
        key = str(column).strip().lower()
        if key in names:
            raise ValidationError.single("file", f"has two columns named {key!r}")
        names[key] = column
    for alias, name in aliases.items():
        if name not in names and alias in names:
            names[name] = names[alias]
    missing = [name for name in columns if name not in names]
    if missing:
        listed = ", ".join(map(str, found)) or "none"
        # One column whose name holds separators: the file is delimited by something else.
        hint = "; separate columns with commas" if len(found) == 1 and re.search(r"[;\t|]", listed) else ""
        raise ValidationError.single("file", f"lacks column(s) {', '.join(missing)} (found: {listed}){hint}")
    return [names[name] for name in columns]


def is_parquet(head: bytes, content_type: str | None) -> bool:
    """Whether an upload starting with `head` and labelled `content_type` is Parquet (else CSV).

    Raises ValidationError on `file` for a media type that is neither.
    """
    media = (content_type or "").split(";")[0].strip().lower()
    if media in _PARQUET_TYPES or (media in _GENERIC_TYPES and head[:4] == b"PAR1"):
        return True
    if media in _CSV_TYPES or media in _GENERIC_TYPES:
        return False
    raise ValidationError.single("file", f"content type {media!r} is neither text/csv nor {PARQUET_CONTENT_TYPE}")


def first(bad: np.ndarray, describe: Callable[[int], str]) -> Problem:
    """The first row where `bad` is True (-1 for none), and how to describe it."""
    return (int(bad.argmax()) if bad.any() else -1), describe


def raise_earliest(problems: list[Problem], *, offset: int = 0) -> None:
    """ValidationError on `file` at the earliest row with any problem; at that row, the first rule listed.

    offset: data rows before the checked ones (a streamed file is checked a batch at a time).
    """
    found = [(row, rank, describe) for rank, (row, describe) in enumerate(problems) if row >= 0]
    if found:
        row, _, describe = min(found, key=lambda item: item[:2])
        raise ValidationError.single("file", f"row {offset + row + 1}: {describe(row)}")


def timestamps(raw: pd.Series) -> tuple[np.ndarray, list[Problem]]:
    """Timestamps as datetime64[us] tz-naive UTC, and the first missing or unparseable one."""
    missing = raw.isna().to_numpy()
    if pd.api.types.is_datetime64_dtype(raw.dtype):  # already naive (UTC) times: nothing to convert
        stamps = raw.to_numpy(dtype="datetime64[us]")
        return stamps, [first(missing, lambda i: "timestamp is missing")]
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        parsed = pd.to_datetime(raw, utc=True)
    else:
        # Parquet dates arrive as datetime.date objects: str() makes them ISO text like the CSV's.
        parsed = pd.to_datetime(raw.astype("str"), format="ISO8601", errors="coerce", utc=True)
    stamps = parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    return stamps, [
        first(missing, lambda i: "timestamp is missing"),
        first(np.isnat(stamps) & ~missing, lambda i: f"timestamp {str(raw.iloc[i])!r} is not an ISO-8601 date/time"),
    ]


def numbers(raw: pd.Series, name: str) -> tuple[np.ndarray, list[Problem]]:
    """The column as float64, and its first missing (NaN), non-numeric or infinite value."""
    missing = raw.isna().to_numpy()  # read_csv already turned "", "NaN", "nan", "NA" into NA
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return values, [
        first(missing, lambda i: f"{name} is missing (NaN)"),
        first(np.isnan(values) & ~missing, lambda i: f"{name} {str(raw.iloc[i])!r} is not a number"),
        first(np.isinf(values), lambda i: f"{name} {raw.iloc[i]} is not finite"),
    ]


def _read_parquet(data: bytes) -> pd.DataFrame:
    """The Parquet file's columns, a DatetimeIndex written by pandas turned back into a column."""
    try:
        frame = pq.read_table(pa.BufferReader(data)).to_pandas()
    except (pa.ArrowException, OSError) as err:
        raise ValidationError.single("file", f"is not a readable Parquet file: {err}") from None
    if isinstance(frame.index, pd.DatetimeIndex):
        frame = frame.rename_axis(frame.index.name or "timestamp").reset_index()
    return frame


def _read_csv(data: bytes, expected: str) -> pd.DataFrame:
    """The CSV's columns; a tokenizing error names its data row."""
    try:
        return pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise ValidationError.single("file", f"has no header row: expected {expected}") from None
    except UnicodeDecodeError as err:
        raise ValidationError.single("file", f"is not UTF-8 text (nor Parquet): {err.reason}") from None
    except pd.errors.ParserError as err:
        detail = str(err).strip().removeprefix("Error tokenizing data. C error: ")
        line = re.search(r"line (\d+)", detail)
        where = f"row {int(line.group(1)) - 1}: " if line else ""  # line 1 is the header
        raise ValidationError.single("file", f"{where}is not parseable as CSV: {detail}") from None
