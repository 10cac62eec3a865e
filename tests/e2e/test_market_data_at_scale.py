"""Market data at real scale, through the REST gateway of the whole stack (issue 16).

- A CSV larger than the old 64 MiB request limit streams in with the
  resident sets of the gateway, the catalog and the S3 server the stored
  file goes to measured (each must grow by under 200 MB), and comes back
  out byte for byte. (`tests/integration/test_s3_upload_memory.py` stores
  an object of the size a 1 GB import makes.)
- An upload the client abandons halfway stores nothing: no series, no object.
- Appends: an overlap equal to the stored bars is accepted and only new bars
  are added; a differing overlap is 409 naming the row, and changes nothing.
- A series replaced while runs are queued and running: every run reads one
  version whole (its bars_sha256), with exactly that version's results.
- The bars download (Parquet or CSV, whole or a window) equals what was imported.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np
import pandas as pd
import psutil
import pytest

from backtest_client import Client, RunConfig
from backtest_client.errors import BacktestError
from services.adapters.market_data import parse_bars, read_bars
from services.adapters.object_store import ObjectStore, S3Location
from tests.e2e.conformance import synthetic_bars
from tests.fixtures.peak_rss import PeakRss

OLD_LIMIT = 64 * 2**20
RSS_LIMIT_MB = 200
CSV_TYPE = "text/csv"


def minute_csv(path: Path, rows: int, *, start: str = "2010-01-04 09:30", seed: int = 1, step: float = 0.05) -> Path:
    """A valid CSV of `rows` minute bars (ISO timestamps, 4-decimal prices) written to `path`."""
    rng = np.random.default_rng(seed)
    close = np.round(100 * np.exp(np.cumsum(rng.normal(0, 1e-4, rows))), 4)
    open_ = np.round(close + rng.normal(0, step, rows), 4)
    open_ = np.where(open_ > 0, open_, close)
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range(start, periods=rows, freq="min").strftime("%Y-%m-%dT%H:%M:%S"),
            "open": open_,
            "high": np.round(np.maximum(open_, close) + 0.01, 4),
            "low": np.round(np.minimum(open_, close) - 0.01, 4),
            "close": close,
            "volume": rng.integers(1, 10_000, rows),
        }
    )
    frame.to_csv(path, index=False, float_format="%.4f")
    return path


@pytest.fixture(scope="module")
def client(stack) -> Iterator[Client]:
    """A client of the session's stack."""
    with Client(stack.gateway_url) as connected:
        yield connected


@pytest.fixture(scope="module")
def store(stack) -> ObjectStore:
    """The stack's object store, to look behind the API's back."""
    env = stack.env
    return ObjectStore(S3Location(env["S3_ENDPOINT"], env["S3_ACCESS_KEY"], env["S3_SECRET_KEY"], env["S3_BUCKET"]))


def pid_of(stack, name: str) -> int:
    """The pid of the stack's process `name` (gateway, catalog, ...)."""
    return next(child.process.pid for child in stack.supervisor.children if child.name == name)


def wait_until(condition, timeout_s: float, what: str):
    """Polls `condition` until it is truthy; fails naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        assert time.monotonic() < deadline, f"no {what} within {timeout_s:g}s"
        time.sleep(0.05)
    return value


def stored_keys(store: ObjectStore, symbol: str) -> list[str]:
    """Every object under the series' prefix."""
    return [key for key, _ in store.list_keys(f"market-data/{symbol}/")]


