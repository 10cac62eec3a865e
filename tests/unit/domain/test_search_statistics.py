"""The overfitting figures of a leaderboard: PBO from reported blocks equals PBO from the whole matrix; DSR wiring."""

from __future__ import annotations

import numpy as np
import pytest

from services.domain.backtest_overfitting import (
    probability_of_backtest_overfitting,
    probability_of_backtest_overfitting_from_blocks,
    return_blocks,
)
from services.domain.deflated_sharpe import deflated_sharpe_ratios
from services.domain.leaderboard import SettledRun, leaderboard
from services.domain.metrics import excess_returns, return_moments
from services.domain.search_statistics import overfitting

BARS = 301  # 300 returns: 16 blocks of 18 or 19 rows, array_split's uneven cut


def _curves(n_runs: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    drift = rng.normal(0.0002, 0.0003, n_runs)
    returns = rng.normal(drift, 0.01, (BARS - 1, n_runs))
    return 10_000.0 * np.vstack([np.ones(n_runs), np.cumprod(1 + returns, axis=0)])


def _reported(curves: np.ndarray) -> tuple[list[dict], list[dict]]:
    """(flat moments, stored blocks) of each run, as an executor reports them."""
    excess = excess_returns(curves, bars_per_year=252, risk_free_rate=0.02)
    metrics, blocks = [], []
    for column in excess.T:
        metrics.append(return_moments(column))
        sums, squares = return_blocks(column)
        blocks.append({"sums": sums, "squares": squares})
    return metrics, blocks


def test_pbo_from_reported_blocks_is_pbo_of_the_whole_matrix():
    curves = _curves(40)
    excess = excess_returns(curves, bars_per_year=252, risk_free_rate=0.02)
    whole = probability_of_backtest_overfitting(excess)
    _, blocks = _reported(curves)
    sums = np.array([b["sums"] for b in blocks]).T
    squares = np.array([b["squares"] for b in blocks]).T
    sizes = [len(rows) for rows in np.array_split(np.arange(BARS - 1), 16)]
    from_blocks = probability_of_backtest_overfitting_from_blocks(sums, squares, sizes)
    assert from_blocks.pbo == whole.pbo
    np.testing.assert_allclose(from_blocks.logits, whole.logits, rtol=1e-12)
    np.testing.assert_array_equal(from_blocks.best_config, whole.best_config)


def test_return_blocks_are_the_sums_of_array_split():
    series = np.random.default_rng(3).normal(size=50)
    sums, squares = return_blocks(series)
    parts = np.array_split(series, 16)
    np.testing.assert_allclose(sums, [p.sum() for p in parts], rtol=1e-12)
    np.testing.assert_allclose(squares, [(p * p).sum() for p in parts], rtol=1e-12)
    assert return_blocks(series[:15]) is None


def test_overfitting_gives_each_run_its_dsr_and_the_search_its_pbo():
    metrics, blocks = _reported(_curves(12))
    metrics[3], blocks[3] = {}, None  # a failed run: no DSR, excluded from PBO
    dsr, figures = overfitting(metrics, blocks, shared_bars=True)
    assert dsr == deflated_sharpe_ratios(metrics)
    assert dsr[3] is None and all(v is not None for i, v in enumerate(dsr) if i != 3)
    assert figures["n_trials"] == 11
    assert figures["pbo_detail"]["n_configs"] == 11 and figures["pbo_detail"]["excluded_configs"] == 1
    assert 0.0 <= figures["pbo"] <= 1.0 and figures["pbo_unavailable"] is None


def test_no_pbo_across_different_bars_or_lengths():
    metrics, blocks = _reported(_curves(6))
    _, figures = overfitting(metrics, blocks, shared_bars=False)
    assert figures["pbo"] is None and "share their bars" in figures["pbo_unavailable"]
    metrics[0] = {**metrics[0], "returns_count": 200}
    _, figures = overfitting(metrics, blocks, shared_bars=True)
    assert figures["pbo"] is None and "number of returns" in figures["pbo_unavailable"]


def test_a_sweep_leaderboard_ranks_by_deflated_sharpe():
    metrics, blocks = _reported(_curves(5, seed=11))
    runs = [{"backtest_id": str(i), "overrides": {"n": i}} for i in range(5)]
    settled = {
        str(i): SettledRun(
            config={"symbol": "X", "timeframe": "1d", "start_date": "2020-01-01", "end_date": "2021-03-01"},
            lifted={"initial_capital": 1.0, "commission": 0.0, "slippage": 0.0},
            status="completed",
            metrics=metrics[i],
            error=None,
            return_blocks=blocks[i],
        )
        for i in range(5)
    }
    result = leaderboard(runs, settled, "perf_deflated_sharpe_ratio")
    values = [e["perf_deflated_sharpe_ratio"] for e in result["leaderboard"]]
    assert values == sorted(values, reverse=True)
    expected = dict(zip([r["backtest_id"] for r in runs], deflated_sharpe_ratios(metrics), strict=True))
    for entry in result["leaderboard"]:
        assert entry["perf_deflated_sharpe_ratio"] == pytest.approx(expected[entry["backtest_id"]])
    assert result["overfitting"]["n_trials"] == 5 and result["overfitting"]["pbo"] is not None
