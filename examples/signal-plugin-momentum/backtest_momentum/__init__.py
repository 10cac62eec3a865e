"""Momentum: long while the close is above where it was `lookback` bars ago, flat (or short) otherwise."""

from __future__ import annotations

import numpy as np

from services.domain.signals.schema import Param, SignalPlugin


class MomentumSignal(SignalPlugin):
    """Time-series momentum over a lookback.

    The exposure is +1 while the close is more than `threshold` (a fraction)
    above the close `lookback` bars before, -1 while it is more than
    `threshold` below it, and 0 otherwise or before `lookback` bars exist.
    Parameters: lookback (bars) and threshold.
    """

    key = "momentum_signal"
    params = (
        Param("lookback", int, 20, ge=1, le=10_000, description="bars back to compare the close with"),
        Param("threshold", float, 0.0, ge=0, le=1, description="move, as a fraction, that counts as momentum"),
    )
    example = {"lookback": 20, "threshold": 0.0}

    def exposure(self, bars, *, lookback, threshold):
        """+1 / -1 / 0 by the close's change over `lookback` bars, NaN until that many bars exist."""
        close = bars["close"].to_numpy(dtype=float)
        change = np.full(close.size, np.nan)
        change[lookback:] = close[lookback:] / close[:-lookback] - 1.0
        signal = np.where(change > threshold, 1.0, np.where(change < -threshold, -1.0, 0.0))
        signal[np.isnan(change)] = np.nan
        return signal
