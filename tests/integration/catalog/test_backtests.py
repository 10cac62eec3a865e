"""Backtest CRUD against the real server and database."""

from __future__ import annotations

import uuid

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf import json_format

from backtest.v1 import catalog_pb2
from services.kit.nullable_string import read_nullable

FLAT_METRICS = {
    "total_return": 0.25,
    "bars_in_market": 120,
    "perf_cagr": 0.06,
    "perf_sharpe_ratio": 1.42,
    "perf_sortino_ratio": None,
    "perf_calmar_ratio": 0.3,
    "risk_max_drawdown": 0.18,
    "risk_max_drawdown_duration": 40,
    "risk_var_95": 0.02,
    "trade_total_trades": 7,
    "trade_win_rate": 0.57,
}


def patch(stub, backtest_id: str, **fields):
    """PATCHes REST-shaped fields onto a backtest."""
    request = json_format.ParseDict({"backtest_id": backtest_id, **fields}, catalog_pb2.UpdateBacktestRequest())
    return stub.UpdateBacktest(request)


def test_create_returns_201_pending_with_defaults_resolved(stub, strategy_id):
    request = catalog_pb2.CreateBacktestRequest(strategy_id=strategy_id)
    request.config.symbol, request.config.timeframe = "AAPL", "1d"
    request.config.start_date, request.config.end_date = "2020-01-01", "2021-01-01T00:00:00+02:00"
    request.config.signal_plugin_key = "crossover_signal"
    backtest, call = stub.CreateBacktest.with_call(request)
    assert dict(call.initial_metadata())["x-http-code"] == "201"
    assert uuid.UUID(backtest.id) and backtest.strategy_id == strategy_id
    assert (backtest.engine, backtest.status) == ("vectorbt", "pending")
    assert (backtest.initial_capital, backtest.commission, backtest.slippage) == (100000.0, 0.0005, 0.0005)
    config = json_format.MessageToDict(backtest.config, preserving_proto_field_name=True)
    assert config["bars_per_year"] == 252 and config["size_type"] == "percent" and config["fill_price"] == "close"
    assert config["signal_plugin_params"] == {"fast_period": 10, "slow_period": 50, "ma_type": "sma"}
    assert config["end_date"] == "2021-01-01T00:00:00+02:00"
    assert len(backtest.metrics) == 0
    # null until completed: present on the wire as null_value, so REST prints `null`
    assert backtest.trades_uri.WhichOneof("kind") == backtest.equity_curve_uri.WhichOneof("kind") == "null_value"
    assert not backtest.HasField("structured_metrics") and not backtest.HasField("sweep_id")
    assert stub.GetBacktest(catalog_pb2.GetBacktestRequest(backtest_id=backtest.id)) == backtest


def test_seed_example_is_stored_as_given(create_backtest):
    backtest = create_backtest(engine="backtrader", initial_capital=5000.0, commission=0.001, slippage=0.0)
    assert (backtest.engine, backtest.initial_capital, backtest.commission, backtest.slippage) == (
        "backtrader",
        5000.0,
        0.001,
        0.0,
    )
    assert backtest.config.risk_free_rate == 0.04 and backtest.config.start_date == "2020-01-01T00:00:00"


def test_list_is_newest_first_filtered_and_paged(stub, create_backtest):
    mine = [create_backtest().id for _ in range(3)]
    other = stub.CreateStrategy(catalog_pb2.CreateStrategyRequest(name="other")).id
    create_backtest(strategy_id=other)
    request = catalog_pb2.ListBacktestsRequest(
        strategy_id=stub.GetBacktest(catalog_pb2.GetBacktestRequest(backtest_id=mine[0])).strategy_id
    )
    assert [b.id for b in stub.ListBacktests(request)] == mine[::-1]
    request.skip, request.limit = 1, 1
    assert [b.id for b in stub.ListBacktests(request)] == [mine[1]]
    everything = [b for b in stub.ListBacktests(catalog_pb2.ListBacktestsRequest(limit=1000))]
    stamps = [(b.created_at.ToDatetime(), b.id) for b in everything]
    assert stamps == sorted(stamps, reverse=True)
    assert {b.strategy_id for b in everything} >= {other}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"strategy_id": "not-a-uuid"}, "strategy_id"),
        ({"strategy_id": ""}, "strategy_id"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"skip": -1}, "skip"),
    ],
)
def test_list_rejects_bad_filters(stub, expect_invalid, fields, field):
    expect_invalid(lambda: list(stub.ListBacktests(catalog_pb2.ListBacktestsRequest(**fields))), field)


def test_list_default_limit_is_100(stub, create_backtest, sync_engine):
    template = create_backtest()
    # Copies of one row, straight into the table: this is about paging, not creating.
    with sync_engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO backtests (strategy_id, engine, initial_capital, commission, slippage, config)"
                " SELECT strategy_id, engine, initial_capital, commission, slippage, config"
                " FROM backtests, generate_series(1, 100) WHERE id = :id"
            ),
            {"id": template.id},
        )
    assert len(list(stub.ListBacktests(catalog_pb2.ListBacktestsRequest()))) == 100
    assert len(list(stub.ListBacktests(catalog_pb2.ListBacktestsRequest(limit=101)))) == 101


