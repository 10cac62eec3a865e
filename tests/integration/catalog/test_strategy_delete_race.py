"""Regression guard: deleting a strategy while backtests are being created for it never 500s or orphans a row."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import grpc
import sqlalchemy as sa
from google.protobuf import json_format

from backtest.v1 import catalog_pb2


def outcome(call) -> grpc.StatusCode:
    """The status code a call ended with."""
    try:
        call()
    except grpc.RpcError as err:
        return err.code()
    return grpc.StatusCode.OK


def test_concurrent_create_and_delete_end_in_201_404_204_or_409(stub, body, sync_engine):
    request = json_format.ParseDict(body, catalog_pb2.CreateBacktestRequest())
    delete = catalog_pb2.DeleteStrategyRequest(strategy_id=body["strategy_id"])
    calls = [lambda: stub.CreateBacktest(request)] * 12 + [lambda: stub.DeleteStrategy(delete)] * 4
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        codes = list(pool.map(outcome, calls))
    creates, deletes = codes[:12], codes[12:]
    assert set(creates) <= {grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND}
    assert set(deletes) <= {grpc.StatusCode.OK, grpc.StatusCode.ABORTED, grpc.StatusCode.NOT_FOUND}
    with sync_engine.connect() as connection:
        stored = connection.scalar(
            sa.text("SELECT count(*) FROM backtests WHERE strategy_id = :id"), {"id": body["strategy_id"]}
        )
        strategy_left = connection.scalar(
            sa.text("SELECT count(*) FROM strategies WHERE id = :id"), {"id": body["strategy_id"]}
        )
    assert stored == creates.count(grpc.StatusCode.OK)
    # Either the strategy went before any backtest existed, or it is still there holding them.
    assert strategy_left == 1 or stored == 0
    assert (grpc.StatusCode.OK in deletes) == (strategy_left == 0)