@pytest.mark.timeout(1200)
def test_a_csv_over_the_old_limit_streams_in_flat_memory_and_back_out(stack, client, tmp_path) -> None:
    symbol = synthetic_bars.unique_symbol("BIG")
    big = minute_csv(tmp_path / "big.csv", 1_300_000)
    size = big.stat().st_size
    assert size > OLD_LIMIT
    # Warm-up: a first upload pays the one-off costs (pyarrow's kernels, threads, pools) whatever its size.
    client.market_data.import_file(minute_csv(tmp_path / "small.csv", 1000), symbol=symbol, timeframe="1m")
    gateway, catalog, s3 = (PeakRss(pid_of(stack, name)) for name in ("gateway", "catalog", "s3"))
    with gateway, catalog, s3:
        began = time.perf_counter()
        summary = client.market_data.import_file(big, symbol=symbol, timeframe="1m")
        seconds = time.perf_counter() - began
    print(
        f"\nstreamed import of {size / 2**20:.0f} MiB ({summary.rows} bars) in {seconds:.1f}s "
        f"({size / 2**20 / seconds:.1f} MB/s); RSS growth: gateway {gateway.growth_mb:.0f} MB "
        f"(from {gateway.start / 2**20:.0f}), catalog {catalog.growth_mb:.0f} MB (from {catalog.start / 2**20:.0f}),"
        f" S3 server {s3.growth_mb:.0f} MB (from {s3.start / 2**20:.0f})"
    )
    assert summary.rows == 1_300_000
    growth = {"gateway": gateway.growth_mb, "catalog": catalog.growth_mb, "S3 server": s3.growth_mb}
    assert all(mb < RSS_LIMIT_MB for mb in growth.values()), growth
    # The whole series as Parquet is the stored file itself: its hash is the summary's.
    parquet = client.market_data.download(symbol, "1m", tmp_path / "back.parquet")
    assert hashlib.sha256(parquet.read_bytes()).hexdigest() == summary.sha256
    pd.testing.assert_frame_equal(
        read_bars(str(parquet)), parse_bars(big.read_bytes(), CSV_TYPE).set_index("timestamp"), check_freq=False
    )


def test_a_bad_row_past_the_first_megabytes_is_422_naming_it_and_stores_nothing(client, store, tmp_path) -> None:
    symbol = synthetic_bars.unique_symbol("BAD")
    path = minute_csv(tmp_path / "bars.csv", 100_000)
    lines = path.read_bytes().split(b"\n")
    fields = lines[80_000].split(b",")  # data row 80,000 (line 0 is the header)
    fields[2] = b"0.5"  # high below open and close
    lines[80_000] = b",".join(fields)
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(BacktestError) as caught:
        client.market_data.import_file(path, symbol=symbol, timeframe="1m")
    assert caught.value.status == 422
    assert "row 80000: high 0.5 is below max(open, close)" in str(caught.value)
    assert stored_keys(store, symbol) == []
    with pytest.raises(BacktestError) as missing:
        client.market_data.get(symbol, "1m")
    assert missing.value.status == 404


