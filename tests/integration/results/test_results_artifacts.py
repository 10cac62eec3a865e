"""Equity curves and trade lists over gRPC, as JSON rows and as Parquet downloads, from real S3."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from backtest.v1 import results_pb2

EQUITY = pd.DataFrame(
    {"equity": [100000.0, 100412.5, 101093.8]},
    index=pd.DatetimeIndex(["2020-01-02", "2020-01-03", "2020-01-06"], name="date"),
)
TRADES = pd.DataFrame(
    {
        "entry_date": pd.to_datetime(["2020-01-02", "2020-02-03"]),
        "exit_date": pd.to_datetime(["2020-01-10", None]),
        "side": ["long", "short"],
        "entry_price": [100.0, 110.0],
        "exit_price": [104.1, 108.0],
        "size": [100.0, 50.0],
        "pnl": [412.5, 98.0],
        "return_pct": [0.04125, 0.0178],
        "status": ["closed", "open"],
    }
)


def download(results, kind: str, backtest_id: str) -> tuple[dict, list]:
    """Initial metadata and messages of one download call; kind is "equity" or "trades"."""
    if kind == "equity":
        call = results.DownloadEquityCurve(results_pb2.DownloadEquityCurveRequest(backtest_id=backtest_id))
    else:
        call = results.DownloadTrades(results_pb2.DownloadTradesRequest(backtest_id=backtest_id))
    bodies = list(call)
    return dict(call.initial_metadata()), bodies


def test_equity_curve_rows_one_per_bar(results, publish):
    backtest_id = publish(equity=EQUITY, trades=TRADES)
    points = list(results.GetEquityCurve(results_pb2.GetEquityCurveRequest(backtest_id=backtest_id)))
    assert [(p.date, p.equity) for p in points] == [
        ("2020-01-02", 100000.0),
        ("2020-01-03", 100412.5),
        ("2020-01-06", 101093.8),
    ]


def test_intraday_equity_curve_prints_date_times_across_batches(results, publish):
    # More bars than one record batch holds, starting at midnight as a 24-hour market would.
    index = pd.date_range("2021-03-01", periods=40_000, freq="min", name="date")
    frame = pd.DataFrame({"equity": np.linspace(1.0, 2.0, index.size)}, index=index)
    points = list(results.GetEquityCurve(results_pb2.GetEquityCurveRequest(backtest_id=publish(equity=frame))))
    assert len(points) == index.size
    assert points[0].date == "2021-03-01T00:00:00" and points[-1].date == index[-1].isoformat()
    assert [p.equity for p in points] == frame["equity"].tolist()


def test_trades_rows_with_an_open_trade(results, publish):
    backtest_id = publish(equity=EQUITY, trades=TRADES)
    closed, still_open = results.GetTrades(results_pb2.GetTradesRequest(backtest_id=backtest_id))
    assert (closed.entry_date, closed.exit_date, closed.side, closed.pnl) == ("2020-01-02", "2020-01-10", "long", 412.5)
    assert (closed.entry_price, closed.exit_price, closed.size, closed.return_pct) == (100.0, 104.1, 100.0, 0.04125)
    assert not still_open.HasField("exit_date") and still_open.status == "open" and still_open.side == "short"


@pytest.mark.parametrize("kind", ["equity", "trades"])
def test_parquet_download_is_the_stored_file(results, publish, store, kind):
    backtest_id = publish(equity=EQUITY, trades=TRADES)
    metadata, bodies = download(results, kind, backtest_id)
    assert metadata["content-disposition"] == f"attachment; filename={kind}_{backtest_id}.parquet"
    assert bodies[0].content_type == "application/vnd.apache.parquet"
    data = b"".join(b.data for b in bodies)
    assert data == store.get_bytes(f"artifacts/results-tests/{backtest_id}/{kind}.parquet")
    frame = pd.read_parquet(io.BytesIO(data))
    if kind == "equity":
        assert frame.index.name == "date" and isinstance(frame.index, pd.DatetimeIndex)
        assert list(frame.columns) == ["equity"]
        pd.testing.assert_frame_equal(frame, EQUITY)
    else:
        assert isinstance(frame.index, pd.RangeIndex) and list(frame.columns) == list(TRADES.columns)
        pd.testing.assert_frame_equal(frame, TRADES)


def test_download_spanning_many_chunks(results, publish, store):
    rng = np.random.default_rng(7)  # random values do not compress: several MiB on disk
    index = pd.date_range("2000-01-01", periods=600_000, freq="min", name="date")
    frame = pd.DataFrame({"equity": rng.normal(1e5, 1e3, index.size)}, index=index)
    backtest_id = publish(equity=frame)
    _, bodies = download(results, "equity", backtest_id)
    assert len(bodies) > 3 and all(not b.content_type for b in bodies[1:])
    assert b"".join(b.data for b in bodies) == store.get_bytes(f"artifacts/results-tests/{backtest_id}/equity.parquet")
