"""convert.parse_plain gives the message json_format.ParseDict gives, byte for byte, and raises where it raises."""

from __future__ import annotations

import pytest
from google.protobuf import json_format

from backtest.v1 import backtest_pb2
from services.catalog.convert import parse_plain, structured_metrics
from services.domain.metrics import STRUCTURE, structure

_CONFIG = {
    "symbol": "AAPL",
    "timeframe": "1d",
    "start_date": "2014-01-01",
    "end_date": "2023-12-31",
    "signal_plugin_key": "crossover_signal",
    "signal_plugin_params": {"fast_period": 10, "slow_period": 50, "ma": "sma", "nested": {"a": [1, None, True]}},
    "bars_per_year": 252,
    "risk_free_rate": 0.0,
    "size_type": "percent",
    "fill_price": "close",
    "allow_short": False,
    "size": 1,
    "feature_ids": [],
    "signal_logic_version": 3,
}

CONFIGS = [
    _CONFIG,
    {**_CONFIG, "signal_plugin_key": None, "signal_logic_id": "7b1f0000-0000-0000-0000-000000000000"},
    {**_CONFIG, "allow_short": True, "size": 0.5, "risk_free_rate": 2},
    {**_CONFIG, "unknown_key": {"x": 1}},  # skipped, as ParseDict skips unknown fields
    {**_CONFIG, "bars_per_year": 252.0},  # a float for an int32: ParseDict's
    {**_CONFIG, "signalPluginKey": "rsi_signal", "signal_plugin_key": None},  # a JSON name: ParseDict's
    {**_CONFIG, "feature_ids": ["a", "b"]},
    {**_CONFIG, "signal_plugin_params": None},  # null for a message field: ParseDict's
    {**_CONFIG, "risk_free_rate": "NaN"},  # text for a double: ParseDict's
    {"symbol": "SPY"},
    {},
]


def _bytes(message) -> bytes:
    return message.SerializeToString(deterministic=True)


@pytest.mark.parametrize("config", CONFIGS)
def test_a_config_parses_to_the_same_bytes(config):
    fast, reference = backtest_pb2.RunConfig(), backtest_pb2.RunConfig()
    parse_plain(config, fast)
    json_format.ParseDict(config, reference, ignore_unknown_fields=True)
    assert _bytes(fast) == _bytes(reference)
    assert fast.HasField("signal_plugin_params") == reference.HasField("signal_plugin_params")


@pytest.mark.parametrize(
    "config",
    [
        {**_CONFIG, "bars_per_year": 2**31},  # out of int32's range
        {**_CONFIG, "bars_per_year": 252.5},  # not an integer
        {**_CONFIG, "allow_short": 1},  # not a bool
        {**_CONFIG, "symbol": 5},  # not text
    ],
)
def test_what_parsedict_rejects_is_rejected_alike(config):
    with pytest.raises(json_format.ParseError):
        json_format.ParseDict(config, backtest_pb2.RunConfig(), ignore_unknown_fields=True)
    with pytest.raises(json_format.ParseError):
        parse_plain(config, backtest_pb2.RunConfig())


def _metrics(**overrides):
    flat = {key: 0.25 for key in STRUCTURE}
    flat.update(bars_in_market=2000, risk_max_drawdown_duration=120, trade_total_trades=14)
    flat.update(overrides)
    return flat


@pytest.mark.parametrize(
    "metrics",
    [
        _metrics(),
        _metrics(perf_sharpe_ratio=None, risk_var_95=float("nan"), total_return=3),
        _metrics(bars_in_market=2000.0, trade_total_trades=2.5),  # counts as floats (a PATCH)
        _metrics(perf_cagr="high", bars_in_market=2**40),  # text and an out-of-range count become null
        {},
    ],
)
def test_structured_metrics_are_the_bytes_parsedict_gave(metrics):
    fast = backtest_pb2.StructuredMetrics()
    structured_metrics(fast, metrics)
    # What structured_metrics did before: ParseDict of the same typed, nested dict.
    typed = {}
    for key, value in metrics.items():
        ok = not isinstance(value, bool) and isinstance(value, (int, float)) and value == value
        ok = ok and value not in (float("inf"), float("-inf"))
        if ok and key in ("bars_in_market", "risk_max_drawdown_duration", "trade_total_trades", "returns_count"):
            ok = value == int(value) and abs(value) < 2**31
        typed[key] = value if ok else None
    reference = json_format.ParseDict(structure(typed), backtest_pb2.StructuredMetrics())
    assert _bytes(fast) == _bytes(reference)
    assert fast.HasField("performance") and fast.HasField("risk") and fast.HasField("trading")
