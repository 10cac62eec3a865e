"""Leaderboard order of a large search from columns of metrics, not one dict per run.

The order is the one services/catalog/execution/leaderboard.py's rank()
gives the same runs: completed runs with a finite value first, best first
by the metric's direction (services/domain/metric_table.py; neutral metrics
descending, as the seed); then completed runs without a value (None, NaN,
infinite); then runs that did not complete. Ties keep the runs' order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from services.domain.metric_table import LOWER, as_number, direction


def metric_column(metrics: Iterable[Mapping[str, Any]], key: str) -> np.ndarray:
    """Metric `key` of each run as float64, NaN where a run has no finite number for it.

    metrics: one flat metrics dict per run ({} for a failed run).
    """
    values = [as_number(row.get(key)) for row in metrics]
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def leaderboard_order(values: ArrayLike, rank_metric: str, *, completed: ArrayLike | None = None) -> np.ndarray:
    """Run indices, best first.

    values: the rank metric per run (NaN, or None in a list, where a run has
    none). rank_metric: the metric's key, for its direction. completed: per
    run, whether it completed; None means all did. Raises ValueError when
    the two do not have one length.
    """
    column = np.asarray(values, dtype=np.float64)
    done = np.ones(column.shape, dtype=bool) if completed is None else np.asarray(completed, dtype=bool)
    if column.ndim != 1 or done.shape != column.shape:
        raise ValueError(f"values and completed must be 1-D of one length, got {column.shape} and {done.shape}")
    ranked = done & np.isfinite(column)
    group = np.where(ranked, 0, np.where(done, 1, 2))
    score = np.where(ranked, column if direction(rank_metric) == LOWER else -column, 0.0)
    # lexsort is stable and sorts by its last key first: group, then score, then position.
    return np.lexsort((score, group))
