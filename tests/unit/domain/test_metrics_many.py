"""Many runs' metrics at once are each run's metrics alone, bit for bit, and so are their return blocks."""

import numpy as np
import pandas as pd
import pytest

from services.domain.backtest_overfitting import return_blocks, return_blocks_many
from services.domain.execution import EngineResult, Trade
from services.domain.metrics import metrics_and_excess, metrics_and_excess_many


def _runs(seed: int, n_runs: int, n_bars: int) -> list[EngineResult]:
    rng = np.random.default_rng(seed)
    index = pd.date_range("2014-01-02", periods=n_bars, freq="B")
    runs = []
    for i in range(n_runs):
        held = rng.random(n_bars) < rng.uniform(0.0, 1.0)
        returns = np.where(held, rng.normal(0.0005, 0.015, n_bars), 0.0)
        equity = 10_000.0 * np.cumprod(1.0 + returns)
        if i % 7 == 3:
            equity[:] = 10_000.0  # never in the market: ratios undefined
        if i % 11 == 5:
            equity[n_bars // 2 :] = 0.0  # ruined: infinities and NaN returns
        if i % 13 == 6:
            equity[n_bars // 3] = np.nan
        position = np.where(held, rng.integers(1, 50, n_bars).astype(float), 0.0)
        position[rng.integers(n_bars)] = np.nan
        day = index[0]
        trades = [
            Trade(
                day, None if k == 2 else day, "long", 10.0, 11.0, 1.0, pnl, pnl / 10.0, "open" if k == 2 else "closed"
            )
            for k, pnl in enumerate(rng.normal(0.0, 5.0, int(rng.integers(0, 6))))
        ]
        runs.append(
            EngineResult(
                equity=pd.Series(equity, index=index),
                position=pd.Series(position, index=index),
                trades=trades,
                traded_notional=float(rng.uniform(0, 1e6)),
            )
        )
    return runs


def _same(a, b) -> bool:
    """Equal, NaN equal to NaN, and of one type (an int count stays an int)."""
    return type(a) is type(b) and (a == b or (a != a and b != b))


@pytest.mark.parametrize(("seed", "n_runs", "n_bars"), [(0, 40, 2609), (1, 25, 3), (2, 30, 17), (3, 9, 1000)])
@pytest.mark.parametrize("risk_free_rate", [0.0, 0.04])
def test_many_runs_are_each_run_alone_bit_for_bit(seed, n_runs, n_bars, risk_free_rate):
    runs = _runs(seed, n_runs, n_bars)
    many, excess = metrics_and_excess_many(runs, bars_per_year=252, risk_free_rate=risk_free_rate)
    blocks = return_blocks_many(excess)
    for i, run in enumerate(runs):
        alone, alone_excess = metrics_and_excess(run, bars_per_year=252, risk_free_rate=risk_free_rate)
        assert list(many[i]) == list(alone)
        assert all(_same(many[i][key], alone[key]) for key in alone), i
        assert np.array_equal(excess[i], alone_excess, equal_nan=True)
        expected = return_blocks(alone_excess)
        if expected is None:
            assert blocks is None
        else:
            for got, want in zip(blocks[i], expected, strict=True):
                assert np.array_equal(got, want, equal_nan=True)


def test_fewer_than_three_bars_are_refused():
    with pytest.raises(ValueError, match="at least 3"):
        metrics_and_excess_many(_runs(0, 2, 2), bars_per_year=252, risk_free_rate=0.0)
