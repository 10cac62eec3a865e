"""A grid search's task and backtests, and its leaderboard once its last run settles.

A grid search is a sweep (task kind "sweep", the same jobs, claims and
reports) whose params say `search: grid`. What differs is size: up to
10,000 runs, so its params keep the backtest ids in grid order and the
parameter space, never one override dict per run (each run's parameters
are read back from its stored config), its jobs are cut at MAX_BATCH_RUNS,
and its leaderboard is ranked from columns the database extracts from the
metrics, with only the top entries read whole.
"""

from __future__ import annotations

import asyncio
import functools
import math
import threading
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.adapters.bus import Job, Topology
from services.catalog.db.models import Backtest
from services.catalog.execution.sweeps import queue_search
from services.domain import backtest_overfitting
from services.domain.deflated_sharpe import DEFLATED_SHARPE
from services.domain.grid_search import GridSearch
from services.domain.job_planning import MAX_BATCH_RUNS
from services.domain.leaderboard import BAR_KEYS
from services.domain.leaderboard_order import leaderboard_order
from services.domain.metric_table import as_number, direction
from services.domain.search_statistics import MOMENT_KEYS, deflated_sharpe, moment_columns, overfitting
from services.domain.signal_logic import LogicVersion
from services.domain.statuses import RunStatus
from services.domain.sweep import LIFTED, override_value

GRID = "grid"
DEFAULT_TOP_N = 20
MAX_TOP_N = 1000
_b = Backtest.__table__.c


def is_grid(params: dict[str, Any]) -> bool:
    """Whether a sweep task's params are a grid search's."""
    return params.get("search") == GRID


async def create_grid_search(
    session: AsyncSession,
    topology: Topology,
    search: GridSearch,
    parameter_space: dict[str, list[Any]],
    *,
    top_n: int,
    workers: int,
    logic: dict[str, LogicVersion],
) -> tuple[uuid.UUID, list[Job]]:
    """Stores the search's task and backtests and queues its jobs; the caller commits.

    search: the checked grid (its runs all of one strategy and engine).
    parameter_space: each key's expanded values, for the runs table's column types.
    top_n: leaderboard entries the result keeps.
    """
    task_id = uuid.uuid4()
    runs = [grid_run.backtest for grid_run in search.runs]
    ids = [str(uuid.uuid4()) for _ in runs]
    params = {
        "search": GRID,
        "engine": runs[0].engine,
        "rank_metric": search.rank_metric,
        "top_n": top_n,
        "parameter_space": parameter_space,
        "n_combinations": search.n_combinations,
        "skipped": search.skipped,
        "backtest_ids": ids,
    }
    jobs = await queue_search(
        session, topology, task_id, ids, runs, params, workers=workers, logic=logic, max_batch=MAX_BATCH_RUNS
    )
    return task_id, jobs


@functools.cache
def warm_statistics() -> None:
    """Loads the PBO's compiled kernel on a thread of its own, once a process (the catalog calls it as it starts).

    The load (numba and the cached kernel) holds the GIL for about 0.4 s: in a
    search's last report it was part of the time to SUCCESS, and started as a
    search's runs start it slowed the catalog's answers to their first reports.
    """
    threading.Thread(target=backtest_overfitting.warm_up, name="cscv-warm-up", daemon=True).start()


async def ranked_columns(
    session: AsyncSession, task_id: uuid.UUID, ids: Sequence[str], rank_metric: str, *, with_pbo: bool = True
) -> dict[str, Any]:
    """Every run's rank-relevant columns in `ids` order, the leaderboard order, DSRs and the overfitting figures.

    Only numbers leave the database per run (the metrics documents stay
    there): ~10,000 runs are a few hundred kB. with_pbo: False leaves PBO
    out (the runs table has no place for it). The statistics run in a
    worker thread: CSCV over 10,000 runs is seconds of numpy, which must
    not stall the catalog's event loop.
    """
    keys = sorted({rank_metric, *MOMENT_KEYS} - {DEFLATED_SHARPE})
    statement = select(
        _b.id,
        _b.status,
        _b.return_blocks,
        func.concat_ws("|", *(_b.config[k].astext for k in BAR_KEYS)).label("bars"),
        *(_b.metrics[k].label(k) for k in keys),
    ).where(_b.sweep_id == task_id)
    rows = {str(row.id): row for row in await session.execute(statement)}
    present = [i for i in ids if i in rows]  # a run deleted while the search ran is gone
    return await asyncio.to_thread(_rank, [rows[i] for i in present], present, keys, rank_metric, with_pbo)


