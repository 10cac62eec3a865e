"""The deflated Sharpe ratio against a hand computation and a reference written here with scipy."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from services.domain.deflated_sharpe import (
    DEFLATED_SHARPE,
    deflated_sharpe_column,
    deflated_sharpe_ratios,
    expected_max_sharpe,
)
from services.domain.execution import EngineResult
from services.domain.metric_table import direction
from services.domain.metrics import compute_metrics
from services.domain.sweep import build_sweep_runs

from .conftest import BASE_CONFIG

# Three runs, per-bar Sharpe SR, returns T, skewness, kurtosis (not excess):
#   A: 0.10,  253, -0.5, 4.0
#   B: 0.05,  505,  0.2, 3.5
#   C: 0.02, 1009,  0.0, 3.0
# Trials' Sharpe: mean = 0.17 / 3 = 0.0566667; deviations .0433333 -.0066667 -.0366667;
#   squares .00187778 + .00004444 + .00134444 = .00326667; V = .00326667 / (3 - 1) = .00163333;
#   sqrt(V) = 0.0404145188
# NORM.S.INV(1 - 1/3)          = NORM.S.INV(0.6666667) = 0.4307272993
# NORM.S.INV(1 - 1/(3 e))      = NORM.S.INV(1 - 0.1226264804) = 1.1619569289
# (1 - gamma) * 0.4307272993 + gamma * 1.1619569289, gamma = 0.5772156649: 0.8528044962
# SR* = 0.0404145188 * 0.8528044962 = 0.0344656834
# A: radicand = 1 + 0.5 * 0.1 + (4 - 1) / 4 * 0.01 = 1.0575; sqrt(252) = 15.8745078664
#    z = (0.1 - 0.0344656834) * 15.8745078664 / sqrt(1.0575) = 1.0116466726; NORM.S.DIST(z) = 0.8441464892
# B: radicand = 1 - 0.2 * 0.05 + 2.5 / 4 * 0.0025 = 0.9915625; sqrt(504) = 22.4499443206
#    z = (0.05 - 0.0344656834) * 22.4499443206 / sqrt(0.9915625) = 0.3502251855; DSR = 0.6369151465
# C: radicand = 1 + 2 / 4 * 0.0004 = 1.0002; sqrt(1008) = 31.7490157328
#    z = (0.02 - 0.0344656834) * 31.7490157328 / sqrt(1.0002) = -0.4592252890; DSR = 0.3230361960
RUNS = [(0.10, 253, -0.5, 4.0), (0.05, 505, 0.2, 3.5), (0.02, 1009, 0.0, 3.0)]


def columns(runs):
    return [list(column) for column in zip(*runs, strict=True)]


def test_hand_computed_case():
    assert expected_max_sharpe(3, 0.0016333333333333334) == pytest.approx(0.0344656834, abs=1e-10)
    assert deflated_sharpe_column(*columns(RUNS)) == pytest.approx([0.8441464892, 0.6369151465, 0.3230361960], abs=1e-9)


def test_one_trial_is_not_deflated():
    # N = 1: SR* = 0, so DSR = NORM.S.DIST(0.1 * 15.8745078664 / sqrt(1.0575)) = NORM.S.DIST(1.5436899700)
    assert expected_max_sharpe(1, 0.0) == 0.0
    assert deflated_sharpe_column(*columns(RUNS[:1])) == pytest.approx([0.9386682713], abs=1e-9)
    # A failed second run (no Sharpe) is not a trial: still N = 1.
    assert deflated_sharpe_column([0.1, None], [253, None], [-0.5, None], [4.0, None]) == pytest.approx(
        [0.9386682713, math.nan], abs=1e-9, nan_ok=True
    )


def test_degenerate_runs_get_none_not_nan():
    metrics = [
        {"returns_sharpe_per_bar": 0.1, "returns_count": 253, "returns_skewness": -0.5, "returns_kurtosis": 4.0},
        {"returns_sharpe_per_bar": 0.05, "returns_count": 505, "returns_skewness": 0.2, "returns_kurtosis": 3.5},
        {"returns_sharpe_per_bar": 0.02, "returns_count": 1009, "returns_skewness": 0.0, "returns_kurtosis": 3.0},
        {},  # failed run
        {"returns_sharpe_per_bar": None, "returns_count": 300, "returns_skewness": None, "returns_kurtosis": None},
        # T = 1: no sqrt(T - 1) to scale by
        {"returns_sharpe_per_bar": 0.04, "returns_count": 1, "returns_skewness": 0.0, "returns_kurtosis": 3.0},
        # radicand 1 - 10 * 0.5 + 0 < 0: moments no return series has, but an input can
        {"returns_sharpe_per_bar": 0.5, "returns_count": 300, "returns_skewness": 10.0, "returns_kurtosis": 1.0},
    ]
    values = deflated_sharpe_ratios(metrics)
    assert values[3:] == [None, None, None, None]
    assert all(isinstance(v, float) and 0 < v < 1 for v in values[:3])
    # The three degenerate runs with a Sharpe ratio are trials: 5 of them, not 3.
    sharpe = [0.1, 0.05, 0.02, 0.04, 0.5]
    benchmark = expected_max_sharpe(5, float(np.var(sharpe, ddof=1)))
    assert values[0] == pytest.approx(stats.norm.cdf((0.1 - benchmark) * math.sqrt(252) / math.sqrt(1.0575)))


def test_equal_trials_have_nothing_to_deflate():
    same = [(0.05, 505, 0.2, 3.5)] * 4
    psr = deflated_sharpe_column(*columns(same[:1]))
    assert deflated_sharpe_column(*columns(same)) == pytest.approx([psr[0]] * 4, rel=1e-15)


def test_n_trials_counts_earlier_searches():
    # The researcher says these 3 runs are the survivors of 100 trials: a higher bar.
    few, many = deflated_sharpe_column(*columns(RUNS)), deflated_sharpe_column(*columns(RUNS), n_trials=100)
    assert all(m < f for m, f in zip(many, few, strict=True))
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="n_trials"):
            deflated_sharpe_column(*columns(RUNS), n_trials=bad)
    # More than one trial but a single Sharpe ratio: no variance to deflate by.
    assert np.isnan(deflated_sharpe_column(*columns(RUNS[:1]), n_trials=10)).all()


def reference(sharpe, count, skewness, kurtosis):
    """Straight from the paper, one run at a time, with scipy's normal distribution."""
    trials = [s for s in sharpe if s is not None and math.isfinite(s)]
    n = len(trials)
    mean = sum(trials) / n
    variance = sum((s - mean) ** 2 for s in trials) / (n - 1) if n > 1 else 0.0
    gamma = 0.5772156649015329
    if n == 1:
        benchmark = 0.0
    else:
        quantile = (1 - gamma) * stats.norm.ppf(1 - 1 / n) + gamma * stats.norm.ppf(1 - 1 / (n * math.e))
        benchmark = math.sqrt(variance) * quantile
    out = []
    for sr, t, g3, g4 in zip(sharpe, count, skewness, kurtosis, strict=True):
        if sr is None or t is None or g3 is None or g4 is None or t <= 1:
            out.append(None)
            continue
        radicand = 1 - g3 * sr + (g4 - 1) / 4 * sr * sr
        if radicand <= 0:
            out.append(None)
            continue
        out.append(float(stats.norm.cdf((sr - benchmark) * math.sqrt(t - 1) / math.sqrt(radicand))))
    return out


