"""Bollinger band mean reversion."""

from __future__ import annotations

import numpy as np
import pandas as pd
from typing_extensions import override

from services.domain.signals.schema import Param, SignalPlugin


class BollingerSignal(SignalPlugin):
    """Mean reversion on Bollinger bands of the close.

    Middle = the `period`-bar simple mean, bands = middle -/+ `num_std`
    population standard deviations. The exposure turns +1 on a close below the lower band and stays +1 until a
    close at or above the middle band; it turns -1 on a close above the upper
    band and stays -1 until a close at or below the middle band; otherwise it
    is 0. Parameters: period (bars) and num_std (band width).
    """

    key = "bollinger_signal"
    params = (
        Param("period", int, 20, ge=2, le=100_000, description="bars of the middle band's mean"),
        Param("num_std", float, 2.0, gt=0, le=10, description="band width in standard deviations"),
    )

    @override
    def exposure(self, bars, *, period, num_std):
        close = bars["close"].astype(float)
        rolling = close.rolling(period, min_periods=period)
        middle = rolling.mean().to_numpy()
        width = num_std * rolling.std(ddof=0).to_numpy()
        price = close.to_numpy()
        # A position lives inside one run of closes on the same side of the
        # middle band: a long opens below the lower band (so below the middle)
        # and ends at the first close not below the middle. So: reset to 0 at
        # the start of every run, mark entries, and carry forward.
        side = np.nan_to_num(np.sign(price - middle), nan=0.0)
        run_starts = np.r_[True, side[1:] != side[:-1]]
        state = np.full(len(price), np.nan)
        state[run_starts] = 0.0
        state[price < middle - width] = 1.0
        state[price > middle + width] = -1.0
        return pd.Series(state).ffill().to_numpy()
