"""Bars and a base run config for the domain unit tests (imported by the test modules, no fixtures)."""

from __future__ import annotations

import numpy as np
import pandas as pd

# A valid 10-year daily crossover config: the base of sweeps and grid searches.
BASE_CONFIG = {
    "symbol": "AAPL",
    "timeframe": "1d",
    "start_date": "2014-01-01",
    "end_date": "2024-01-01",
    "signal_plugin_key": "crossover_signal",
    "signal_plugin_params": {"fast_period": 10, "slow_period": 50},
}


def bars_from_close(close, *, wick: float = 0.0) -> pd.DataFrame:
    """Daily OHLCV bars whose high and low sit `wick` above and below the close."""
    close = np.asarray(close, dtype=float)
    return pd.DataFrame(
        {"open": close, "high": close + wick, "low": close - wick, "close": close, "volume": 1_000.0},
        index=pd.date_range("2021-01-04", periods=close.size, freq="D"),
    )


def random_bars(n: int, seed: int) -> pd.DataFrame:
    """A random walk of `n` consistent OHLCV bars."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, n)))
    spread = close * rng.uniform(0.0, 0.02, n)
    frame = bars_from_close(close)
    frame["high"] = close + spread
    frame["low"] = close - spread
    frame["open"] = close * (1 + rng.normal(0.0, 0.005, n))
    return frame
