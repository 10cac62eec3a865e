"""The numeric side of the language's functions: whole-array computations, causal by construction.

Every function sees bars up to and including the bar it computes (rolling
windows end at the current bar, recursions run forward), so cutting the
bars after any bar never changes a value at or before it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from services.domain.signals.crossover import moving_average
from services.domain.signals.rsi import wilder_average, wilder_rsi


def sma(x: np.ndarray, n: int) -> np.ndarray:
    """Simple moving average of the last `n` values, as crossover_signal computes it."""
    return moving_average(pd.Series(x), n, "sma").to_numpy()


def ema(x: np.ndarray, n: int) -> np.ndarray:
    """Exponential moving average of span `n`, as crossover_signal computes it."""
    return moving_average(pd.Series(x), n, "ema").to_numpy()


def rsi(x: np.ndarray, n: int) -> np.ndarray:
    """Wilder's RSI, as rsi_signal computes it; values before the first non-NaN one stay NaN."""
    first = _first_valid(x)
    out = np.full(len(x), np.nan)
    if first < len(x):
        out[first:] = wilder_rsi(pd.Series(x[first:]), n)
    return out


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int) -> np.ndarray:
    """Wilder's average true range.

    True range = max(high - low, |high - previous close|, |low - previous close|)
    (the first bar's is its high - low), smoothed by Wilder's average from the
    mean of the first `n` true ranges.
    """
    previous = shift(close, 1)
    true_range = np.fmax(high - low, np.fmax(np.abs(high - previous), np.abs(low - previous)))
    return wilder_average(pd.Series(true_range), n)


def stdev(x: np.ndarray, n: int) -> np.ndarray:
    """Population standard deviation of the last `n` values (as bollinger_signal's bands use)."""
    return pd.Series(x).rolling(n, min_periods=n).std(ddof=0).to_numpy()


def highest(x: np.ndarray, n: int) -> np.ndarray:
    """Largest of the last `n` values, the current one included."""
    return pd.Series(x).rolling(n, min_periods=n).max().to_numpy()


def lowest(x: np.ndarray, n: int) -> np.ndarray:
    """Smallest of the last `n` values, the current one included."""
    return pd.Series(x).rolling(n, min_periods=n).min().to_numpy()


def roc(x: np.ndarray, n: int) -> np.ndarray:
    """Rate of change in percent: 100 * (x / x n bars ago - 1)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return 100.0 * (x / shift(x, n) - 1.0)


def shift(x: np.ndarray, n: int) -> np.ndarray:
    """`x` lagged by `n` >= 0 bars: NaN (False for conditions) for the first `n`."""
    if n == 0:
        return x
    out = np.empty_like(x)
    out[:n] = False if x.dtype == bool else np.nan
    out[n:] = x[: len(x) - n]
    return out


def crossover(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A > b on this bar and a <= b on the previous one (false on the first bar and wherever either is NaN)."""
    return (a > b) & (shift(a, 1) <= shift(b, 1))


def crossunder(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A < b on this bar and a >= b on the previous one."""
    return (a < b) & (shift(a, 1) >= shift(b, 1))


def _first_valid(x: np.ndarray) -> int:
    valid = ~np.isnan(x)
    return int(valid.argmax()) if valid.any() else len(x)
