"""Bars and signals for the engine tests: a six-bar series to check by hand, seeded random ones for parity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from services.adapters.engines import get_engine


def synthetic_bars(n: int, seed: int) -> pd.DataFrame:
    """A seeded random-walk OHLCV frame of `n` business days.

    n: number of bars.
    seed: numpy RNG seed, so every run sees the same prices.
    """
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0002, 0.015, n)))
    open_ = np.r_[100.0, close[:-1]] * np.exp(rng.normal(0.0, 0.005, n))
    high = np.maximum(open_, close) * (1.0 + rng.uniform(0.0, 0.01, n))
    low = np.minimum(open_, close) * (1.0 - rng.uniform(0.0, 0.01, n))
    volume = rng.integers(100_000, 1_000_000, n).astype(float)
    index = pd.bdate_range("2015-01-02", periods=n)
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index)


def held_levels(n: int, seed: int, levels: np.ndarray, max_hold: int) -> np.ndarray:
    """A signal that jumps to a random one of `levels` and holds it 1..`max_hold` bars.

    n: number of bars.
    seed: numpy RNG seed.
    levels: values the signal may take.
    max_hold: longest run of one value.
    """
    rng = np.random.default_rng(seed)
    out = np.empty(n)
    i = 0
    while i < n:
        hold = int(rng.integers(1, max_hold + 1))
        out[i : i + hold] = rng.choice(levels)
        i += hold
    return out


@pytest.fixture(scope="session")
def hand_bars() -> pd.DataFrame:
    """Six daily bars with round prices; high/low hug open/close, so every slipped fill lies outside the bar."""
    open_ = np.array([10.0, 11.0, 12.0, 13.0, 14.0, 15.0])
    close = open_ + 0.5
    return pd.DataFrame(
        {"open": open_, "high": close, "low": open_, "close": close, "volume": 1_000.0},
        index=pd.date_range("2024-01-01", periods=6, freq="D"),
    )


@pytest.fixture(scope="session")
def vectorbt_engine():
    """The registry's vectorbt adapter, warmed up once for the session."""
    engine = get_engine("vectorbt")
    engine.warm_up()
    return engine


@pytest.fixture(scope="session")
def backtrader_engine():
    """The registry's backtrader adapter, warmed up once for the session."""
    engine = get_engine("backtrader")
    engine.warm_up()
    return engine
