"""The compiled drawdown and the shared sum of squares give, bit for bit, what the numpy expressions gave."""

from __future__ import annotations

import math

import numpy as np
import pytest

from services.domain.drawdown_kernel import drawdown
from services.domain.metrics import return_moments


def numpy_drawdown(equity: np.ndarray) -> tuple[float, int]:
    """The expressions the kernel replaced."""
    peak = np.maximum.accumulate(equity)
    below = (equity < peak).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], below, [0]))))
    runs = edges[1::2] - edges[::2]
    with np.errstate(divide="ignore", invalid="ignore"):
        worst = float(np.max(1.0 - equity / peak))
    return worst, int(runs.max()) if runs.size else 0


def curves() -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    found = []
    for n in (1, 2, 3, 7, 128, 4097, 100_003):
        walk = 1e5 * np.cumprod(1 + rng.normal(0, 0.002, n))
        found += [walk, -walk, np.full(n, 5.0), np.where(rng.random(n) < 0.3, 0.0, walk)]
        if n > 2:
            holed = walk.copy()
            holed[n // 2] = np.nan
            found.append(holed)
            flat_then_down = walk.copy()
            flat_then_down[n // 3 :] = walk[n // 3] * 0.5
            found.append(flat_then_down)
    return found


@pytest.mark.parametrize("index", range(len(curves())))
def test_drawdown_is_the_numpy_expressions_bit_for_bit(index: int) -> None:
    equity = curves()[index]
    worst, longest = drawdown(equity)
    expected_worst, expected_longest = numpy_drawdown(equity)
    assert longest == expected_longest
    assert (math.isnan(worst) and math.isnan(expected_worst)) or worst == expected_worst


def test_the_sharpe_spread_is_numpys_std_bit_for_bit() -> None:
    rng = np.random.default_rng(4)
    for n in (2, 3, 129, 10_001, 1_000_350):
        excess = rng.normal(0.0001, 0.01, n)
        moments = return_moments(excess)
        assert moments["returns_sharpe_per_bar"] == excess.mean() / excess.std(ddof=1)
