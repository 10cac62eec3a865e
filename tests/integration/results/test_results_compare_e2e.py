"""CompareBacktests over gRPC against the catalog: rows, metric_diff, 404 naming every missing id, 422."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2

from backtest.v1 import results_pb2


def compare(results, ids):
    return results.CompareBacktests.with_call(results_pb2.CompareBacktestsRequest(backtest_ids=ids))


def status_details(err: grpc.RpcError) -> status_pb2.Status:
    """The google.rpc.Status the service attached to a failed call."""
    [raw] = [v for k, v in err.trailing_metadata() if k == "grpc-status-details-bin"]
    return status_pb2.Status.FromString(raw)


def test_compare_runs_in_any_state(results, publish):
    a = publish(metrics={"perf_sharpe_ratio": 1.42, "risk_max_drawdown": 0.18, "trade_total_trades": 10})
    b = publish(metrics={"perf_sharpe_ratio": 0.97, "risk_max_drawdown": 0.12}, engine="backtrader")
    c = publish(status="pending")
    response, _ = compare(results, [a, b, c])
    body = json_format.MessageToDict(
        response, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    assert [(r["id"], r["engine"], r["status"]) for r in body["runs"]] == [
        (a, "vectorbt", "completed"),
        (b, "backtrader", "completed"),
        (c, "vectorbt", "pending"),
    ]
    sharpe, drawdown, trades = (
        body["metric_diff"][k] for k in ("perf_sharpe_ratio", "risk_max_drawdown", "trade_total_trades")
    )
    assert sharpe == {
        "values": {a: 1.42, b: 0.97, c: None},
        "best_id": a,
        "higher_is_better": True,
        "direction": "higher",
    }
    assert (drawdown["best_id"], drawdown["higher_is_better"]) == (b, False)
    assert trades["best_id"] is None and "higher_is_better" not in trades


def test_missing_ids_are_all_named_in_one_404(results, publish):
    present = publish()
    missing = sorted(str(uuid.uuid4()) for _ in range(2))
    with pytest.raises(grpc.RpcError) as caught:
        compare(results, [missing[0], present, missing[1]])
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert all(m in caught.value.details() for m in missing) and present not in caught.value.details()
    info = error_details_pb2.ResourceInfo()
    assert status_details(caught.value).details[0].Unpack(info)
    assert sorted(info.resource_name.split(",")) == missing


@pytest.mark.parametrize("count, duplicate", [(1, False), (11, False), (3, True)])
def test_bad_id_lists_are_422_naming_backtest_ids(results, count, duplicate):
    ids = [str(uuid.uuid4()) for _ in range(count)]
    if duplicate:
        ids[-1] = ids[0]
    with pytest.raises(grpc.RpcError) as caught:
        compare(results, ids)
    err = caught.value
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(err.initial_metadata())["x-http-code"] == "422"
    bad = error_details_pb2.BadRequest()
    assert status_details(err).details[0].Unpack(bad)
    assert [v.field for v in bad.field_violations] == ["backtest_ids"]
