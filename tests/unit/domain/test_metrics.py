"""Metrics against values worked out by hand from DESIGN.md's definitions."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats  # a dependency of vectorbt: an independent implementation of the moments

from services.domain.execution import EngineResult, Trade
from services.domain.metrics import STORED, compute_metrics, excess_returns, structure

approx = pytest.approx


def result(equity, *, position=None, trades=(), traded_notional=0.0) -> EngineResult:
    index = pd.date_range("2021-01-04", periods=len(equity), freq="D")
    position = [0.0] * len(equity) if position is None else position
    return EngineResult(
        equity=pd.Series(equity, index=index, dtype=float),
        position=pd.Series(position, index=index, dtype=float),
        trades=list(trades),
        traded_notional=traded_notional,
    )


def trade(pnl: float, status: str = "closed") -> Trade:
    day = pd.Timestamp("2021-01-04")
    return Trade(day, None if status == "open" else day, "long", 10.0, 11.0, 1.0, pnl, pnl / 10.0, status)


# Returns r = +10%, -10%, 0, +10%, +10%:
# E = 100, 110, 99, 99, 108.9, 119.79 (n = 5 returns). We take N = 4 bars a year
# so that sqrt(N) = 2.
EQUITY = [100.0, 110.0, 99.0, 99.0, 108.9, 119.79]


def test_return_and_drawdown_metrics_by_hand():
    m = compute_metrics(result(EQUITY), bars_per_year=4, risk_free_rate=0.0)
    # total_return = 119.79 / 100 - 1
    assert m["total_return"] == approx(0.1979)
    # cagr = 1.1979^(N/n) - 1 = 1.1979^(4/5) - 1
    assert m["perf_cagr"] == approx(1.1979**0.8 - 1)
    # mean r = 0.2 / 5 = 0.04; deviations .06 -.14 -.04 .06 .06; squares sum to
    # .0036 + .0196 + .0016 + .0036 + .0036 = .032; var (ddof 1) = .032 / 4 = .008
    # volatility = sqrt(.008) * sqrt(4) = sqrt(.032)
    assert m["risk_volatility_annualised"] == approx(math.sqrt(0.032))
    # sharpe = .04 / sqrt(.008) * 2 = 0.894427...
    assert m["perf_sharpe_ratio"] == approx(0.08 / math.sqrt(0.008))
    assert m["perf_sharpe_ratio"] == approx(0.894427, abs=1e-6)
    # downside: min(r, 0) = 0, -.1, 0, 0, 0 -> mean of squares = .01 / 5 = .002
    # sortino = .04 * 4 / (sqrt(.002) * 2) = .16 / .0894427 = 1.788854
    assert m["perf_sortino_ratio"] == approx(1.788854, abs=1e-6)
    # running max 100 110 110 110 110 119.79; drawdowns 0 0 .1 .1 .01 0
    assert m["risk_max_drawdown"] == approx(0.1)
    # bars below a previous peak: 99, 99, 108.9 -> a run of 3
    assert m["risk_max_drawdown_duration"] == 3
    assert isinstance(m["risk_max_drawdown_duration"], int)
    # calmar = cagr / max_drawdown
    assert m["perf_calmar_ratio"] == approx((1.1979**0.8 - 1) / 0.1)
    # n = 5: k = ceil(5 * 0.05) = ceil(5 * 0.01) = 1, the worst return, -10%
    assert m["risk_var_95"] == approx(0.1) and m["risk_cvar_95"] == approx(0.1)
    assert m["risk_var_99"] == approx(0.1) and m["risk_cvar_99"] == approx(0.1)


def test_risk_free_rate_enters_sharpe_and_sortino_per_bar():
    # rf = 1.01^4 - 1, so rf_bar = (1 + rf)^(1/4) - 1 = 0.01.
    m = compute_metrics(result(EQUITY), bars_per_year=4, risk_free_rate=1.01**4 - 1)
    # excess = .09, -.11, -.01, .09, .09: mean .03, same spread sqrt(.008)
    # sharpe = .03 / sqrt(.008) * 2 = 0.670820
    assert m["perf_sharpe_ratio"] == approx(0.670820, abs=1e-6)
    # downside squares: .0121 + .0001 = .0122, / 5 = .00244
    # sortino = .03 * 4 / (sqrt(.00244) * 2) = .12 / .0987927 = 1.214664
    assert m["perf_sortino_ratio"] == approx(0.12 / (math.sqrt(0.00244) * 2))
    assert m["perf_sortino_ratio"] == approx(1.214664, abs=1e-6)
    # volatility is of raw returns, unchanged by the rate
    assert m["risk_volatility_annualised"] == approx(math.sqrt(0.032))


def test_var_is_an_observed_return_without_interpolation():
    def curve(returns):
        return 100 * np.cumprod([1.0] + [1.0 + r for r in returns])

    # 20 returns: two losses (-5%, -3%) and eighteen +1%.
    # n = 20: k95 = ceil(20 * 5 / 100) = 1 exactly (no float round-up to 2),
    # so VaR95 = CVaR95 = 5%.
    returns = [-0.05, -0.03] + [0.01] * 18
    m = compute_metrics(result(curve(returns)), bars_per_year=252, risk_free_rate=0.0)
    assert m["risk_var_95"] == approx(0.05) and m["risk_cvar_95"] == approx(0.05)
    # 40 returns with the same two losses: k95 = ceil(40 * .05) = 2, the second
    # worst (-3%); CVaR95 = mean(-5%, -3%) negated = 4%. k99 = ceil(.4) = 1 -> 5%.
    returns = [0.01] * 10 + [-0.05] + [0.01] * 10 + [-0.03] + [0.01] * 18
    m = compute_metrics(result(curve(returns)), bars_per_year=252, risk_free_rate=0.0)
    assert m["risk_var_95"] == approx(0.03) and m["risk_cvar_95"] == approx(0.04)
    assert m["risk_var_99"] == approx(0.05) and m["risk_cvar_99"] == approx(0.05)


def test_flat_equity_gives_null_ratios_not_infinities():
    m = compute_metrics(result([100.0] * 6), bars_per_year=252, risk_free_rate=0.0)
    assert m["total_return"] == 0.0 and m["perf_cagr"] == 0.0
    assert m["risk_volatility_annualised"] == 0.0
    # std of returns is 0 -> sharpe undefined; no negative bar -> sortino undefined
    assert m["perf_sharpe_ratio"] is None
    assert m["perf_sortino_ratio"] is None
    # max_drawdown 0 -> calmar 0 / 0
    assert m["risk_max_drawdown"] == 0.0 and m["perf_calmar_ratio"] is None
    assert m["risk_max_drawdown_duration"] == 0
    assert m["risk_var_95"] == 0.0 and math.copysign(1.0, m["risk_var_95"]) == 1.0  # not -0.0


def test_constant_growth_round_off_is_not_a_sharpe_of_1e16():
    m = compute_metrics(result(100 * 1.01 ** np.arange(50)), bars_per_year=252, risk_free_rate=0.0)
    assert m["perf_sharpe_ratio"] is None
    assert m["total_return"] == approx(1.01**49 - 1)


def test_trade_metrics_by_hand():
    trades = [trade(100.0), trade(-50.0), trade(0.0), trade(200.0), trade(999.0, "open")]
    equity = [100_000.0, 102_000.0, 98_000.0, 100_000.0]
    m = compute_metrics(
        result(equity, position=[0, 10, -10, 0], trades=trades, traded_notional=50_000.0),
        bars_per_year=252,
        risk_free_rate=0.0,
    )
    # 4 closed round trips + 1 still open
    assert m["trade_total_trades"] == 5
    # closed pnl 100, -50, 0, 200: wins 100, 200; loss -50; the flat one is neither
    assert m["trade_win_rate"] == approx(2 / 4)
    assert m["trade_profit_factor"] == approx(300 / 50)
    assert m["trade_avg_win"] == approx(150.0)
    assert m["trade_avg_loss"] == approx(-50.0)
    assert m["trade_expectancy"] == approx(250 / 4)
    # mean equity 100000; years = 4 bars / 252; 50000 / 100000 / (4/252) = 31.5
    assert m["trade_turnover_annualised"] == approx(31.5)
    # short counts as in the market too
    assert m["bars_in_market"] == 2


def test_trade_metrics_without_trades_or_losses_are_null():
    m = compute_metrics(result([100.0, 101.0, 102.0]), bars_per_year=252, risk_free_rate=0.0)
    assert m["trade_total_trades"] == 0 and m["bars_in_market"] == 0
    for key in ("trade_win_rate", "trade_profit_factor", "trade_avg_win", "trade_avg_loss", "trade_expectancy"):
        assert m[key] is None
    assert m["trade_turnover_annualised"] == 0.0
    only_wins = compute_metrics(result([100.0, 101.0], trades=[trade(5.0)]), bars_per_year=252, risk_free_rate=0.0)
    assert only_wins["trade_profit_factor"] is None and only_wins["trade_avg_loss"] is None
    assert only_wins["trade_win_rate"] == 1.0


def test_single_bar_and_empty_equity_do_not_raise():
    one = compute_metrics(result([100.0]), bars_per_year=252, risk_free_rate=0.0)
    assert one["total_return"] == 0.0 and one["perf_cagr"] is None and one["risk_var_95"] is None
    empty = compute_metrics(result([]), bars_per_year=252, risk_free_rate=0.0)
    assert all(empty[k] is None for k in empty if k not in ("bars_in_market", "trade_total_trades", "returns_count"))
    assert empty["returns_count"] == 0 and one["returns_count"] == 0


def test_keys_types_and_structure():
    m = compute_metrics(result(EQUITY, trades=[trade(1.0)]), bars_per_year=4, risk_free_rate=0.0)
    assert list(m) == list(STORED)
    assert all(v is None or type(v) in (int, float) for v in m.values())
    nested = structure(m)
    assert nested["total_return"] == m["total_return"]
    assert nested["bars_in_market"] == m["bars_in_market"]
    assert nested["performance"] == {
        "cagr": m["perf_cagr"],
        "sharpe_ratio": m["perf_sharpe_ratio"],
        "sortino_ratio": m["perf_sortino_ratio"],
        "calmar_ratio": m["perf_calmar_ratio"],
    }
    assert set(nested["risk"]) == {
        "max_drawdown",
        "max_drawdown_duration",
        "var_95",
        "cvar_95",
        "var_99",
        "cvar_99",
        "volatility_annualised",
    }
    assert nested["trading"]["total_trades"] == 1
    assert structure({})["risk"]["var_95"] is None


def test_return_moments_by_hand():
    m = compute_metrics(result(EQUITY), bars_per_year=4, risk_free_rate=0.0)
    # n = 5 returns; per-bar Sharpe = mean / std(ddof=1) = .04 / sqrt(.008) = 0.447214,
    # the annualised one divided by sqrt(N) = 2.
    assert m["returns_count"] == 5 and isinstance(m["returns_count"], int)
    assert m["returns_sharpe_per_bar"] == approx(0.04 / math.sqrt(0.008))
    assert m["returns_sharpe_per_bar"] * 2 == m["perf_sharpe_ratio"]
    # Deviations from the mean .06 -.14 -.04 .06 .06 (5 of them):
    # m2 = .032 / 5 = .0064; m3 = (3 * .000216 - .002744 - .000064) / 5 = -.000432;
    # m4 = (3 * .00001296 + .00038416 + .00000256) / 5 = .00008512.
    # skewness = m3 / m2^1.5 = -.000432 / .000512; kurtosis = m4 / m2^2 = .00008512 / .00004096
    assert m["returns_skewness"] == approx(-0.84375)
    assert m["returns_kurtosis"] == approx(2.078125)
    # Moments are stored flat, outside the seed's structured_metrics.
    assert not any(k.startswith("returns") for k in structure(m))


def test_return_moments_match_scipy_on_a_random_curve():
    rng = np.random.default_rng(7)
    equity = 100.0 * np.cumprod(1 + rng.standard_t(4, 500) * 0.01)
    m = compute_metrics(result(equity), bars_per_year=252, risk_free_rate=0.03)
    excess = equity[1:] / equity[:-1] - 1 - (1.03 ** (1 / 252) - 1)
    assert m["returns_count"] == 499
    assert m["returns_sharpe_per_bar"] == approx(excess.mean() / excess.std(ddof=1), rel=1e-12)
    assert m["returns_skewness"] == approx(stats.skew(excess, bias=True), rel=1e-9)
    assert m["returns_kurtosis"] == approx(stats.kurtosis(excess, fisher=False, bias=True), rel=1e-9)


def test_return_moments_of_a_flat_curve_are_undefined():
    m = compute_metrics(result([100.0] * 10), bars_per_year=252, risk_free_rate=0.0)
    assert m["returns_count"] == 9
    assert m["returns_sharpe_per_bar"] is None and m["returns_skewness"] is None and m["returns_kurtosis"] is None


def test_excess_returns_of_many_curves_are_what_the_moments_use():
    rng = np.random.default_rng(3)
    curves = 100.0 * np.cumprod(1 + rng.normal(0.0005, 0.01, (300, 4)), axis=0)  # one run per column
    matrix = excess_returns(curves, bars_per_year=252, risk_free_rate=0.04)
    assert matrix.shape == (299, 4)
    for column in range(4):
        m = compute_metrics(result(curves[:, column]), bars_per_year=252, risk_free_rate=0.04)
        x = matrix[:, column]
        assert np.array_equal(x, excess_returns(curves[:, column], bars_per_year=252, risk_free_rate=0.04))
        assert m["returns_sharpe_per_bar"] == x.mean() / x.std(ddof=1)
