"""The tiny run both adapters warm up on: eight bars, every size type and fill price, longs and shorts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from services.domain.execution import FILL_PRICES, SIZE_TYPES, ExecutionSpec

SPECS = [
    ExecutionSpec(size_type=size_type, fill_price=fill, allow_short=True)
    for size_type in SIZE_TYPES
    for fill in FILL_PRICES
]


def tiny_inputs() -> tuple[pd.DataFrame, np.ndarray]:
    """Eight bars and a signal that enters, rebalances, flips and exits."""
    close = np.array([10.0, 11.0, 10.5, 12.0, 11.0, 11.5, 12.5, 12.0])
    index = pd.date_range("2000-01-03", periods=len(close), freq="D")
    bars = pd.DataFrame({"open": close, "high": close, "low": close, "close": close, "volume": 1.0}, index=index)
    return bars, np.array([0.0, 1.0, 0.5, -1.0, -1.0, 0.0, 1.0, 1.0])
