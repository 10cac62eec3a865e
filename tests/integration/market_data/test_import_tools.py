"""The import CLI and the synthetic sample-data loader, end to end against the real catalog."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from backtest.v1 import catalog_pb2
from services.adapters.market_data import bars_to_parquet, read_bars, version_key
from services.catalog import sample_data

CSV = (
    b"timestamp,open,high,low,close,volume\n"
    b"2024-05-01T13:30:00Z,10,11,9,10.5,100\n"
    b"2024-05-01T13:31:00Z,10.5,11,10,11,5\n"
)


def cli(*args: str, module: str = "services.catalog.import_bars", env: dict | None = None):
    """Runs `python -m module` with `args` (and extra environment); returns the CompletedProcess."""
    command = [sys.executable, "-m", module, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})


def test_cli_imports_a_file_and_prints_the_summary(catalog_address, stub, tmp_path, symbol):
    path = tmp_path / "bars.csv"
    path.write_bytes(CSV)
    done = cli(str(path), "--symbol", symbol, "--timeframe", "1m", env={"CATALOG_ADDR": catalog_address})
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed | {"sha256": ""} == {
        "symbol": symbol,
        "timeframe": "1m",
        "start": "2024-05-01T13:30:00",
        "end": "2024-05-01T13:31:00",
        "rows": 2,
        "sha256": "",
    }
    assert printed["sha256"] == stub.GetSeries(catalog_pb2.GetSeriesRequest(symbol=symbol, timeframe="1m")).sha256


def test_cli_reports_violations_and_fails(catalog_address, tmp_path, symbol):
    path = tmp_path / "bars.csv"
    path.write_bytes(CSV.replace(b",5\n", b",-5\n"))
    done = cli(str(path), "--symbol", symbol, "--timeframe", "2m", "--catalog", catalog_address)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == ["timeframe: '2m' is not one of 1m, 5m, 15m, 1h, 1d, 1w"]
    done = cli(str(path), "--symbol", symbol, "--timeframe", "1m", "--catalog", catalog_address)
    assert (done.returncode, done.stderr.strip()) == (2, "file: row 2: volume -5 is negative")


def test_cli_missing_file(catalog_address, tmp_path):
    done = cli(str(tmp_path / "nope.csv"), "--symbol", "X", "--timeframe", "1d", "--catalog", catalog_address)
    assert done.returncode == 1 and "cannot read" in done.stderr


def test_sample_data_loads_once_and_is_reproducible(stub, market_store, symbol):
    prefix, lines = f"{symbol}_", []
    kwargs = dict(symbols=["AAPL", "SPY"], start="2023-01-01", end="2023-03-31", minute_count=1000, prefix=prefix)
    imported = sample_data.load(stub, **kwargs, say=lines.append)
    assert imported == [f"{prefix}AAPL/1d", f"{prefix}SPY/1d", f"{prefix}SYNTH1M/1m"]
    assert "SYNTHETIC" in lines[0]
    assert sample_data.load(stub, **kwargs, say=lines.append) == []  # already there: left alone
    daily = stub.GetSeries(catalog_pb2.GetSeriesRequest(symbol=f"{prefix}AAPL", timeframe="1d"))
    assert (daily.start, daily.end, daily.rows) == ("2023-01-02T00:00:00", "2023-03-31T00:00:00", 65)
    # Same seed, same bytes: the stored file is exactly what the generator makes.
    expected = bars_to_parquet(sample_data.daily_bars("AAPL", "2023-01-01", "2023-03-31", seed=7))
    assert daily.sha256 == hashlib.sha256(expected).hexdigest()
    minute_series = stub.GetSeries(catalog_pb2.GetSeriesRequest(symbol=f"{prefix}SYNTH1M", timeframe="1m"))
    minutes = read_bars(market_store.get_bytes(version_key(f"{prefix}SYNTH1M", "1m", minute_series.sha256)))
    assert len(minutes) == 1170  # whole 390-minute sessions
    assert minutes.index[-1] == minutes.index.max()


def test_sample_data_command_as_the_launcher_runs_it(catalog_address, stub, symbol):
    # The launcher passes nothing but the environment; a short range keeps this quick.
    args = ["--symbols", "SPY", "--start", "2024-01-01", "--minute-bars", "500", "--prefix", f"{symbol}_"]
    done = cli(*args, module="services.catalog.sample_data", env={"CATALOG_ADDR": catalog_address})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("SYNTHETIC") and "sample data ready" in done.stdout
    listed = {(s.symbol, s.timeframe, s.rows) for s in stub.ListSeries(catalog_pb2.ListSeriesRequest())}
    assert {(f"{symbol}_SPY", "1d", 523), (f"{symbol}_SYNTH1M", "1m", 780)} <= listed


@pytest.mark.parametrize("symbol_", ["AAPL", "MSFT", "SPY"])
def test_seed_examples_have_bars_over_their_range(symbol_):
    bars = sample_data.daily_bars(symbol_, "2010-01-01", "2025-12-31", seed=7)
    window = bars[(bars.timestamp >= "2020-01-01") & (bars.timestamp <= "2024-01-01")]
    assert len(window) > 1000
    assert (bars.high >= bars[["open", "close"]].max(axis=1)).all() and (bars.low > 0).all()
