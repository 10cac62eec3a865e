"""Your own rule, written in the signal expression language (docs/strategies.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from typing_extensions import override

from services.domain.errors import FieldViolation, ValidationError
from services.domain.expressions.evaluator import Evaluation
from services.domain.expressions.functions import CONDITION, NUMBER
from services.domain.expressions.params import resolve_params
from services.domain.expressions.parser import Expression, parse_expression
from services.domain.expressions.positions import entries_to_exposure
from services.domain.expressions.series import referenced_series
from services.domain.signals.schema import Param, SignalContext, SignalPlugin, field_path

SIDES = ("entry", "exit", "short_entry", "short_exit")
EXPRESSIONS = (*SIDES, "exposure")


class ExpressionSignal(SignalPlugin):
    """A rule written as expressions over the bars.

    Either `entry` and `exit` conditions: flat and entry true goes long, long and exit true goes flat,
    both true on one bar change nothing; with `short_entry` and `short_exit`
    the same for shorts when the run allows them (ignored otherwise), an entry
    of the other side reversing the position. Or one `exposure` number, the
    target exposure clipped to [-1, 1] (NaN is flat). Every other key is the
    number a `$name` in the expressions stands for, so a sweep can vary it.
    """

    key = "expression"
    reads_series = True
    params = (
        Param("entry", str, description="condition to go long when flat (or short)"),
        Param("exit", str, description="condition to leave a long position"),
        Param("short_entry", str, description="condition to go short when the run allows shorts"),
        Param("short_exit", str, description="condition to leave a short position"),
        Param("exposure", str, description="target exposure instead of entries and exits, clipped to [-1, 1]"),
    )
    example = {
        "entry": "crossover(sma(close, $fast), sma(close, $slow)) and rsi(close, 14) < 70",
        "exit": "crossunder(sma(close, $fast), sma(close, $slow))",
        "fast": 10,
        "slow": 50,
    }

    @override
    def json_schema(self) -> dict[str, Any]:
        schema = super().json_schema()
        schema["additionalProperties"] = {"type": "number", "description": "the value of a $param the expressions use"}
        schema["oneOf"] = [{"required": ["entry", "exit"]}, {"required": ["exposure"]}]
        return schema

    @override
    def validate(self, params: Mapping[str, Any] | None, field_prefix: str) -> dict[str, Any]:
        """The expressions and the $param values they use.

        Raises a ValidationError naming every bad field, with the position in
        the expression's text where there is one.
        """
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            raise ValidationError.single(field_prefix, "must be an object")
        violations = _shape_violations(params, field_prefix)
        parsed: dict[str, Expression] = {}
        for name in EXPRESSIONS:
            if params.get(name) is not None:
                try:
                    parsed[name] = _parse(params[name], field_path(field_prefix, name))
                except ValidationError as exc:
                    violations += exc.violations
        complete = len(parsed) == sum(params.get(name) is not None for name in EXPRESSIONS)
        fields = [(expression, field_path(field_prefix, name)) for name, expression in parsed.items()]
        values, found = resolve_params(fields, params, field_prefix, skip=EXPRESSIONS, complete=complete)
        violations += found
        if violations:
            raise ValidationError(violations)
        return {**{name: params[name] for name in parsed}, **values}

    @override
    def series_names(self, params: Mapping[str, Any]) -> list[str]:
        fields = [(params[name], field_path("signal_plugin_params", name)) for name in EXPRESSIONS if params.get(name)]
        return referenced_series([_parse(text, field) for text, field in fields])

    @override
    def compute(self, bars, params=None, *, context=None):
        return self.compute_many(bars, [params], context=context)[0]

    @override
    def compute_many(
        self,
        bars: pd.DataFrame,
        params_list: Sequence[Mapping[str, Any] | None],
        *,
        context: SignalContext | None = None,
    ) -> list[np.ndarray]:
        # One Evaluation for the batch: indicators are computed once for every parameter set.
        context = context or SignalContext()
        evaluation = Evaluation(bars, context.series)
        return [
            self.finish(bars, self.evaluate(evaluation, self.validate(params, "signal_plugin_params"), context))
            for params in params_list
        ]

    def evaluate(self, evaluation: Evaluation, values: Mapping[str, Any], context: SignalContext) -> np.ndarray:
        """Raw exposure for validated `values` (as `validate` returns them) on the evaluation's bars."""
        if "exposure" in values:
            names: tuple[str, ...] = ("exposure",)
        elif context.allow_short and "short_entry" in values:
            names = SIDES
        else:
            names = SIDES[:2]
        fields = [field_path("signal_plugin_params", name) for name in names]
        arrays = evaluation.evaluate([(_parse(values[n], f), f) for n, f in zip(names, fields, strict=True)], values)
        return arrays[0] if names == ("exposure",) else entries_to_exposure(*arrays)


def _parse(text: Any, field: str) -> Expression:
    return parse_expression(text, field, expect=NUMBER if field.endswith(".exposure") else CONDITION)


def _shape_violations(params: Mapping[str, Any], prefix: str) -> list[FieldViolation]:
    given = {name for name in EXPRESSIONS if params.get(name) is not None}
    if "exposure" in given:
        return [
            FieldViolation(field_path(prefix, name), "give either exposure or entry and exit, not both")
            for name in sorted(given - {"exposure"})
        ]
    violations = [
        FieldViolation(field_path(prefix, name), "required (or give one exposure expression instead)")
        for name in ("entry", "exit")
        if name not in given
    ]
    for name, other in (("short_entry", "short_exit"), ("short_exit", "short_entry")):
        if name in given and other not in given:
            violations.append(FieldViolation(field_path(prefix, other), f"required with {name}"))
    return violations
