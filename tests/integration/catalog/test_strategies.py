"""Strategy RPCs against the real server and database."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.protobuf import json_format

from backtest.v1 import catalog_pb2


def create_strategy(stub, **fields):
    """Creates a strategy from REST-shaped fields and returns (message, call)."""
    request = json_format.ParseDict({"name": "trend", **fields}, catalog_pb2.CreateStrategyRequest())
    return stub.CreateStrategy.with_call(request)


def test_create_returns_201_and_the_stored_strategy(stub):
    strategy, call = create_strategy(stub, description="MA crossover", universe=["AAPL", "MSFT"], params={"k": 2})
    assert dict(call.initial_metadata())["x-http-code"] == "201"
    assert uuid.UUID(strategy.id)
    assert (strategy.name, strategy.description) == ("trend", "MA crossover")
    assert list(strategy.universe) == ["AAPL", "MSFT"]
    assert json_format.MessageToDict(strategy.params) == {"k": 2}
    assert strategy.created_at == strategy.updated_at and strategy.created_at.seconds > 0
    assert stub.GetStrategy(catalog_pb2.GetStrategyRequest(strategy_id=strategy.id)) == strategy


def test_optional_fields_stay_absent(stub):
    strategy, _ = create_strategy(stub)
    assert not strategy.HasField("description")
    assert list(strategy.universe) == [] and len(strategy.params) == 0


@pytest.mark.parametrize("name", ["", "   "])
def test_name_is_required(stub, expect_invalid, name):
    expect_invalid(lambda: create_strategy(stub, name=name), "name")


def test_blank_universe_symbol_is_named(stub, expect_invalid):
    expect_invalid(lambda: create_strategy(stub, universe=["AAPL", " "]), "universe[1]")


def test_get_unknown_is_404_and_malformed_is_422(stub, expect_code, expect_invalid):
    unknown = catalog_pb2.GetStrategyRequest(strategy_id=str(uuid.uuid4()))
    err = expect_code(lambda: stub.GetStrategy(unknown), grpc.StatusCode.NOT_FOUND)
    assert "strategy" in err.details()
    expect_invalid(lambda: stub.GetStrategy(catalog_pb2.GetStrategyRequest(strategy_id="nope")), "strategy_id")


def test_list_is_newest_first_and_paged(stub):
    created = [create_strategy(stub, name=f"s{i}")[0].id for i in range(3)]
    listed = [s.id for s in stub.ListStrategies(catalog_pb2.ListStrategiesRequest(limit=1000))]
    assert listed[:3] == created[::-1]
    page = [s.id for s in stub.ListStrategies(catalog_pb2.ListStrategiesRequest(skip=1, limit=2))]
    assert page == listed[1:3]


@pytest.mark.parametrize(
    ("paging", "field"), [({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"skip": -1}, "skip")]
)
def test_list_rejects_bad_paging(stub, expect_invalid, paging, field):
    expect_invalid(lambda: list(stub.ListStrategies(catalog_pb2.ListStrategiesRequest(**paging))), field)


def test_delete_returns_204_then_404(stub, expect_code):
    strategy, _ = create_strategy(stub)
    request = catalog_pb2.DeleteStrategyRequest(strategy_id=strategy.id)
    _, call = stub.DeleteStrategy.with_call(request)
    assert dict(call.initial_metadata())["x-http-code"] == "204"
    expect_code(lambda: stub.DeleteStrategy(request), grpc.StatusCode.NOT_FOUND)


def test_delete_malformed_id_is_422(stub, expect_invalid):
    expect_invalid(lambda: stub.DeleteStrategy(catalog_pb2.DeleteStrategyRequest(strategy_id="12-34")), "strategy_id")


def test_delete_while_referenced_is_409_and_keeps_the_strategy(stub, expect_code, create_backtest):
    backtest = create_backtest()
    request = catalog_pb2.DeleteStrategyRequest(strategy_id=backtest.strategy_id)
    expect_code(lambda: stub.DeleteStrategy(request), grpc.StatusCode.ABORTED)
    stub.DeleteBacktest(catalog_pb2.DeleteBacktestRequest(backtest_id=backtest.id))
    stub.DeleteStrategy(request)
