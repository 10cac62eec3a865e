"""Market data the suite imports itself, so it runs against any deployment, sample data or not.

A seeded random walk whose drift flips sign every few weeks: moving
averages cross often enough for a crossover strategy to trade.
"""

from __future__ import annotations

import io
import uuid

import numpy as np
import pandas as pd

COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
# Bytes per CSV row of a minute series, measured: the import limit is 60 MiB.
MINUTE_ROW_BYTES = 57


def unique_symbol(prefix: str = "CONF") -> str:
    """A symbol no other run of the suite uses (letters and digits, at most 32)."""
    return f"{prefix}{uuid.uuid4().hex[:10].upper()}"


def bars(index: pd.DatetimeIndex, *, seed: int, regime_bars: int = 40, volatility: float = 0.01) -> pd.DataFrame:
    """OHLCV bars on `index`: positive prices, high >= max(open, close), low <= min(open, close).

    seed: the RNG seed; equal seeds give equal bars.
    regime_bars: bars between flips of the drift's sign.
    volatility: standard deviation of a bar's log return; the drift is a fifth of it.
    """
    rng = np.random.default_rng(seed)
    n = len(index)
    drift = np.where((np.arange(n) // regime_bars) % 2 == 0, 0.2, -0.15) * volatility
    close = 100.0 * np.exp(np.cumsum(drift + rng.normal(0.0, volatility, n)))
    open_ = np.concatenate([[close[0]], close[:-1]]) * (1 + rng.normal(0.0, volatility / 5, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0.0, volatility / 2, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0.0, volatility / 2, n))
    frame = pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": rng.integers(1_000, 100_000, n)},
        index=index,
    )
    frame.index.name = "timestamp"
    return frame.round({"open": 4, "high": 4, "low": 4, "close": 4})


def daily(n: int = 500, *, start: str = "2021-01-04", seed: int = 7) -> pd.DataFrame:
    """`n` business-day bars from `start`."""
    return bars(pd.bdate_range(start, periods=n), seed=seed)


def minutes(n: int, *, start: str = "2022-01-03 00:00", seed: int = 11) -> pd.DataFrame:
    """`n` consecutive one-minute bars from `start`; drift flips every few hours."""
    return bars(pd.date_range(start, periods=n, freq="min"), seed=seed, regime_bars=240, volatility=0.001)


def to_csv(frame: pd.DataFrame, *, date_only: bool = False) -> bytes:
    """The CSV body of PUT /market-data: a header, then one row per bar.

    date_only: write timestamps as YYYY-MM-DD (daily bars).
    """
    out = frame.reset_index()
    out["timestamp"] = out["timestamp"].dt.strftime("%Y-%m-%d" if date_only else "%Y-%m-%dT%H:%M:%S")
    buffer = io.StringIO()
    out[list(COLUMNS)].to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def to_parquet(frame: pd.DataFrame) -> bytes:
    """The Parquet body of PUT /market-data (timestamp as a column)."""
    buffer = io.BytesIO()
    frame.reset_index().to_parquet(buffer, index=False)
    return buffer.getvalue()
