"""Fixtures of the toolkit's end-to-end tests: a client of the session's stack, its own data and runs.

Everything the tests read they create through the client: a daily series
under a fresh symbol, a completed run over it, a finished two-parameter
sweep, an RSI rule tree stored as signal logic. The million-bar run uses the
sample data's SYNTH1M series.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from backtest_client import BacktestResult, Client, RuleTree, RunConfig, SignalLogic
from tests.e2e.conformance import synthetic_bars

REPO = Path(__file__).resolve().parents[3]
BACKTEST = Path(sys.executable).with_name("backtest")
SWEEP_GRID = {"signal_plugin_params.fast_period": [5, 10], "signal_plugin_params.slow_period": [20, 40, 60]}
# Mean reversion on RSI as a rule tree: long below $lower, flat above $upper (docs/strategies.md).
RSI_TREE: RuleTree = [
    {"action": "BUY", "rules": [{"field": "rsi(close, $period)", "operator": "<", "value": "$lower"}]},
    {"action": "SELL", "rules": [{"field": "rsi(close, $period)", "operator": ">", "value": "$upper"}]},
]
RSI_PARAMS = {"period": 14, "lower": 30, "upper": 70}


def output_dir(name: str) -> Path:
    """A directory for files a person looks at after the run (screenshots): $TEST_OUTPUT_DIR or test-output/."""
    root = Path(os.environ.get("TEST_OUTPUT_DIR") or REPO / "test-output")
    path = root / name
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def gateway_url(stack) -> str:
    """The REST gateway of the session's stack."""
    return stack.gateway_url


@pytest.fixture(scope="session")
def client(gateway_url: str) -> Iterator[Client]:
    """A client of the stack."""
    with Client(gateway_url) as connected:
        yield connected


@pytest.fixture(scope="session")
def daily(client: Client) -> tuple[str, RunConfig]:
    """A fresh 500-bar daily series (imported as a DataFrame), and a crossover config over all of it."""
    symbol = synthetic_bars.unique_symbol("TOOL")
    frame = synthetic_bars.daily()
    summary = client.market_data.import_frame(frame, symbol=symbol, timeframe="1d")
    config = RunConfig(symbol, summary.start.date(), summary.end.date(), params={"fast_period": 5, "slow_period": 20})
    return symbol, config


@pytest.fixture(scope="session")
def completed(client: Client, daily: tuple[str, RunConfig]) -> BacktestResult:
    """A completed vectorbt run over the daily series."""
    return client.run(daily[1])


@pytest.fixture(scope="session")
def swept(client: Client, daily: tuple[str, RunConfig]):
    """(handle, leaderboard, polled states) of a finished 2 x 3 sweep over fast and slow periods."""
    states = []
    handle = client.sweep(daily[1], SWEEP_GRID)
    board = handle.wait(progress=states.append)
    return handle, board, states


@pytest.fixture(scope="session")
def rsi_logic(client: Client) -> SignalLogic:
    """The RSI rule tree stored as a long-only signal logic, never updated."""
    return client.signal_logic.create("rsi mean reversion", RSI_TREE, position_mode="long_only")


@pytest.fixture(scope="session")
def million(client: Client) -> BacktestResult:
    """A vectorbt run over the whole SYNTH1M sample series (1,000,350 one-minute bars).

    Longer than the stack's sync deadline on a busy machine: the client then follows it by polling.
    """
    series = client.market_data.get("SYNTH1M", "1m")
    config = RunConfig(
        "SYNTH1M", series.start, series.end, params={"fast_period": 390, "slow_period": 1950}, timeframe="1m"
    )
    return client.run(config, commission=0.0, slippage=0.0)


@pytest.fixture(scope="session")
def cli(gateway_url: str):
    """Runs the installed `backtest` command against the stack: cli("data", "list", "--json")."""

    def run(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        # A usage error is drawn in a box as wide as the terminal: a wide one keeps each message
        # on one line, whatever the length of the temporary paths in it.
        env = {**os.environ, "BACKTEST_API_URL": gateway_url, "COLUMNS": "400"}
        env.pop("BACKTEST_API_KEY", None)
        return subprocess.run([str(BACKTEST), *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)

    return run


def parsed(done: subprocess.CompletedProcess, code: int = 0):
    """The command's JSON on stdout, after checking its exit code."""
    assert done.returncode == code, (
        f"exit {done.returncode}\nstdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-2000:]}"
    )
    return json.loads(done.stdout)


def run_args(daily: tuple[str, RunConfig], *extra: str) -> list[str]:
    """`backtest run` over the whole daily series, then `extra`."""
    symbol, config = daily
    return ["run", "--symbol", symbol, "--from", str(config.start), "--to", str(config.end), *extra]