@pytest.mark.parametrize("seed", range(20))
def test_matches_the_reference_on_random_leaderboards(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    sharpe = list(rng.normal(0.03, 0.04, n))
    count = list(rng.integers(1, 3000, n).astype(float))
    skewness = list(rng.normal(0, 1, n))
    kurtosis = [1 + g * g + float(e) for g, e in zip(skewness, rng.exponential(3, n), strict=True)]
    for i in rng.choice(n, size=n // 5, replace=False):  # failed runs
        sharpe[i] = count[i] = skewness[i] = kurtosis[i] = None
    ours = deflated_sharpe_ratios(
        [
            {"returns_sharpe_per_bar": s, "returns_count": t, "returns_skewness": g3, "returns_kurtosis": g4}
            for s, t, g3, g4 in zip(sharpe, count, skewness, kurtosis, strict=True)
        ]
    )
    expected = reference(sharpe, count, skewness, kurtosis)
    assert [v is None for v in ours] == [v is None for v in expected]
    assert [v for v in ours if v is not None] == pytest.approx([v for v in expected if v is not None], abs=1e-12)


def test_from_equity_curves_through_the_stored_metrics():
    """The executor's metrics are enough: moments from compute_metrics, checked against scipy on the returns."""
    rng = np.random.default_rng(11)
    curves = [100 * np.cumprod(1 + rng.standard_t(5, 400) * 0.01 + 0.0004 * k) for k in range(6)]
    index = pd.date_range("2020-01-01", periods=400, freq="D")
    metrics = [
        compute_metrics(
            EngineResult(pd.Series(c, index=index), pd.Series(0.0, index=index), [], 0.0),
            bars_per_year=252,
            risk_free_rate=0.02,
        )
        for c in curves
    ]
    rf_bar = 1.02 ** (1 / 252) - 1
    excess = [c[1:] / c[:-1] - 1 - rf_bar for c in curves]
    expected = reference(
        [x.mean() / x.std(ddof=1) for x in excess],
        [x.size for x in excess],
        [stats.skew(x) for x in excess],
        [stats.kurtosis(x, fisher=False) for x in excess],
    )
    assert deflated_sharpe_ratios(metrics) == pytest.approx(expected, abs=1e-10)
    # The stored per-bar Sharpe is the annualised one over sqrt(bars_per_year).
    for m in metrics:
        assert m["returns_sharpe_per_bar"] == pytest.approx(m["perf_sharpe_ratio"] / math.sqrt(252), rel=1e-15)


def test_is_a_rank_metric_of_the_seed_sweep():
    assert direction(DEFLATED_SHARPE) == "higher"
    runs = build_sweep_runs(
        "6f1c1b49-1df1-4c5a-9a49-0d9b8c1e6b1e", None, BASE_CONFIG, [{"commission": 0.001}], rank_metric=DEFLATED_SHARPE
    )
    assert len(runs) == 1
