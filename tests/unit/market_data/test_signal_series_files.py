"""Model-output series uploads: the first bad row named, pairs unique, stored sorted, read back by symbol."""

from __future__ import annotations

import numpy as np
import pytest

from services.adapters.signal_series_files import check_name, parse_series, read_symbol, series_to_parquet
from services.domain.errors import ValidationError

GOOD = "timestamp,symbol,value\n2021-01-05,MSFT,0.2\n2021-01-04,AAPL,0.5\n2021-01-05,AAPL,0.7\n"


def rejected(body: str) -> str:
    with pytest.raises(ValidationError) as caught:
        parse_series(body.encode(), "text/csv")
    (violation,) = caught.value.violations
    assert violation.field == "file"
    return violation.description


def test_rows_are_stored_by_symbol_then_time_and_read_back_one_symbol_at_a_time():
    frame = parse_series(GOOD.encode(), "text/csv")
    assert frame["symbol"].tolist() == ["AAPL", "AAPL", "MSFT"]
    stamps, values = read_symbol(series_to_parquet(frame), "AAPL")
    assert [str(s)[:10] for s in stamps] == ["2021-01-04", "2021-01-05"] and values.tolist() == [0.5, 0.7]
    assert read_symbol(series_to_parquet(frame), "TSLA")[1].size == 0


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("2021-01-06,AAPL,high", "row 4: value 'high' is not a number"),
        ("2021-01-06,AA PL,0.1", "row 4: symbol 'AA PL' is not a ticker"),
        ("yesterday,AAPL,0.1", "row 4: timestamp 'yesterday' is not an ISO-8601"),
        ("2021-01-05,AAPL,0.9", "row 4: symbol AAPL already has a value at 2021-01-05"),
        ("2021-01-06,AAPL,inf", "row 4: value inf is not finite"),
    ],
)
def test_the_first_bad_row_is_named(row, message):
    assert rejected(GOOD + row + "\n").startswith(message)


def test_missing_columns_and_empty_files_are_refused():
    assert "lacks column(s) symbol" in rejected("timestamp,value\n2021-01-04,1\n")
    assert "has no data rows" in rejected("timestamp,symbol,value\n")


@pytest.mark.parametrize("name", ["", "../x", "a/b", "-x", "x" * 65, "a..b"])
def test_series_names_are_one_safe_key_segment(name):
    with pytest.raises(ValidationError):
        check_name(name)
    assert check_name("prediction_v2.1") == "prediction_v2.1"


def test_values_are_floats_and_stamps_naive_utc():
    frame = parse_series(b"date,symbol,value\n2021-01-04T10:00:00+02:00,AAPL,1\n", None)
    assert frame["value"].dtype == np.float64 and str(frame["timestamp"].iloc[0]) == "2021-01-04 08:00:00"
