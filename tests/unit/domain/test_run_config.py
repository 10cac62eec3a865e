"""resolve_backtest: defaults, and a ValidationError naming every bad field."""

import copy
import dataclasses
import pickle

import pandas as pd
import pytest

from services.domain.engines import engine_names
from services.domain.errors import ValidationError
from services.domain.execution import ExecutionSpec
from services.domain.run_config import resolve_backtest
from services.domain.statuses import RunStatus, values

STRATEGY = "a1b2c3d4-0000-0000-0000-000000000001"
# The seed's create example, minus the fields that have defaults.
MINIMAL = {
    "strategy_id": STRATEGY,
    "config": {
        "symbol": "AAPL",
        "timeframe": "1d",
        "start_date": "2020-01-01T00:00:00",
        "end_date": "2024-01-01T00:00:00",
        "signal_plugin_key": "crossover_signal",
        "signal_plugin_params": {"fast_period": 10, "slow_period": 50},
    },
}


def request(**config_changes):
    fields = copy.deepcopy(MINIMAL)
    fields["config"].update(config_changes)
    return fields


def violations(fields):
    with pytest.raises(ValidationError) as caught:
        resolve_backtest(fields)
    return {v.field: v.description for v in caught.value.violations}


def test_constants():
    assert engine_names() == ("backtrader", "vectorbt")
    assert values(RunStatus) == ("pending", "running", "completed", "failed", "revoked")


def test_seed_defaults_are_filled():
    resolved = resolve_backtest(MINIMAL)
    assert (resolved.engine, resolved.initial_capital, resolved.commission, resolved.slippage) == (
        "vectorbt",
        100_000.0,
        0.0005,
        0.0005,
    )
    config = resolved.config
    assert (config.bars_per_year, config.risk_free_rate, config.size_type, config.fill_price) == (
        252,
        0.0,
        "percent",
        "close",
    )
    assert config.allow_short is False and config.size == 1.0
    assert dict(config.signal_plugin_params) == {"fast_period": 10, "slow_period": 50, "ma_type": "sma"}
    assert resolved.execution_spec() == ExecutionSpec()


def test_stored_config_and_round_trip():
    resolved = resolve_backtest(MINIMAL)
    stored = resolved.config.to_dict()
    assert stored == {
        "symbol": "AAPL",
        "timeframe": "1d",
        "start_date": "2020-01-01T00:00:00",
        "end_date": "2024-01-01T00:00:00",
        "signal_plugin_key": "crossover_signal",
        "signal_plugin_params": {"fast_period": 10, "slow_period": 50, "ma_type": "sma"},
        "bars_per_year": 252,
        "risk_free_rate": 0.0,
        "size_type": "percent",
        "fill_price": "close",
        "allow_short": False,
        "size": 1.0,
    }
    assert resolve_backtest(resolved.to_dict()) == resolved


def test_given_values_are_kept():
    fields = request(
        bars_per_year=260.0,
        risk_free_rate=0.04,
        size_type="shares",
        size=100,
        fill_price="next_open",
        allow_short=True,
        timeframe="1h",
        start_date="2020-01-01T05:00:00+05:00",
        end_date="2020-02-01",
    )
    fields.update(
        engine="backtrader", initial_capital=5_000, commission=0.0, slippage=0.1, strategy_id=STRATEGY.upper()
    )
    resolved = resolve_backtest(fields)
    assert resolved.strategy_id == STRATEGY
    assert resolved.config.bars_per_year == 260 and type(resolved.config.bars_per_year) is int
    assert resolved.config.start_date == "2020-01-01T05:00:00+05:00"  # the user's string, validated
    assert resolved.config.start == pd.Timestamp("2020-01-01 00:00:00")
    assert resolved.config.end == pd.Timestamp("2020-02-01")
    assert resolved.execution_spec() == ExecutionSpec(
        initial_capital=5_000.0,
        commission=0.0,
        slippage=0.1,
        size_type="shares",
        size=100.0,
        fill_price="next_open",
        allow_short=True,
    )


@pytest.mark.parametrize("timeframe, bars", [("1m", 98_280), ("5m", 19_656), ("15m", 6_552), ("1h", 1_764), ("1w", 52)])
def test_bars_per_year_defaults_from_timeframe(timeframe, bars):
    assert resolve_backtest(request(timeframe=timeframe)).config.bars_per_year == bars


def test_null_means_not_given():
    fields = request(risk_free_rate=None, model_id=None, feature_ids=[])
    fields["engine"] = None
    resolved = resolve_backtest(fields)
    assert resolved.engine == "vectorbt" and resolved.config.risk_free_rate == 0.0


