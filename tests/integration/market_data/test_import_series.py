"""ImportBars, ListSeries and GetSeries against the real catalog, PostgreSQL and S3."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

import grpc
import pandas as pd
import pytest
from google.rpc import error_details_pb2, status_pb2

from backtest.v1 import catalog_pb2
from services.adapters.market_data import PARQUET_TYPE, read_bars, version_key
from services.catalog.import_bars import import_file
from services.domain.errors import ValidationError

CSV = (
    b"Date,Open,High,Low,Close,Volume\n"
    b"2020-01-02,10,11,9,10.5,100\n"
    b"2020-01-03,10.5,12,10,11,200\n"
    b"2020-01-06,11,11.5,10.2,10.2,150\n"
)


def summary_tuple(summary) -> tuple:
    """The fields of a SeriesSummary, for comparing."""
    return (summary.symbol, summary.timeframe, summary.start, summary.end, summary.rows, summary.sha256)


def test_import_stores_parquet_and_indexes_it(stub, market_store, symbol):
    summary = import_file(stub, symbol, "1d", CSV, "text/csv")
    assert summary_tuple(summary)[:5] == (symbol, "1d", "2020-01-02T00:00:00", "2020-01-06T00:00:00", 3)
    stored = market_store.get_bytes(version_key(symbol, "1d", summary.sha256))
    assert summary.sha256 == hashlib.sha256(stored).hexdigest()
    bars = read_bars(stored)
    assert bars["close"].tolist() == [10.5, 11.0, 10.2]
    assert stub.GetSeries(catalog_pb2.GetSeriesRequest(symbol=symbol, timeframe="1d")) == summary
    listed = [s for s in stub.ListSeries(catalog_pb2.ListSeriesRequest()) if s.symbol == symbol]
    assert listed == [summary]


def test_parquet_without_a_content_type_is_sniffed(stub, symbol):
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range("2021-03-01 14:30", periods=5, freq="min"),
            "open": 1.0,
            "high": 2.0,
            "low": 0.5,
            "close": 1.5,
            "volume": 10,
        }
    )
    summary = import_file(stub, symbol, "1m", frame.to_parquet(index=False), "")
    assert (summary.start, summary.end, summary.rows) == ("2021-03-01T14:30:00", "2021-03-01T14:34:00", 5)


def test_import_replaces_the_series(stub, market_store, symbol):
    first = import_file(stub, symbol, "1d", CSV, "text/csv")
    second = import_file(stub, symbol, "1d", CSV.rsplit(b"\n", 2)[0] + b"\n", "text/csv")
    assert (second.rows, second.end) == (2, "2020-01-03T00:00:00") and second.sha256 != first.sha256
    assert len(read_bars(market_store.get_bytes(version_key(symbol, "1d", second.sha256)))) == 2
    assert [s.rows for s in stub.ListSeries(catalog_pb2.ListSeriesRequest()) if s.symbol == symbol] == [2]


def test_concurrent_imports_leave_file_and_row_agreeing(stub, market_store, symbol):
    files = [CSV, CSV.rsplit(b"\n", 2)[0] + b"\n", CSV.rsplit(b"\n", 3)[0] + b"\n"] * 3
    with ThreadPoolExecutor(len(files)) as pool:
        list(pool.map(lambda data: import_file(stub, symbol, "1d", data, "text/csv"), files))
    row = stub.GetSeries(catalog_pb2.GetSeriesRequest(symbol=symbol, timeframe="1d"))
    assert row.sha256 == hashlib.sha256(market_store.get_bytes(version_key(symbol, "1d", row.sha256))).hexdigest()


def call_error(call) -> grpc.RpcError:
    """The RpcError a call fails with."""
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def violations(err: grpc.RpcError) -> dict[str, str]:
    """field -> description of the BadRequest detail, after checking the 422 the gateway will send."""
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(err.initial_metadata())["x-http-code"] == "422"
    status = status_pb2.Status.FromString(dict(err.trailing_metadata())["grpc-status-details-bin"])
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    return {v.field: v.description for v in bad.field_violations}


def import_request(symbol: str, timeframe: str, data: bytes, content_type: str = "text/csv"):
    """An ImportBarsRequest, as the gateway builds it from a PUT."""
    request = catalog_pb2.ImportBarsRequest(symbol=symbol, timeframe=timeframe)
    request.file.content_type, request.file.data = content_type, data
    return request


def test_bad_file_is_422_naming_the_row_and_stores_nothing(stub, market_store, symbol):
    bad = CSV.replace(b"2020-01-03,10.5,12,10,11", b"2020-01-03,10.5,9.5,10,11")
    err = call_error(lambda: stub.ImportBars(import_request(symbol, "1d", bad)))
    assert violations(err) == {"file": "row 2: high 9.5 is below max(open, close) 11"}
    assert market_store.list_keys(f"market-data/{symbol}/") == []
    assert (
        call_error(lambda: stub.GetSeries(catalog_pb2.GetSeriesRequest(symbol=symbol, timeframe="1d"))).code()
        == grpc.StatusCode.NOT_FOUND
    )


def test_bad_file_leaves_the_existing_series_alone(stub, market_store, symbol):
    before = import_file(stub, symbol, "1d", CSV, "text/csv")
    with pytest.raises(ValidationError):
        import_file(stub, symbol, "1d", CSV + b"2020-01-06,1,1,1,1,1\n", "text/csv")
    assert stub.GetSeries(catalog_pb2.GetSeriesRequest(symbol=symbol, timeframe="1d")) == before
    assert hashlib.sha256(market_store.get_bytes(version_key(symbol, "1d", before.sha256))).hexdigest() == before.sha256


@pytest.mark.parametrize(
    ("symbol_", "timeframe", "fields"),
    [("A/B", "1d", {"symbol"}), ("AAPL", "1mo", {"timeframe"}), ("", "", {"symbol", "timeframe"})],
)
def test_bad_address_is_422_naming_the_field(stub, symbol_, timeframe, fields):
    assert set(violations(call_error(lambda: stub.ImportBars(import_request(symbol_, timeframe, CSV))))) == fields
    request = catalog_pb2.GetSeriesRequest(symbol=symbol_, timeframe=timeframe)
    assert set(violations(call_error(lambda: stub.GetSeries(request)))) == fields


def test_unknown_series_is_404_naming_it(stub, symbol):
    import_file(stub, symbol, "1d", CSV, "text/csv")
    err = call_error(lambda: stub.GetSeries(catalog_pb2.GetSeriesRequest(symbol=symbol, timeframe="1h")))
    assert err.code() == grpc.StatusCode.NOT_FOUND and f"{symbol}/1h" in err.details()


def test_parquet_upload_with_a_wrong_row(stub, symbol):
    frame = pd.DataFrame(
        {
            "timestamp": ["2020-01-02", "2020-01-02"],
            "open": [1.0, 1.0],
            "high": [1.0, 1.0],
            "low": [1.0, 1.0],
            "close": [1.0, 1.0],
            "volume": [0.0, 0.0],
        }
    )
    with pytest.raises(ValidationError) as caught:
        import_file(stub, symbol, "1d", frame.to_parquet(index=False), PARQUET_TYPE)
    assert caught.value.violations[0].description.startswith("row 2: timestamp 2020-01-02 00:00:00 repeats")
    err = call_error(lambda: stub.GetSeries(catalog_pb2.GetSeriesRequest(symbol=symbol, timeframe="1d")))
    assert err.code() == grpc.StatusCode.NOT_FOUND
