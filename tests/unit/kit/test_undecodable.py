"""services.kit.undecodable: which string field of request bytes protobuf refuses is not UTF-8."""

from __future__ import annotations

import pytest

from backtest.v1 import catalog_pb2
from services.kit.undecodable import request_type, undecodable_violations

SURROGATE = b"\xed\xa0\x80"  # U+D800 as WTF-8: what a lone surrogate becomes on a careless client's wire
MARK = "\x7f\x7f\x7f"  # same length, found and swapped in the serialized bytes


def _spoiled(request) -> bytes:
    data = request.SerializeToString()
    assert data.count(MARK.encode()) == 1
    return data.replace(MARK.encode(), SURROGATE)


def _fields(request) -> list[str]:
    return [v.field for v in undecodable_violations(_spoiled(request), request.DESCRIPTOR)]


def test_nested_and_repeated_strings_are_named_by_path() -> None:
    request = catalog_pb2.CreateBacktestRequest(strategy_id="s")
    request.config.symbol = "AAPL"
    request.config.feature_ids.extend(["ok", MARK])
    assert _fields(request) == ["config.feature_ids[1]"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"fast": MARK}, "params.fast"),
        ({"deep": {"list": [1, "ok", MARK]}}, "params.deep.list[2]"),
        ({MARK: 1}, "params.\\xed\\xa0\\x80"),
    ],
)
def test_struct_keys_and_values_are_spelled_as_the_request_guard_spells_them(params, field) -> None:
    request = catalog_pb2.CreateStrategyRequest(name="n")
    request.params.update(params)
    assert _fields(request) == [field]


def test_bytes_that_are_no_message_name_the_whole_request() -> None:
    kind = catalog_pb2.GetBacktestRequest.DESCRIPTOR
    assert [v.field for v in undecodable_violations(b"\x0a\x05ab", kind)] == ["request"]
    assert [v.field for v in undecodable_violations(b"\x0f", kind)] == ["request"]


def test_request_types_come_from_the_method_path() -> None:
    assert request_type("/backtest.v1.CatalogService/GetBacktest") is catalog_pb2.GetBacktestRequest.DESCRIPTOR
    assert request_type("/no.Such/Method") is None
