"""The $param values a set of expressions uses, checked against what the expressions need."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from services.domain.errors import FieldViolation
from services.domain.expressions.evaluator import check_expression
from services.domain.expressions.parser import Expression
from services.domain.signals.schema import Param, field_path

_VALUE = Param("value", float)  # every $param value is a finite number


def resolve_params(
    expressions: Sequence[tuple[Expression, str]],
    params: Mapping[str, Any],
    field_prefix: str,
    *,
    skip: Collection[str] = (),
    complete: bool = True,
) -> tuple[dict[str, float], list[FieldViolation]]:
    """The $param values `expressions` use, as floats, and every violation.

    expressions: (parsed expression, its dotted field) pairs.
    params: the parameter object (e.g. a backtest's signal_plugin_params); null values count as absent.
    field_prefix: dotted path of `params`, to name a bad or unused key.
    skip: keys of `params` that are not $param values (the expression plugin's expression fields).
    complete: `expressions` are all there are (none failed to parse), so a key none of them uses is
        reported as unknown; when False, unused keys are left alone.
    Violations: an unused key, a value that is not a finite number, and per expression a missing
    $param or a window that is not a whole number within MAX_WINDOW (with the position in its text).
    """
    used = {name for expression, _ in expressions for name in expression.params}
    values: dict[str, float] = {}
    unusable: set[str] = set()
    violations: list[FieldViolation] = []
    for name, value in params.items():
        if name in skip or value is None:
            continue
        field = field_path(field_prefix, name)
        if name not in used:
            if complete:
                listed = ", ".join(f"${p}" for p in sorted(used)) or "none"
                violations.append(
                    FieldViolation(field, f"unknown parameter: no expression uses ${name}; used: {listed}")
                )
            continue
        try:
            values[name] = _VALUE.coerce(value)
        except ValueError as exc:
            violations.append(FieldViolation(field, str(exc)))
            unusable.add(name)
    for expression, field in expressions:
        clashing = set(expression.params) & set(skip)
        if clashing:
            violations.append(FieldViolation(field, f"a $param cannot be named {', '.join(sorted(clashing))}"))
        elif not unusable & set(expression.params):  # a bad value is reported at its own field already
            violations += check_expression(expression, values, field)
    return values, violations
