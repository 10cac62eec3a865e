"""Downloading a 1,000,350-point equity curve: Parquet and JSON through the gateway, Parquet straight from S3.

The run covers the whole SYNTH1M minute series (bars_per_year defaults from
the timeframe). Downloads are read 1 MiB at a time, as a streaming client
would; MB are 10^6 bytes. The JSON curve is read for at most
`json_seconds` and its rate extrapolated.
"""

from __future__ import annotations

import io
import statistics
import time

import pyarrow.parquet as pq

from bench.report import Figure
from bench.session import Session
from bench.workload import create_backtest, create_strategy, execute_sync

SECTION = "downloads"
SYMBOL, TIMEFRAME = "SYNTH1M", "1m"
DOWNLOADS = 3
_POINT = b'"equity"'


def minute_config(series: dict) -> dict:
    """The crossover over the whole stored minute series."""
    return {
        "symbol": SYMBOL,
        "timeframe": TIMEFRAME,
        "start_date": series["start"],
        "end_date": series["end"],
        "signal_plugin_key": "crossover_signal",
        "signal_plugin_params": {"fast_period": 10, "slow_period": 50},
        "risk_free_rate": 0.04,
        "size_type": "percent",
    }


def _parquet_via_gateway(session: Session, backtest_id: str) -> tuple[float, float, bytes]:
    """(seconds to the first byte, seconds to the last, the file)."""
    parts, first = [], None
    began = time.perf_counter()
    for chunk in session.client.stream(f"/backtests/{backtest_id}/equity-curve/parquet"):
        if first is None:
            first = time.perf_counter() - began
        parts.append(chunk)
    return first or 0.0, time.perf_counter() - began, b"".join(parts)


def _parquet_from_s3(session: Session, uri: str) -> tuple[float, int]:
    began, size = time.perf_counter(), 0
    for chunk in session.store.stream(session.store.key_of(uri)):
        size += len(chunk)
    return time.perf_counter() - began, size


def _json_points(session: Session, backtest_id: str) -> tuple[float, int, bool]:
    """(seconds read, points read, whether the whole array arrived)."""
    points, tail, complete = 0, b"", True
    began = time.perf_counter()
    limit = session.options.json_seconds
    for chunk in session.client.stream(
        f"/backtests/{backtest_id}/equity-curve", chunk_bytes=1 << 16, max_seconds=limit
    ):
        window = tail + chunk
        points += window.count(_POINT)
        tail = window[-(len(_POINT) - 1) :]
        if time.perf_counter() - began > limit:
            complete = False
    return time.perf_counter() - began, points, complete


def run(session: Session) -> None:
    """Time the curve downloads of a million-bar run: Parquet and JSON through the gateway, Parquet from S3."""
    add = session.report.add
    session.say("downloads: a million-bar vectorbt run")
    if not session.fleet.names():
        session.fleet.ensure(1)
    series = session.client.call("GET", f"/market-data/{SYMBOL}/{TIMEFRAME}")
    strategy_id = create_strategy(session.client, "downloads")
    backtest_id = create_backtest(session.client, strategy_id, "vectorbt", minute_config(series))
    took, result = execute_sync(session.client, backtest_id)
    session.say(f"  sync execute over {series['rows']:,} bars: {took:.2f} s")
    add(SECTION, Figure(f"vectorbt sync execute over {series['rows']:,} one-minute bars (first run)", took, "s"))

    timings = [_parquet_via_gateway(session, backtest_id) for _ in range(DOWNLOADS)]
    data = timings[-1][2]
    rows = pq.read_metadata(io.BytesIO(data)).num_rows
    seconds = statistics.median(t[1] for t in timings)
    mb = len(data) / 1e6
    s3_seconds = statistics.median(_parquet_from_s3(session, result["equity_curve_uri"])[0] for _ in range(DOWNLOADS))
    session.say(
        f"  Parquet {mb:.2f} MB, {rows:,} rows: gateway {seconds:.3f} s (first byte after"
        f" {statistics.median(t[0] for t in timings) * 1e3:.0f} ms), S3 directly {s3_seconds:.3f} s"
    )
    add(SECTION, Figure(f"equity Parquet size ({rows:,} rows)", mb, "MB"))
    add(
        SECTION,
        Figure(
            f"equity Parquet download via gateway (median of {DOWNLOADS})",
            mb / seconds,
            "MB/s",
            baseline=mb / s3_seconds,
            baseline_label="S3 GET in-process",
            ratio=s3_seconds / seconds,
        ),
    )

    read_s, points, complete = _json_points(session, backtest_id)
    rate = points / read_s
    how = "whole curve" if complete else f"first {read_s:.0f} s, ~{rows / rate:.0f} s for all {rows:,}"
    session.say(f"  JSON: {points:,} points in {read_s:.2f} s ({how})")
    add(
        SECTION,
        Figure(
            f"equity JSON via gateway ({how})",
            rate,
            "points/s",
            baseline=rows / seconds,
            baseline_label="Parquet rows/s",
            ratio=rate / (rows / seconds),
        ),
    )
