"""Grid searches: the parameter space format, its limits, and validation equal to resolve_backtest's."""

import itertools
import json
from pathlib import Path

import pytest

from services.domain.errors import ValidationError
from services.domain.grid_search import build_grid_search
from services.domain.parameter_space import MAX_RUNS, parse_parameter_space
from services.domain.run_config import resolve_backtest
from services.domain.sweep import build_sweep_runs, merge_override

from .conftest import BASE_CONFIG

STRATEGY = "0b6f3c52-5d3e-4c11-9a52-3b3c7e0f4b1a"
BASE = BASE_CONFIG
FAST, SLOW = "signal_plugin_params.fast_period", "signal_plugin_params.slow_period"


def values(spec):
    return parse_parameter_space({"commission": spec}, BASE).dimensions[0].values


def violations(call) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        call()
    return {v.field: v.description for v in caught.value.violations}


def test_a_range_includes_stop_and_keeps_ints_ints():
    assert values({"start": 5, "stop": 50, "step": 5}) == (5, 10, 15, 20, 25, 30, 35, 40, 45, 50)
    # protobuf Struct sends every number as a double: whole numbers are still ints
    whole = values({"start": 5.0, "stop": 20.0, "step": 5.0})
    assert whole == (5, 10, 15, 20) and all(type(v) is int for v in whole)
    assert values({"start": 3, "stop": 3, "step": 1}) == (3,)
    assert values({"start": 0, "stop": 10, "step": 4}) == (0, 4, 8)  # stop off the grid: not reached


def test_float_steps_do_not_accumulate_error():
    # 0.1 + 0.1 + 0.1 == 0.30000000000000004 in floats; the grid says 0.3, as typed
    assert values({"start": 0.1, "stop": 0.5, "step": 0.1}) == (0.1, 0.2, 0.3, 0.4, 0.5)
    assert values({"start": 0.0001, "stop": 0.001, "step": 0.0001})[-1] == 0.001
    assert len(values({"start": 0.0001, "stop": 0.001, "step": 0.0001})) == 10
    assert values({"start": 1, "stop": 2, "step": 0.25}) == (1.0, 1.25, 1.5, 1.75, 2.0)
    assert values({"start": -0.3, "stop": 0.3, "step": 0.3}) == (-0.3, 0.0, 0.3)


def test_malformed_spaces_name_the_key():
    space = {
        "commission": [],
        "slippage": {"start": 0.1, "stop": 0.2, "step": 0},
        "initial_capital": {"start": 10, "stop": 20, "step": -1},
        "risk_free_rate": {"start": "0", "stop": 1, "step": 0.1},
        "size": {"start": True, "stop": 1, "step": 0.1},
        "bars_per_year": {"start": float("nan"), "stop": 1, "step": 1},
        "fill_price": {"start": 1, "stop": 2},
        "allow_short": {"start": 1, "stop": 2, "step": 1, "stop_inclusive": True},
        "symbol": "AAPL",
        "timeframe": {"start": 5, "stop": 1, "step": 1},
        FAST: [5, 10, 5.0, 10],
    }
    found = violations(lambda: parse_parameter_space(space, BASE))
    assert found == {
        "parameter_space.commission": "must hold at least one value",
        "parameter_space.slippage": "range step must be > 0",
        "parameter_space.initial_capital": "range step must be > 0",
        "parameter_space.risk_free_rate": "range start must be finite numbers",
        "parameter_space.size": "range start must be finite numbers",
        "parameter_space.bars_per_year": "range start must be finite numbers",
        "parameter_space.fill_price": "a range is {start, stop, step}: missing step",
        "parameter_space.allow_short": "a range is {start, stop, step}: unknown stop_inclusive",
        "parameter_space.symbol": "must be a list of values or {start, stop, step}",
        "parameter_space.timeframe": "range stop must be >= start",
        f"parameter_space.{FAST}[2]": f"repeats parameter_space.{FAST}[0]: each value runs once",
        f"parameter_space.{FAST}[3]": f"repeats parameter_space.{FAST}[1]: each value runs once",
    }


