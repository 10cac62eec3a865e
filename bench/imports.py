"""Importing a million minute bars as CSV through the API, against pyarrow doing the same work in process.

The file is the sample data's synthetic minute series (services.catalog.sample_data),
written as CSV with ISO timestamps and 6-decimal prices, about 70 MB. The
platform's figure is a streamed `PUT /api/v1/market-data/{symbol}/1m`, the
file read 1 MiB at a time as a client would send it: through the gateway to
the catalog, which validates, converts, hashes and stores it (S3, then the
series row). The baseline is pyarrow in this process reading the same CSV
(multi-threaded) and writing it as the platform stores bars (zstd, 65,536-row
groups) to memory: the conversion alone, no validation, no network, no store.
The gateway's and the catalog's resident-set growth during the upload is
reported too (issue 16 asks for under 200 MB each), and the bars' Parquet
download through the gateway against S3 read directly. MB are 10^6 bytes.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from bench.report import Figure, Target
from bench.session import Session
from services.adapters.market_data import ROW_GROUP_ROWS
from services.catalog.sample_data import minute_bars
from tests.fixtures.peak_rss import PeakRss

SECTION = "imports"
BARS = 1_000_000
REPEATS = 3
SYMBOL, TIMEFRAME = "BENCHIMPORT", "1m"
PIECE_BYTES = 1 << 20


def _write_csv(path: Path) -> int:
    """The synthetic minute bars as CSV at `path`; returns the number of bars."""
    bars = minute_bars(BARS, "2024-12-31", seed=7)
    bars["timestamp"] = bars["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    bars.to_csv(path, index=False, float_format="%.6f")
    return len(bars)


def _pyarrow_in_process(path: Path) -> float:
    """Seconds for pyarrow to read the CSV and write it as stored Parquet to memory."""
    began = time.perf_counter()
    table = pacsv.read_csv(path)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=ROW_GROUP_ROWS, compression="zstd")
    return time.perf_counter() - began


def _pieces(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while piece := fh.read(PIECE_BYTES):
            yield piece


def _pid(session: Session, name: str) -> int:
    assert session.stack.supervisor is not None
    return next(c.process.pid for c in session.stack.supervisor.children if c.name == name)


def run(session: Session) -> None:
    """Times the imports and the download, and adds the figures to the report."""
    add = session.report.add
    session.say(f"imports: {BARS:,} minute bars as CSV through the API vs pyarrow in process")
    with tempfile.TemporaryDirectory(prefix="bench-import-") as scratch, httpx.Client(timeout=None) as http:
        path = Path(scratch) / "bars.csv"
        rows = _write_csv(path)
        mb = path.stat().st_size / 1e6
        url = f"{session.stack.gateway_url}/api/v1/market-data/{SYMBOL}/{TIMEFRAME}"

        def put() -> dict:
            response = http.put(url, content=_pieces(path), headers={"content-type": "text/csv"})
            response.raise_for_status()
            return response.json()

        put()  # warm-up: pyarrow's kernels, threads and pools in the catalog, whatever the file's size
        baseline = statistics.median(_pyarrow_in_process(path) for _ in range(REPEATS))
        timings, gateway_growth, catalog_growth = [], 0.0, 0.0
        for _ in range(REPEATS):
            with PeakRss(_pid(session, "gateway")) as gateway, PeakRss(_pid(session, "catalog")) as catalog:
                began = time.perf_counter()
                summary = put()
                timings.append(time.perf_counter() - began)
            gateway_growth = max(gateway_growth, gateway.growth_mb)
            catalog_growth = max(catalog_growth, catalog.growth_mb)
        seconds = statistics.median(timings)
        assert summary["rows"] == rows, summary
        session.say(
            f"  {mb:.1f} MB, {rows:,} bars: API {seconds:.2f} s, pyarrow in process {baseline:.2f} s;"
            f" RSS growth gateway {gateway_growth:.0f} MB, catalog {catalog_growth:.0f} MB"
        )
        add(
            SECTION,
            Figure(
                f"CSV import via API, {mb:.0f} MB (median of {REPEATS})",
                mb / seconds,
                "MB/s",
                baseline=mb / baseline,
                baseline_label="pyarrow CSV -> Parquet in-process",
                ratio=seconds / baseline,
                target=Target("<=", 2.0),
            ),
        )
        add(
            SECTION,
            Figure(
                f"CSV import via API, {rows:,} bars (median of {REPEATS})",
                rows / seconds,
                "bars/s",
                baseline=rows / baseline,
                baseline_label="pyarrow in-process",
                ratio=seconds / baseline,
            ),
        )
        add(SECTION, Figure("gateway RSS growth during an import (peak of 3)", gateway_growth, "MB"))
        add(SECTION, Figure("catalog RSS growth during an import (peak of 3)", catalog_growth, "MB"))

        bars_url = f"{url}/bars"
        downloads = []
        for _ in range(REPEATS):
            began, size = time.perf_counter(), 0
            with http.stream("GET", bars_url) as response:
                for chunk in response.iter_bytes(PIECE_BYTES):
                    size += len(chunk)
            downloads.append(time.perf_counter() - began)
        key = f"market-data/{SYMBOL}/{TIMEFRAME}/{summary['sha256']}.parquet"
        direct = []
        for _ in range(REPEATS):
            began = time.perf_counter()
            sum(len(chunk) for chunk in session.store.stream(key))
            direct.append(time.perf_counter() - began)
        parquet_mb, got, s3 = size / 1e6, statistics.median(downloads), statistics.median(direct)
        session.say(f"  bars Parquet {parquet_mb:.1f} MB: gateway {got:.3f} s, S3 directly {s3:.3f} s")
        add(
            SECTION,
            Figure(
                f"bars Parquet download via gateway, {parquet_mb:.0f} MB (median of {REPEATS})",
                parquet_mb / got,
                "MB/s",
                baseline=parquet_mb / s3,
                baseline_label="S3 GET in-process",
                ratio=s3 / got,
            ),
        )
