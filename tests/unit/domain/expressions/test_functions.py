"""Each function and operator on small arrays worked out by hand, and each one causal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from services.domain.errors import ValidationError
from services.domain.expressions.evaluator import evaluate
from services.domain.expressions.functions import FUNCTIONS
from services.domain.expressions.parser import parse_expression
from services.domain.signals.rsi import wilder_rsi
from tests.unit.domain.conftest import bars_from_close, random_bars

NAN = np.nan
CLOSE = [1.0, 2.0, 4.0, 3.0, 5.0]


def value(text, bars=None, params=None, series=None):
    bars = bars_from_close(CLOSE) if bars is None else bars
    return evaluate(parse_expression(text, "x"), bars, params, field="x", series=series).tolist()


def close_to(actual, expected):
    np.testing.assert_allclose(np.asarray(actual, dtype=float), expected, rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sma(close, 2)", [NAN, 1.5, 3, 3.5, 4]),
        # alpha 2/3 from the first close: 1, 5/3, 29/9, 83/27, 353/81; NaN until 2 bars
        ("ema(close, 2)", [NAN, 5 / 3, 29 / 9, 83 / 27, 353 / 81]),
        # population: |a - b| / 2 for windows of two
        ("stdev(close, 2)", [NAN, 0.5, 1, 0.5, 1]),
        ("highest(close, 3)", [NAN, NAN, 4, 4, 5]),
        ("lowest(close, 3)", [NAN, NAN, 1, 2, 3]),
        ("roc(close, 2)", [NAN, NAN, 300, 50, 25]),
        ("shift(close, 1)", [NAN, 1, 2, 4, 3]),
        ("shift(close, 0)", CLOSE),
        ("abs(close - 3)", [2, 1, 1, 0, 2]),
        ("min(close, 3)", [1, 2, 3, 3, 3]),
        ("max(close, sma(close, 2))", [NAN, 2, 4, 3.5, 5]),  # NaN propagates
        ("where(close > 2, close, -close)", [-1, -2, 4, 3, 5]),
        ("close / 0", [np.inf] * 5),
        ("(close - close) / 0", [NAN] * 5),
        ("-close + 2 * 3 - 4 / 2", [3, 2, 0, 1, -1]),  # precedence: * and / before + and -
        ("$k * close", [2, 4, 8, 6, 10]),
    ],
)
def test_numbers_by_hand(text, expected):
    close_to(value(text, params={"k": 2}), expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # now above 3, before at or below: bars 2 (2 -> 4) and 4 (3 -> 5); never on the first bar
        ("crossover(close, 3)", [False, False, True, False, True]),
        ("crossunder(close, 3.5)", [False, False, False, True, False]),
        ("sma(close, 2) > 0", [False, True, True, True, True]),  # NaN compares false
        ("sma(close, 2) != 1.5", [False, False, True, True, True]),  # != with NaN is false too
        ("not sma(close, 2) > 0", [True, False, False, False, False]),  # not of a false comparison
        ("close > 1 and close < 5 or close == 5", [False, True, True, True, True]),
        ("shift(close > 2, 1)", [False, False, False, True, True]),
        ("close >= 3", [False, False, True, True, True]),
        ("close <= 3", [True, True, False, True, False]),
    ],
)
def test_conditions_by_hand(text, expected):
    assert value(text) == expected


def test_atr_is_wilders_average_true_range():
    bars = pd.DataFrame(
        {
            "open": [2, 3, 5.8, 3, 6],
            "high": [3, 4, 6, 5, 7],
            "low": [1, 1, 5.5, 2, 4],
            "close": [2, 3, 5.8, 3, 6],
            "volume": 1.0,
        },
        index=pd.date_range("2024-01-01", periods=5),
    )
    # true range: 2 (first bar: high - low), 3, 3 (gap: 6 - prev close 3), 3.8 (2 vs prev close 5.8), 4
    # Wilder over 2: seed (2 + 3) / 2 = 2.5, then (avg + tr) / 2: 2.75, 3.275, 3.6375
    close_to(value("atr(2)", bars), [NAN, 2.5, 2.75, 3.275, 3.6375])


def test_rsi_is_rsi_signals_rsi():
    bars = random_bars(200, seed=4)
    close_to(value("rsi(close, 14)", bars), wilder_rsi(bars["close"], 14))


def test_rsi_of_a_series_starts_after_its_leading_nans():
    close = np.array([10, 11, 12, 11, 10, 9, 10, 11, 12], dtype=float)
    model = np.r_[np.nan, np.nan, close[:-2]]
    expected = np.r_[np.nan, np.nan, wilder_rsi(pd.Series(close[:-2]), 2)]
    close_to(value('rsi(series("m"), 2)', bars_from_close(close), series={"m": model}), expected)


def test_series_is_read_from_the_provider():
    close_to(value('series("m") * 2', series={"m": np.arange(5.0)}), [0, 2, 4, 6, 8])


@pytest.mark.parametrize(
    ("text", "problem", "offset"),
    [
        ("sma(close, 6)", "window", 11),  # 5 bars
        ("shift(close, 6)", "window", 13),
        ('series("absent")', "missing series", 0),
        ("sma(close, $n)", "missing param", 11),
    ],
)
def test_evaluation_errors_name_the_position(text, problem, offset):
    with pytest.raises(ValidationError) as caught:
        value(text)
    (violation,) = caught.value.violations
    assert (violation.field, violation.problem, violation.offset) == ("x", problem, offset)
    assert "^" in violation.description


def test_a_window_longer_than_the_bars_says_how_many_bars_there_are():
    with pytest.raises(ValidationError, match="more than the run's 5 bars; expected at most 5"):
        value("sma(close, 6)")


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_is_causal(name):
    """Deterministic complement of the property tests: each function alone, cut after every bar."""
    args = {
        "number": "close",
        "window": "3",
        "lag": "2",
        "value": "close",
        "condition": "close > open",
        "name": '"m"',
    }
    text = f"{name}({', '.join(args[kind] for _, kind in FUNCTIONS[name].args)})"
    bars = random_bars(60, seed=9)
    model = np.random.default_rng(1).normal(size=60)
    full = evaluate(parse_expression(text, "x"), bars, series={"m": model})
    for t in range(3, 59):
        cut = evaluate(parse_expression(text, "x"), bars.iloc[: t + 1], series={"m": model[: t + 1]})
        np.testing.assert_array_equal(cut, full[: t + 1], err_msg=f"{text} cut after bar {t}")
