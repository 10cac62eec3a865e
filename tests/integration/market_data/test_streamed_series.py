"""UploadBars, AppendBars and DownloadBars against the real catalog process, PostgreSQL and S3.

The REST side (the gateway streaming a body up) is tests/e2e/test_market_data_at_scale.py;
here the gRPC streams are driven directly, chunk sizes and all.
"""

from __future__ import annotations

import hashlib
import io
import json
import time

import grpc
import pandas as pd
import pytest

from backtest.v1 import catalog_pb2
from services.adapters.market_data import bars_to_parquet, parse_bars, read_bars, version_key
from services.catalog.import_bars import import_file, upload
from services.domain.errors import ConflictError, NotFoundError, ValidationError


def csv_rows(count: int, *, start: str = "2021-03-01 09:30", bump: float = 0.0) -> bytes:
    """A CSV of `count` valid minute bars."""
    stamps = pd.date_range(start, periods=count, freq="min").strftime("%Y-%m-%dT%H:%M:%S")
    lines = [
        f"{stamp},{10 + i % 7 + bump},{12 + i % 7 + bump},{9 + i % 7 + bump},{11 + i % 7 + bump},{i}"
        for i, stamp in enumerate(stamps)
    ]
    return ("timestamp,open,high,low,close,volume\n" + "\n".join(lines) + "\n").encode()


def pieces(data: bytes, size: int) -> list[bytes]:
    """`data` cut into pieces of `size` bytes (the last shorter)."""
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("piece_bytes", [1, 7, 4096, 1 << 20])
def test_any_cut_of_the_stream_stores_the_same_file(stub, market_store, symbol, piece_bytes):
    data = csv_rows(300)
    summary = upload(stub, symbol, "1m", pieces(data, piece_bytes), "text/csv")
    expected = bars_to_parquet(parse_bars(data, "text/csv"))
    assert summary.sha256 == hashlib.sha256(expected).hexdigest()
    assert market_store.get_bytes(version_key(symbol, "1m", summary.sha256)) == expected


def test_a_streamed_parquet_upload_is_spooled_and_checked(stub, symbol):
    parquet = bars_to_parquet(parse_bars(csv_rows(500), "text/csv"))
    summary = upload(stub, symbol, "1m", pieces(parquet, 1000), "")  # no content type: sniffed
    assert (summary.rows, summary.start) == (500, "2021-03-01T09:30:00")


def test_append_adds_only_new_bars_and_refuses_a_changed_overlap(stub, symbol):
    data = csv_rows(200)
    first = import_file(stub, symbol, "1m", csv_rows(150), "text/csv")
    header, *rows = data.decode().splitlines()
    overlap = (header + "\n" + "\n".join(rows[140:]) + "\n").encode()
    appended = upload(stub, symbol, "1m", [overlap], "text/csv", append=True)
    whole = import_file(stub, symbol + "W", "1m", data, "text/csv")
    assert (appended.rows, appended.end, appended.sha256) == (200, whole.end, whole.sha256)
    assert appended.start == first.start
    changed = overlap.replace(rows[145].encode(), (rows[145].rsplit(",", 1)[0] + ",149").encode())  # file row 6
    with pytest.raises(ConflictError) as caught:
        upload(stub, symbol, "1m", [changed], "text/csv", append=True)
    assert caught.value.message.startswith("row 6: volume 149 differs from the stored bar's 145")
    skipping = (header + "\n" + rows[140] + "\n" + "\n".join(rows[142:]) + "\n").encode()
    with pytest.raises(ConflictError) as skipped:
        upload(stub, symbol, "1m", [skipping], "text/csv", append=True)
    assert skipped.value.message.startswith("row 2: timestamp 2021-03-01 11:52:00 is not the stored bar there")
    assert stub.GetSeries(catalog_pb2.GetSeriesRequest(symbol=symbol, timeframe="1m")) == appended


def test_append_to_a_missing_series_is_404_and_bad_rows_are_422(stub, symbol):
    with pytest.raises(NotFoundError):
        upload(stub, symbol, "1m", [csv_rows(3)], "text/csv", append=True)
    import_file(stub, symbol, "1m", csv_rows(10), "text/csv")
    later = csv_rows(5, start="2021-03-02 09:30").replace(b",3\n", b",-3\n")
    with pytest.raises(ValidationError) as caught:
        upload(stub, symbol, "1m", [later], "text/csv", append=True)
    assert caught.value.violations[0].description == "row 4: volume -3 is negative"


