"""Which points of a long series to draw, so a chart keeps its shape and every extreme.

A chart is a few hundred pixels wide; a million-bar run has a million points.
Per bucket of consecutive points (about one pixel column each) we keep the
first, the lowest, the highest and the last, in their original order: the
drawn line passes through every local extreme, so its envelope is the full
series' envelope, and the series' global minimum (a drawdown's worst point)
and maximum are always drawn. This is the M4 aggregation of Jugel et al.
(VLDB 2014), which renders pixel-identical to the full line.
"""

from __future__ import annotations

import numpy as np

POINTS_PER_BUCKET = 4


def extremes_kept(values: np.ndarray, buckets: int) -> np.ndarray:
    """Sorted indices of the points of `values` to draw.

    values: the series (NaN allowed: never chosen as an extreme unless a bucket is all NaN).
    buckets: how many groups of consecutive points to reduce to at most four each (about the plot's width in pixels).
    """
    values = np.asarray(values, dtype=float)
    n = values.size
    if buckets < 1:
        raise ValueError(f"buckets must be at least 1, got {buckets}")
    if n <= POINTS_PER_BUCKET * buckets:
        return np.arange(n)
    size = -(-n // buckets)  # points per bucket; the last bucket may be shorter
    count = -(-n // size)
    padded = count * size
    # Padding never wins: +inf for the minimum, -inf for the maximum; NaN likewise.
    low = np.full(padded, np.inf)
    low[:n] = np.where(np.isnan(values), np.inf, values)
    high = np.full(padded, -np.inf)
    high[:n] = np.where(np.isnan(values), -np.inf, values)
    starts = np.arange(count) * size
    lowest = starts + low.reshape(count, size).argmin(axis=1)
    highest = starts + high.reshape(count, size).argmax(axis=1)
    last = np.minimum(starts + size, n) - 1
    return np.unique(np.concatenate([starts, lowest, highest, last]))
