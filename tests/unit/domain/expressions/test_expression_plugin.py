"""The `expression` plugin: parameter validation, semantics, batches, and equivalence with the built-ins."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from services.adapters.engines import get_engine
from services.domain.errors import ValidationError
from services.domain.execution import ExecutionSpec
from services.domain.expressions import functions
from services.domain.run_config import resolve_backtest
from services.domain.signals import SignalContext, get_plugin
from tests.unit.domain.conftest import random_bars

PLUGIN = get_plugin("expression")
PREFIX = "config.signal_plugin_params"
LONG_ONLY = SignalContext(allow_short=False)
FAST, SLOW = "sma(close, $fast)", "sma(close, $slow)"


def violations(params):
    with pytest.raises(ValidationError) as caught:
        PLUGIN.validate(params, PREFIX)
    return {v.field.removeprefix(PREFIX + "."): v for v in caught.value.violations}


def test_validate_returns_expressions_and_param_values():
    params = {"entry": f"{FAST} > {SLOW}", "exit": f"{FAST} < {SLOW}", "fast": 10, "slow": 50.0}
    assert PLUGIN.validate(params, PREFIX) == {**params, "fast": 10.0, "slow": 50.0}


@pytest.mark.parametrize(
    ("params", "fields", "says"),
    [
        ({"entry": "close > 1"}, {"exit"}, "required"),
        ({}, {"entry", "exit"}, "required"),
        ({"exposure": "1", "entry": "close > 1"}, {"entry"}, "either exposure or entry and exit"),
        ({"entry": "close > 1", "exit": "close < 1", "short_entry": "close < 1"}, {"short_exit"}, "required with"),
        ({"entry": "close > 1", "exit": "close < 1", "fast": 3}, {"fast"}, "no expression uses $fast"),
        ({"entry": "close > $x", "exit": "close < 1"}, {"entry"}, "missing $param"),
        ({"entry": "close > $x", "exit": "close < 1", "x": "2"}, {"x"}, "must be a number"),
        ({"entry": "close > $x", "exit": "close < 1", "x": True}, {"x"}, "must be a number"),
        ({"entry": "sma(close, $n) > 1", "exit": "close < 1", "n": 2.5}, {"entry"}, "whole number"),
        ({"entry": "sma(close, $n) > 1", "exit": "close < 1", "n": 0}, {"entry"}, "whole number >= 1"),
        ({"entry": "sma(close, 200000) > 1", "exit": "close < 1"}, {"entry"}, "<= 100000"),
        ({"entry": "close", "exit": "close < 1"}, {"entry"}, "must be a condition"),
        ({"exposure": "close > 1"}, {"exposure"}, "must be a number"),
        ({"entry": 3, "exit": "close < 1"}, {"entry"}, "must be an expression string"),
        ({"entry": "close > $exit", "exit": "close < 1"}, {"entry"}, "cannot be named exit"),
    ],
)
def test_bad_params_name_their_field(params, fields, says):
    found = violations(params)
    assert set(found) == fields
    assert any(says in v.description for v in found.values()), found


def test_a_syntax_error_does_not_also_report_the_params_as_unused():
    assert set(violations({"entry": "sma(close, $n) >", "exit": "close < 1", "n": 3})) == {"entry"}


def test_every_violation_of_a_backtest_is_reported_with_its_config_path():
    fields = {
        "strategy_id": "00000000-0000-0000-0000-000000000001",
        "config": {
            "symbol": "AAPL",
            "timeframe": "1d",
            "start_date": "2020-01-01",
            "end_date": "2021-01-01",
            "signal_plugin_key": "expression",
            "signal_plugin_params": {"entry": "rsi(close, $n) <", "exit": "foo(close)", "m": 1},
        },
    }
    with pytest.raises(ValidationError) as caught:
        resolve_backtest(fields)
    assert [(v.field, v.offset) for v in caught.value.violations] == [
        (f"{PREFIX}.entry", 16),
        (f"{PREFIX}.exit", 0),
    ]


def test_exposure_is_clipped_and_nan_is_flat():
    bars = random_bars(30, seed=1)
    values = PLUGIN.compute(bars, {"exposure": "(close - sma(close, 5)) * $k", "k": 100})
    assert values[:4].tolist() == [0, 0, 0, 0]  # sma(close, 5) is NaN there
    assert np.all(np.abs(values) <= 1) and {-1.0, 1.0} <= set(values.tolist())


def test_short_sides_are_used_only_when_the_run_allows_shorts():
    bars = random_bars(200, seed=2)
    params = {"entry": "rsi(close, 5) < 30", "exit": "rsi(close, 5) > 50", "short_entry": "rsi(close, 5) > 70"}
    params["short_exit"] = "rsi(close, 5) < 50"
    both = PLUGIN.compute(bars, params)
    long_only = PLUGIN.compute(bars, params, context=LONG_ONLY)
    assert -1.0 in both and -1.0 not in long_only
    without = PLUGIN.compute(bars, {"entry": params["entry"], "exit": params["exit"]})
    np.testing.assert_array_equal(long_only, without)


def crossover_params(ma, fast, slow):
    f, s = f"{ma}(close, $fast)", f"{ma}(close, $slow)"
    # The state, not the event: crossover_signal is long on the first bar both averages exist
    # whenever fast > slow there, which no crossover() event marks.
    return {"entry": f"{f} > {s}", "exit": f"{f} <= {s}", "short_entry": f"{f} <= {s}", "short_exit": f"{f} > {s}"}


@pytest.mark.parametrize("ma", ["sma", "ema"])
@pytest.mark.parametrize(("fast", "slow"), [(2, 3), (5, 20), (10, 50)])
def test_crossover_signal_reproduced_exactly(ma, fast, slow):
    bars = random_bars(400, seed=fast * slow)
    builtin = get_plugin("crossover_signal").compute(bars, {"fast_period": fast, "slow_period": slow, "ma_type": ma})
    params = {**crossover_params(ma, fast, slow), "fast": fast, "slow": slow}
    # With shorts: the same -1/0/+1 on every bar, warm-up included.
    np.testing.assert_array_equal(PLUGIN.compute(bars, params), builtin)
    # Long-only: crossover_signal's -1 means flat there; the expression's short side is left out.
    np.testing.assert_array_equal(PLUGIN.compute(bars, params, context=LONG_ONLY), np.maximum(builtin, 0.0))


def test_crossover_events_agree_with_crossover_signal_from_the_first_cross_on():
    bars = random_bars(400, seed=11)
    builtin = get_plugin("crossover_signal").compute(bars, {"fast_period": 5, "slow_period": 20})
    events = {"entry": f"crossover({FAST}, {SLOW})", "exit": f"crossunder({FAST}, {SLOW})", "fast": 5, "slow": 20}
    events |= {"short_entry": events["exit"], "short_exit": events["entry"]}
    mine = PLUGIN.compute(bars, events)
    first = int(np.flatnonzero(mine)[0])
    assert first > 20 and builtin[first - 1] != 0  # the built-in held a position before any cross
    np.testing.assert_array_equal(mine[first:], builtin[first:])


@pytest.mark.parametrize(("period", "lower", "upper"), [(2, 30, 70), (14, 30, 70), (5, 45, 55)])
def test_rsi_signal_reproduced_exactly(period, lower, upper):
    bars = random_bars(400, seed=period)
    builtin = get_plugin("rsi_signal").compute(bars, {"period": period, "lower": lower, "upper": upper})
    below, above = "rsi(close, $period) < $lower", "rsi(close, $period) > $upper"
    params = {"entry": below, "exit": above, "short_entry": above, "short_exit": below}
    params |= {"period": period, "lower": lower, "upper": upper}
    np.testing.assert_array_equal(PLUGIN.compute(bars, params), builtin)
    np.testing.assert_array_equal(PLUGIN.compute(bars, params, context=LONG_ONLY), np.maximum(builtin, 0.0))
    # And the engine trades the two alike in a long-only run.
    spec = ExecutionSpec(commission=0.001)
    engine = get_engine("vectorbt")
    ours = engine.run(bars, PLUGIN.compute(bars, params, context=LONG_ONLY), spec)
    theirs = engine.run(bars, builtin, spec)
    np.testing.assert_array_equal(ours.equity.to_numpy(), theirs.equity.to_numpy())


def test_a_batch_computes_each_indicator_once(monkeypatch):
    calls = []
    for name in ("sma", "rsi"):
        original = functions.FUNCTIONS[name]

        def counted(x, n, name=name, compute=original.compute):
            calls.append((name, n))
            return compute(x, n)

        monkeypatch.setitem(functions.FUNCTIONS, name, replace(original, compute=counted))
    grid = [{"fast": f, "slow": s} for f in (3, 5, 8) for s in (10, 20, 40)]
    entry = f"crossover({FAST}, {SLOW}) and rsi(close, 14) < 70"
    exit_ = f"crossunder({FAST}, {SLOW}) or rsi(close, 14) > 80"
    bars = random_bars(300, seed=3)
    batch = PLUGIN.compute_many(bars, [{"entry": entry, "exit": exit_, **g} for g in grid])
    assert sorted(calls) == sorted({("rsi", 14.0), *(("sma", float(n)) for n in (3, 5, 8, 10, 20, 40))})
    for params, signal in zip(grid, batch, strict=True):
        np.testing.assert_array_equal(signal, PLUGIN.compute(bars, {"entry": entry, "exit": exit_, **params}))


def test_a_constant_window_written_differently_is_the_same_indicator(monkeypatch):
    calls = []
    original = functions.FUNCTIONS["sma"]
    monkeypatch.setitem(
        functions.FUNCTIONS, "sma", replace(original, compute=lambda x, n: calls.append(n) or original.compute(x, n))
    )
    PLUGIN.compute(
        random_bars(50, seed=1), {"exposure": "sma(close, 10) - sma(close, $n) + sma(close, 5 * 2)", "n": 10}
    )
    assert len(calls) == 1


def test_json_schema_and_example():
    schema = PLUGIN.json_schema()
    assert schema["additionalProperties"] == {
        "type": "number",
        "description": "the value of a $param the expressions use",
    }
    assert set(schema["properties"]) == {"entry", "exit", "short_entry", "short_exit", "exposure"}
    assert PLUGIN.validate(PLUGIN.example, PREFIX)
