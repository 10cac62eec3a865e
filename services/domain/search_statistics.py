"""How much of a search's winner is luck: the figures every leaderboard carries. No I/O.

Per run, the deflated Sharpe ratio (services/domain/deflated_sharpe.py)
with N = the search's trials (its runs that have a per-bar Sharpe ratio)
and V = the variance of their Sharpe ratios; per search, the probability
of backtest overfitting by CSCV (services/domain/backtest_overfitting.py)
from the per-block return sums each executor reports with a run (16
blocks), so the catalog never reads an equity curve for it. PBO needs the
blocks of every run to cover the same bars: a search over several symbols,
timeframes or date ranges gets none, with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from services.domain.backtest_overfitting import (
    DEFAULT_PARTITIONS,
    block_sizes,
    probability_of_backtest_overfitting_from_blocks,
)
from services.domain.deflated_sharpe import DEFLATED_SHARPE, deflated_sharpe_column, expected_max_sharpe
from services.domain.metric_table import as_number

MOMENT_KEYS = ("returns_sharpe_per_bar", "returns_count", "returns_skewness", "returns_kurtosis")


def moment_columns(metrics: Sequence[Mapping[str, Any]]) -> list[np.ndarray]:
    """The four MOMENT_KEYS columns of flat metrics dicts, NaN where a run has none."""
    return [
        np.array([np.nan if (v := as_number(row.get(key))) is None else v for row in metrics], dtype=np.float64)
        for key in MOMENT_KEYS
    ]


def deflated_sharpe(columns: Sequence[np.ndarray]) -> tuple[np.ndarray, dict[str, Any]]:
    """(DSR per run, NaN where undefined; the trials' figures) from the four moment columns."""
    sharpe = columns[0]
    estimates = sharpe[np.isfinite(sharpe)]
    variance = float(estimates.var(ddof=1)) if estimates.size > 1 else None
    trials = {
        "n_trials": int(estimates.size),
        "trials_sharpe_variance": variance,
        "expected_max_sharpe_per_bar": (
            expected_max_sharpe(int(estimates.size), variance) if variance is not None else None
        ),
    }
    return deflated_sharpe_column(*columns), trials


def pbo(
    blocks: Sequence[Mapping[str, Any] | None], counts: np.ndarray, *, shared_bars: bool
) -> tuple[dict[str, Any] | None, str | None]:
    """(PBO summary, None) or (None, why not) for a search's runs.

    blocks: each run's stored {"sums", "squares"} (None for a failed run).
    counts: each run's returns_count (NaN where none). shared_bars: whether
    every run covers the same symbol, timeframe and dates.
    """
    if not shared_bars:
        return None, "the runs do not share their bars (symbol, timeframe or dates differ)"
    present = [i for i, b in enumerate(blocks) if b is not None and len(b.get("sums", ())) == DEFAULT_PARTITIONS]
    if len(present) < 2:
        return None, "fewer than two runs reported per-block returns"
    lengths = {int(counts[i]) for i in present if math.isfinite(counts[i])}
    if len(lengths) != 1:
        return None, "the runs do not have one number of returns"
    sums = np.full((DEFAULT_PARTITIONS, len(blocks)), np.nan)
    squares = np.full((DEFAULT_PARTITIONS, len(blocks)), np.nan)
    for i in present:
        sums[:, i] = blocks[i]["sums"]
        squares[:, i] = blocks[i]["squares"]
    outcome = probability_of_backtest_overfitting_from_blocks(sums, squares, block_sizes(lengths.pop()))
    if outcome is None:
        return None, "fewer than two runs have finite returns"
    return outcome.summary(), None


def overfitting(
    metrics: Sequence[Mapping[str, Any]], blocks: Sequence[Mapping[str, Any] | None], *, shared_bars: bool
) -> tuple[list[float | None], dict[str, Any]]:
    """(each run's deflated Sharpe ratio or None; the search's overfitting figures).

    metrics: each run's flat metrics ({} for a failed run), blocks: each
    run's stored return blocks, both in one order. The figures: n_trials,
    trials_sharpe_variance, expected_max_sharpe_per_bar (SR*), pbo (the
    probability, or None), pbo_detail (backtest_overfitting's summary) and
    pbo_unavailable (why there is none).
    """
    columns = moment_columns(metrics)
    dsr, figures = deflated_sharpe(columns)
    detail, why_not = pbo(blocks, columns[1], shared_bars=shared_bars)
    figures |= {
        "pbo": detail["pbo"] if detail else None,
        "pbo_detail": detail,
        "pbo_unavailable": why_not,
        "deflated_sharpe_key": DEFLATED_SHARPE,
    }
    return [float(v) if math.isfinite(v) else None for v in dsr], figures
