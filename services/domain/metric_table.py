"""Which way is better for every metric: one table for compare and sweep ranking alike."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping

HIGHER, LOWER, NEUTRAL = "higher", "lower", "neutral"

METRICS: dict[str, str] = {
    "total_return": HIGHER,
    # The seed ranks more time in the market higher; kept for compatibility.
    "bars_in_market": HIGHER,
    "perf_cagr": HIGHER,
    "perf_sharpe_ratio": HIGHER,
    "perf_sortino_ratio": HIGHER,
    "perf_calmar_ratio": HIGHER,
    # Risk metrics are positive loss fractions or bar counts: smaller is safer.
    "risk_max_drawdown": LOWER,
    "risk_max_drawdown_duration": LOWER,
    "risk_var_95": LOWER,
    "risk_cvar_95": LOWER,
    "risk_var_99": LOWER,
    "risk_cvar_99": LOWER,
    "risk_volatility_annualised": LOWER,
    # More or fewer trades is a style, not a quality: costs already show in returns.
    "trade_total_trades": NEUTRAL,
    "trade_win_rate": HIGHER,
    "trade_profit_factor": HIGHER,
    # A larger average winner is better.
    "trade_avg_win": HIGHER,
    # avg_loss is negative: higher (closer to zero) is a smaller average loser.
    "trade_avg_loss": HIGHER,
    "trade_expectancy": HIGHER,
    # Like trade count, turnover describes a strategy; its cost is in the returns.
    "trade_turnover_annualised": NEUTRAL,
    # Return moments, stored for the deflated Sharpe ratio. The per-bar Sharpe
    # ranks like the annualised one; count, skewness and kurtosis describe a
    # return distribution, and the deflated Sharpe ratio already weighs them.
    "returns_count": NEUTRAL,
    "returns_sharpe_per_bar": HIGHER,
    "returns_skewness": NEUTRAL,
    "returns_kurtosis": NEUTRAL,
    # Computed per leaderboard from every run's moments, never stored with a run:
    # the probability that the run's true Sharpe ratio beats the best of its trials' luck.
    "perf_deflated_sharpe_ratio": HIGHER,
}


def direction(key: str) -> str:
    """Direction of metric `key`; "neutral" for keys outside the table (e.g. a PATCHed custom metric)."""
    return METRICS.get(key, NEUTRAL)


def as_number(value: object) -> float | None:
    """`value` as a float when it is a finite number (not a bool); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def best_of(values: Mapping[Hashable, float | None], key: str) -> Hashable | None:
    """The id whose value of metric `key` is best.

    values: metric value per run id; None and non-finite values never win.
    Returns None for a neutral metric or when no run has a value; ties go to
    the first id in `values`' order.
    """
    sense = direction(key)
    if sense == NEUTRAL:
        return None
    best_id, best = None, None
    for ident, raw in values.items():
        value = as_number(raw)
        if value is None:
            continue
        if best is None or (value > best if sense == HIGHER else value < best):
            best_id, best = ident, value
    return best_id


def sort_key(value: float | None, key: str) -> tuple[int, float]:
    """Sort key ranking runs best first by metric `key`, runs without a value (failed, null) last.

    value: the run's value of `key`. Neutral metrics sort descending, as the
    seed's leaderboard does for every metric. Use with a stable sort.
    """
    number = as_number(value)
    if number is None:
        return (1, 0.0)
    return (0, number if direction(key) == LOWER else -number)
