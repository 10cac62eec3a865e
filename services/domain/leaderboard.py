"""The ranked result of a finished sweep, from its runs as they settled: no I/O.

Completed runs come first, best first by the rank metric's direction (the
one table in services.domain.metric_table); completed runs without a value
follow; failed runs come last with their error. Each entry's `config` is the
run config with the backtest's own fields (`LIFTED`) folded in, as the
seed's leaderboard shows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.domain.deflated_sharpe import DEFLATED_SHARPE
from services.domain.metric_table import direction, sort_key
from services.domain.search_statistics import overfitting
from services.domain.statuses import RunStatus
from services.domain.sweep import LIFTED

BAR_KEYS = ("symbol", "timeframe", "start_date", "end_date")


@dataclass(frozen=True)
class SettledRun:
    """A sweep run as it settled.

    config: its run config as stored.
    lifted: its values of LIFTED (initial_capital, commission, slippage).
    status: completed or failed.
    metrics: its flat metrics (shown only when completed).
    error: why it failed, if it did.
    """

    config: Mapping[str, Any]
    lifted: Mapping[str, Any]
    status: str
    metrics: Mapping[str, Any]
    error: str | None
    return_blocks: Mapping[str, Any] | None = None


def rank(entries: list[dict[str, Any]], rank_metric: str) -> list[dict[str, Any]]:
    """Orders leaderboard entries (dicts with at least status and metrics) and numbers them from 1."""

    def key(entry: dict[str, Any]) -> tuple[int, tuple[int, float]]:
        failed = entry["status"] != RunStatus.COMPLETED
        # The deflated Sharpe ratio is the entry's own field, not one of the run's metrics.
        value = entry.get(DEFLATED_SHARPE) if rank_metric == DEFLATED_SHARPE else entry["metrics"].get(rank_metric)
        return (int(failed), sort_key(None if failed else value, rank_metric))

    ordered = sorted(entries, key=key)
    for position, entry in enumerate(ordered, start=1):
        entry["rank"] = position
    return ordered


def leaderboard(
    runs: Sequence[Mapping[str, Any]], settled: Mapping[str, SettledRun], rank_metric: str
) -> dict[str, Any]:
    """The result stored on a sweep's task.

    runs: the sweep's runs in grid order, each {backtest_id, overrides}.
    settled: how each run settled, by backtest id; a run missing here was deleted while the sweep ran.
    rank_metric: flat metric key to rank by.
    """
    entries = []
    blocks = []
    for run in runs:
        backtest = settled.get(run["backtest_id"])
        if backtest is None:
            continue
        completed = backtest.status == RunStatus.COMPLETED
        entries.append(
            {
                "backtest_id": run["backtest_id"],
                "overrides": run["overrides"],
                "config": {**backtest.config, **{name: backtest.lifted[name] for name in LIFTED}},
                "metrics": dict(backtest.metrics) if completed else {},
                "status": backtest.status,
                "error": backtest.error,
            }
        )
        blocks.append(backtest.return_blocks if completed else None)
    # The deflated Sharpe ratio is the leaderboard's, not the run's: it is
    # computed here from every entry's moments and sits beside the run's own
    # metrics (which stay what GET /backtests/{id} shows); it ranks like one.
    deflated, figures = overfitting(
        [entry["metrics"] for entry in entries], blocks, shared_bars=shares_bars(e["config"] for e in entries)
    )
    for entry, value in zip(entries, deflated, strict=True):
        entry[DEFLATED_SHARPE] = value if entry["status"] == RunStatus.COMPLETED else None
    return {
        "rank_metric": rank_metric,
        "direction": direction(rank_metric),
        "n_configs": len(runs),
        "leaderboard": rank(entries, rank_metric),
        "overfitting": figures,
    }


def shares_bars(configs: Iterable[Mapping[str, Any]]) -> bool:
    """Whether every run config covers the same symbol, timeframe and dates (what PBO needs)."""
    return len({tuple(str(c.get(k)) for k in BAR_KEYS) for c in configs}) <= 1
