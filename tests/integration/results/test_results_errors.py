"""404 for unknown backtests, 409 for runs without results, raised before any byte is sent."""

from __future__ import annotations

import uuid

import grpc
import pandas as pd
import pytest

from backtest.v1 import results_pb2, results_pb2_grpc
from services.adapters.object_store import ObjectStore, S3Location

EQUITY = pd.DataFrame({"equity": [1.0, 2.0]}, index=pd.DatetimeIndex(["2020-01-02", "2020-01-03"], name="date"))
TRADES = pd.DataFrame({"entry_date": pd.to_datetime(["2020-01-02"]), "side": ["long"], "pnl": [1.0]})
CALLS = {
    "GetEquityCurve": results_pb2.GetEquityCurveRequest,
    "DownloadEquityCurve": results_pb2.DownloadEquityCurveRequest,
    "GetTrades": results_pb2.GetTradesRequest,
    "DownloadTrades": results_pb2.DownloadTradesRequest,
    # REST's JSON text of the same artifacts: the same errors, before the first chunk.
    "GetEquityCurveJson": results_pb2.GetEquityCurveJsonRequest,
    "GetTradesJson": results_pb2.GetTradesJsonRequest,
}


def fail(results, method: str, backtest_id: str) -> grpc.RpcError:
    """Runs a streaming call that must fail before its first message; returns the error."""
    call = getattr(results, method)(CALLS[method](backtest_id=backtest_id))
    with pytest.raises(grpc.RpcError) as caught:
        next(call)
    assert "content-disposition" not in dict(call.initial_metadata() or ())
    return caught.value


@pytest.mark.parametrize("method", CALLS)
def test_unknown_backtest_is_404(results, method):
    missing = str(uuid.uuid4())
    err = fail(results, method, missing)
    assert err.code() == grpc.StatusCode.NOT_FOUND and missing in err.details()


@pytest.mark.parametrize("status", ["pending", "running", "failed"])
@pytest.mark.parametrize("method", CALLS)
def test_run_not_completed_is_409(results, publish, method, status):
    err = fail(results, method, publish(status=status))
    assert err.code() == grpc.StatusCode.ABORTED and f"is {status}" in err.details()


@pytest.mark.parametrize("method", CALLS)
def test_completed_without_artifact_uris_is_409(results, publish, method):
    assert fail(results, method, publish()).code() == grpc.StatusCode.ABORTED


@pytest.mark.parametrize("method", CALLS)
def test_deleted_artifact_is_409_not_500(results, publish, store, method):
    backtest_id = publish(equity=EQUITY, trades=TRADES)
    kind = "equity" if "Equity" in method else "trades"
    store.remove(f"artifacts/results-tests/{backtest_id}/{kind}.parquet")
    err = fail(results, method, backtest_id)
    assert err.code() == grpc.StatusCode.ABORTED and "missing" in err.details()


def test_artifact_that_is_not_parquet_is_409(results, publish, store):
    backtest_id = publish(equity=EQUITY)
    store.put_bytes(f"artifacts/results-tests/{backtest_id}/equity.parquet", b"not parquet at all")
    assert fail(results, "GetEquityCurve", backtest_id).code() == grpc.StatusCode.ABORTED
    assert fail(results, "GetEquityCurveJson", backtest_id).code() == grpc.StatusCode.ABORTED


def test_unreachable_store_is_503_not_500(launch_results, publish, store):
    backtest_id = publish(equity=EQUITY)
    dead = ObjectStore(S3Location("127.0.0.1:1", "key", "secret", store.bucket))  # nothing listens on port 1
    with launch_results(dead) as (address, _), grpc.insecure_channel(address) as channel:
        err = fail(results_pb2_grpc.ResultsServiceStub(channel), "DownloadEquityCurve", backtest_id)
    assert err.code() == grpc.StatusCode.UNAVAILABLE