def _rank(ordered: list, present: list[str], keys: list[str], rank_metric: str, with_pbo: bool) -> dict[str, Any]:
    completed = np.array([row.status == RunStatus.COMPLETED for row in ordered], dtype=bool)
    metrics = [{k: getattr(row, k) for k in keys} if done else {} for row, done in zip(ordered, completed, strict=True)]
    if with_pbo:
        blocks = [row.return_blocks if done else None for row, done in zip(ordered, completed, strict=True)]
        deflated, figures = overfitting(metrics, blocks, shared_bars=len({row.bars for row in ordered}) <= 1)
    else:
        values, figures = deflated_sharpe(moment_columns(metrics))
        deflated = [float(v) if math.isfinite(v) else None for v in values]
    if rank_metric == DEFLATED_SHARPE:
        values = [np.nan if v is None else v for v in deflated]
    else:
        values = [np.nan if (v := as_number(m.get(rank_metric))) is None else v for m in metrics]
    order = leaderboard_order(np.asarray(values, dtype=np.float64), rank_metric, completed=completed)
    return {
        "ids": present,
        "order": order,
        "deflated": deflated,
        "figures": figures,
        "completed": int(completed.sum()),
    }


async def build_grid_leaderboard(session: AsyncSession, task_id: uuid.UUID, params: dict[str, Any]) -> dict[str, Any]:
    """The result stored on a grid search's task: the top `top_n` entries, counts and overfitting figures."""
    rank_metric = params["rank_metric"]
    columns = await ranked_columns(session, task_id, params["backtest_ids"], rank_metric)
    ids, order, deflated = columns["ids"], columns["order"], columns["deflated"]
    top = [int(i) for i in order[: params.get("top_n", DEFAULT_TOP_N)]]
    wanted = [uuid.UUID(ids[i]) for i in top]
    statement = select(_b.id, _b.config, _b.metrics, _b.status, _b.error, *(_b[name] for name in LIFTED)).where(
        _b.id.in_(wanted)
    )
    rows = {str(row.id): row for row in await session.execute(statement)}
    keys = list(params["parameter_space"])
    entries = []
    for position, index in enumerate(top, start=1):
        row = rows[ids[index]]
        lifted = {name: getattr(row, name) for name in LIFTED}
        completed = row.status == RunStatus.COMPLETED
        entries.append(
            {
                "rank": position,
                "backtest_id": ids[index],
                "overrides": {key: override_value(row.config, lifted, key) for key in keys},
                "config": {**row.config, **lifted},
                "metrics": dict(row.metrics) if completed else {},
                DEFLATED_SHARPE: deflated[index] if completed else None,
                "status": row.status,
                "error": row.error,
            }
        )
    return {
        "search": GRID,
        "rank_metric": rank_metric,
        "direction": direction(rank_metric),
        "n_configs": len(params["backtest_ids"]),
        "n_combinations": params["n_combinations"],
        "n_skipped": params["n_combinations"] - len(params["backtest_ids"]),
        "skipped": params["skipped"],
        "n_completed": columns["completed"],
        "n_failed": len(ids) - columns["completed"],
        "top_n": len(entries),
        "leaderboard": entries,
        "overfitting": columns["figures"],
        "runs_table": f"/api/v1/tasks/{task_id}/runs/parquet",
    }
