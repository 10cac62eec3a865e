"""Typed parameters with defaults and bounds, and the contract of a signal plugin.

Run configs and plugin parameters arrive as JSON objects (protobuf Struct,
where every number is a double), so checking them is one job done once here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from services.domain.errors import FieldViolation, ValidationError


@dataclass(frozen=True)
class Param:
    """One named parameter.

    name: key in the JSON object.
    kind: int, float, str or bool.
    default: value taken when the key is absent; None leaves it absent.
    ge, gt, le: inclusive lower, exclusive lower and inclusive upper bounds.
    choices: the allowed values of a str parameter.
    description: one line for discovery (JSON Schema `description`).
    """

    name: str
    kind: type
    default: Any = None
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    choices: tuple[str, ...] = ()
    description: str = ""

    def json_schema(self) -> dict[str, Any]:
        """This parameter as a JSON Schema (draft 2020-12) property."""
        schema: dict[str, Any] = {"type": _JSON_TYPES[self.kind]}
        if self.description:
            schema["description"] = self.description
        if self.default is not None:
            schema["default"] = self.default
        if self.choices:
            schema["enum"] = list(self.choices)
        for key, bound in (("minimum", self.ge), ("exclusiveMinimum", self.gt), ("maximum", self.le)):
            if bound is not None:
                schema[key] = int(bound) if self.kind is int else bound
        return schema

    def coerce(self, value: Any) -> Any:
        """Return `value` as this parameter's kind, or raise ValueError saying what is wrong."""
        if self.kind is bool or self.kind is str:
            if not isinstance(value, self.kind):
                raise ValueError("must be true or false" if self.kind is bool else "must be a string")
            if self.choices and value not in self.choices:
                raise ValueError("must be one of " + ", ".join(repr(c) for c in self.choices))
            return value
        # bool is an int subclass; true is not a period length.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("must be an integer" if self.kind is int else "must be a number")
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        if self.kind is int:
            # Struct turns 10 into 10.0; accept that, but not 10.5.
            if value != int(value):
                raise ValueError("must be an integer")
            value = int(value)
        else:
            value = float(value)
        if self.ge is not None and value < self.ge:
            raise ValueError(f"must be >= {_show(self.ge)}")
        if self.gt is not None and value <= self.gt:
            raise ValueError(f"must be > {_show(self.gt)}")
        if self.le is not None and value > self.le:
            raise ValueError(f"must be <= {_show(self.le)}")
        return value


_JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean"}


def clip_exposure(exposure: np.ndarray, low: float = -1.0) -> np.ndarray:
    """A new array: NaN as 0.0, everything else clipped to [low, 1] (infinities included).

    What `np.clip(np.nan_to_num(x, nan=0.0), low, 1.0)` returns, in two passes
    instead of six: on a million bars that pair took 20 ms, more than the
    simulation of the run's orders.
    """
    out = np.where(np.isnan(exposure), 0.0, exposure)
    np.maximum(out, low, out=out)
    np.minimum(out, 1.0, out=out)
    return out


