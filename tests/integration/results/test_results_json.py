"""REST's JSON text of curves and trades, from the results service over gRPC: the Parquet content, point for point.

GetEquityCurveJson and GetTradesJson are what the gateway's equity-curve and
trades routes read; their HttpBody chunks, joined, are the response body.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from backtest.v1 import results_pb2
from tests.integration.results.conftest import synthetic_trades

BARS = 1_000_000


def json_body(call) -> tuple[str, bytes, int]:
    """(content type of the first chunk, the joined body, number of chunks)."""
    bodies = list(call)
    return bodies[0].content_type, b"".join(body.data for body in bodies), len(bodies)


def parquet_table(results, backtest_id: str, kind: str):
    if kind == "equity":
        call = results.DownloadEquityCurve(results_pb2.DownloadEquityCurveRequest(backtest_id=backtest_id))
    else:
        call = results.DownloadTrades(results_pb2.DownloadTradesRequest(backtest_id=backtest_id))
    return pq.read_table(io.BytesIO(b"".join(body.data for body in call)))


def test_a_million_bar_curve_is_its_parquet_point_for_point(results, publish):
    index = pd.date_range("2015-01-02 09:30", periods=BARS, freq="min", name="date")
    equity = 1e5 * np.exp(np.cumsum(np.random.default_rng(3).normal(0, 1e-4, BARS)))
    equity[::1000] = np.round(equity[::1000])  # whole numbers print without a fraction
    backtest_id = publish(equity=pd.DataFrame({"equity": equity}, index=index))

    content_type, body, chunks = json_body(
        results.GetEquityCurveJson(results_pb2.GetEquityCurveJsonRequest(backtest_id=backtest_id))
    )
    points = json.loads(body)
    stored = parquet_table(results, backtest_id, "equity")
    assert content_type == "application/json" and chunks > 10  # streamed, not one message
    assert len(points) == stored.num_rows == BARS
    assert [p["date"] for p in points] == [t.isoformat() for t in stored.column("date").to_pandas()]
    assert [p["equity"] for p in points] == stored.column("equity").to_pylist()  # exact doubles
    assert body.startswith(b'[{"date":"2015-01-02T09:30:00","equity":') and body.endswith(b"}]")


def test_trades_are_their_parquet_and_a_run_without_trades_is_an_empty_array(results, publish):
    rng = np.random.default_rng(5)
    n = 5_000
    entries = pd.date_range("2020-01-02", periods=n, freq="D")
    last_open = np.arange(n) == n - 1  # the last one is open
    trades = synthetic_trades(rng, entries, pd.Series(entries + pd.Timedelta(days=2)), last_open)
    backtest_id = publish(equity=pd.DataFrame({"equity": [1.0]}, index=pd.DatetimeIndex(["2020-01-02"], name="date")),
                          trades=trades)  # fmt: skip
    _, body, _ = json_body(results.GetTradesJson(results_pb2.GetTradesJsonRequest(backtest_id=backtest_id)))
    got = json.loads(body)
    stored = parquet_table(results, backtest_id, "trades").to_pandas()
    assert len(got) == len(stored) == n
    for name in ("side", "entry_price", "exit_price", "size", "pnl", "return_pct", "status"):
        assert [row[name] for row in got] == stored[name].tolist(), name
    assert [row["entry_date"] for row in got] == [d.strftime("%Y-%m-%d") for d in stored["entry_date"]]
    assert [row.get("exit_date") for row in got[:-1]] == [d.strftime("%Y-%m-%d") for d in stored["exit_date"][:-1]]
    assert "exit_date" not in got[-1] and got[-1]["status"] == "open"

    empty = publish(
        equity=pd.DataFrame({"equity": [1.0]}, index=pd.DatetimeIndex(["2020-01-02"], name="date")),
        trades=trades.iloc[:0],
    )
    content_type, body, chunks = json_body(results.GetTradesJson(results_pb2.GetTradesJsonRequest(backtest_id=empty)))
    assert (content_type, body, chunks) == ("application/json", b"[]", 1)
    assert list(results.GetTrades(results_pb2.GetTradesRequest(backtest_id=empty))) == []
