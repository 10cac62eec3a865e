"""The ranked result of a finished sweep.

Completed runs come first, best first by the rank metric's direction (the
one table in services.domain.metric_table); runs without a value follow;
failed runs come last with their error.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.db.models import Backtest
from services.domain.metric_table import direction, sort_key


def rank(entries: list[dict[str, Any]], rank_metric: str) -> list[dict[str, Any]]:
    """Orders leaderboard entries and numbers them from 1.

    entries: dicts with at least status and metrics.
    rank_metric: flat metric key to rank by.
    """

    def key(entry: dict[str, Any]) -> tuple[int, tuple[int, float]]:
        failed = entry["status"] != "completed"
        return (int(failed), sort_key(None if failed else entry["metrics"].get(rank_metric), rank_metric))

    ordered = sorted(entries, key=key)
    for position, entry in enumerate(ordered, start=1):
        entry["rank"] = position
    return ordered


async def build_leaderboard(session: AsyncSession, task_id: uuid.UUID, params: dict[str, Any]) -> dict[str, Any]:
    """The result stored on a sweep task once its last run settles.

    task_id: the sweep's task (its backtests carry it as sweep_id).
    params: the task's params: runs (backtest_id, overrides) and rank_metric.
    """
    runs = params.get("runs", [])
    b = Backtest.__table__.c
    columns = (b.id, b.config, b.initial_capital, b.commission, b.slippage, b.metrics, b.status, b.error)
    rows = {str(row.id): row for row in (await session.execute(select(*columns).where(b.sweep_id == task_id))).all()}
    entries = []
    for run in runs:
        backtest = rows.get(run["backtest_id"])
        if backtest is None:  # deleted while the sweep ran
            continue
        entries.append(
            {
                "backtest_id": run["backtest_id"],
                "overrides": run["overrides"],
                "config": {
                    **backtest.config,
                    "initial_capital": backtest.initial_capital,
                    "commission": backtest.commission,
                    "slippage": backtest.slippage,
                },
                "metrics": backtest.metrics if backtest.status == "completed" else {},
                "status": backtest.status,
                "error": backtest.error,
            }
        )
    rank_metric = params["rank_metric"]
    return {
        "rank_metric": rank_metric,
        "direction": direction(rank_metric),
        "n_configs": len(runs),
        "leaderboard": rank(entries, rank_metric),
    }
