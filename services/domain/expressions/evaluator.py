"""Evaluation of parsed expressions over bars: whole arrays, each distinct sub-expression computed once.

A node's value is keyed by what it computes, with $params replaced by
their values: `sma(close, $fast)` with fast = 10 and `sma(close, 10)` are
one key. Function values (indicators, bar columns, series) live as long
as the Evaluation, so a sweep's parameter sets share them as
crossover_signal's compute_many shares its averages; operator values
(arithmetic, comparisons, and/or) live for one parameter set, shared by
every expression evaluated with it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from services.domain.expressions.diagnostics import ExpressionProblem, ExpressionViolation
from services.domain.expressions.functions import CONDITION, FUNCTIONS
from services.domain.expressions.limits import MAX_WINDOW
from services.domain.expressions.parser import Expression, Node


def _not_equal(a: Any, b: Any) -> Any:
    # numpy says NaN != x is true; the language says any comparison with NaN is false.
    return np.not_equal(a, b) & ~np.isnan(a) & ~np.isnan(b)


_OPERATORS = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.divide,
    "neg": np.negative,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": _not_equal,
    "and": np.logical_and,
    "or": np.logical_or,
    "not": np.logical_not,
}


def compare(op: str, a: Any, b: Any) -> Any:
    """`a op b` for a comparison operator (< <= > >= == !=), false wherever either side is NaN."""
    with np.errstate(all="ignore"):
        return _OPERATORS[op](a, b)


def _scalar(value: Any, type_: str) -> bool | float:
    return bool(value) if type_ == CONDITION else float(value)


def _constant_key(value: bool | float, type_: str) -> tuple:
    # True == 1.0 and 0.0 == -0.0 in Python: key by type and exact bits instead.
    return ("constant", type_, value if type_ == CONDITION else float(value).hex())


def _apply(node: Node, args: Sequence[Any]) -> Any:
    with np.errstate(all="ignore"):
        if node.kind == "operator":
            return _OPERATORS[node.op](*args)
        return FUNCTIONS[node.op].compute(*args)


def _param(node: Node, params: Mapping[str, Any]) -> float:
    value = params.get(node.value)
    if value is None:
        raise ExpressionProblem(
            node.offset, "missing param", f"missing $param: expected a number for {node.value!r} in the parameters"
        )
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ExpressionProblem(node.offset, "type", f"${node.value} must be a finite number, got {value!r}")
    return float(value)


def _window(call: Node, arg: Node, kind: str, value: float, bar_count: int | None) -> int:
    lowest = 1 if kind == "window" else 0
    what = f"argument {FUNCTIONS[call.op].args[call.args.index(arg)][0]} of {call.op}"
    if not value.is_integer() or value < lowest:
        raise ExpressionProblem(arg.offset, "window", f"{what} must be a whole number >= {lowest}; got {value:g}")
    if value > MAX_WINDOW:
        raise ExpressionProblem(arg.offset, "window", f"{what} must be <= {MAX_WINDOW}; got {value:g}")
    if bar_count is not None and value > bar_count:
        raise ExpressionProblem(
            arg.offset,
            "window",
            f"{what} is {value:g} bars, more than the run's {bar_count} bars; expected at most {bar_count}",
        )
    return int(value)


def check_expression(expression: Expression, params: Mapping[str, Any] | None, field: str) -> list[ExpressionViolation]:
    """Violations of `expression` given parameter values, without bars.

    Each $param must be a finite number and each window a whole number within MAX_WINDOW.

    params: the $param values by name (without $); None checks only what needs no value
        (windows written as numbers) and reports no missing $param.
    field: the dotted path the violations name.
    """
    values: dict[int, Any] = {}
    violations: list[ExpressionViolation] = []
    for node in expression.order:
        if not node.constant:
            continue
        try:
            if node.kind == "number":
                values[id(node)] = node.value
            elif node.kind == "param":
                if params is not None:
                    values[id(node)] = _param(node, params)
            elif node.kind == "string":
                values[id(node)] = node.value
            elif all(id(a) in values for a in node.args):
                values[id(node)] = _scalar(_apply(node, [values[id(a)] for a in node.args]), node.type)
        except ExpressionProblem as problem:
            violations.append(problem.at(field, expression.text))
    for node in expression.order:
        if node.kind != "call":
            continue
        for (_, kind), arg in zip(FUNCTIONS[node.op].args, node.args, strict=True):
            if kind in ("window", "lag") and id(arg) in values:
                try:
                    _window(node, arg, kind, values[id(arg)], None)
                except ExpressionProblem as problem:
                    violations.append(problem.at(field, expression.text))
    return violations


class Evaluation:
    """Evaluates expressions over one set of bars, keeping function values for its whole life.

    bars: OHLCV frame, one row per bar.
    series: the run's model-output series by name, each a float array aligned to the bars
        (see services.domain.expressions.series.align_series); only those the expressions name are read.
    """

    def __init__(self, bars: pd.DataFrame, series: Mapping[str, Any] | None = None) -> None:
        self.bars = bars
        self.bar_count = len(bars)
        self.series = series if series is not None else {}
        self._keys: dict[tuple, int] = {}
        self._shared: dict[int, Any] = {}

    def evaluate(self, expressions: Sequence[tuple[Expression, str]], params: Mapping[str, Any]) -> list[np.ndarray]:
        """The value of each expression on every bar: a bool array for a condition, a float array for a number.

        expressions: (parsed expression, the dotted field it came from) pairs, evaluated with the same params
            (so their common sub-expressions are computed once).
        params: $param values by name (without $).
        Raises ValidationError naming the field and position of a missing $param, a window outside
        1..bar count, or a series not supplied.
        """
        local: dict[int, Any] = {}
        results = []
        for expression, field in expressions:
            try:
                value = self._value(expression, params, local)
            except ExpressionProblem as problem:
                raise problem.error(field, expression.text) from None
            dtype = bool if expression.type == CONDITION else float
            results.append(np.broadcast_to(np.asarray(value, dtype=dtype), (self.bar_count,)))
        return results

    def _value(self, expression: Expression, params: Mapping[str, Any], local: dict[int, Any]) -> Any:
        keys: dict[int, int] = {}
        values: dict[int, Any] = {}
        for node in expression.order:
            arg_keys = [keys[id(a)] for a in node.args]
            arg_values = [values[id(a)] for a in node.args]
            if node.kind in ("number", "string"):
                value = node.value
                key = _constant_key(value, node.type) if node.kind == "number" else ("string", value)
                cache = None
            elif node.kind == "param":
                value = _param(node, params)
                key, cache = _constant_key(value, node.type), None
            elif node.kind == "bar":
                key, cache = ("bar", node.value), self._shared
            elif node.constant:
                value = _scalar(_apply(node, arg_values), node.type)
                key, cache = _constant_key(value, node.type), None
            elif node.kind == "call" and not FUNCTIONS[node.op].pure:
                arg_values = self._call_args(node, arg_values)
                key, cache = (node.op, *arg_keys), self._shared
            else:
                key, cache = (node.op, *arg_keys), local
            ident = self._keys.setdefault(key, len(self._keys))
            if cache is not None:
                if ident not in cache:
                    cache[ident] = self._compute(node, arg_values)
                value = cache[ident]
            keys[id(node)] = ident
            values[id(node)] = value
        return values[id(expression.root)]

    def _call_args(self, node: Node, values: list[Any]) -> list[Any]:
        out = []
        for (_, kind), arg, value in zip(FUNCTIONS[node.op].args, node.args, values, strict=True):
            if kind in ("window", "lag"):
                out.append(_window(node, arg, kind, value, self.bar_count))
            elif kind == "name" or np.ndim(value) > 0:
                out.append(value)
            else:  # a constant where a series goes: the same value on every bar
                out.append(np.full(self.bar_count, value, dtype=bool if arg.type == CONDITION else float))
        return out

    def _compute(self, node: Node, args: list[Any]) -> Any:
        if node.kind == "bar":
            return self.bars[node.value].to_numpy(dtype=float)
        if node.op == "series":
            return self._series(node, args[0])
        if node.kind == "operator":
            return _apply(node, args)
        columns = [self.bars[name].to_numpy(dtype=float) for name in FUNCTIONS[node.op].bars]
        return _apply(node, [*columns, *args])

    def _series(self, node: Node, name: str) -> np.ndarray:
        if name not in self.series:
            raise ExpressionProblem(node.offset, "missing series", f"series {name!r} was not supplied for this run")
        values = np.asarray(self.series[name], dtype=float)
        if values.shape != (self.bar_count,):
            raise ExpressionProblem(
                node.offset,
                "missing series",
                f"series {name!r} has shape {values.shape}, not one value per bar ({self.bar_count})",
            )
        return values


def evaluate(
    expression: Expression,
    bars: pd.DataFrame,
    params: Mapping[str, Any] | None = None,
    *,
    field: str = "expression",
    series: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """One expression's value on every bar of `bars` (a one-off Evaluation); see Evaluation.evaluate."""
    return Evaluation(bars, series).evaluate([(expression, field)], params or {})[0]
