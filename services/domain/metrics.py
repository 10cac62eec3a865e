"""Engine-agnostic metrics of one run: the flat dict stored with a backtest.

Definitions are DESIGN.md's, literally. With r the bar returns of the equity
curve, n = len(r), N = bars_per_year and rf_bar = (1 + risk_free_rate)^(1/N) - 1:
- VaR at level L is the empirical (inverted-CDF) quantile: the k-th smallest
  return with k = ceil(n * (1 - L)), negated so a loss is positive; CVaR is
  the mean of those k worst returns, negated. No interpolation, so both are
  returns that actually happened.
- Trade statistics use closed trades; trade_total_trades also counts a
  position still open at the end (it is a round trip valued at the last close).
- turnover_annualised = traded notional / mean equity / years, with
  years = number of equity bars / N.
- The return moments (MOMENTS) are of the excess returns x = r - rf_bar:
  returns_sharpe_per_bar = mean(x) / std(x, ddof=1), so perf_sharpe_ratio =
  returns_sharpe_per_bar * sqrt(N); returns_skewness = m3 / m2^(3/2) and
  returns_kurtosis = m4 / m2^2 (not excess: 3 for a normal) with the central
  moments m_k = mean((x - mean(x))^k), the plain moment estimators that
  scipy.stats calls bias=True. They are what a leaderboard needs for the
  deflated Sharpe ratio (services/domain/deflated_sharpe.py), and are stored
  flat beside the seed's metrics, outside structured_metrics.
- A value that is not finite is None.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from services.domain.execution import EngineResult, trade_columns

STRUCTURE: dict[str, tuple[str, ...]] = {
    "total_return": ("total_return",),
    "bars_in_market": ("bars_in_market",),
    **{f"perf_{k}": ("performance", k) for k in ("cagr", "sharpe_ratio", "sortino_ratio", "calmar_ratio")},
    **{
        f"risk_{k}": ("risk", k)
        for k in (
            "max_drawdown",
            "max_drawdown_duration",
            "var_95",
            "cvar_95",
            "var_99",
            "cvar_99",
            "volatility_annualised",
        )
    },
    **{
        f"trade_{k}": ("trading", k)
        for k in (
            "total_trades",
            "win_rate",
            "profit_factor",
            "avg_win",
            "avg_loss",
            "expectancy",
            "turnover_annualised",
        )
    },
}
# Stored with every run, outside the seed's structured_metrics (its proto has no place for them).
MOMENTS = ("returns_count", "returns_sharpe_per_bar", "returns_skewness", "returns_kurtosis")
STORED = (*STRUCTURE, *MOMENTS)
COUNTS = ("bars_in_market", "risk_max_drawdown_duration", "trade_total_trades", "returns_count")
# A standard deviation this small is round-off of a constant series, not risk:
# dividing by it would print a Sharpe ratio of 1e16.
ROUND_OFF = 1e-12


def compute_metrics(
    result: EngineResult, *, bars_per_year: int, risk_free_rate: float
) -> dict[str, float | int | None]:
    """Flat metrics of `result`, keyed as STORED (the seed's STRUCTURE, then the return MOMENTS).

    bars_per_year: bars in a year, to annualise. risk_free_rate: annual rate as a fraction.
    """
    return metrics_and_excess(result, bars_per_year=bars_per_year, risk_free_rate=risk_free_rate)[0]


def metrics_and_excess(
    result: EngineResult, *, bars_per_year: int, risk_free_rate: float
) -> tuple[dict[str, float | int | None], np.ndarray]:
    """`compute_metrics` of `result`, and the excess returns it computed them from (`excess_returns` of its equity).

    A search's executor reports per-block sums of those returns as well: computed once, not twice.
    """
    equity = np.asarray(result.equity, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        flat, excess = _return_metrics_and_excess(equity, bars_per_year, risk_free_rate)
        average = equity.mean() if equity.size else math.nan
    position = np.asarray(result.position, dtype=float)
    in_market = np.count_nonzero((position != 0.0) & ~np.isnan(position))
    return _stored(flat, result, equity, bars_per_year=bars_per_year, average=average, in_market=in_market), excess


def metrics_and_excess_many(
    results: Sequence[EngineResult], *, bars_per_year: int, risk_free_rate: float
) -> tuple[list[dict[str, float | int | None]], np.ndarray]:
    """`metrics_and_excess` of runs over the same bars: each run's metrics, and the excess returns as rows.

    results: engine results whose equity curves all have one length, at least 3 bars.
    The curves are the rows of one matrix and every array operation of the
    one-run path runs once, along the rows: numpy reduces each contiguous row
    as it reduces a curve alone (the same pairwise sums, the same partition),
    so every value is bit for bit the one-run path's, as a test holds it. The
    scalar arithmetic after the reductions is the one-run path's own
    (_return_scalars, _moment_scalars), run by run. A grid search's 500-run
    job of 2,609 bars: 57-62 -> 38-48 ms of CPU in process; in the stack,
    whose artifact threads want the GIL too, the metrics thread's profile
    samples per job went from about 180 to 56 ms.
    """
    equity = np.stack([np.asarray(result.equity, dtype=float) for result in results])
    n_runs, n = equity.shape[0], equity.shape[1] - 1
    if n < 2:
        raise ValueError(f"equity curves of {equity.shape[1]} bars: metrics_and_excess_many needs at least 3")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = np.divide(equity[:, 1:], equity[:, :-1])
        r -= 1.0
        growth = equity[:, -1] / equity[:, 0]
        excess = r - per_bar_rate(risk_free_rate, bars_per_year)
        losses = np.minimum(excess, 0.0)
        losses *= losses
        downside = np.mean(losses, axis=1)
        del losses
        spread = r.std(axis=1, ddof=1)
        mean = excess.mean(axis=1)
        centred = excess - mean[:, None]
        squared = centred * centred
        total = np.sum(squared, axis=1)
        third = np.mean(np.multiply(squared, centred, out=centred), axis=1)
        fourth = np.mean(np.multiply(squared, squared, out=centred), axis=1)
        del centred, squared
        ks = _var_ranks(n)
        r.partition(sorted({k - 1 for k in ks.values()}), axis=1)
        worst = {level: (-r[:, :k].max(axis=1), -r[:, :k].mean(axis=1)) for level, k in ks.items()}
        averages = equity.mean(axis=1)
    position = np.stack([np.asarray(result.position, dtype=float) for result in results])
    in_market = np.count_nonzero((position != 0.0) & ~np.isnan(position), axis=1)
    measured = []
    for i in range(n_runs):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            moments = _moment_scalars(n, mean[i], total[i], third[i], fourth[i])
            flat = _return_scalars(n, bars_per_year, growth[i], downside[i], spread[i], mean[i], moments)
        for level, (var, cvar) in worst.items():
            flat[f"risk_var_{level}"], flat[f"risk_cvar_{level}"] = var[i], cvar[i]
        stored = _stored(
            flat, results[i], equity[i], bars_per_year=bars_per_year, average=averages[i], in_market=in_market[i]
        )
        measured.append(stored)
    return measured, excess


def _stored(
    flat: dict, result: EngineResult, equity: np.ndarray, *, bars_per_year: int, average: float, in_market: int
) -> dict[str, float | int | None]:
    """A run's metrics after its return metrics (`flat`), keyed as STORED: the one-run and many-run paths share this.

    equity: the run's curve. average: its mean (nan for an empty curve). in_market: bars with a position.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        flat |= _drawdown_metrics(equity)
        flat["perf_calmar_ratio"] = np.divide(flat["perf_cagr"], flat["risk_max_drawdown"])
        flat |= _trade_metrics(result)
        years = equity.size / bars_per_year
        flat["trade_turnover_annualised"] = result.traded_notional / average / years if equity.size else math.nan
    flat["bars_in_market"] = in_market
    return {key: _finite(key, flat[key]) for key in STORED}


def structure(flat: dict[str, float | int | None]) -> dict:
    """The seed's structured_metrics nesting of a flat metrics dict; missing keys become None."""
    nested: dict = {}
    for key, path in STRUCTURE.items():
        node = nested
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = flat.get(key)
    return nested


def _return_metrics(equity: np.ndarray, n_year: int, risk_free_rate: float) -> dict[str, float]:
    return _return_metrics_and_excess(equity, n_year, risk_free_rate)[0]


def _return_metrics_and_excess(
    equity: np.ndarray, n_year: int, risk_free_rate: float
) -> tuple[dict[str, float], np.ndarray]:
    """The return metrics, and the excess returns (as `excess_returns` computes them: the same operations)."""
    # The same operations as `equity[1:] / equity[:-1] - 1.0` and `np.minimum(excess, 0.0) ** 2`
    # (numpy squares by x * x), written into their first result: two temporaries of the curve's
    # length fewer, on the thread that shares the cores with the artifact uploads.
    r = np.divide(equity[1:], equity[:-1])
    r -= 1.0
    n = r.size
    growth = equity[-1] / equity[0] if equity.size else math.nan
    excess = r - per_bar_rate(risk_free_rate, n_year)
    losses = np.minimum(excess, 0.0)
    losses *= losses
    spread = r.std(ddof=1) if n > 1 else math.nan
    mean = excess.mean() if n else math.nan
    flat = _return_scalars(n, n_year, growth, np.mean(losses) if n else math.nan, spread, mean, return_moments(excess))
    # k-th smallest return, k = ceil(n * (100 - level) / 100) in exact integer arithmetic;
    # one partition places both k-th values, each with the smaller returns before it.
    ks = _var_ranks(n)
    # In place: `r` is not read after this, and np.partition is this very call on a copy of it.
    if n:
        r.partition(sorted({k - 1 for k in ks.values()}))
    for level, k in ks.items():
        worst = r[:k] if n else np.array([math.nan])
        flat[f"risk_var_{level}"] = -worst.max()
        flat[f"risk_cvar_{level}"] = -worst.mean()
    return flat, excess


def _var_ranks(n: int) -> dict[int, int]:
    """Per VaR level, k = ceil(n * (100 - level) / 100): how many of the n returns are the worst."""
    return {level: -(-n * (100 - level) // 100) for level in (95, 99)}


def _return_scalars(
    n: int, n_year: int, growth: float, downside_mean: float, spread: float, mean: float, moments: dict[str, float]
) -> dict[str, float]:
    """The return metrics from a run's reductions: the one-run and the many-run paths share this arithmetic.

    growth: last / first equity. downside_mean: mean of the squared negative excess returns.
    spread: std (ddof=1) of the bar returns. mean: of the excess returns. moments: their MOMENTS.
    """
    downside = math.sqrt(downside_mean) if n else math.nan
    flat = {
        "total_return": growth - 1.0,
        "perf_cagr": growth ** (n_year / n) - 1.0 if n else math.nan,
        "risk_volatility_annualised": spread * math.sqrt(n_year) if n > 1 else math.nan,
        "perf_sortino_ratio": mean * n_year / (downside * math.sqrt(n_year)) if downside > ROUND_OFF else math.nan,
        **moments,
    }
    flat["perf_sharpe_ratio"] = flat["returns_sharpe_per_bar"] * math.sqrt(n_year)
    return flat


def per_bar_rate(risk_free_rate: float, bars_per_year: int) -> float:
    """rf_bar = (1 + risk_free_rate)^(1 / bars_per_year) - 1: the annual rate compounded per bar."""
    return (1.0 + risk_free_rate) ** (1.0 / bars_per_year) - 1.0


def excess_returns(equity: np.ndarray, *, bars_per_year: int, risk_free_rate: float) -> np.ndarray:
    """Bar returns of `equity` minus rf_bar, as the Sharpe ratios and moments here use them.

    equity: one curve, or a matrix with one run's curve per column (time down
    the rows): the T x N input of the probability of backtest overfitting.
    """
    equity = np.asarray(equity, dtype=float)
    return (equity[1:] / equity[:-1] - 1.0) - per_bar_rate(risk_free_rate, bars_per_year)


def return_moments(excess: np.ndarray) -> dict[str, float]:
    """MOMENTS of one run: count, per-bar Sharpe, skewness and kurtosis; NaN where undefined.

    excess: the run's bar returns minus the per-bar risk-free rate, oldest first.
    """
    n = excess.size
    if n < 2:
        return _moment_scalars(n, math.nan, math.nan, math.nan, math.nan)
    mean = excess.mean()
    centred = excess - mean
    # Products, not `centred**3`: numpy raises a float array to the power 3 or 4 through
    # pow() element by element, 0.1 s of a million-bar run's metrics.
    squared = centred * centred
    # One sum of squares for both: numpy's std(ddof=1) is this very sum (of (x - mean) * (x - mean),
    # mean = sum / n) divided by n - 1, so the Sharpe ratio's spread is bit for bit excess.std(ddof=1).
    total = np.sum(squared)
    # The products written over `centred`, which is not read again: no new arrays.
    third = np.mean(np.multiply(squared, centred, out=centred))
    fourth = np.mean(np.multiply(squared, squared, out=centred))
    return _moment_scalars(n, mean, total, third, fourth)


def _moment_scalars(n: int, mean: float, total: float, third: float, fourth: float) -> dict[str, float]:
    """MOMENTS from the reductions of a run's n excess returns; the one-run and many-run paths share this.

    mean: of the returns. total: sum of squared deviations. third, fourth: mean cubed and fourth-power deviations.
    """
    moments: dict[str, float] = dict.fromkeys(MOMENTS, math.nan) | {"returns_count": n}
    if n < 2:
        return moments
    spread = math.sqrt(total / (n - 1))
    if spread > ROUND_OFF:
        moments["returns_sharpe_per_bar"] = mean / spread
    m2 = total / n
    if math.sqrt(m2) > ROUND_OFF:
        moments["returns_skewness"] = third / m2**1.5
        moments["returns_kurtosis"] = fourth / m2**2
    return moments


def _drawdown_metrics(equity: np.ndarray) -> dict[str, float]:
    if not equity.size:
        return {"risk_max_drawdown": math.nan, "risk_max_drawdown_duration": math.nan}
    from services.domain.drawdown_kernel import drawdown  # numba: loaded only where metrics compute

    worst, longest = drawdown(np.ascontiguousarray(equity, dtype=np.float64))
    return {"risk_max_drawdown": float(worst), "risk_max_drawdown_duration": int(longest)}


def _trade_metrics(result: EngineResult) -> dict[str, float]:
    trades = trade_columns(result.trades, result.equity.index)
    pnl = trades.pnl[trades.closed]
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    return {
        "trade_total_trades": len(result.trades),
        "trade_win_rate": wins.size / pnl.size if pnl.size else math.nan,
        # No losing trade: the ratio is infinite, reported as null.
        "trade_profit_factor": wins.sum() / -losses.sum() if losses.size else math.nan,
        "trade_avg_win": wins.mean() if wins.size else math.nan,
        "trade_avg_loss": losses.mean() if losses.size else math.nan,
        "trade_expectancy": pnl.mean() if pnl.size else math.nan,
    }


def _finite(key: str, value: float | int) -> float | int | None:
    value = float(value) + 0.0  # + 0.0 turns -0.0 (a negated zero VaR) into 0.0
    if not math.isfinite(value):
        return None
    return int(value) if key in COUNTS else value