def test_download_streams_the_stored_file_or_a_window(stub, market_store, symbol):
    data = csv_rows(3000)
    summary = import_file(stub, symbol, "1m", data, "text/csv")
    request = catalog_pb2.DownloadBarsRequest(symbol=symbol, timeframe="1m")
    whole = b"".join(body.data for body in stub.DownloadBars(request))
    assert whole == market_store.get_bytes(version_key(symbol, "1m", summary.sha256))
    window = catalog_pb2.DownloadBarsRequest(
        symbol=symbol, timeframe="1m", start="2021-03-01T10:00:00", end="2021-03-01T10:09:00", format="csv"
    )
    bodies = list(stub.DownloadBars(window))
    assert bodies[0].content_type == "text/csv"
    text = b"".join(body.data for body in bodies).decode()
    assert text.splitlines()[0] == "timestamp,open,high,low,close,volume"
    assert text.splitlines()[1].startswith("2021-03-01T10:00:00,") and len(text.splitlines()) == 11
    empty = catalog_pb2.DownloadBarsRequest(symbol=symbol, timeframe="1m", start="2030-01-01")
    assert len(read_bars(b"".join(body.data for body in stub.DownloadBars(empty)))) == 0


def test_download_as_json_is_every_stored_bar_exactly(stub, symbol):
    data = csv_rows(3000)
    import_file(stub, symbol, "1m", data, "text/csv")
    request = catalog_pb2.DownloadBarsRequest(symbol=symbol, timeframe="1m", format="json")
    bodies = list(stub.DownloadBars(request))
    assert bodies[0].content_type == "application/json"
    stored = read_bars(b"".join(body.data for body in stub.DownloadBars(catalog_pb2.DownloadBarsRequest(
        symbol=symbol, timeframe="1m"))))  # fmt: skip
    bars = json.loads(b"".join(body.data for body in bodies))
    assert len(bars) == len(stored) == 3000
    assert list(bars[0]) == ["timestamp", "open", "high", "low", "close", "volume"]
    frame = pd.DataFrame(bars)
    assert (pd.to_datetime(frame["timestamp"]).to_numpy() == stored.index.to_numpy()).all()
    for name in ("open", "high", "low", "close", "volume"):  # the same doubles, not just close ones
        assert (frame[name].to_numpy(float) == stored[name].to_numpy(float)).all(), name
    window = catalog_pb2.DownloadBarsRequest(
        symbol=symbol, timeframe="1m", start="2021-03-01T10:00:00", end="2021-03-01T10:09:00", format="JSON"
    )
    assert [bar["timestamp"] for bar in json.loads(b"".join(body.data for body in stub.DownloadBars(window)))] == [
        f"2021-03-01T10:0{minute}:00" for minute in range(10)
    ]
    empty = catalog_pb2.DownloadBarsRequest(symbol=symbol, timeframe="1m", start="2030-01-01", format="json")
    assert b"".join(body.data for body in stub.DownloadBars(empty)) == b"[]"


def test_a_bad_window_is_422_and_an_unknown_series_404(stub, symbol):
    bad = catalog_pb2.DownloadBarsRequest(symbol=symbol, timeframe="1m", start="soon", end="2020-01-01", format="xls")
    with pytest.raises(grpc.RpcError) as caught:
        list(stub.DownloadBars(bad))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as missing:
        list(stub.DownloadBars(catalog_pb2.DownloadBarsRequest(symbol=symbol, timeframe="1m")))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_replaced_version_is_collected_after_the_grace_and_a_current_one_never(
    stub, market_store, symbol, collection_grace_s
):
    first = import_file(stub, symbol, "1m", csv_rows(100), "text/csv")
    second = import_file(stub, symbol, "1m", csv_rows(100, bump=1.0), "text/csv")
    old, new = version_key(symbol, "1m", first.sha256), version_key(symbol, "1m", second.sha256)
    assert market_store.size(old) is not None  # still readable by runs that hold its URI
    deadline = time.monotonic() + collection_grace_s + 20
    while market_store.size(old) is not None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert market_store.size(old) is None and market_store.size(new) is not None
    # Importing a version again that was retired keeps it: the series names it.
    third = import_file(stub, symbol, "1m", csv_rows(100), "text/csv")
    back_again = import_file(stub, symbol, "1m", csv_rows(100, bump=1.0), "text/csv")
    assert back_again.sha256 == second.sha256 and third.sha256 == first.sha256
    time.sleep(collection_grace_s + 3)
    assert market_store.size(new) is not None
    assert read_bars(io.BytesIO(market_store.get_bytes(new)))["open"].iloc[0] == 11.0
