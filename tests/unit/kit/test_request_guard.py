"""services.kit.request_guard: bad input found generically in any request, by field path.

Regression tests for what schemathesis found through the gateway (a NUL in a
strategy name answered 500: PostgreSQL text cannot hold it), and for its
siblings: non-finite numbers in Struct fields and typed doubles, oversized text.
"""

from __future__ import annotations

import math

import pytest
from google.protobuf import struct_pb2

from backtest.v1 import catalog_pb2, results_pb2
from services.kit.request_guard import MAX_STRING_CHARS, request_violations


def _fields(request) -> list[str]:
    return [v.field for v in request_violations(request)]


def test_a_valid_request_has_no_violations() -> None:
    request = catalog_pb2.CreateStrategyRequest(name="trend", description="é ü 漢字", universe=["AAPL", "MSFT"])
    request.params.update({"window": 20, "nested": {"list": [1.5, "x", None, True]}})
    assert request_violations(request) == []


def test_nul_in_a_string_field_is_named() -> None:
    # Found by schemathesis: POST /strategies {"name": "\u0000..."} answered 500.
    violations = request_violations(catalog_pb2.CreateStrategyRequest(name="a\x00b"))
    assert [(v.field, v.description) for v in violations] == [("name", "must not contain NUL characters")]


def test_nul_in_repeated_and_struct_keys_and_values() -> None:
    request = catalog_pb2.CreateStrategyRequest(name="ok", universe=["AAPL", "B\x00AD"])
    request.params.update({"k\x00ey": 1, "deep": {"list": ["fine", "ba\x00d"]}})
    assert sorted(_fields(request)) == ["params.deep.list[1]", "params.k\x00ey", "universe[1]"]


@pytest.mark.parametrize("number", [math.inf, -math.inf, math.nan])
def test_non_finite_numbers_in_struct_and_typed_fields(number: float) -> None:
    # A JSON 1e999 parses to infinity; JSONB refuses it, and it cannot be printed back as a number.
    request = catalog_pb2.CreateBacktestRequest(strategy_id="x", initial_capital=number)
    request.config.signal_plugin_params.update({"fast_period": number})
    assert sorted(_fields(request)) == ["config.signal_plugin_params.fast_period", "initial_capital"]


def test_sweep_grid_paths_carry_indexes() -> None:
    request = catalog_pb2.SweepBacktestsRequest(strategy_id="x")
    request.param_grid.add().update({"commission": 0.001})
    request.param_grid.add().update({"commission": math.inf})
    assert _fields(request) == ["param_grid[1].commission"]


def test_text_longer_than_the_limit() -> None:
    at_limit = catalog_pb2.CreateStrategyRequest(name="x" * MAX_STRING_CHARS)
    assert request_violations(at_limit) == []
    over = catalog_pb2.CreateStrategyRequest(description="x" * (MAX_STRING_CHARS + 1), name="ok")
    assert [(v.field, v.description) for v in request_violations(over)] == [
        ("description", f"must be at most {MAX_STRING_CHARS} characters")
    ]


def test_maps_of_messages_are_walked() -> None:
    # Any message type works from its descriptor alone, maps included.
    response = results_pb2.CompareBacktestsResponse()
    response.metric_diff["sharpe"].values["run\x00"].number_value = math.inf
    assert sorted(_fields(response)) == ["metric_diff['sharpe'].values['run\\x00']"] * 2


def test_a_bare_value_and_list() -> None:
    value = struct_pb2.Value(list_value=struct_pb2.ListValue(values=[struct_pb2.Value(number_value=math.inf)]))
    assert _fields(value) == ["[0]"]


def test_a_struct_key_over_the_limit_is_named_by_its_start() -> None:
    # Found by tests/e2e/test_hostile_fields.py: the whole 65,537-character key in the field path made the
    # status larger than gRPC's 16 KiB metadata limit, and the call ended RESOURCE_EXHAUSTED (HTTP 429).
    request = catalog_pb2.CreateStrategyRequest(name="ok")
    key = "k" * (MAX_STRING_CHARS + 1)
    request.params.update({key: {"inner": "x\x00"}})
    fields = _fields(request)
    assert len(fields) == 2 and all(f.startswith("params.kkkk") and len(f) < 200 for f in fields), fields
    assert fields[1].endswith(".inner")
