"""The deflated Sharpe ratio of every run on a leaderboard (Bailey and Lopez de Prado, 2014).

After N trials the best Sharpe ratio is high by luck alone. The deflated
Sharpe ratio (DSR) of a run is the probabilistic Sharpe ratio of its
returns against the Sharpe ratio the best of N luck-only trials is expected
to reach:

    SR* = sqrt(V) * ((1 - g) * Z^-1(1 - 1/N) + g * Z^-1(1 - 1/(N e)))
    DSR = Z((SR - SR*) * sqrt(T - 1) / sqrt(1 - skew * SR + (kurt - 1) / 4 * SR^2))

Z is the standard normal CDF, g the Euler-Mascheroni constant, N the number
of trials, V the sample variance (ddof=1) of the trials' Sharpe ratios, and
SR, T, skew, kurt a run's per-bar Sharpe ratio, number of returns,
skewness and (non-excess) kurtosis as services/domain/metrics.py stores
them (MOMENTS). Every Sharpe ratio here is per bar, not annualised:
per-bar = perf_sharpe_ratio / sqrt(bars_per_year). DSR is a probability.

Conventions: the trials are the runs that have a per-bar Sharpe ratio
(failed runs and flat equity curves have none); N = 1 means no deflation
(SR* = 0, so DSR is the probabilistic Sharpe ratio against zero); V = 0
(every trial the same Sharpe ratio) gives SR* = 0. A run gets None, never
NaN, when it has no Sharpe ratio or moments, when T <= 1, or when the
radicand is not positive (impossible for moments of the run's own returns,
since kurt >= 1 + skew^2 makes it a sum of squares, but not for any input).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from services.domain.metric_table import as_number

DEFLATED_SHARPE = "perf_deflated_sharpe_ratio"
EULER_GAMMA = 0.5772156649015329
_NORMAL = NormalDist()


def expected_max_sharpe(n_trials: int, variance: float) -> float:
    """SR*: the per-bar Sharpe ratio the best of `n_trials` luck-only trials is expected to reach.

    n_trials: number of independent trials, at least 1 (1 gives 0.0).
    variance: sample variance of the trials' per-bar Sharpe ratios, >= 0.
    Raises ValueError for other inputs.
    """
    _check_trials(n_trials)
    if not math.isfinite(variance) or variance < 0:
        raise ValueError(f"variance must be a finite number >= 0, got {variance!r}")
    if n_trials == 1:
        return 0.0
    quantiles = (1 - EULER_GAMMA) * _NORMAL.inv_cdf(1 - 1 / n_trials)
    quantiles += EULER_GAMMA * _NORMAL.inv_cdf(1 - 1 / (n_trials * math.e))
    return math.sqrt(variance) * quantiles


def _check_trials(n_trials: object) -> None:
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ValueError(f"n_trials must be an integer >= 1, got {n_trials!r}")


def deflated_sharpe_column(
    sharpe: ArrayLike, count: ArrayLike, skewness: ArrayLike, kurtosis: ArrayLike, *, n_trials: int | None = None
) -> np.ndarray:
    """Each run's deflated Sharpe ratio, NaN where it is undefined.

    sharpe, count, skewness, kurtosis: one value per run (NaN or None where a
    run has none): per-bar Sharpe ratio, number of returns, skewness,
    non-excess kurtosis. n_trials: N when the caller knows better than the
    number of runs with a Sharpe ratio (say, earlier searches on the same
    data); >= 1. Raises ValueError for columns of different lengths or a bad
    n_trials.
    """
    columns = [np.asarray(column, dtype=float) for column in (sharpe, count, skewness, kurtosis)]
    if len({c.shape for c in columns}) != 1 or columns[0].ndim != 1:
        raise ValueError("sharpe, count, skewness and kurtosis must be 1-D and of one length")
    if n_trials is not None:
        _check_trials(n_trials)
    sr, t, skew, kurt = columns
    estimates = sr[np.isfinite(sr)]
    trials = estimates.size if n_trials is None else n_trials
    if trials == 0 or (trials > 1 and estimates.size < 2):
        return np.full(sr.shape, math.nan)  # no trial, or no variance to deflate by
    variance = float(estimates.var(ddof=1)) if estimates.size > 1 else 0.0
    benchmark = expected_max_sharpe(trials, variance)
    with np.errstate(invalid="ignore", divide="ignore"):
        radicand = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr**2
        z = (sr - benchmark) * np.sqrt(t - 1.0) / np.sqrt(radicand)
    z[~((t > 1) & (radicand > 0))] = math.nan
    return np.array([_NORMAL.cdf(v) if math.isfinite(v) else math.nan for v in z])


def deflated_sharpe_ratios(metrics: Sequence[Mapping[str, Any]], *, n_trials: int | None = None) -> list[float | None]:
    """Each run's deflated Sharpe ratio from its stored flat metrics, None where it is undefined.

    metrics: one flat metrics dict per leaderboard entry, as compute_metrics
    stores it ({} for a failed run). n_trials: as for deflated_sharpe_column.
    """
    columns = [
        [as_number(row.get(key)) for row in metrics]
        for key in ("returns_sharpe_per_bar", "returns_count", "returns_skewness", "returns_kurtosis")
    ]
    values = deflated_sharpe_column(*columns, n_trials=n_trials)
    return [float(v) if math.isfinite(v) else None for v in values]
