"""Hypothesis strategies: random expression texts from the grammar, random rule trees, random bars."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from tests.unit.domain.conftest import random_bars

MAX_WINDOW = 6  # every generated window; cuts keep at least this many bars
WINDOW = st.integers(1, MAX_WINDOW).map(str) | st.just("$w")
LAG = st.integers(0, MAX_WINDOW).map(str) | st.just("$w")
PARAMS = st.fixed_dictionaries({"w": st.integers(1, MAX_WINDOW), "k": st.floats(-3, 3, allow_nan=False)})


def _number_leaf() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["open", "high", "low", "close", "volume", "$k", 'series("model")']),
        st.floats(-200, 200, allow_nan=False).map(lambda x: f"{x:.4g}".replace("e+", "e")),
    )


def numbers(depth: int) -> st.SearchStrategy[str]:
    """Texts of number-typed expressions nested at most `depth` levels."""
    if depth == 0:
        return _number_leaf()
    sub, cond = numbers(depth - 1), conditions(depth - 1)
    # One branch per windowed function: each is drawn as often as any other construct.
    windowed = [
        st.tuples(sub, WINDOW).map(lambda t, name=name: f"{name}({t[0]}, {t[1]})")
        for name in ("sma", "ema", "rsi", "stdev", "highest", "lowest", "roc")
    ]
    return st.one_of(
        _number_leaf(),
        st.tuples(sub, st.sampled_from("+-*/"), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        sub.map(lambda s: f"-{s}"),
        *windowed,
        WINDOW.map(lambda w: f"atr({w})"),
        st.tuples(sub, LAG).map(lambda t: f"shift({t[0]}, {t[1]})"),
        sub.map(lambda s: f"abs({s})"),
        st.tuples(st.sampled_from(["min", "max"]), sub, sub).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        st.tuples(cond, sub, sub).map(lambda t: f"where({t[0]}, {t[1]}, {t[2]})"),
    )


def conditions(depth: int) -> st.SearchStrategy[str]:
    """Texts of condition-typed expressions nested at most `depth` levels."""
    simple = numbers(0)
    comparison = st.tuples(simple, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), simple).map(" ".join)
    if depth == 0:
        return comparison
    sub, num = conditions(depth - 1), numbers(depth - 1)
    return st.one_of(
        comparison,
        st.tuples(num, st.sampled_from(["<", ">", ">=", "!="]), num).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.tuples(sub, st.sampled_from(["and", "or"]), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        sub.map(lambda s: f"not {s}"),
        st.tuples(st.sampled_from(["crossover", "crossunder"]), num, num).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        st.tuples(sub, LAG).map(lambda t: f"shift({t[0]}, {t[1]})"),
    )


def leaves(depth: int) -> st.SearchStrategy[dict]:
    value = st.floats(-200, 200, allow_nan=False) | numbers(depth)
    return st.fixed_dictionaries(
        {"field": numbers(depth), "operator": st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), "value": value}
    )


def rules(depth: int) -> st.SearchStrategy[dict]:
    if depth == 0:
        return leaves(1)
    branch = st.fixed_dictionaries(
        {"combinator": st.sampled_from(["AND", "OR"]), "rules": st.lists(rules(depth - 1), min_size=1, max_size=3)}
    )
    return leaves(1) | branch


RULE_TREES = st.lists(
    st.fixed_dictionaries(
        {"rules": st.lists(rules(2), min_size=1, max_size=3)},
        optional={"action": st.sampled_from(["BUY", "SELL", "HOLD"]), "combinator": st.sampled_from(["AND", "OR"])},
    ),
    min_size=1,
    max_size=4,
)


def model_series(bars, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(stamps, values): a model output stamped at random instants from before the bars to their end."""
    rng = np.random.default_rng(seed)
    start, end = bars.index[0].value, bars.index[-1].value
    stamps = np.sort(rng.integers(start - (end - start) // 10, end, size=len(bars) // 2)).astype("datetime64[ns]")
    return stamps, rng.normal(0.0, 1.0, len(stamps))


BARS = st.tuples(st.integers(40, 90), st.integers(0, 10_000)).map(lambda t: random_bars(t[0], seed=t[1]))
