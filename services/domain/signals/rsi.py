"""Relative strength index mean reversion."""

from __future__ import annotations

import numpy as np
import pandas as pd
from typing_extensions import override

from services.domain.signals.schema import Param, SignalPlugin


def wilder_average(values: pd.Series, period: int) -> np.ndarray:
    """Wilder's smoothing of `values` (floats) over `period` bars.

    NaN until the first full window of `period` values; there it starts as
    that window's simple mean, then follows avg_t = ((period - 1) * avg_{t-1} + x_t) / period.
    """
    seed = values.rolling(period, min_periods=period).mean()
    full = seed.notna().to_numpy()
    if not full.any():
        return np.full(len(values), np.nan)
    first = int(full.argmax())
    seeded = values.copy()
    seeded.iloc[:first] = np.nan
    seeded.iloc[first] = seed.iloc[first]
    # ewm with alpha = 1/period and adjust=False is Wilder's recursion,
    # started at the seed because everything before it is NaN.
    return seeded.ewm(alpha=1.0 / period, adjust=False).mean().to_numpy()


def wilder_rsi(close: pd.Series, period: int) -> np.ndarray:
    """Wilder's RSI of `close` over `period` bars; NaN for the first `period` bars.

    Average gain and loss start as the simple mean of the first `period`
    changes and then follow avg_t = ((period - 1) * avg_{t-1} + x_t) / period.
    RSI is 100 when there were no losses and 50 when nothing moved at all.
    """
    change = close.astype(float).diff()
    gain = wilder_average(change.clip(lower=0.0), period)
    loss = wilder_average((-change).clip(lower=0.0), period)
    with np.errstate(divide="ignore", invalid="ignore"):
        rsi = 100.0 - 100.0 / (1.0 + gain / loss)
    rsi = np.where(loss == 0.0, np.where(gain == 0.0, 50.0, 100.0), rsi)
    rsi[np.isnan(gain) | np.isnan(loss)] = np.nan
    return rsi


class RsiSignal(SignalPlugin):
    """Mean reversion on Wilder's RSI of the close.

    The exposure turns +1 on a bar whose RSI is below `lower` and stays +1 until a bar whose RSI is above
    `upper`, where it turns -1 and stays -1 until RSI is below `lower` again
    (long-only runs treat -1 as flat, so they hold from oversold to
    overbought). It is 0 until the RSI first leaves the [lower, upper] band.
    Parameters: period (bars), lower and upper (RSI levels, lower < upper).
    """

    key = "rsi_signal"
    params = (
        Param("period", int, 14, ge=2, le=100_000, description="bars of Wilder's RSI"),
        Param("lower", float, 30.0, gt=0, le=100, description="go long below this RSI (< upper)"),
        Param("upper", float, 70.0, gt=0, le=100, description="go short (flat if long-only) above this RSI"),
    )

    @override
    def cross_check(self, values):
        if values["lower"] >= values["upper"]:
            return [("lower", "must be less than upper")]
        return []

    @override
    def exposure(self, bars, *, period, lower, upper):
        rsi = wilder_rsi(bars["close"], period)
        events = np.full(len(rsi), np.nan)
        events[rsi < lower] = 1.0
        events[rsi > upper] = -1.0
        # Between events the last one holds.
        return pd.Series(events).ffill().to_numpy()
