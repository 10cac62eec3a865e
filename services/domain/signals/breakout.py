"""Channel breakout."""

from __future__ import annotations

import numpy as np
import pandas as pd
from typing_extensions import override

from services.domain.signals.schema import Param, SignalPlugin


class BreakoutSignal(SignalPlugin):
    """Donchian channel breakout.

    The exposure turns +1 on a bar whose close is above the highest high of
    the `lookback` bars before it, turns -1 on a bar whose close is below
    their lowest low, and otherwise keeps its last value
    (0 until the first breakout). The current bar is never part of its own
    channel. Parameter: lookback (bars).
    """

    key = "breakout_signal"
    params = (Param("lookback", int, 20, ge=1, le=100_000, description="bars of the channel before each bar"),)

    @override
    def exposure(self, bars, *, lookback):
        high = bars["high"].astype(float).rolling(lookback, min_periods=lookback).max().shift(1)
        low = bars["low"].astype(float).rolling(lookback, min_periods=lookback).min().shift(1)
        close = bars["close"].astype(float)
        events = np.full(len(bars), np.nan)
        events[(close < low).to_numpy()] = -1.0
        events[(close > high).to_numpy()] = 1.0
        return pd.Series(events).ffill().to_numpy()
