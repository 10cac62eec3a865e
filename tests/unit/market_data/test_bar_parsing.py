"""Parsing and validating uploaded bar files: formats, columns, time zones, and every rule."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from services.adapters.market_data import parse_bars
from services.domain.errors import ValidationError

HEADER = "timestamp,open,high,low,close,volume"
GOOD_ROWS = [
    "2020-01-02,10,11,9,10.5,100",
    "2020-01-03,10.5,12,10,11,200",
    "2020-01-06,11,11.5,10.2,10.2,150",
]


def csv(*rows: str, header: str = HEADER) -> bytes:
    """A CSV file with `header` and `rows`."""
    return "\n".join([header, *rows, ""]).encode()


def violation(data: bytes, content_type: str | None = "text/csv") -> str:
    """The description of the single `file` violation parse_bars raises."""
    with pytest.raises(ValidationError) as caught:
        parse_bars(data, content_type)
    [v] = caught.value.violations
    assert v.field == "file"
    return v.description


def test_csv_gives_typed_columns_in_order():
    bars = parse_bars(csv(*GOOD_ROWS), "text/csv; charset=utf-8")
    assert list(bars.columns) == ["timestamp", "open", "high", "low", "close", "volume"]
    assert bars["timestamp"].dtype == "datetime64[us]"
    assert all(bars[c].dtype == "float64" for c in bars.columns[1:])
    assert bars["high"].tolist() == [11.0, 12.0, 11.5]


def test_date_column_and_any_case_and_extra_columns():
    data = csv(*[row + ",x" for row in GOOD_ROWS], header="Date,OPEN,High,low,Close,Volume,Note")
    bars = parse_bars(data, "text/csv")
    assert bars["timestamp"].iloc[0] == pd.Timestamp("2020-01-02")
    assert len(bars) == 3


def test_offsets_become_naive_utc():
    data = csv("2020-01-02T10:00:00+02:00,10,11,9,10.5,100", "2020-01-02T09:00:00Z,10,11,9,10.5,100")
    bars = parse_bars(data, "text/csv")
    assert bars["timestamp"].tolist() == [pd.Timestamp("2020-01-02 08:00"), pd.Timestamp("2020-01-02 09:00")]


def frame() -> pd.DataFrame:
    """The good rows as a DataFrame."""
    return pd.read_csv(io.BytesIO(csv(*GOOD_ROWS)), parse_dates=["timestamp"])


@pytest.mark.parametrize(
    "content_type",
    ["application/vnd.apache.parquet", "application/octet-stream", "application/x-www-form-urlencoded", None],
)
def test_parquet_by_type_or_by_magic(content_type):
    bars = parse_bars(frame().to_parquet(index=False), content_type)
    pd.testing.assert_frame_equal(bars, parse_bars(csv(*GOOD_ROWS), "text/csv"))


def test_parquet_with_datetime_index_and_aware_times():
    df = frame().set_index("timestamp")
    df.index = df.index.tz_localize("America/New_York")
    bars = parse_bars(df.to_parquet(), None)
    assert bars["timestamp"].iloc[0] == pd.Timestamp("2020-01-02 05:00")


def test_parquet_date_column_of_dates():
    df = frame().rename(columns={"timestamp": "Date"})
    df["Date"] = df["Date"].dt.date  # stored as Parquet date32
    assert parse_bars(df.to_parquet(index=False), None)["timestamp"].iloc[2] == pd.Timestamp("2020-01-06")


@pytest.mark.parametrize(
    ("bad_row", "expected"),
    [
        ("2020-01-04,10,9.5,9,10.2,5", "row 3: high 9.5 is below max(open, close) 10.2"),
        ("2020-01-04,10.3,11,10.5,10.2,5", "row 3: low 10.5 is above min(open, close) 10.2"),
        ("2020-01-04,-1,11,-2,10,5", "row 3: open -1 is not positive"),
        ("2020-01-04,10,11,9,0,5", "row 3: close 0 is not positive"),
        ("2020-01-04,10,11,9,10,-5", "row 3: volume -5 is negative"),
        ("2020-01-04,10,11,9,,5", "row 3: close is missing (NaN)"),
        ("2020-01-04,10,11,9,NaN,5", "row 3: close is missing (NaN)"),
        ("2020-01-04,10,eleven,9,10,5", "row 3: high 'eleven' is not a number"),
        ("2020-01-04,10,inf,9,10,5", "row 3: high inf is not finite"),
        ("04/01/2020,10,11,9,10,5", "row 3: timestamp '04/01/2020' is not an ISO-8601 date/time"),
        (",10,11,9,10,5", "row 3: timestamp is missing"),
        ("2020-01-03,10,11,9,10,5", "row 3: timestamp 2020-01-03 00:00:00 repeats the previous row's"),
        ("2020-01-01,10,11,9,10,5", "row 3: timestamp 2020-01-01 00:00:00 is earlier than the previous row's"),
        ("2020-01-04,10,11,9,10,5,7", "row 3: is not parseable as CSV"),
    ],
)
def test_each_rule_names_the_first_bad_row(bad_row, expected):
    rows = [*GOOD_ROWS[:2], bad_row, "2020-01-08,1,0.5,2,1,-1"]  # row 4 breaks rules too
    assert violation(csv(*rows)).startswith(expected)


def test_earliest_row_wins_over_rule_order():
    rows = [GOOD_ROWS[0], "2020-01-03,10,11,9,10,-5", "2020-01-06,10,9,9,10,5"]
    assert violation(csv(*rows)).startswith("row 2: volume -5")


def test_bad_row_in_parquet_is_numbered_like_csv():
    df = frame()
    df.loc[1, "low"] = 99.0
    assert violation(df.to_parquet(index=False), None).startswith("row 2: low 99 is above min(open, close) 10.5")


@pytest.mark.parametrize(
    ("data", "content_type", "expected"),
    [
        (b"", "text/csv", "is empty"),
        (csv(), "text/csv", "has no data rows"),
        (csv("2020-01-02,1,1,1,1", header="timestamp,open,high,low,close"), "text/csv", "lacks column(s) volume"),
        (csv("1,1,1,1,1", header="open,high,low,close,volume"), "text/csv", "lacks column(s) timestamp"),
        (b"PAR1 this is no parquet", None, "is not a readable Parquet file"),
        (b"\xff\xfe\x00garbage", "text/csv", "is not UTF-8"),
        (b"{}", "application/json", "content type 'application/json'"),
        (b"timestamp;open;high;low;close;volume\n2020-01-02;1;1;1;1;1\n", "text/csv", "separate columns with commas"),
    ],
)
def test_unusable_files(data, content_type, expected):
    assert expected in violation(data, content_type)


def test_a_million_rows_parse_whole():
    n = 1_000_000
    close = 100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 1e-3, n)))
    df = pd.DataFrame(
        {
            "timestamp": pd.date_range("2015-01-01", periods=n, freq="min"),
            "open": close,
            "high": close * 1.001,
            "low": close * 0.999,
            "close": close,
            "volume": 1000.0,
        }
    )
    data = df.to_parquet(index=False)
    bars = parse_bars(data, None)
    # Speed is the bench's business (python -m bench --only imports); here, every row arrives intact.
    assert len(bars) == n
    np.testing.assert_array_equal(np.asarray(bars["close"], dtype=float), close)
    assert pd.Timestamp(bars["timestamp"].iloc[-1]) == pd.Timestamp("2015-01-01") + pd.Timedelta(minutes=n - 1)
