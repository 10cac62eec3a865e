"""Sweep expansion: shallow and dotted merges, lifted fields, indexed errors."""

import copy

import pytest

from services.domain.errors import ValidationError
from services.domain.sweep import DEFAULT_RANK_METRIC, build_sweep_runs, merge_override

STRATEGY = "a1b2c3d4-0000-0000-0000-000000000001"
BASE = {
    "symbol": "AAPL",
    "timeframe": "1d",
    "start_date": "2020-01-01T00:00:00",
    "end_date": "2024-01-01T00:00:00",
    "signal_plugin_key": "crossover_signal",
    "signal_plugin_params": {"fast_period": 10, "slow_period": 50, "ma_type": "ema"},
    "bars_per_year": 252,
    "risk_free_rate": 0.04,
    "size_type": "percent",
}


def test_plain_keys_merge_shallowly():
    merged = merge_override(BASE, {"symbol": "MSFT", "signal_plugin_params": {"fast_period": 5}})
    assert merged["config"]["symbol"] == "MSFT"
    # the whole dict is replaced: slow_period and ma_type are not inherited
    assert merged["config"]["signal_plugin_params"] == {"fast_period": 5}
    assert set(merged) == {"config"}


def test_dotted_keys_set_one_nested_value():
    merged = merge_override(BASE, {"signal_plugin_params.fast_period": 5})
    assert merged["config"]["signal_plugin_params"] == {"fast_period": 5, "slow_period": 50, "ma_type": "ema"}
    created = merge_override(
        {k: v for k, v in BASE.items() if k != "signal_plugin_params"}, {"signal_plugin_params.lookback": 3}
    )
    assert created["config"]["signal_plugin_params"] == {"lookback": 3}


def test_base_config_is_not_mutated():
    base = copy.deepcopy(BASE)
    merge_override(base, {"signal_plugin_params.fast_period": 5, "commission": 0.001})
    assert base == BASE


def test_capital_commission_slippage_are_lifted_to_the_backtest():
    base = {**BASE, "initial_capital": 50_000.0, "commission": 0.001}
    merged = merge_override(base, {"commission": 0.002, "slippage": 0.0})
    assert merged["initial_capital"] == 50_000.0
    assert merged["commission"] == 0.002  # the override wins over base_config
    assert merged["slippage"] == 0.0
    assert not {"initial_capital", "commission", "slippage"} & set(merged["config"])


@pytest.mark.parametrize("key", ["symbol.x", "signal_plugin_params..fast_period", ".symbol", "commission.bps"])
def test_bad_dotted_keys(key):
    with pytest.raises(ValidationError) as caught:
        merge_override(BASE, {key: 1})
    assert [v.field for v in caught.value.violations] == [key]


def test_seed_commission_sweep():
    grid = [{"commission": 0.0001}, {"commission": 0.0005}, {"commission": 0.001}]
    runs = build_sweep_runs(STRATEGY, "vectorbt", BASE, grid, "perf_sharpe_ratio")
    assert [r.commission for r in runs] == [0.0001, 0.0005, 0.001]
    assert all(r.config.signal_plugin_params["fast_period"] == 10 and r.engine == "vectorbt" for r in runs)
    assert runs[0].config.risk_free_rate == 0.04


def test_defaults_for_engine_and_rank_metric():
    assert DEFAULT_RANK_METRIC == "perf_sharpe_ratio"
    (run,) = build_sweep_runs(STRATEGY, None, BASE, [{"signal_plugin_params.fast_period": 20}], None)
    assert run.engine == "vectorbt" and run.config.signal_plugin_params["fast_period"] == 20


def fields_of(*args):
    with pytest.raises(ValidationError) as caught:
        build_sweep_runs(*args)
    return [v.field for v in caught.value.violations]


def test_errors_name_the_entry_index():
    grid = [{"signal_plugin_params.fast_period": f} for f in (5, 10, 20, 70)] + [{"symbol.x": 1}, {"size_type": "lots"}]
    assert fields_of(STRATEGY, "vectorbt", BASE, grid, "total_return") == [
        "param_grid[3].signal_plugin_params.fast_period",
        "param_grid[4].symbol.x",
        "param_grid[5].size_type",
    ]


def test_cross_field_error_caused_by_an_entry_names_the_entry():
    # fast_period 10 comes from base_config, but entry 1's slow_period breaks the rule
    grid = [{"commission": 0.001}, {"signal_plugin_params.slow_period": 8}, {"commission": 0.2}]
    assert fields_of(STRATEGY, "vectorbt", BASE, grid, "total_return") == [
        "param_grid[1].signal_plugin_params.fast_period",
        "param_grid[2].commission",
    ]


def test_base_config_faults_are_reported_once():
    base = {**BASE, "timeframe": "2d", "commission": 5}
    grid = [{"symbol": "MSFT"}, {"symbol": "IBM"}, {"timeframe": "1h"}]
    assert fields_of(STRATEGY, "vectorbt", base, grid, "total_return") == [
        "base_config.commission",
        "base_config.timeframe",
    ]


def test_grid_size_rank_metric_and_shared_fields():
    assert fields_of(STRATEGY, "vectorbt", BASE, [], "total_return") == ["param_grid"]
    assert fields_of(STRATEGY, "vectorbt", BASE, [{}] * 51, "total_return") == ["param_grid"]
    assert len(build_sweep_runs(STRATEGY, "vectorbt", BASE, [{}] * 50, "total_return")) == 50
    assert fields_of(STRATEGY, "vectorbt", BASE, [{}], "alpha") == ["rank_metric"]
    assert fields_of("nope", "zipline", BASE, [{}, {}], "total_return") == ["engine", "strategy_id"]
    assert fields_of(STRATEGY, "vectorbt", BASE, [{}, "x"], "total_return") == ["param_grid[1]"]
    assert fields_of(STRATEGY, "vectorbt", "x", [{}], "total_return") == ["base_config"]
    assert fields_of(STRATEGY, "vectorbt", BASE, {"a": 1}, ["total_return"]) == ["rank_metric", "param_grid"]


def test_every_problem_is_collected():
    grid = [{"fast_period": 5}, {"signal_plugin_params.fast_period": 0}]
    assert fields_of(STRATEGY, "vectorbt", BASE, grid, "sharpe") == [
        "rank_metric",
        "param_grid[0].fast_period",
        "param_grid[1].signal_plugin_params.fast_period",
    ]
