"""The language's vocabulary: bar names and functions with their argument kinds, result types and meaning."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from services.domain.expressions import indicators

NUMBER, CONDITION, STRING = "number", "condition", "string"
BAR_NAMES = ("open", "high", "low", "close", "volume")

# Argument kinds: a number or a condition expression; a constant whole number
# (window >= 1, lag >= 0); either type (the result then has the same type);
# a string literal naming a series.
ARG_KINDS = {
    "number": "a number",
    "condition": "a condition",
    "window": "a constant whole number >= 1 (a number or a $param)",
    "lag": "a constant whole number >= 0 (a number or a $param)",
    "value": "a number or a condition",
    "name": 'a series name in quotes, e.g. "prediction"',
}


@dataclass(frozen=True)
class Function:
    """One function of the language.

    name: as written in expressions.
    args: argument names and kinds (keys of ARG_KINDS), in order.
    result: NUMBER, CONDITION, or "same" (the type of its `value` arguments).
    description: one line for discovery and the docs.
    pure: computed from constants gives a constant (abs, min, max, where); other
        functions are series over the bars even of constant arguments.
    compute: the implementation; gets the evaluator's bar columns first when `bars` is set.
    bars: the bar columns it reads besides its arguments (atr reads high, low, close).
    """

    name: str
    args: tuple[tuple[str, str], ...]
    result: str
    description: str
    compute: Callable[..., Any]
    pure: bool = False
    bars: tuple[str, ...] = ()

    @property
    def signature(self) -> str:
        """How the function is written, e.g. `sma(x, n)`."""
        return f"{self.name}({', '.join(name for name, _ in self.args)})"


def _window(name: str, description: str, compute: Callable[..., Any]) -> Function:
    return Function(name, (("x", "number"), ("n", "window")), NUMBER, description, compute)


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        _window("sma", "simple moving average of x over the last n bars (as crossover_signal)", indicators.sma),
        _window("ema", "exponential moving average of x with span n, seeded at its first value", indicators.ema),
        _window("rsi", "Wilder's relative strength index of x over n bars (as rsi_signal), 0..100", indicators.rsi),
        _window("stdev", "population standard deviation of x over the last n bars", indicators.stdev),
        _window("highest", "largest x of the last n bars, this bar included", indicators.highest),
        _window("lowest", "smallest x of the last n bars, this bar included", indicators.lowest),
        _window("roc", "rate of change in percent: 100 * (x / x n bars ago - 1)", indicators.roc),
        Function(
            "atr",
            (("n", "window"),),
            NUMBER,
            "Wilder's average true range of the bars over n bars",
            indicators.atr,
            bars=("high", "low", "close"),
        ),
        Function(
            "shift",
            (("x", "value"), ("n", "lag")),
            "same",
            "x as it was n >= 0 bars ago (a lag, never a lead); NaN, or false, before that",
            indicators.shift,
        ),
        Function(
            "crossover",
            (("a", "number"), ("b", "number")),
            CONDITION,
            "a > b on this bar and a <= b on the previous bar",
            indicators.crossover,
        ),
        Function(
            "crossunder",
            (("a", "number"), ("b", "number")),
            CONDITION,
            "a < b on this bar and a >= b on the previous bar",
            indicators.crossunder,
        ),
        Function("abs", (("x", "number"),), NUMBER, "absolute value", np.abs, pure=True),
        Function("min", (("a", "number"), ("b", "number")), NUMBER, "the smaller of a and b", np.minimum, pure=True),
        Function("max", (("a", "number"), ("b", "number")), NUMBER, "the larger of a and b", np.maximum, pure=True),
        Function(
            "where",
            (("c", "condition"), ("a", "value"), ("b", "value")),
            "same",
            "a where c holds, else b (a and b of one type)",
            np.where,
            pure=True,
        ),
        Function(
            "series",
            (("name", "name"),),
            NUMBER,
            "the named model-output series for the run's symbol, as of each bar (NaN before its first value)",
            lambda name: name,  # the evaluator looks the name up in the run's series
        ),
    )
}
