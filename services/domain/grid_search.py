"""Expand a grid search into one validated backtest per runnable combination.

Every combination of the parameter space (services/domain/parameter_space.py)
merges over base_config as a sweep override does, and resolve_backtest
judges it: one source of validation rules, so a grid run is valid exactly
when the same backtest created alone would be. What happens to the ones
it refuses:

- A combination broken only by a rule across settings (fast_period >=
  slow_period, lower >= upper, start_date after end_date, ...) while each of
  its values runs in some other combination is skipped and counted, with
  its reasons: a grid of fast x slow periods runs the fast < slow triangle.
- A value that no combination can run (fast_period -5, ma_type "smaa", or
  a fast_period above every slow_period) is a mistake in the request: 422
  naming `parameter_space.<key>[i]` and why.
- A fault of base_config that no key touches fails every combination: 422
  naming `base_config.<path>` once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from services.domain.errors import FieldViolation, ValidationError
from services.domain.parameter_space import ParameterGrid, parse_parameter_space
from services.domain.run_config import ResolvedBacktest, resolve_backtest
from services.domain.signals import PLUGINS
from services.domain.signals.schema import SignalPlugin
from services.domain.sweep import DEFAULT_RANK_METRIC, merge_override, rank_metric_violations

SHARED = ("strategy_id", "engine")


@dataclass(frozen=True)
class GridRun:
    """One runnable combination.

    index: its position in the full product (row-major over the sorted keys).
    overrides: its value per parameter_space key. backtest: the resolved run.
    """

    index: int
    overrides: dict[str, Any]
    backtest: ResolvedBacktest


@dataclass(frozen=True)
class GridSearch:
    """A checked grid search: the runs to create and what was skipped.

    n_combinations: size of the full product. skipped: for each reason
    ("<setting>: <description>"), how many skipped combinations it broke
    (a combination with two reasons counts under both).
    """

    rank_metric: str
    n_combinations: int
    runs: tuple[GridRun, ...]
    skipped: dict[str, int]

    @property
    def n_skipped(self) -> int:
        """Combinations of the product that do not run."""
        return self.n_combinations - len(self.runs)


def build_grid_search(
    strategy_id: str,
    engine: str | None,
    base_config: Mapping[str, Any],
    parameter_space: Mapping[str, Any],
    rank_metric: str | None = None,
    *,
    bind: Callable[[ResolvedBacktest], ResolvedBacktest] | None = None,
    plugins: Mapping[str, SignalPlugin] = PLUGINS,
) -> GridSearch:
    """Every runnable combination of `parameter_space` over `base_config`, resolved.

    strategy_id, engine: shared by every run (engine None takes the default).
    base_config: config every combination starts from; it may hold
    initial_capital, commission and slippage. parameter_space: per dotted
    key, a list of values or {start, stop, step}. rank_metric: None takes
    DEFAULT_RANK_METRIC. bind, plugins: as build_sweep_runs takes them (a
    combination bind refuses is judged like any other invalid one). Raises
    one ValidationError naming every problem:
    `rank_metric`, `base_config[.<path>]`, `strategy_id`, `engine`,
    `parameter_space[.<key>[i]]` (see the module docstring).
    """
    violations = rank_metric_violations(rank_metric)
    if not isinstance(base_config, Mapping):
        raise ValidationError([*violations, FieldViolation("base_config", "must be an object")])
    try:
        grid = parse_parameter_space(parameter_space, base_config)
    except ValidationError as exc:
        raise ValidationError([*violations, *exc.violations]) from None
    if violations:
        raise ValidationError(violations)
    shared = {"strategy_id": strategy_id, **({} if engine is None else {"engine": engine})}
    runs: list[GridRun] = []
    failures: dict[int, frozenset[FieldViolation]] = {}
    for index, overrides in enumerate(grid):
        try:
            run = resolve_backtest({**shared, **merge_override(base_config, overrides)}, plugins=plugins)
            runs.append(GridRun(index, overrides, bind(run) if bind is not None else run))
        except ValidationError as exc:
            failures[index] = frozenset(exc.violations)
    skipped = _judge(grid, failures)
    return GridSearch(rank_metric or DEFAULT_RANK_METRIC, len(grid), tuple(runs), skipped)


def _judge(grid: ParameterGrid, failures: dict[int, frozenset[FieldViolation]]) -> dict[str, int]:
    """Reasons of skipped combinations; raises for faults of base_config and values that never run."""
    keys = [d.key for d in grid.dimensions]
    base: frozenset[FieldViolation] = frozenset()
    if len(failures) == len(grid):
        everywhere = frozenset.intersection(*failures.values())
        base = frozenset(v for v in everywhere if not _touched(_setting(v.field), keys))
    own = {i: found - base for i, found in failures.items() if found - base}
    broken = np.zeros(len(grid), dtype=bool)
    broken[list(own)] = True
    broken = broken.reshape(grid.shape)
    faults = [FieldViolation(_base_field(v.field), v.description) for v in sorted(base, key=_order)]
    for axis, dimension in enumerate(grid.dimensions):
        for value_index in range(len(dimension.values)):
            if broken.take(value_index, axis=axis).all():
                members = _members(grid.shape, axis, value_index)
                faults.append(FieldViolation(grid.field(axis, value_index), _never_runs(dimension.key, members, own)))
    if faults:
        raise ValidationError(faults)
    return dict(Counter(_reason(v) for found in own.values() for v in sorted(found, key=_order)).most_common())


def _members(shape: tuple[int, ...], axis: int, value_index: int) -> np.ndarray:
    """Flat indices of the combinations holding value `value_index` on `axis`."""
    return np.arange(int(np.prod(shape))).reshape(shape).take(value_index, axis=axis).ravel()


def _never_runs(key: str, members: np.ndarray, own: dict[int, frozenset[FieldViolation]]) -> str:
    common = frozenset.intersection(*(own[int(i)] for i in members))
    reasons = sorted(common, key=_order) or sorted(own[int(members[0])], key=_order)
    shown = "; ".join(v.description if _setting(v.field) == key else _reason(v) for v in reasons)
    return f"no combination with this value is valid: {shown}"


def _setting(field: str) -> str:
    """The override key (a config path, or a lifted field) a violation of the merged create request is about."""
    return "" if field == "config" else field.removeprefix("config.")


def _touched(setting: str, keys: list[str]) -> bool:
    return setting not in SHARED and any(
        k == setting or setting.startswith(k + ".") or k.startswith(setting + ".") for k in keys
    )


def _base_field(field: str) -> str:
    setting = _setting(field)
    if setting in SHARED:
        return setting
    return f"base_config.{setting}" if setting else "base_config"


def _reason(violation: FieldViolation) -> str:
    return f"{_setting(violation.field) or 'config'}: {violation.description}"


def _order(violation: FieldViolation) -> tuple[str, str]:
    return (violation.field, violation.description)