def test_an_abandoned_upload_leaves_no_series_and_no_object(stack, client, store, tmp_path) -> None:
    symbol = synthetic_bars.unique_symbol("GONE")
    body = minute_csv(tmp_path / "bars.csv", 200_000).read_bytes()
    url = urlsplit(stack.gateway_url)
    catalog = psutil.Process(pid_of(stack, "catalog"))

    def converting() -> list[str]:  # the upload's Parquet file, open while the catalog converts
        return [f.path for f in catalog.open_files() if os.path.basename(os.path.dirname(f.path)).startswith("bars-")]

    with socket.create_connection((url.hostname, url.port)) as conn:
        head = (
            f"PUT /api/v1/market-data/{symbol}/1m HTTP/1.1\r\nhost: {url.netloc}\r\n"
            f"content-type: text/csv\r\ncontent-length: {len(body)}\r\n\r\n"
        )
        conn.sendall(head.encode() + body[: len(body) // 2])
        wait_until(converting, 30, "the catalog to start converting the upload")
        (partial,) = converting()
    # The gateway and the catalog notice the broken stream: the partial file goes, and no series comes.
    wait_until(lambda: not converting(), 30, "the catalog to let go of the abandoned upload")
    assert not os.path.exists(os.path.dirname(partial))
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            client.market_data.get(symbol, "1m")
        except BacktestError as err:
            assert err.status == 404
        else:
            pytest.fail("an abandoned upload created a series")
        time.sleep(0.5)
    assert stored_keys(store, symbol) == []
    # The same upload sent whole works: the abandoned one held nothing.
    assert client.market_data.import_file(tmp_path / "bars.csv", symbol=symbol, timeframe="1m").rows == 200_000


def test_append_adds_bars_after_the_last_and_accepts_an_equal_overlap(client, tmp_path) -> None:
    symbol = synthetic_bars.unique_symbol("APP")
    full = minute_csv(tmp_path / "full.csv", 5000)
    frame = pd.read_csv(full)
    frame.iloc[:4000].to_csv(tmp_path / "first.csv", index=False, float_format="%.4f")
    frame.iloc[3900:].to_csv(tmp_path / "more.csv", index=False, float_format="%.4f")  # 100 rows overlap
    first = client.market_data.import_file(tmp_path / "first.csv", symbol=symbol, timeframe="1m")
    appended = client.market_data.append_file(tmp_path / "more.csv", symbol=symbol, timeframe="1m")
    whole = client.market_data.import_file(full, symbol=f"{symbol}W", timeframe="1m")
    assert (first.rows, appended.rows) == (4000, 5000)
    assert appended.start == first.start and appended.end == whole.end
    # Same bars, same file: appending gives what importing the whole file gives.
    assert appended.sha256 == whole.sha256 != first.sha256
    # Appending what is already stored changes nothing.
    again = client.market_data.append_file(tmp_path / "more.csv", symbol=symbol, timeframe="1m")
    assert again.sha256 == appended.sha256


def test_append_with_a_differing_overlap_is_409_naming_the_row(client, tmp_path) -> None:
    symbol = synthetic_bars.unique_symbol("CON")
    frame = pd.read_csv(minute_csv(tmp_path / "full.csv", 3000))
    frame.iloc[:2000].to_csv(tmp_path / "first.csv", index=False, float_format="%.4f")
    changed = frame.iloc[1990:].copy()
    changed.iloc[4, changed.columns.get_loc("volume")] += 1  # file row 5 (stored bar 1995) differs
    changed.to_csv(tmp_path / "changed.csv", index=False, float_format="%.4f")
    before = client.market_data.import_file(tmp_path / "first.csv", symbol=symbol, timeframe="1m")
    with pytest.raises(BacktestError) as caught:
        client.market_data.append_file(tmp_path / "changed.csv", symbol=symbol, timeframe="1m")
    assert caught.value.status == 409
    assert "row 5: volume" in str(caught.value) and "differs from the stored bar" in str(caught.value)
    assert client.market_data.get(symbol, "1m") == before


def test_the_bars_download_as_csv_json_and_windows_equal_the_import(stack, client, tmp_path) -> None:
    symbol = synthetic_bars.unique_symbol("DL")
    path = minute_csv(tmp_path / "bars.csv", 150_000)
    summary = client.market_data.import_file(path, symbol=symbol, timeframe="1m")
    imported = parse_bars(path.read_bytes(), CSV_TYPE).set_index("timestamp")
    csv_back = client.market_data.download(symbol, "1m", tmp_path / "back.csv", file_format="csv")
    pd.testing.assert_frame_equal(
        parse_bars(csv_back.read_bytes(), CSV_TYPE).set_index("timestamp"), imported, check_freq=False
    )
    # A CSV re-imported is the same series, byte for byte.
    again = client.market_data.import_file(csv_back, symbol=f"{symbol}R", timeframe="1m")
    assert again.sha256 == summary.sha256
    start, end = "2010-01-20T10:00:00", "2010-02-03T15:59:00"
    window = client.market_data.bars(symbol, "1m", start=start, end=end)
    pd.testing.assert_frame_equal(window, imported.loc[start:end], check_freq=False)
    window_csv = client.market_data.download(
        symbol, "1m", tmp_path / "window.csv", start=start, end=end, file_format="csv"
    )
    pd.testing.assert_frame_equal(
        parse_bars(window_csv.read_bytes(), CSV_TYPE).set_index("timestamp"),
        imported.loc[start:end],
        check_freq=False,
    )
    # JSON through the gateway: the same bars, every number the same double.
    response = httpx.get(
        f"{stack.gateway_url}/api/v1/market-data/{symbol}/1m/bars",
        params={"start": start, "end": end, "format": "json"},
        timeout=60,
    )
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    as_json = pd.DataFrame(response.json())
    as_json["timestamp"] = pd.to_datetime(as_json["timestamp"])
    pd.testing.assert_frame_equal(
        as_json.set_index("timestamp"), imported.loc[start:end], check_freq=False, check_dtype=False, rtol=0, atol=0
    )


def test_bars_of_an_unknown_series_or_a_bad_window_are_refused(stack) -> None:
    base = f"{stack.gateway_url}/api/v1/market-data"
    assert httpx.get(f"{base}/NOPE{time.time_ns()}/1d/bars").status_code == 404
    bad = httpx.get(f"{base}/AAPL/1d/bars", params={"start": "yesterday", "format": "xls"})
    assert bad.status_code == 422
    assert {v["field"] for v in bad.json()["details"][0]["field_violations"]} == {"start", "format"}


def test_replacing_a_series_while_runs_read_it_never_mixes_versions(stack, client, tmp_path) -> None:
    symbol = synthetic_bars.unique_symbol("REP")
    old = minute_csv(tmp_path / "old.csv", 60_000, seed=11)
    new = minute_csv(tmp_path / "new.csv", 60_000, seed=12, step=0.08)
    config = RunConfig(
        symbol,
        "2010-01-01",
        "2011-01-01",
        timeframe="1m",
        plugin="crossover_signal",
        params={"fast_period": 10, "slow_period": 50},
    )
    versions = {}
    for path in (new, old):  # each version's reference run, old last: it is the current one
        versions[client.market_data.import_file(path, symbol=symbol, timeframe="1m").sha256] = path
    expected = {}
    for sha, path in versions.items():
        client.market_data.import_file(path, symbol=symbol, timeframe="1m")
        run = client.run(config)
        expected[sha] = run.metrics
    swaps, done = [], threading.Event()

    def replace() -> None:
        # Swap versions back and forth while the runs are queued and running.
        while not done.is_set():
            for path in (new, old):
                swaps.append(client.market_data.import_file(path, symbol=symbol, timeframe="1m").sha256)

    swapper = threading.Thread(target=replace, daemon=True)
    swapper.start()
    try:
        tasks = [client.submit(config) for _ in range(8)]
        results = [task.wait() for task in tasks]
    finally:
        done.set()
        swapper.join(timeout=120)
    assert len(swaps) >= 2
    used = []
    with httpx.Client(base_url=f"{stack.gateway_url}/api/v1") as http_client:
        for result in results:
            record = http_client.get(f"/backtests/{result.id}").json()
            sha = record["bars_sha256"]
            used.append(sha)
            assert sha in expected, sha
            # All old or all new: the run's results are exactly those of its version's reference run.
            assert result.metrics == expected[sha]
    print(f"\n{len(results)} runs during {len(swaps)} replacements read versions {sorted(set(used))}")


def test_the_api_answers_a_streamed_put_without_content_length(stack, tmp_path) -> None:
    path = minute_csv(tmp_path / "bars.csv", 20_000)
    symbol = synthetic_bars.unique_symbol("CHUNK")
    url = urlsplit(stack.gateway_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    with path.open("rb") as body:
        conn.request(
            "PUT",
            f"/api/v1/market-data/{symbol}/1m",
            body=iter(lambda: body.read(100_000), b""),
            headers={"content-type": CSV_TYPE},
            encode_chunked=True,
        )
        response = conn.getresponse()
        answer = response.read()
    conn.close()
    assert response.status == 200, answer
    assert io.BytesIO(answer).read().count(b'"rows":20000') == 1
