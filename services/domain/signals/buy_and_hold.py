"""Buy and hold."""

from __future__ import annotations

import numpy as np

from services.domain.signals.schema import SignalPlugin


class BuyAndHold(SignalPlugin):
    """The benchmark: exposure +1 on every bar, so the run buys on the first
    bar and holds to the end. No parameters.
    """

    key = "buy_and_hold"

    def exposure(self, bars):
        return np.ones(len(bars))
