"""Reads a finished sweep's runs for its leaderboard (services.domain.leaderboard ranks them)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.db.models import Backtest
from services.domain.leaderboard import SettledRun, leaderboard
from services.domain.sweep import LIFTED

_b = Backtest.__table__.c
_COLUMNS = (_b.id, _b.config, _b.metrics, _b.status, _b.error, _b.return_blocks, *(_b[name] for name in LIFTED))


async def build_leaderboard(session: AsyncSession, task_id: uuid.UUID, params: dict[str, Any]) -> dict[str, Any]:
    """The result stored on a sweep task once its last run settles.

    task_id: the sweep's task (its backtests carry it as sweep_id).
    params: the task's params: runs (backtest_id, overrides) and rank_metric.
    """
    rows = (await session.execute(select(*_COLUMNS).where(_b.sweep_id == task_id))).all()
    settled = {
        str(row.id): SettledRun(
            config=row.config,
            lifted={name: getattr(row, name) for name in LIFTED},
            status=row.status,
            metrics=row.metrics,
            error=row.error,
            return_blocks=row.return_blocks,
        )
        for row in rows
    }
    return leaderboard(params.get("runs", []), settled, params["rank_metric"])
