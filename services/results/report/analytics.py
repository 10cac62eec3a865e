"""The numbers a tearsheet draws, computed from the stored equity curve, trades and bars. No I/O.

Returns and Sharpe ratios follow `services.domain.metrics` (bar returns,
the risk-free rate spread evenly over bars_per_year, sample standard
deviation), so a rolling window as long as the run gives the run's Sharpe.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Rolling Sharpe over half a year of bars, or a fifth of a shorter run, and never fewer than this.
MIN_WINDOW = 10
PNL_BINS = 30
# Trades beyond these percentiles (each side) fall in the outermost P&L bins.
TAIL_PERCENT = 0.5


def drawdown(equity: np.ndarray) -> np.ndarray:
    """Underwater curve: equity over its running peak, minus 1 (0 at a new high, -0.2 twenty percent below).

    equity: portfolio value per bar.
    """
    equity = np.asarray(equity, dtype=float)
    if not equity.size:
        return equity
    return equity / np.maximum.accumulate(equity) - 1.0


def buy_and_hold(close: np.ndarray, *, initial_capital: float, commission: float, slippage: float) -> np.ndarray:
    """Value per bar of buying the symbol with all the capital at the first bar's close and holding it.

    The single entry pays the run's costs as an order of the run would: the
    fill is the close moved against the buyer by `slippage`, and `commission`
    (a fraction of notional) comes out of the capital. No exit is charged.
    close: close prices of the run's bars.
    initial_capital: the run's starting capital.
    commission, slippage: the run's fractions.
    """
    close = np.asarray(close, dtype=float)
    if not close.size:
        return close
    shares = initial_capital / (close[0] * (1.0 + slippage) * (1.0 + commission))
    return shares * close


def monthly_returns(equity: pd.Series, initial_capital: float) -> pd.DataFrame:
    """Compounded return of each calendar month: one row per year, columns Jan..Dec, NaN where the run was not.

    equity: portfolio value per bar, on a DatetimeIndex.
    initial_capital: the value before the first bar, base of the first month.
    """
    month_end = equity.groupby(equity.index.to_period("M")).last()
    before = month_end.shift(1)
    if len(before):
        before.iloc[0] = initial_capital
    returns = month_end / before - 1.0
    table = pd.DataFrame({"year": returns.index.year, "month": returns.index.month, "value": returns.to_numpy()}).pivot(
        index="year", columns="month", values="value"
    )
    return table.reindex(columns=range(1, 13)).set_axis(list(MONTHS), axis=1)


def yearly_returns(monthly: pd.DataFrame) -> pd.Series:
    """Each year's compounded return from its months (the months the run covered)."""
    return (1.0 + monthly).prod(axis=1, min_count=1) - 1.0


def rolling_window(bars: int, bars_per_year: int) -> int:
    """Bars in the rolling-Sharpe window: half a year, shrunk to a fifth of a shorter run.

    bars: length of the run. bars_per_year: the run's annualisation factor.
    """
    return max(MIN_WINDOW, min(bars_per_year // 2, bars // 5))


def rolling_sharpe(equity: np.ndarray, *, window: int, bars_per_year: int, risk_free_rate: float) -> np.ndarray:
    """Annualised Sharpe ratio of the `window` bar returns ending at each bar; NaN before a full window.

    equity: portfolio value per bar.
    window: returns per window.
    bars_per_year, risk_free_rate: as the run's config sets them.
    """
    equity = np.asarray(equity, dtype=float)
    out = np.full(equity.size, np.nan)
    if equity.size <= window:
        return out
    excess = pd.Series(equity[1:] / equity[:-1] - 1.0 - ((1.0 + risk_free_rate) ** (1.0 / bars_per_year) - 1.0))
    rolling = excess.rolling(window)
    spread = rolling.std(ddof=1).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = rolling.mean().to_numpy() / spread * math.sqrt(bars_per_year)
    # A flat stretch (no position) has no risk to reward: no ratio, as in the run's own metrics.
    ratio[~(spread > 1e-12)] = np.nan
    out[1:] = ratio
    return out


def pnl_histogram(pnl: np.ndarray, bins: int = PNL_BINS) -> tuple[np.ndarray, np.ndarray]:
    """(counts, edges) of trade P&L, with a bin edge at exactly 0 so no bin mixes winners and losers.

    The bins span the middle 99% of trades (and 0); the rarer trades beyond
    count in the outermost bins, so a few outliers do not squeeze the rest
    into one bar. Every trade is counted.
    pnl: net P&L per trade.
    bins: about how many bins.
    """
    pnl = np.asarray(pnl, dtype=float)
    pnl = pnl[np.isfinite(pnl)]
    if not pnl.size:
        return np.zeros(0, dtype=int), np.zeros(0)
    tail_low, tail_high = np.percentile(pnl, [TAIL_PERCENT, 100 - TAIL_PERCENT])
    low, high = min(float(tail_low), 0.0), max(float(tail_high), 0.0)
    if low == high:
        return np.array([pnl.size]), np.array([low - 0.5, high + 0.5])
    width = (high - low) / bins
    # Edges on multiples of the width: 0 is always one of them.
    first, last = math.floor(low / width), math.ceil(high / width)
    edges = np.arange(first, last + 1) * width
    counts, _ = np.histogram(np.clip(pnl, edges[0], edges[-1]), bins=edges)
    return counts, edges
