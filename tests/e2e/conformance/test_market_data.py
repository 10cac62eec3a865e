"""PUT /market-data/{symbol}/{timeframe} (CSV or Parquet body), GET /market-data and GET one series."""

from __future__ import annotations

import pandas as pd
import pytest

from . import synthetic_bars
from .conftest import Series, import_series
from .contract import SERIES_FIELDS, assert_not_found, assert_rejected, is_sha256
from .runs import create_strategy, run_to_completion

HEADER = "timestamp,open,high,low,close,volume\n"
GOOD_ROW = "2021-01-04,10,11,9,10.5,100\n"


def csv_with_bad_row(bad: str) -> bytes:
    """Two good data rows, then `bad` as data row 3, then a good row."""
    rows = [GOOD_ROW, "2021-01-05,10.5,11,10,10.8,100\n", bad, "2021-01-08,10,11,9,10.5,100\n"]
    return (HEADER + "".join(rows)).encode()


def put_csv(api, symbol: str, body: bytes, timeframe: str = "1d"):
    return api.put(f"/market-data/{symbol}/{timeframe}", body=body, content_type="text/csv")


@pytest.fixture(scope="module")
def small(api) -> Series:
    """60 daily bars under a symbol of this module."""
    return import_series(api, synthetic_bars.unique_symbol(), "1d", synthetic_bars.daily(60, seed=3))


def test_import_answers_the_series_summary(small: Series) -> None:
    summary = small.summary
    assert set(summary) == SERIES_FIELDS
    assert summary["symbol"] == small.symbol and summary["timeframe"] == "1d"
    assert summary["rows"] == 60
    assert pd.Timestamp(summary["start"]) == small.frame.index[0]
    assert pd.Timestamp(summary["end"]) == small.frame.index[-1]
    assert is_sha256(summary["sha256"])


def test_get_series_returns_the_summary(api, small: Series) -> None:
    response = api.get(f"/market-data/{small.symbol}/1d")
    assert response.status == 200, response
    assert response.json() == small.summary


def test_list_series_is_an_array_of_summaries_holding_the_import(api, small: Series) -> None:
    response = api.get("/market-data")
    assert response.status == 200, response
    listed = response.json()
    assert isinstance(listed, list)
    assert all(set(entry) == SERIES_FIELDS for entry in listed)
    assert small.summary in listed


def test_import_replaces_the_series(api) -> None:
    symbol = synthetic_bars.unique_symbol()
    first = import_series(api, symbol, "1d", synthetic_bars.daily(40, seed=1))
    second = import_series(api, symbol, "1d", synthetic_bars.daily(25, start="2022-03-01", seed=2))
    assert second.summary["rows"] == 25 and second.summary["sha256"] != first.summary["sha256"]
    assert pd.Timestamp(second.summary["start"]) == pd.Timestamp("2022-03-01")
    assert api.get(f"/market-data/{symbol}/1d").json() == second.summary


def test_a_parquet_body_imports_too(api) -> None:
    symbol = synthetic_bars.unique_symbol()
    frame = synthetic_bars.daily(30, seed=5)
    response = api.put(
        f"/market-data/{symbol}/1d",
        body=synthetic_bars.to_parquet(frame),
        content_type="application/vnd.apache.parquet",
    )
    assert response.status == 200, response
    assert response.json()["rows"] == 30
    assert pd.Timestamp(response.json()["end"]) == frame.index[-1]


def test_a_minute_series_keeps_its_times(api) -> None:
    symbol = synthetic_bars.unique_symbol()
    series = import_series(api, symbol, "1m", synthetic_bars.minutes(90))
    assert series.summary["rows"] == 90
    assert pd.Timestamp(series.summary["end"]) == pd.Timestamp("2022-01-03 01:29")


@pytest.mark.parametrize(
    "bad_row",
    [
        "2021-01-06,abc,11,9,10.5,100\n",  # not a number
        "2021-01-06,10,11,9,,100\n",  # missing close
        "not-a-date,10,11,9,10.5,100\n",  # unparseable timestamp
        "2021-01-06,10,9.5,9,10.5,100\n",  # high below the candle body
        "2021-01-06,-10,11,9,10.5,100\n",  # negative price
        "2021-01-05,10,11,9,10.5,100\n",  # repeats the previous timestamp
    ],
    ids=["not-a-number", "missing-close", "bad-timestamp", "high-below-body", "negative-price", "unsorted"],
)
def test_bad_csv_is_422_naming_the_first_bad_row_and_changes_nothing(api, small: Series, bad_row: str) -> None:
    response = put_csv(api, small.symbol, csv_with_bad_row(bad_row))
    body = assert_rejected(response, "file")
    assert "row 3" in body["message"], response
    assert api.get(f"/market-data/{small.symbol}/1d").json() == small.summary


def test_of_several_bad_rows_the_first_is_named(api) -> None:
    rows = [GOOD_ROW, "2021-01-05,10,11,9,10.5,-1\n", "2021-01-06,x,11,9,10.5,100\n"]
    body = assert_rejected(put_csv(api, synthetic_bars.unique_symbol(), (HEADER + "".join(rows)).encode()), "file")
    assert "row 2" in body["message"] and "row 3" not in body["message"], body


def test_bad_csv_for_a_new_symbol_stores_nothing(api) -> None:
    symbol = synthetic_bars.unique_symbol()
    assert_rejected(put_csv(api, symbol, csv_with_bad_row("2021-01-06,x,1,1,1,1\n")), "file")
    assert_not_found(api.get(f"/market-data/{symbol}/1d"))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"garbage without columns\n",
        (HEADER).encode(),
        b"timestamp;open;high;low;close;volume\n2021-01-04;1;1;1;1;1\n",
    ],
    ids=["empty", "no-columns", "header-only", "semicolons"],
)
def test_unusable_files_are_422_on_file(api, body: bytes) -> None:
    assert_rejected(put_csv(api, synthetic_bars.unique_symbol(), body), "file")


def test_unknown_timeframe_is_422(api) -> None:
    assert_rejected(
        put_csv(api, synthetic_bars.unique_symbol(), (HEADER + GOOD_ROW).encode(), timeframe="2d"), "timeframe"
    )


def test_unknown_series_is_404(api, small: Series) -> None:
    missing = synthetic_bars.unique_symbol("NONE")
    assert_not_found(api.get(f"/market-data/{missing}/1d"), missing)
    assert_not_found(api.get(f"/market-data/{small.symbol}/1h"), small.symbol)


@pytest.mark.parametrize("shape", ["^{}", "{}=X", "{}.B", "{}-USD"])
def test_vendor_tickers_import_and_run_like_any_other(api, shape: str) -> None:
    # Regression: the run config accepted `^` and `=`, the import did not, so such a
    # backtest could be created but its bars never stored. One grammar now serves both.
    symbol = shape.format(synthetic_bars.unique_symbol("V")[:12])
    path_symbol = symbol.replace("^", "%5E")  # how an HTTP client writes `^` in a path
    series = import_series(api, path_symbol, "1d", synthetic_bars.daily(60, seed=5))
    assert series.summary["symbol"] == symbol
    assert api.get(f"/market-data/{path_symbol}/1d").json() == series.summary
    strategy = create_strategy(api, "vendor tickers")
    config = {**series.config(), "symbol": symbol}
    assert run_to_completion(api, strategy["id"], config)["status"] == "completed"