def test_keys_that_overlap_or_cannot_be_set():
    found = violations(
        lambda: parse_parameter_space(
            {"signal_plugin_params": [{"fast_period": 5}], FAST: [5], "commission.rate": [1], "symbol.x": [1]}, BASE
        )
    )
    assert found == {
        f"parameter_space.{FAST}": "sets part of parameter_space.signal_plugin_params: give one key per setting",
        "parameter_space.commission.rate": "not a valid dotted key",
        "parameter_space.symbol.x": "symbol is not an object",
    }
    for space in ({}, [], None, "fast"):
        assert "parameter_space" in violations(lambda space=space: parse_parameter_space(space, BASE))
    assert (
        "at most 32 keys"
        in violations(lambda: parse_parameter_space({f"k{i}": [1] for i in range(33)}, BASE))["parameter_space"]
    )


def test_limits_are_checked_before_anything_is_expanded():
    assert len(parse_parameter_space({FAST: list(range(1, 101)), SLOW: list(range(101, 201))}, BASE)) == MAX_RUNS
    huge = {f"k{i}": {"start": 1, "stop": 1000, "step": 1} for i in range(4)}  # 10^12 combinations
    assert violations(lambda: parse_parameter_space(huge, BASE)) == {
        "parameter_space": "expands to 1,000,000,000,000 combinations (1000 x 1000 x 1000 x 1000); the limit is 10,000"
    }
    over = {FAST: list(range(1, 102)), SLOW: list(range(101, 201))}
    assert "expands to 10,100 combinations (101 x 100); the limit is 10,000" in str(
        pytest.raises(ValidationError, build_grid_search, STRATEGY, None, BASE, over).value
    )
    assert violations(lambda: values({"start": 0, "stop": 1e15, "step": 1})) == {
        "parameter_space.commission": "range has more than 10,000 values"
    }
    assert violations(lambda: values(list(range(10_001)))) == {
        "parameter_space.commission": "10,001 values; at most 10,000 per key"
    }


def test_combinations_in_sorted_key_order_last_key_fastest():
    grid = parse_parameter_space({"commission": [0.001, 0.002], FAST: [5, 10, 20]}, BASE)
    assert [d.key for d in grid.dimensions] == ["commission", FAST]
    assert list(grid) == [{"commission": c, FAST: f} for c, f in itertools.product([0.001, 0.002], [5, 10, 20])]


def test_cross_parameter_violations_are_skipped_and_counted():
    search = build_grid_search(STRATEGY, "vectorbt", BASE, {FAST: [10, 20, 30], SLOW: [15, 25, 50]})
    # fast < slow holds for (10,15) (10,25) (10,50) (20,25) (20,50) (30,50)
    assert [r.overrides for r in search.runs] == [
        {FAST: f, SLOW: s} for f, s in [(10, 15), (10, 25), (10, 50), (20, 25), (20, 50), (30, 50)]
    ]
    assert [r.index for r in search.runs] == [0, 1, 2, 4, 5, 8]
    assert search.n_combinations == 9 and search.n_skipped == 3
    assert search.skipped == {"signal_plugin_params.fast_period: must be less than slow_period": 3}
    assert search.rank_metric == "perf_sharpe_ratio"


