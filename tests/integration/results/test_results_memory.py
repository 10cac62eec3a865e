"""Streaming a 1,000,000-bar equity curve keeps the results process's memory flat.

The service runs as its own process, so its resident set is measured, not the
test's. A small run is served first: the first request pays one-off costs
(pyarrow's Parquet and compute kernels, connection pools, worker threads)
whatever the file's size, and the claim is about what the big file adds. The
growth over the fresh process is printed too; it was 33-43 MB when written.

The typed stream (GetEquityCurve, a gRPC message per point, ~9,000 points/s)
reads a 200,000-point curve: about fifty batches, so a batch held too long
shows as well as with a million, in 20 s instead of 2 minutes. REST reads
the JSON text (GetEquityCurveJson), which streams the whole million.
"""

from __future__ import annotations

import json
import time

import grpc
import numpy as np
import pandas as pd
import psutil
import pytest

from backtest.v1 import results_pb2, results_pb2_grpc
from tests.fixtures.peak_rss import PeakRss

BARS = 1_000_000
TYPED_BARS = 200_000
LIMIT_MB = 50


def mb(n: float) -> float:
    return n / 2**20


@pytest.mark.timeout(900)
def test_one_million_bars_stream_in_flat_memory(launch_results, publish, store):
    index = pd.date_range("2015-01-02 09:30", periods=BARS, freq="min", name="date")
    equity = 1e5 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 1e-4, BARS)))
    big = publish(equity=pd.DataFrame({"equity": equity}, index=index))
    typed = publish(equity=pd.DataFrame({"equity": equity[:TYPED_BARS]}, index=index[:TYPED_BARS]))
    small = publish(equity=pd.DataFrame({"equity": [1.0]}, index=pd.DatetimeIndex(["2020-01-02"], name="date")))
    size = store.size(f"artifacts/results-tests/{big}/equity.parquet")

    with launch_results() as (address, proc), grpc.insecure_channel(address) as channel:
        stub = results_pb2_grpc.ResultsServiceStub(channel)
        started = psutil.Process(proc.pid).memory_info().rss
        # Warm-up: the one-off costs of a first request, whatever the file's size.
        list(stub.GetEquityCurve(results_pb2.GetEquityCurveRequest(backtest_id=small)))
        list(stub.DownloadEquityCurve(results_pb2.DownloadEquityCurveRequest(backtest_id=small)))
        list(stub.GetEquityCurveJson(results_pb2.GetEquityCurveJsonRequest(backtest_id=small)))
        warm = psutil.Process(proc.pid).memory_info().rss

        with PeakRss(proc.pid) as parquet_peak:
            clock = time.perf_counter()
            received = sum(
                len(b.data) for b in stub.DownloadEquityCurve(results_pb2.DownloadEquityCurveRequest(backtest_id=big))
            )
            parquet_s = time.perf_counter() - clock

        with PeakRss(proc.pid) as json_peak:
            clock = time.perf_counter()
            count, last = 0, None
            # `last` outlives the loop on purpose: the final point is checked below.
            for last in stub.GetEquityCurve(results_pb2.GetEquityCurveRequest(backtest_id=typed)):  # noqa: B007
                count += 1
            json_s = time.perf_counter() - clock

        # REST's JSON text (GetEquityCurveJson): pieces of row_printing.PIECE_BYTES, printed while earlier ones go.
        with PeakRss(proc.pid) as text_peak:
            clock = time.perf_counter()
            text_bytes, tail = 0, b""
            for body in stub.GetEquityCurveJson(results_pb2.GetEquityCurveJsonRequest(backtest_id=big)):
                text_bytes += len(body.data)
                tail = (tail + body.data)[-200:]
            text_s = time.perf_counter() - clock
    assert tail.endswith(b"}]")
    last_text = json.loads(tail[tail.rindex(b'{"date"') : -1])
    assert last_text == {"date": index[-1].isoformat(), "equity": equity[-1]}
    typed_end = TYPED_BARS - 1
    assert count == TYPED_BARS and last.date == index[typed_end].isoformat() and last.equity == equity[typed_end]
    assert received == size
    # Growth over the warmed-up process, and over the process as it started.
    growth = {
        name: (mb(peak.peak - warm), mb(peak.peak - started))
        for name, peak in (("parquet", parquet_peak), ("json", json_peak), ("text", text_peak))
    }
    print(
        f"\nresults RSS: started {mb(started):.1f} MB, after warm-up {mb(warm):.1f} MB"
        f"\nParquet download: {mb(size):.1f} MB in {parquet_s:.2f} s ({mb(size) / parquet_s:.1f} MB/s),"
        f" peak {mb(parquet_peak.peak):.1f} MB, growth {growth['parquet'][0]:.1f} MB"
        f" ({growth['parquet'][1]:.1f} MB over the fresh process)"
        f"\nJSON equity curve: {TYPED_BARS} points in {json_s:.2f} s ({TYPED_BARS / json_s:,.0f} points/s),"
        f" peak {mb(json_peak.peak):.1f} MB, growth {growth['json'][0]:.1f} MB"
        f" ({growth['json'][1]:.1f} MB over the fresh process)"
        f"\nJSON text (REST): {mb(text_bytes):.1f} MB in {text_s:.2f} s,"
        f" peak {mb(text_peak.peak):.1f} MB, growth {growth['text'][0]:.1f} MB"
        f" ({growth['text'][1]:.1f} MB over the fresh process)"
    )
    assert all(grown < LIMIT_MB for grown, _ in growth.values()), growth