def _show(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def field_path(prefix: str, name: str) -> str:
    """Dotted path of `name` under `prefix` ("" for the top level)."""
    return f"{prefix}.{name}" if prefix else name


def check_params(
    schema: tuple[Param, ...], values: Mapping[str, Any], prefix: str, *, strict: bool = True
) -> tuple[dict[str, Any], list[FieldViolation]]:
    """Coerce `values` against `schema`, filling defaults.

    prefix: dotted path of the object, used to name violations.
    strict: report keys the schema does not know.
    Returns the resolved values and every violation found.
    """
    resolved: dict[str, Any] = {}
    violations: list[FieldViolation] = []
    known = {p.name for p in schema}
    if strict:
        for name in values:
            if name not in known:
                expected = ", ".join(sorted(known)) or "none"
                violations.append(FieldViolation(field_path(prefix, name), f"unknown parameter; expected: {expected}"))
    for param in schema:
        value = values.get(param.name)
        if value is None:
            if param.default is not None:
                resolved[param.name] = param.default
            continue
        try:
            resolved[param.name] = param.coerce(value)
        except ValueError as exc:
            violations.append(FieldViolation(field_path(prefix, param.name), str(exc)))
    return resolved, violations


@dataclass(frozen=True)
class SignalContext:
    """What a run gives a plugin besides bars and parameters.

    allow_short: the run may hold short positions (`config.allow_short`); plugins whose
        rules name short sides (the expression plugin) leave those out when it is false.
    series: model-output series by name, each a float array aligned to the bars
        (services.domain.expressions.series.align_series); only the expression plugin reads them.
    """

    allow_short: bool = True
    series: Mapping[str, Any] = field(default_factory=dict)


class SignalPlugin:
    """Base of signal plugins: a key, a parameter schema and a causal exposure rule.

    example: parameters that run the plugin (the executor's warm-up computes every plugin with them).
    """

    key: ClassVar[str]
    params: ClassVar[tuple[Param, ...]] = ()
    example: ClassVar[Mapping[str, Any]] = {}

    def json_schema(self) -> dict[str, Any]:
        """JSON Schema of the plugin's `signal_plugin_params` object."""
        return {
            "type": "object",
            "properties": {p.name: p.json_schema() for p in self.params},
            "additionalProperties": False,
        }

    def cross_check(self, values: dict[str, Any]) -> list[tuple[str, str]]:
        """(param name, description) for each broken rule spanning several parameters."""
        return []

    def validate(self, params: Mapping[str, Any] | None, field_prefix: str) -> dict[str, Any]:
        """Return `params` with defaults filled; raise ValidationError naming `<field_prefix>.<param>`."""
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            raise ValidationError.single(field_prefix, "must be an object")
        values, violations = check_params(self.params, params, field_prefix)
        if not violations:
            violations = [FieldViolation(field_path(field_prefix, n), d) for n, d in self.cross_check(values)]
        if violations:
            raise ValidationError(violations)
        return values

    # Whether runs of this plugin may read model-output series (`series_names`).
    reads_series: ClassVar[bool] = False

    def series_names(self, params: Mapping[str, Any]) -> list[str]:
        """Names of the model-output series a run with these (validated) params reads; none by default."""
        return []

    def compute(
        self, bars: pd.DataFrame, params: Mapping[str, Any] | None = None, *, context: SignalContext | None = None
    ) -> np.ndarray:
        """Target exposure in [-1, 1] for every bar of `bars` (OHLCV, DatetimeIndex) given `params`.

        context: the run's allow_short and series; None is SignalContext() (shorts allowed, no series).
        """
        return self.finish(bars, self.exposure(bars, **self.validate(params, "signal_plugin_params")))

    def compute_many(
        self,
        bars: pd.DataFrame,
        params_list: Sequence[Mapping[str, Any] | None],
        *,
        context: SignalContext | None = None,
    ) -> list[np.ndarray]:
        """`compute` for each parameter set over the same bars (a sweep's batch).

        Plugins whose parameter sets share intermediate series override this to
        compute each series once.
        """
        return [self.compute(bars, params, context=context) for params in params_list]

    def finish(self, bars: pd.DataFrame, exposure: Any) -> np.ndarray:
        """The raw exposure as `compute` returns it: one float per bar, NaN flat, clipped to [-1, 1]."""
        exposure = np.asarray(exposure, dtype=float)
        if exposure.shape != (len(bars),):
            raise AssertionError(f"{self.key} returned shape {exposure.shape} for {len(bars)} bars")
        # Warm-up bars are NaN by construction; "no view" is a flat position.
        return clip_exposure(exposure)

    def exposure(self, bars: pd.DataFrame, **params: Any) -> np.ndarray:
        """The plugin's rule: raw exposure per bar, NaN where it has no view yet."""
        raise NotImplementedError
