"""The stored Parquet layout, range reads, and the names series are stored under."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services.adapters.market_data import ROW_GROUP_ROWS, bars_to_parquet, object_key, parse_bars, read_bars
from services.domain.errors import ValidationError


def minute_bars(n: int) -> pd.DataFrame:
    """`n` consistent one-minute bars from 2020-01-01."""
    close = 100 + np.arange(n) * 0.001
    return pd.DataFrame(
        {
            "timestamp": pd.date_range("2020-01-01", periods=n, freq="min", unit="us"),
            "open": close,
            "high": close + 0.5,
            "low": close - 0.5,
            "close": close,
            "volume": np.arange(n, dtype="float64"),
        }
    )


class CountingReader(io.BytesIO):
    """A file that counts the bytes read from it, to show what a range read touches."""

    bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk

    def readinto(self, buffer) -> int:
        count = super().readinto(buffer)
        self.bytes_read += count
        return count


def test_layout_is_six_typed_columns_in_streamable_row_groups():
    meta = pq.ParquetFile(pa.BufferReader(bars_to_parquet(minute_bars(200_000)))).metadata
    assert meta.schema.to_arrow_schema() == pa.schema(
        [("timestamp", pa.timestamp("us")), *[(c, pa.float64()) for c in ("open", "high", "low", "close", "volume")]]
    )
    assert meta.num_row_groups == -(-200_000 // ROW_GROUP_ROWS)


def test_same_bars_same_bytes():
    # The catalog's sha256 (and sample-data idempotency) rely on this.
    assert bars_to_parquet(minute_bars(1000)) == bars_to_parquet(minute_bars(1000))


def test_round_trip_through_read_bars(tmp_path):
    bars = minute_bars(1000)
    path = tmp_path / "bars.parquet"
    path.write_bytes(bars_to_parquet(bars))
    back = read_bars(str(path))
    assert back.index.name == "timestamp" and isinstance(back.index, pd.DatetimeIndex)
    assert list(back.columns) == ["open", "high", "low", "close", "volume"]
    pd.testing.assert_frame_equal(back.reset_index(), bars)


@pytest.mark.parametrize(
    ("start", "end", "first", "last"),
    [
        ("2020-01-01T00:10:00", "2020-01-01T00:20:00", "00:10", "00:20"),  # both ends inclusive
        (pd.Timestamp("2020-01-01 01:10", tz="Europe/Paris"), None, "00:10", "16:39"),  # offset -> UTC
        (None, "2020-01-01 00:05", "00:00", "00:05"),
    ],
)
def test_range_is_inclusive(start, end, first, last):
    got = read_bars(bars_to_parquet(minute_bars(1000)), start, end)
    assert got.index[0] == pd.Timestamp(f"2020-01-01 {first}")
    assert got.index[-1] == pd.Timestamp(f"2020-01-01 {last}")


def test_empty_range_gives_empty_frame():
    got = read_bars(bars_to_parquet(minute_bars(100)), "2021-01-01", "2021-12-31")
    assert got.empty and list(got.columns) == ["open", "high", "low", "close", "volume"]


def test_range_read_of_a_million_bars_reads_a_small_part_of_the_file():
    data = bars_to_parquet(minute_bars(1_000_000))
    source = CountingReader(data)
    day = read_bars(source, "2020-06-01", "2020-06-01T23:59:00")
    assert len(day) == 1440
    assert source.bytes_read < len(data) / 10, f"read {source.bytes_read} of {len(data)} bytes for one day"


def test_parsed_upload_round_trips():
    csv = b"date,open,high,low,close,volume\n2020-01-02,10,11,9,10.5,100\n2020-01-03,10.5,12,10,11,200\n"
    back = read_bars(bars_to_parquet(parse_bars(csv, "text/csv")))
    assert back.loc["2020-01-03", "close"] == 11.0


def test_key_layout():
    assert object_key("BRK.B", "1d") == "market-data/BRK.B/1d.parquet"


@pytest.mark.parametrize(
    ("symbol", "timeframe", "field"),
    [
        ("", "1d", "symbol"),
        ("..", "1d", "symbol"),
        ("A/B", "1d", "symbol"),
        ("X" * 33, "1d", "symbol"),
        ("AAPL", "2d", "timeframe"),
        ("AAPL", "1D", "timeframe"),
    ],
)
def test_bad_names_are_rejected_naming_the_field(symbol, timeframe, field):
    with pytest.raises(ValidationError) as caught:
        object_key(symbol, timeframe)
    assert [v.field for v in caught.value.violations] == [field]
