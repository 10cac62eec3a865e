"""What a tearsheet computes, against hand-computed values and the run's own metrics."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from services.domain.metrics import _return_metrics
from services.results.report import analytics


def test_drawdown_is_the_fall_below_the_running_peak():
    equity = np.array([100.0, 120.0, 90.0, 130.0, 104.0])
    assert analytics.drawdown(equity) == pytest.approx([0.0, 0.0, -0.25, 0.0, -0.2])


def test_buy_and_hold_pays_slippage_and_commission_once_on_entry():
    close = np.array([10.0, 11.0, 12.0])
    value = analytics.buy_and_hold(close, initial_capital=1000.0, commission=0.01, slippage=0.02)
    shares = 1000.0 / (10.0 * 1.02 * 1.01)
    assert value == pytest.approx(shares * close)
    assert analytics.buy_and_hold(close, initial_capital=1000.0, commission=0.0, slippage=0.0)[-1] == 1200.0


def test_monthly_returns_compound_from_the_previous_month_end_and_the_initial_capital():
    dates = pd.to_datetime(["2024-01-02", "2024-01-31", "2024-02-15", "2024-02-29", "2024-03-01"])
    equity = pd.Series([101.0, 110.0, 100.0, 99.0, 108.9], index=dates)
    table = analytics.monthly_returns(equity, 100.0)
    assert list(table.index) == [2024]
    assert table.loc[2024, "Jan"] == pytest.approx(0.10)
    assert table.loc[2024, "Feb"] == pytest.approx(-0.10)
    assert table.loc[2024, "Mar"] == pytest.approx(0.10)
    assert math.isnan(table.loc[2024, "Apr"])
    assert analytics.yearly_returns(table).loc[2024] == pytest.approx(108.9 / 100.0 - 1.0)


def test_a_window_as_long_as_the_run_gives_the_runs_sharpe_ratio():
    rng = np.random.default_rng(5)
    equity = 1000.0 * np.exp(np.cumsum(rng.normal(0.0005, 0.01, 300)))
    rolling = analytics.rolling_sharpe(equity, window=299, bars_per_year=252, risk_free_rate=0.03)
    assert np.isnan(rolling[:-1]).all()
    assert rolling[-1] == pytest.approx(_return_metrics(equity, 252, 0.03)["perf_sharpe_ratio"])


def test_rolling_sharpe_is_undefined_where_equity_is_flat():
    equity = np.concatenate([np.full(50, 100.0), 100.0 * np.cumprod(1 + np.tile([0.01, -0.005], 50))])
    rolling = analytics.rolling_sharpe(equity, window=20, bars_per_year=252, risk_free_rate=0.0)
    assert np.isnan(rolling[:50]).all() and np.isfinite(rolling[50:]).all()


def test_rolling_window_is_half_a_year_shrunk_for_short_runs():
    assert analytics.rolling_window(10_000, 252) == 126
    assert analytics.rolling_window(200, 252) == 40
    assert analytics.rolling_window(20, 252) == analytics.MIN_WINDOW


def test_pnl_bins_have_an_edge_at_zero_and_hold_every_trade():
    pnl = np.array([-250.0, -10.0, 0.5, 3.0, 980.0, 1000.0])
    counts, edges = analytics.pnl_histogram(pnl, bins=10)
    assert 0.0 in edges.tolist()
    assert counts.sum() == len(pnl)
    assert edges[0] <= np.percentile(pnl, 0.5) and edges[-1] >= np.percentile(pnl, 99.5)


def test_outliers_count_in_the_outermost_bins_instead_of_stretching_the_axis():
    rng = np.random.default_rng(2)
    pnl = np.concatenate([rng.normal(0.0, 10.0, 10_000), [-5_000.0, 20_000.0]])
    counts, edges = analytics.pnl_histogram(pnl)
    assert counts.sum() == pnl.size
    assert edges[-1] < 100 and edges[0] > -100
    assert counts[0] >= 1 and counts[-1] >= 1


def test_no_trades_give_no_bins():
    counts, edges = analytics.pnl_histogram(np.array([]))
    assert counts.size == 0 and edges.size == 0
