"""Buy and hold."""

from __future__ import annotations

import numpy as np
from typing_extensions import override

from services.domain.signals.schema import SignalPlugin


class BuyAndHold(SignalPlugin):
    """The benchmark: exposure +1 on every bar.

    The run buys on the first bar and holds to the end. No parameters.
    """

    key = "buy_and_hold"

    @override
    def exposure(self, bars):
        return np.ones(len(bars))
