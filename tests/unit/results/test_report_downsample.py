"""The points a report draws keep every extreme: above all the drawdown's worst point."""

from __future__ import annotations

import numpy as np
import pytest

from services.results.report.analytics import drawdown
from services.results.report.downsample import POINTS_PER_BUCKET, extremes_kept


def random_walk(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100_000 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("n", [5_000, 123_457, 1_000_350])
def test_the_drawdowns_worst_point_is_always_drawn(n, seed):
    underwater = drawdown(random_walk(n, seed))
    kept = extremes_kept(underwater, 860)
    assert int(np.argmin(underwater)) in set(kept.tolist())
    assert underwater[kept].min() == underwater.min()


@pytest.mark.parametrize("n", [3_441, 10_000, 1_000_350])
def test_every_bucket_keeps_its_first_lowest_highest_and_last_point_in_order(n):
    values = random_walk(n, 3)
    buckets = 860
    kept = extremes_kept(values, buckets)
    assert np.all(np.diff(kept) > 0)
    assert len(kept) <= POINTS_PER_BUCKET * buckets
    size = -(-n // buckets)
    for start in range(0, n, size):
        chunk = values[start : start + size]
        in_bucket = kept[(kept >= start) & (kept < start + size)]
        assert {start, start + len(chunk) - 1} <= set(in_bucket.tolist())
        assert values[in_bucket].min() == chunk.min() and values[in_bucket].max() == chunk.max()


def test_a_short_series_is_drawn_whole():
    assert extremes_kept(np.arange(100.0), 860).tolist() == list(range(100))


def test_nan_is_never_an_extreme_unless_a_bucket_has_nothing_else():
    values = np.concatenate([np.full(50_000, np.nan), random_walk(50_000, 1)])
    kept = extremes_kept(values, 100)
    finite = values[kept][np.isfinite(values[kept])]
    assert finite.min() == np.nanmin(values) and finite.max() == np.nanmax(values)
