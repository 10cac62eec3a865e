"""Sweeps and grid searches: POST /api/v1/backtests/sweep and /api/v1/backtests/grid-search."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from backtest_client.models import RunConfig
from backtest_client.resources import Resource
from backtest_client.tasks import GridSearchTask, SweepTask

Grid = Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]]
# Per dotted key: a list of values, or {"start": ..., "stop": ..., "step": ...} (stop included when on the grid).
ParameterSpace = Mapping[str, Sequence[Any] | Mapping[str, float]]


def expand_grid(grid: Grid) -> list[dict[str, Any]]:
    """The API's param_grid: a list of override dicts.

    grid: either that list already, or {key: [values...]} whose cartesian
        product it becomes, e.g. {"signal_plugin_params.fast_period": [5, 10]}.
    """
    if isinstance(grid, Mapping):
        keys = list(grid)
        return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(grid[k] for k in keys))]
    return [dict(entry) for entry in grid]


class Sweeps(Resource):
    """Parameter sweeps: one run per override, ranked when all are done."""

    def create(
        self,
        strategy_id: str,
        base: RunConfig | Mapping[str, Any],
        grid: Grid,
        *,
        engine: str | None = None,
        rank_metric: str | None = None,
    ) -> SweepTask:
        """Dispatches a sweep and returns its handle (`.wait()` for the leaderboard).

        strategy_id: the strategy every run belongs to.
        base: the config every override merges over (a RunConfig, or the API's dict, which may also hold
            initial_capital, commission and slippage).
        grid: 1 to 50 overrides, or {key: values} (see `expand_grid`); dotted keys reach nested values.
        engine: engine of every run (default vectorbt). rank_metric: flat metric to rank by (perf_sharpe_ratio).
        """
        body: dict[str, Any] = {
            "strategy_id": strategy_id,
            "base_config": base.to_wire() if isinstance(base, RunConfig) else dict(base),
            "param_grid": expand_grid(grid),
        }
        if engine is not None:
            body["engine"] = engine
        if rank_metric is not None:
            body["rank_metric"] = rank_metric
        wire = self._transport.json("POST", "/backtests/sweep", json=body)
        return SweepTask(self._client, wire["task_id"], int(wire.get("n_configs", len(body["param_grid"]))))

    def grid_search(
        self,
        strategy_id: str,
        base: RunConfig | Mapping[str, Any],
        space: ParameterSpace,
        *,
        engine: str | None = None,
        rank_metric: str | None = None,
        top_n: int | None = None,
    ) -> GridSearchTask:
        """Dispatches a grid search of up to 10,000 combinations and returns its handle.

        space: per dotted key, a list of values or {"start", "stop", "step"}; the server expands the product.
        top_n: leaderboard entries the task's result keeps (default 20); `.runs()` downloads every run.
        """
        body: dict[str, Any] = {
            "strategy_id": strategy_id,
            "base_config": base.to_wire() if isinstance(base, RunConfig) else dict(base),
            "parameter_space": {key: list(v) if not isinstance(v, Mapping) else dict(v) for key, v in space.items()},
        }
        for name, value in (("engine", engine), ("rank_metric", rank_metric), ("top_n", top_n)):
            if value is not None:
                body[name] = value
        wire = self._transport.json("POST", "/backtests/grid-search", json=body)
        return GridSearchTask(
            self._client,
            wire["task_id"],
            int(wire["n_configs"]),
            n_combinations=int(wire.get("n_combinations", wire["n_configs"])),
            skipped=dict(wire.get("skipped") or {}),
        )
