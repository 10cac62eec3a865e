"""The runs every measurement uses: a 10-year daily crossover on AAPL, and its 50-point grid."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from bench.rest_client import RestClient
from services.adapters.market_data import version_key
from services.adapters.object_store import ObjectStore

# The seed's example, over ten years (2,609 bars of the sample data).
DAILY_CONFIG: dict[str, Any] = {
    "symbol": "AAPL",
    "timeframe": "1d",
    "start_date": "2014-01-01",
    "end_date": "2024-01-01",
    "signal_plugin_key": "crossover_signal",
    "signal_plugin_params": {"fast_period": 10, "slow_period": 50},
    "bars_per_year": 252,
    "risk_free_rate": 0.04,
    "size_type": "percent",
}
# 10 fast x 5 slow periods: 50 configurations, fast always below slow.
GRID: list[dict[str, Any]] = [
    {"signal_plugin_params": {"fast_period": fast, "slow_period": slow}}
    for fast in range(5, 55, 5)
    for slow in (60, 80, 100, 150, 200)
]


# The crossover rule of GRID written as an expression strategy: long while the fast
# average is above the slow one, flat otherwise (what crossover_signal does long-only).
EXPRESSION_CONFIG: dict[str, Any] = {
    **DAILY_CONFIG,
    "signal_plugin_key": "expression",
    "signal_plugin_params": {
        "entry": "sma(close, $fast) > sma(close, $slow)",
        "exit": "sma(close, $fast) <= sma(close, $slow)",
        "fast": 10,
        "slow": 50,
    },
}
EXPRESSION_GRID: list[dict[str, Any]] = [
    {
        "signal_plugin_params.fast": entry["signal_plugin_params"]["fast_period"],
        "signal_plugin_params.slow": entry["signal_plugin_params"]["slow_period"],
    }
    for entry in GRID
]


def backtest_fields(strategy_id: str, engine: str, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """A create-backtest body with the seed's capital and costs."""
    return {
        "strategy_id": strategy_id,
        "engine": engine,
        "initial_capital": 100_000.0,
        "commission": 0.0005,
        "slippage": 0.0005,
        "config": copy.deepcopy(config or DAILY_CONFIG),
    }


def with_override(config: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` merged shallowly over `config`, as a sweep merges a grid entry."""
    return {**copy.deepcopy(config), **copy.deepcopy(override)}


def create_strategy(client: RestClient, purpose: str) -> str:
    """A fresh strategy for one section's backtests; returns its id."""
    created = client.call("POST", "/strategies", {"name": f"bench {purpose} {uuid.uuid4().hex[:8]}"})
    return created["id"]


def create_backtest(client: RestClient, strategy_id: str, engine: str, config: dict[str, Any] | None = None) -> str:
    """Creates a backtest and returns its id."""
    return client.call("POST", "/backtests", backtest_fields(strategy_id, engine, config))["id"]


def execute_sync(client: RestClient, backtest_id: str) -> tuple[float, dict]:
    """(seconds, response) of one synchronous execute; RuntimeError unless it completed."""
    seconds, result = client.timed("POST", f"/backtests/{backtest_id}/execute", {"async_mode": False})
    if result.get("status") != "completed":
        raise RuntimeError(f"backtest {backtest_id} ended {result.get('status')}: {str(result)[:300]}")
    return seconds, result


def stored_series(client: RestClient, store: ObjectStore, symbol: str, timeframe: str) -> bytes:
    """The Parquet file of a series' current version, read from the object store as executors read it."""
    summary = client.call("GET", f"/market-data/{symbol}/{timeframe}")
    return store.get_bytes(version_key(symbol, timeframe, summary["sha256"]))
