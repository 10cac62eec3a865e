"""Every bad CreateBacktest is a 422 naming the field, and changes nothing."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import json_format

from backtest.v1 import catalog_pb2


def crossover(**params) -> dict:
    """Config overrides setting the crossover plugin's params."""
    return {"signal_plugin_key": "crossover_signal", "signal_plugin_params": params}


# (top-level overrides, config overrides, field the 422 must name)
CASES = {
    "unknown engine": ({"engine": "zipline"}, {}, "engine"),
    "unknown signal plugin": ({}, {"signal_plugin_key": "astrology_signal"}, "config.signal_plugin_key"),
    "fast not below slow": ({}, crossover(fast_period=50, slow_period=50), "config.signal_plugin_params.fast_period"),
    "fast above slow": ({}, crossover(fast_period=60, slow_period=20), "config.signal_plugin_params.fast_period"),
    "non-integer period": ({}, crossover(fast_period=10.5, slow_period=50), "config.signal_plugin_params.fast_period"),
    "text period": ({}, crossover(fast_period="ten", slow_period=50), "config.signal_plugin_params.fast_period"),
    "negative period": ({}, crossover(fast_period=-5, slow_period=50), "config.signal_plugin_params.fast_period"),
    "negative slow period": ({}, crossover(fast_period=5, slow_period=-50), "config.signal_plugin_params.slow_period"),
    "unknown param": ({}, crossover(fast_period=10, lookback=3), "config.signal_plugin_params.lookback"),
    "start equals end": ({}, {"start_date": "2021-01-01", "end_date": "2021-01-01"}, "config.end_date"),
    "start after end": ({}, {"start_date": "2024-01-01", "end_date": "2020-01-01"}, "config.end_date"),
    "unparseable start": ({}, {"start_date": "yesterday"}, "config.start_date"),
    "unparseable end": ({}, {"end_date": "2020-13-45"}, "config.end_date"),
    "zero capital": ({"initial_capital": 0}, {}, "initial_capital"),
    "negative capital": ({"initial_capital": -1000}, {}, "initial_capital"),
    "negative commission": ({"commission": -0.0001}, {}, "commission"),
    "commission above 0.1": ({"commission": 0.11}, {}, "commission"),
    "negative slippage": ({"slippage": -0.0001}, {}, "slippage"),
    "slippage above 0.1": ({"slippage": 0.5}, {}, "slippage"),
    "zero bars per year": ({}, {"bars_per_year": 0}, "config.bars_per_year"),
    "negative bars per year": ({}, {"bars_per_year": -252}, "config.bars_per_year"),
    "bad size_type": ({}, {"size_type": "kelly"}, "config.size_type"),
    "model_id set": ({}, {"model_id": "m-1"}, "config.model_id"),
    "feature_ids set": ({}, {"feature_ids": ["f1"]}, "config.feature_ids"),
    "signal_logic_id set": ({}, {"signal_logic_id": "logic-7"}, "config.signal_logic_id"),
    "malformed strategy_id": ({"strategy_id": "a1b2c3d4-not-a-uuid"}, {}, "strategy_id"),
    "missing strategy_id": ({"strategy_id": ""}, {}, "strategy_id"),
    "missing symbol": ({}, {"symbol": ""}, "config.symbol"),
}


@pytest.mark.parametrize(("top", "config", "field"), CASES.values(), ids=CASES.keys())
def test_bad_create_is_422_naming_the_field(stub, expect_invalid, body, top, config, field):
    body.update(top)
    body["config"].update(config)
    request = json_format.ParseDict(body, catalog_pb2.CreateBacktestRequest())
    expect_invalid(lambda: stub.CreateBacktest(request), field)


def test_missing_config_is_422_naming_config(stub, expect_invalid, body):
    del body["config"]
    request = json_format.ParseDict(body, catalog_pb2.CreateBacktestRequest())
    expect_invalid(lambda: stub.CreateBacktest(request), "config")


def test_every_violation_is_named_at_once(stub, expect_invalid, body):
    body.update(engine="zipline", commission=0.5)
    body["config"].update(bars_per_year=0, model_id="m")
    request = json_format.ParseDict(body, catalog_pb2.CreateBacktestRequest())
    err = expect_invalid(lambda: stub.CreateBacktest(request), "engine")
    for field in ("commission", "config.bars_per_year", "config.model_id"):
        assert field in err.details()


def test_unknown_strategy_is_404_naming_it(stub, expect_code, body):
    body["strategy_id"] = "00000000-0000-4000-8000-000000000000"
    request = json_format.ParseDict(body, catalog_pb2.CreateBacktestRequest())
    err = expect_code(lambda: stub.CreateBacktest(request), grpc.StatusCode.NOT_FOUND)
    assert body["strategy_id"] in err.details()
