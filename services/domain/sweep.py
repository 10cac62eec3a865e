"""Expand a parameter sweep into one validated backtest per grid entry.

Each override merges over base_config: plain keys replace the key
(shallowly, as the seed says); a dotted key such as
`signal_plugin_params.fast_period` replaces one nested value; and
`initial_capital`, `commission`, `slippage` set the backtest's own fields,
whether they appear in base_config or in an override.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from services.domain.errors import FieldViolation, ValidationError
from services.domain.metric_table import METRICS
from services.domain.run_config import ResolvedBacktest, resolve_backtest
from services.domain.signals import PLUGINS
from services.domain.signals.schema import SignalPlugin

LIFTED = ("initial_capital", "commission", "slippage")
MAX_GRID = 50
DEFAULT_RANK_METRIC = "perf_sharpe_ratio"


def merge_override(base_config: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Create-request fields of one sweep entry: {"config": merged config, plus any lifted fields}.

    base_config: the sweep's config every entry starts from (left unchanged).
    override: one param_grid entry. Raises ValidationError naming the bad key.
    """
    config = copy.deepcopy(dict(base_config))
    fields: dict[str, Any] = {k: config.pop(k) for k in LIFTED if k in config}
    for key, value in override.items():
        value = copy.deepcopy(value)
        if key in LIFTED:
            fields[key] = value
        elif "." in key:
            _set_nested(config, key, value)
        else:
            config[key] = value
    fields["config"] = config
    return fields


_MISSING = object()


def override_value(config: Mapping[str, Any], lifted: Mapping[str, Any], key: str) -> Any:
    """What a run was given for override `key`: the inverse of merge_override, read from the stored run.

    config: the run's stored config. lifted: its LIFTED values. A key the run
    does not hold reads None.
    """
    if key in LIFTED:
        return lifted.get(key)
    node: Any = config
    for part in key.split("."):
        node = node.get(part, _MISSING) if isinstance(node, Mapping) else _MISSING
        if node is _MISSING:
            return None
    return node


def _set_nested(config: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    if "" in parts or parts[0] in LIFTED:
        raise ValidationError.single(key, "not a valid dotted key")
    node = config
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ValidationError.single(key, f"{'.'.join(parts[: depth + 1])} is not an object")
        node = child
    node[parts[-1]] = value


def rank_metric_violations(rank_metric: object) -> list[FieldViolation]:
    """[] when `rank_metric` is empty (DEFAULT_RANK_METRIC applies) or a metric of the table, else the violation."""
    if not rank_metric or (isinstance(rank_metric, str) and rank_metric in METRICS):
        return []
    return [FieldViolation("rank_metric", "unknown metric; known: " + ", ".join(METRICS))]


def build_sweep_runs(
    strategy_id: str,
    engine: str | None,
    base_config: Mapping[str, Any],
    param_grid: list[Mapping[str, Any]] | tuple[Mapping[str, Any], ...],
    rank_metric: str | None = None,
    *,
    bind: Callable[[ResolvedBacktest], ResolvedBacktest] | None = None,
    plugins: Mapping[str, SignalPlugin] = PLUGINS,
) -> list[ResolvedBacktest]:
    """One resolved backtest per param_grid entry, in grid order.

    engine: shared by every run; None takes the default. rank_metric: None
    takes DEFAULT_RANK_METRIC. bind: a further check of each resolved run
    that only the caller can make (a signal logic's $params against its tree),
    returning the run as it will be stored. plugins: the signal plugins a run may name
    (resolve_backtest's). Raises one ValidationError naming every
    problem: `param_grid[i].<key>` for an entry, `base_config.<key>` for a
    base value every entry inherits, `param_grid`, `rank_metric`.
    """
    found: dict[tuple[str, str], None] = {}  # ordered and deduplicated
    found |= {(v.field, v.description): None for v in rank_metric_violations(rank_metric)}
    if not isinstance(param_grid, (list, tuple)):
        found[("param_grid", f"must be a list of 1 to {MAX_GRID} override objects")] = None
        param_grid = []
    elif not 1 <= len(param_grid) <= MAX_GRID:
        found[("param_grid", f"must hold 1 to {MAX_GRID} override objects, got {len(param_grid)}")] = None
        param_grid = []
    if not isinstance(base_config, Mapping):
        found[("base_config", "must be an object")] = None
        param_grid = []
    shared = {"strategy_id": strategy_id, **({} if engine is None else {"engine": engine})}
    base_errors = _resolve_entry(shared, base_config, {}, bind, plugins)[1] if param_grid else []
    runs = []
    for index, override in enumerate(param_grid):
        if not isinstance(override, Mapping):
            found[(f"param_grid[{index}]", "must be an object")] = None
            continue
        run, violations = _resolve_entry(shared, base_config, override, bind, plugins)
        for v in violations:
            found[(_locate(v, index, override, base_errors), v.description)] = None
        if run is not None:
            runs.append(run)
    if found:
        raise ValidationError([FieldViolation(field, text) for field, text in found])
    return runs


def _resolve_entry(
    shared: dict[str, Any],
    base_config: Mapping[str, Any],
    override: Mapping[str, Any],
    bind: Callable[[ResolvedBacktest], ResolvedBacktest] | None,
    plugins: Mapping[str, SignalPlugin],
) -> tuple[ResolvedBacktest | None, list[FieldViolation]]:
    try:
        run = resolve_backtest({**shared, **merge_override(base_config, override)}, plugins=plugins)
        return (bind(run) if bind is not None else run), []
    except ValidationError as exc:
        return None, exc.violations


def _locate(
    violation: FieldViolation, index: int, override: Mapping[str, Any], base_errors: list[FieldViolation]
) -> str:
    """Name the request field behind a violation of the merged create fields."""
    field = violation.field
    if field in ("strategy_id", "engine"):
        return field
    path = field.removeprefix("config.") if field != "config" else ""
    touched = any(k == path or path.startswith(k + ".") or k.startswith(path + ".") for k in override)
    # A fault every entry inherits from base_config is reported once, there.
    if not touched and any(b.field == field and b.description == violation.description for b in base_errors):
        return f"base_config.{path}" if path else "base_config"
    return f"param_grid[{index}].{path}" if path else f"param_grid[{index}]"
