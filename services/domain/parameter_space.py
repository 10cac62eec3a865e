"""A grid search's parameter space: per dotted key, a list of values or a range.

    {"signal_plugin_params.fast_period": {"start": 5, "stop": 50, "step": 5},
     "signal_plugin_params.ma_type": ["sma", "ema"],
     "commission": [0.0001, 0.0005]}

Keys are sweep override keys (services/domain/sweep.py merge_override).
A range includes `stop` when it lies on the grid (5, 10, ..., 50 above), as
a researcher reads it. Its values are computed in decimal from the numbers'
shortest representations, start + i * step with no running sum, so
{0.1, 0.5, 0.1} is 0.1, 0.2, 0.3, 0.4, 0.5 exactly as typed. When start and
step are whole numbers the values are ints (JSON through protobuf Struct
makes 5 into 5.0, so a whole float counts as whole).

The product is enumerated lazily, keys in sorted order (a Struct does not
keep the client's order), the last key varying fastest.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from services.domain.errors import FieldViolation, ValidationError
from services.domain.sweep import merge_override

FIELD = "parameter_space"
MAX_RUNS = 10_000
MAX_VALUES = MAX_RUNS  # per key: a longer list could never fit in the product
MAX_KEYS = 32
RANGE_KEYS = ("start", "stop", "step")


@dataclass(frozen=True)
class Dimension:
    """One key of the space and its values, in order."""

    key: str
    values: tuple[Any, ...]


class ParameterGrid:
    """The Cartesian product of dimensions, one override dict per combination."""

    def __init__(self, dimensions: Sequence[Dimension]) -> None:
        self.dimensions = tuple(dimensions)
        self.shape = tuple(len(d.values) for d in self.dimensions)

    def __len__(self) -> int:
        return math.prod(self.shape)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        keys = [d.key for d in self.dimensions]
        for combination in itertools.product(*(d.values for d in self.dimensions)):
            yield dict(zip(keys, combination, strict=True))

    def field(self, axis: int, index: int | None = None) -> str:
        """Request path of a dimension (`parameter_space.<key>`) or of one of its values (`...[i]`)."""
        path = f"{FIELD}.{self.dimensions[axis].key}"
        return path if index is None else f"{path}[{index}]"


def parse_parameter_space(space: Any, base_config: Mapping[str, Any]) -> ParameterGrid:
    """The grid of `space`, checked before anything is expanded.

    space: the request's parameter_space, a mapping of dotted key to a list
    of values or {start, stop, step}. base_config: the config the keys apply
    to (a key must be settable on it). Raises one ValidationError naming
    `parameter_space`, `parameter_space.<key>` or `parameter_space.<key>[i]`
    for every problem, the count and the limit when the product exceeds MAX_RUNS.
    """
    if not isinstance(space, Mapping) or not space:
        raise ValidationError.single(FIELD, "must be an object of at least one key: a list of values or a range")
    if len(space) > MAX_KEYS:
        raise ValidationError.single(FIELD, f"at most {MAX_KEYS} keys, got {len(space)}")
    violations: list[FieldViolation] = []
    dimensions = []
    for key in sorted(space, key=str):
        values, found = _values(str(key), space[key])
        if not found:
            found = _key_problems(str(key), space, base_config, values[0])
        violations += found
        dimensions.append(Dimension(str(key), values))
    if violations:
        raise ValidationError(violations)
    grid = ParameterGrid(dimensions)
    if len(grid) > MAX_RUNS:
        shape = " x ".join(str(n) for n in grid.shape)
        raise ValidationError.single(
            FIELD, f"expands to {len(grid):,} combinations ({shape}); the limit is {MAX_RUNS:,}"
        )
    return grid


def _values(key: str, spec: Any) -> tuple[tuple[Any, ...], list[FieldViolation]]:
    path = f"{FIELD}.{key}"
    if isinstance(spec, Mapping):
        return _range(path, spec)
    if not isinstance(spec, (list, tuple)):
        return (), [FieldViolation(path, "must be a list of values or {start, stop, step}")]
    if not spec:
        return (), [FieldViolation(path, "must hold at least one value")]
    if len(spec) > MAX_VALUES:
        return (), [FieldViolation(path, f"{len(spec):,} values; at most {MAX_VALUES:,} per key")]
    seen: dict[str, int] = {}
    violations = []
    for index, value in enumerate(spec):
        first = seen.setdefault(_identity(value), index)
        if first != index:
            violations.append(FieldViolation(f"{path}[{index}]", f"repeats {path}[{first}]: each value runs once"))
    return tuple(spec), violations


def _identity(value: Any) -> str:
    # 5 and 5.0 are one value (Struct sends both as 5.0); true is not 1.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"number:{float(value)!r}"
    return json.dumps(value, sort_keys=True, default=repr)


def _range(path: str, spec: Mapping[str, Any]) -> tuple[tuple[Any, ...], list[FieldViolation]]:
    unknown = sorted(str(k) for k in spec if k not in RANGE_KEYS)
    missing = [k for k in RANGE_KEYS if k not in spec]
    if unknown or missing:
        text = "; ".join(
            part
            for part in (missing and "missing " + ", ".join(missing), unknown and "unknown " + ", ".join(unknown))
            if part
        )
        return (), [FieldViolation(path, f"a range is {{start, stop, step}}: {text}")]
    bad = [k for k in RANGE_KEYS if not _finite_number(spec[k])]
    if bad:
        return (), [FieldViolation(path, f"range {', '.join(bad)} must be finite numbers")]
    start, stop, step = (_decimal(spec[k]) for k in RANGE_KEYS)
    if step <= 0:
        return (), [FieldViolation(path, "range step must be > 0")]
    if stop < start:
        return (), [FieldViolation(path, "range stop must be >= start")]
    if stop - start >= step * MAX_VALUES:
        return (), [FieldViolation(path, f"range has more than {MAX_VALUES:,} values")]
    count = int((stop - start) // step) + 1
    whole = start == start.to_integral_value() and step == step.to_integral_value()
    kind = int if whole else float
    return tuple(kind(start + i * step) for i in range(count)), []


def _decimal(number: int | float) -> Decimal:
    # The shortest repr of a float is what the client typed: 0.1, not 0.1000000000000000055...
    return Decimal(number) if isinstance(number, int) else Decimal(repr(float(number)))


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _key_problems(
    key: str, space: Mapping[str, Any], base_config: Mapping[str, Any], value: Any
) -> list[FieldViolation]:
    path = f"{FIELD}.{key}"
    broader = sorted(str(k) for k in space if key.startswith(f"{k}."))
    if broader:
        return [FieldViolation(path, f"sets part of {FIELD}.{broader[0]}: give one key per setting")]
    try:
        merge_override(base_config, {key: value})
    except ValidationError as exc:
        return [FieldViolation(path, v.description) for v in exc.violations]
    return []