def test_runs_equal_what_resolve_backtest_says_for_every_combination():
    """Cross rules of the plugin, the dates and the sizing, on one grid: exactly the combinations
    resolve_backtest accepts run, each resolved as it resolves it, and the sweep merge agrees."""
    space = {
        FAST: {"start": 10, "stop": 40, "step": 10},
        SLOW: [20, 50],
        "start_date": ["2015-01-01", "2020-01-01"],
        "end_date": ["2018-01-01", "2024-01-01"],
        "size_type": ["percent", "shares"],
        "size": [0.5, 10],
        "commission": {"start": 0.0, "stop": 0.001, "step": 0.0005},
    }
    search = build_grid_search(STRATEGY, "backtrader", BASE, space, rank_metric="perf_deflated_sharpe_ratio")
    grid = parse_parameter_space(space, BASE)
    expected = {}
    for index, overrides in enumerate(grid):
        try:
            fields = {"strategy_id": STRATEGY, "engine": "backtrader", **merge_override(BASE, overrides)}
            expected[index] = resolve_backtest(fields)
        except ValidationError:
            pass
    assert {r.index: r.backtest for r in search.runs} == expected
    assert 0 < len(search.runs) < search.n_combinations == 4 * 2 * 2 * 2 * 2 * 2 * 3
    assert set(search.skipped) == {
        "signal_plugin_params.fast_period: must be less than slow_period",
        "end_date: must be after start_date",
        "size: must be <= 1 (a fraction of equity) unless size_type is 'shares'",
    }
    for run in search.runs[::17]:
        assert build_sweep_runs(STRATEGY, "backtrader", BASE, [run.overrides]) == [run.backtest]


def test_a_value_that_never_runs_is_refused():
    found = violations(
        lambda: build_grid_search(
            STRATEGY, None, BASE, {FAST: [5, -5, 95], SLOW: [20, 50], "signal_plugin_params.ma_type": ["sma", "smaa"]}
        )
    )
    assert found == {
        f"parameter_space.{FAST}[1]": "no combination with this value is valid: must be >= 1",
        # Above every slow_period: a cross rule, but this value can never run in this grid.
        f"parameter_space.{FAST}[2]": "no combination with this value is valid: must be less than slow_period",
        "parameter_space.signal_plugin_params.ma_type[1]": "no combination with this value is valid: "
        "must be one of 'sma', 'ema'",
    }
    # A plugin whose parameters the other key (and base_config) never fit.
    found = violations(
        lambda: build_grid_search(
            STRATEGY, None, BASE, {"signal_plugin_key": ["crossover_signal", "rsi_signal"], FAST: [5, 8]}
        )
    )
    assert found == {
        "parameter_space.signal_plugin_key[1]": "no combination with this value is valid: "
        "signal_plugin_params.fast_period: unknown parameter; expected: lower, period, upper; "
        "signal_plugin_params.slow_period: unknown parameter; expected: lower, period, upper"
    }


def test_faults_of_the_base_config_and_shared_fields_are_named_once():
    broken = {**BASE, "end_date": "2010-01-01", "commission": 0.5}
    found = violations(lambda: build_grid_search("not-a-uuid", None, broken, {FAST: [5, 8], "slippage": [0.0, 0.001]}))
    assert found == {
        "strategy_id": "must be a UUID",
        "base_config.end_date": "must be after start_date",
        "base_config.commission": "must be <= 0.1",
    }
    # A broken base value that a key overrides is not a base fault.
    fixed = build_grid_search(STRATEGY, None, {**BASE, "commission": 0.5}, {"commission": [0.0, 0.001]})
    assert [r.backtest.commission for r in fixed.runs] == [0.0, 0.001]


def test_request_level_faults_are_reported_together():
    found = violations(lambda: build_grid_search(STRATEGY, None, BASE, {FAST: []}, rank_metric="luck"))
    assert set(found) == {"rank_metric", f"parameter_space.{FAST}"}
    assert violations(lambda: build_grid_search(STRATEGY, None, ["not", "a", "config"], {FAST: [5]})) == {
        "base_config": "must be an object"
    }


def test_the_example_of_docs_api():
    page = (Path(__file__).parents[3] / "docs" / "api.md").read_text()
    section = page.split("## Grid searches", 1)[1]
    request = json.loads(section.split("```json", 1)[1].split("```", 1)[0])
    search = build_grid_search(
        STRATEGY, request["engine"], request["base_config"], request["parameter_space"], request["rank_metric"]
    )
    assert search.n_combinations == len(search.runs) == 10 * 4 * 2
    assert search.rank_metric == "perf_deflated_sharpe_ratio"