@pytest.mark.parametrize("rpc", ["GetBacktest", "UpdateBacktest", "DeleteBacktest"])
def test_path_ids_unknown_404_malformed_422(stub, expect_code, expect_invalid, rpc):
    request_type = getattr(catalog_pb2, f"{rpc}Request")
    method = getattr(stub, rpc)
    err = expect_code(lambda: method(request_type(backtest_id=str(uuid.uuid4()))), grpc.StatusCode.NOT_FOUND)
    assert "backtest" in err.details()
    expect_invalid(lambda: method(request_type(backtest_id="f47ac10b-58cc")), "backtest_id")


def test_patch_changes_only_present_fields(stub, create_backtest, artifact_prefix):
    created = create_backtest()
    trades = f"{artifact_prefix}backtests/{created.id}/trades.parquet"
    updated = patch(stub, created.id, status="running", trades_uri=trades)
    assert (updated.status, read_nullable(updated.trades_uri)) == ("running", trades)
    assert read_nullable(updated.equity_curve_uri) is None and len(updated.metrics) == 0
    assert updated.updated_at.ToDatetime() > created.updated_at.ToDatetime()
    assert (updated.config, updated.created_at) == (created.config, created.created_at)
    again = patch(stub, created.id, metrics={"custom": "note"})
    assert (again.status, read_nullable(again.trades_uri)) == ("running", trades)
    assert json_format.MessageToDict(again.metrics) == {"custom": "note"}


def test_completed_backtest_carries_structured_metrics(stub, create_backtest, artifact_prefix):
    created = create_backtest()
    done = patch(
        stub,
        created.id,
        status="completed",
        metrics=FLAT_METRICS,
        trades_uri=f"{artifact_prefix}t.parquet",
        equity_curve_uri=f"{artifact_prefix}e.parquet",
    )
    fetched = stub.GetBacktest(catalog_pb2.GetBacktestRequest(backtest_id=created.id))
    assert fetched == done
    structured = json_format.MessageToDict(fetched.structured_metrics, preserving_proto_field_name=True)
    assert structured["total_return"] == 0.25 and structured["bars_in_market"] == 120
    assert structured["performance"] == {"cagr": 0.06, "sharpe_ratio": 1.42, "calmar_ratio": 0.3}
    assert structured["risk"]["max_drawdown_duration"] == 40
    assert structured["trading"] == {"total_trades": 7, "win_rate": 0.57}
    # A null metric stays null in the flat dict and absent in the typed view.
    assert json_format.MessageToDict(fetched.metrics)["perf_sortino_ratio"] is None
    reset = patch(stub, created.id, status="pending")
    assert not reset.HasField("structured_metrics")


def test_untypable_metrics_do_not_break_structured_view(stub, create_backtest):
    created = create_backtest()
    done = patch(stub, created.id, status="completed", metrics={"total_return": "high", "bars_in_market": 1.5})
    assert not done.structured_metrics.HasField("total_return")
    assert not done.structured_metrics.HasField("bars_in_market")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"status": "done"}, "status"),
        ({"status": ""}, "status"),
        ({"trades_uri": "s3://someone-elses-bucket/t.parquet"}, "trades_uri"),
        ({"trades_uri": "file:///etc/passwd"}, "trades_uri"),
        ({"equity_curve_uri": "https://example.com/e.parquet"}, "equity_curve_uri"),
        ({"equity_curve_uri": "PREFIX"}, "equity_curve_uri"),
        ({"trades_uri": "PREFIX../other-bucket/t.parquet"}, "trades_uri"),
        # Regressions: each of these passed the PATCH check before the URI rule had one home.
        ({"trades_uri": "PREFIX%2e%2e/t.parquet"}, "trades_uri"),
        ({"trades_uri": "PREFIXx\\..\\t.parquet"}, "trades_uri"),
        ({"trades_uri": "PREFIXx\x00/t.parquet"}, "trades_uri"),
        ({"equity_curve_uri": "MARKETmarket-data/AAPL/1d.parquet"}, "equity_curve_uri"),
    ],
)
def test_bad_patch_is_422_and_changes_nothing(stub, create_backtest, expect_invalid, artifact_prefix, fields, field):
    created = create_backtest()
    store = artifact_prefix.removesuffix("artifacts/")
    fields = {k: v.replace("PREFIX", artifact_prefix).replace("MARKET", store) for k, v in fields.items()}
    expect_invalid(lambda: patch(stub, created.id, **fields, metrics={"x": 1}), field)
    assert stub.GetBacktest(catalog_pb2.GetBacktestRequest(backtest_id=created.id)) == created


def test_patch_of_a_bucket_with_a_longer_name_is_rejected(stub, create_backtest, expect_invalid, artifact_prefix):
    created = create_backtest()
    lookalike = artifact_prefix.replace("/artifacts/", "-evil/artifacts/") + "t.parquet"
    expect_invalid(lambda: patch(stub, created.id, trades_uri=lookalike), "trades_uri")


def test_delete_returns_204_and_the_record_is_gone(stub, create_backtest, expect_code):
    created = create_backtest()
    request = catalog_pb2.DeleteBacktestRequest(backtest_id=created.id)
    _, call = stub.DeleteBacktest.with_call(request)
    assert dict(call.initial_metadata())["x-http-code"] == "204"
    gone = catalog_pb2.GetBacktestRequest(backtest_id=created.id)
    expect_code(lambda: stub.GetBacktest(gone), grpc.StatusCode.NOT_FOUND)
