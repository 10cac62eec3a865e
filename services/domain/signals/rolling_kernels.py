"""Compiled loops of the crossover: the simple moving average and the cross, one pass each.

`rolling_mean(x, n)` returns, bit for bit, what
`pd.Series(x).rolling(n, min_periods=n).mean()` returns: the same running
sum with Kahan compensation (one compensation term for the values entering
the window, another for those leaving it), NaN values skipped, the mean of a
window whose values are all equal being that value exactly, a mean of
all-positive (all-negative) values never below (above) zero, and infinite
values skipped like NaN (pandas turns them into NaN before it sums).
Pandas spends two passes and a temporary per average, and the comparison of
the two averages took four more passes; here a million bars cost one pass
per average and one for the cross.

Imported only when a crossover computes (numba's import and cache load are
not paid by processes that only validate parameters).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def rolling_mean(x: np.ndarray, n: int) -> np.ndarray:
    """Mean of the last `n` values at each index (n >= 1); NaN where fewer than `n` of them are finite."""
    size = len(x)
    out = np.empty(size, dtype=np.float64)
    total = 0.0
    added_error = 0.0  # Kahan compensation of the values added
    removed_error = 0.0  # and of those removed, kept apart as pandas keeps them
    count = 0  # finite values in the window
    negatives = 0  # of which negative (sign bit set)
    last = np.nan  # the last finite value added
    run = 0  # how many finite values in a row were equal to `last`
    if size > 0:
        last = x[0]
    for i in range(size):
        if i >= n:
            gone = x[i - n]
            if math.isfinite(gone):
                count -= 1
                y = -gone - removed_error
                t = total + y
                removed_error = t - total - y
                total = t
                if math.copysign(1.0, gone) < 0.0:
                    negatives -= 1
        value = x[i]
        if math.isfinite(value):
            count += 1
            y = value - added_error
            t = total + y
            added_error = t - total - y
            total = t
            if math.copysign(1.0, value) < 0.0:
                negatives += 1
            if value == last:
                run += 1
            else:
                run = 1
            last = value
        if count >= n and count > 0:
            mean = total / count
            if run >= count:
                mean = last
            elif negatives == 0 and mean < 0.0:
                mean = 0.0
            elif negatives == count and mean > 0.0:
                mean = 0.0
            out[i] = mean
        else:
            out[i] = np.nan
    return out


@njit(cache=True, nogil=True)
def cross_exposure(fast: np.ndarray, slow: np.ndarray) -> np.ndarray:
    """+1.0 where fast > slow, -1.0 where fast <= slow, 0.0 where either is NaN (the finished exposure)."""
    size = len(fast)
    out = np.empty(size, dtype=np.float64)
    for i in range(size):
        a, b = fast[i], slow[i]
        if math.isnan(a) or math.isnan(b):
            out[i] = 0.0
        elif a > b:
            out[i] = 1.0
        else:
            out[i] = -1.0
    return out