def test_resolved_is_frozen():
    resolved = resolve_backtest(MINIMAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        resolved.engine = "backtrader"
    params = {"fast_period": 5, "slow_period": 8}
    config = resolve_backtest(request(signal_plugin_params=params)).config
    params["fast_period"] = 7
    assert config.signal_plugin_params["fast_period"] == 5
    assert pickle.loads(pickle.dumps(resolved)) == resolved
    # to_dict leaves out the unused half of the signal (here the logic's id and version), not null.
    fields = dataclasses.asdict(resolved)["config"]
    assert {k: v for k, v in fields.items() if v is not None} == resolved.config.to_dict()
    assert resolve_backtest(resolved.to_dict()) == resolved


@pytest.mark.parametrize(
    "top, config, field",
    [
        ({"strategy_id": "not-a-uuid"}, {}, "strategy_id"),
        ({"strategy_id": None}, {}, "strategy_id"),
        ({"engine": "zipline"}, {}, "engine"),
        ({"initial_capital": 0}, {}, "initial_capital"),
        ({"initial_capital": float("inf")}, {}, "initial_capital"),
        ({"initial_capital": "100"}, {}, "initial_capital"),
        ({"commission": -0.001}, {}, "commission"),
        ({"commission": float("nan")}, {}, "commission"),
        ({"slippage": 0.2}, {}, "slippage"),
        ({"config": None}, {}, "config"),
        ({"config": "AAPL"}, {}, "config"),
        ({"colour": "red"}, {}, "colour"),
        ({}, {"symbol": ""}, "config.symbol"),
        ({}, {"symbol": "../etc"}, "config.symbol"),
        ({}, {"symbol": 7}, "config.symbol"),
        ({}, {"timeframe": "2d"}, "config.timeframe"),
        ({}, {"start_date": "yesterday"}, "config.start_date"),
        ({}, {"end_date": "2020-13-40"}, "config.end_date"),
        ({}, {"end_date": "2020-01-01"}, "config.end_date"),
        ({}, {"signal_plugin_key": "magic"}, "config.signal_plugin_key"),
        ({}, {"signal_plugin_params": {"fast_period": 60}}, "config.signal_plugin_params.fast_period"),
        ({}, {"signal_plugin_params": {"fast_period": 5, "speed": 2}}, "config.signal_plugin_params.speed"),
        ({}, {"signal_plugin_params": "fast"}, "config.signal_plugin_params"),
        ({}, {"bars_per_year": 0}, "config.bars_per_year"),
        ({}, {"bars_per_year": 252.5}, "config.bars_per_year"),
        ({}, {"risk_free_rate": float("-inf")}, "config.risk_free_rate"),
        ({}, {"risk_free_rate": 4}, "config.risk_free_rate"),
        ({}, {"size_type": "lots"}, "config.size_type"),
        ({}, {"fill_price": "vwap"}, "config.fill_price"),
        ({}, {"allow_short": "yes"}, "config.allow_short"),
        ({}, {"size_type": "shares"}, "config.size"),
        ({}, {"size_type": "shares", "size": 0}, "config.size"),
        ({}, {"size": 1.5}, "config.size"),
        ({}, {"model_id": "m-1"}, "config.model_id"),
        ({}, {"feature_ids": ["f1"]}, "config.feature_ids"),
        ({}, {"signal_logic_id": "s-1"}, "config.signal_logic_id"),
        ({}, {"fast_period": 5}, "config.fast_period"),
        # Found by tests/e2e/test_hostile_fields.py: look-alike ids parsed as the real one (int() reads
        # full-width digits), and a version without a signal logic was stored unchecked.
        ({"strategy_id": "a1b2c3d4-0000-0000-0000-00000000000\uff11"}, {}, "strategy_id"),
        ({}, {"signal_logic_version": -1}, "config.signal_logic_version"),
        ({}, {"signal_logic_version": 2}, "config.signal_logic_version"),
    ],
)
def test_each_bad_input_names_its_field(top, config, field):
    fields = request(**config)
    fields.update(top)
    found = violations(fields)
    assert list(found) == [field], found


def test_offset_dates_compare_in_utc():
    # 2019-12-31T23:00-02:00 is 2020-01-01T01:00 UTC: after a start of 2020-01-01T00:00.
    resolved = resolve_backtest(request(end_date="2019-12-31T23:00:00-02:00"))
    assert resolved.config.end == pd.Timestamp("2020-01-01 01:00")
    assert "config.end_date" in violations(request(end_date="2020-01-01T01:00:00+02:00"))


def test_unsupported_fields_say_so():
    found = violations(request(model_id="m"))
    assert "not supported by this platform" in found["config.model_id"]


def test_every_violation_is_collected():
    fields = {
        "strategy_id": "x",
        "engine": "zipline",
        "initial_capital": -1,
        "commission": 1,
        "slippage": float("nan"),
        "config": {
            "timeframe": "2d",
            "start_date": "2024-01-01",
            "end_date": "2020-01-01",
            "signal_plugin_key": "crossover_signal",
            "signal_plugin_params": {"fast_period": "ten"},
            "bars_per_year": -5,
            "size_type": "lots",
            "fill_price": "vwap",
            "feature_ids": ["a"],
        },
    }
    assert set(violations(fields)) == {
        "strategy_id",
        "engine",
        "initial_capital",
        "commission",
        "slippage",
        "config.symbol",
        "config.timeframe",
        "config.end_date",
        "config.signal_plugin_params.fast_period",
        "config.bars_per_year",
        "config.size_type",
        "config.fill_price",
        "config.feature_ids",
    }
