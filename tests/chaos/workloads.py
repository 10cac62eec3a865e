"""What the scenarios run: configs sized so that each fault meets work in progress.

The data is the stack's synthetic sample (`services.catalog.sample_data`):
daily AAPL and one-minute SYNTH1M bars. Times below were measured on the
2-core development machine with both executors busy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RunConfig:
    """One backtest to create and execute."""

    engine: str
    """vectorbt or backtrader."""
    config: dict[str, Any]
    """The run config, as POST /backtests takes it."""

    def body(self, strategy_id: str) -> dict[str, Any]:
        """The POST /backtests body under `strategy_id`."""
        return {"strategy_id": strategy_id, "engine": self.engine, "config": self.config}

    @property
    def label(self) -> str:
        """A stable text naming the config (a dictionary key)."""
        return json.dumps({"engine": self.engine, "config": self.config}, sort_keys=True)


def minutes(engine: str, start: str, end: str, fast: int, slow: int) -> RunConfig:
    """A crossover run over SYNTH1M minute bars from `start` to `end`.

    engine: vectorbt or backtrader.
    start: first day.
    end: last day.
    fast: fast moving-average period.
    slow: slow moving-average period.
    """
    return RunConfig(
        engine,
        {
            "symbol": "SYNTH1M",
            "timeframe": "1m",
            "start_date": start,
            "end_date": end,
            "signal_plugin_key": "crossover_signal",
            "signal_plugin_params": {"fast_period": fast, "slow_period": slow},
        },
    )


def daily(fast: int, slow: int, *, engine: str = "vectorbt") -> RunConfig:
    """A crossover run over four years of daily AAPL bars: a fraction of a second.

    fast: fast moving-average period.
    slow: slow moving-average period.
    engine: vectorbt or backtrader.
    """
    return RunConfig(
        engine,
        {
            "symbol": "AAPL",
            "timeframe": "1d",
            "start_date": "2020-01-01",
            "end_date": "2024-01-01",
            "signal_plugin_key": "crossover_signal",
            "signal_plugin_params": {"fast_period": fast, "slow_period": slow},
        },
    )


LONG = [minutes("backtrader", "2025-09-01", "2025-12-31", fast, 120) for fast in (20, 30)]
"""Backtrader over 33,000 bars: 1.5 s of computing alone, 3-5 s on busy cores; a kill lands in the middle."""

MEDIUM = [minutes("backtrader", "2025-10-01", "2025-12-31", fast, slow) for fast, slow in ((10, 60), (20, 90))]
"""Backtrader over 25,000 bars, about a second each: twenty of them keep two executors busy for 10-15 s."""

QUICK = [daily(fast, slow) for fast, slow in ((10, 50), (5, 20), (20, 100), (15, 60))]
"""Vectorbt over daily bars: what the API probe and the concurrency scenario execute."""

SWEEP_BASE = minutes("vectorbt", "2023-01-01", "2025-12-31", 10, 100)
"""A sweep's base: vectorbt over 290,000 bars; its 50 configs run as two broadcast batches of 4-5 s each."""

SWEEP_GRID = [
    {"signal_plugin_params.fast_period": fast, "signal_plugin_params.slow_period": slow}
    for fast in (5, 10, 15, 20, 25)
    for slow in (50, 60, 80, 100, 120, 150, 200, 250, 300, 400)
]
"""50 parameter sets, the most a sweep takes."""

PROBE_GRID = [{"commission": 0.0001}, {"commission": 0.001}]
"""The small sweep the API probe submits over a QUICK config."""


def sweep_body(strategy_id: str, base: RunConfig, grid: list[dict[str, Any]]) -> dict[str, Any]:
    """The POST /backtests/sweep body.

    strategy_id: the strategy every run belongs to.
    base: engine and base config.
    grid: the overrides, one run each.
    """
    return {
        "strategy_id": strategy_id,
        "engine": base.engine,
        "base_config": base.config,
        "param_grid": grid,
        "rank_metric": "perf_sharpe_ratio",
    }
