"""The embedded stack over gRPC, with the generated stubs, exactly as an internal service would use it.

Import bars, create a strategy and a backtest, execute it synchronously,
then stream its equity curve, trades and Parquet file from the results
service; errors carry google.rpc.Status details.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import grpc
import pandas as pd
import pytest
from google.api import httpbody_pb2
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from backtest.v1 import catalog_pb2, catalog_pb2_grpc, results_pb2, results_pb2_grpc
from services.kit.nullable_string import read_nullable

from .conformance import synthetic_bars

TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def catalog(stack) -> Iterator[catalog_pb2_grpc.CatalogServiceStub]:
    with grpc.insecure_channel(stack.catalog_addr) as channel:
        yield catalog_pb2_grpc.CatalogServiceStub(channel)


@pytest.fixture(scope="module")
def results(stack) -> Iterator[results_pb2_grpc.ResultsServiceStub]:
    with grpc.insecure_channel(stack.results_addr) as channel:
        yield results_pb2_grpc.ResultsServiceStub(channel)


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return synthetic_bars.daily(300, seed=21)


@pytest.fixture(scope="module")
def symbol(catalog, bars) -> str:
    """A fresh daily series imported with ImportBars (an HttpBody holding a CSV)."""
    symbol = synthetic_bars.unique_symbol("GRPC")
    body = httpbody_pb2.HttpBody(content_type="text/csv", data=synthetic_bars.to_csv(bars, date_only=True))
    summary = catalog.ImportBars(
        catalog_pb2.ImportBarsRequest(symbol=symbol, timeframe="1d", file=body), timeout=TIMEOUT_S
    )
    assert (summary.symbol, summary.timeframe, summary.rows) == (symbol, "1d", len(bars))
    return symbol


@pytest.fixture(scope="module")
def executed(catalog, symbol) -> catalog_pb2.ExecuteBacktestResponse:
    """A strategy and a backtest created over gRPC, executed synchronously."""
    strategy = catalog.CreateStrategy(catalog_pb2.CreateStrategyRequest(name="grpc client"), timeout=TIMEOUT_S)
    config = json_format.ParseDict(
        {
            "symbol": symbol,
            "timeframe": "1d",
            "start_date": "2021-01-01",
            "end_date": "2022-06-30",
            "signal_plugin_key": "crossover_signal",
            "signal_plugin_params": {"fast_period": 5, "slow_period": 20},
        },
        catalog_pb2.CreateBacktestRequest().config,
    )
    backtest, call = catalog.CreateBacktest.with_call(
        catalog_pb2.CreateBacktestRequest(strategy_id=strategy.id, engine="backtrader", config=config),
        timeout=TIMEOUT_S,
    )
    assert dict(call.initial_metadata()).get("x-http-code") == "201"
    assert backtest.status == "pending" and backtest.config.bars_per_year == 252
    return catalog.ExecuteBacktest(catalog_pb2.ExecuteBacktestRequest(backtest_id=backtest.id), timeout=TIMEOUT_S)


def test_sync_execute_returns_the_completed_run(catalog, executed) -> None:
    assert executed.status == "completed"
    assert executed.HasField("structured_metrics")
    metrics = json_format.MessageToDict(executed.metrics)
    assert executed.structured_metrics.trading.total_trades == metrics["trade_total_trades"] > 0
    fetched = catalog.GetBacktest(catalog_pb2.GetBacktestRequest(backtest_id=executed.id), timeout=TIMEOUT_S)
    assert fetched.status == "completed" and fetched.metrics == executed.metrics


def test_equity_curve_streams_one_typed_point_per_bar(results, executed, bars) -> None:
    points = list(results.GetEquityCurve(results_pb2.GetEquityCurveRequest(backtest_id=executed.id), timeout=TIMEOUT_S))
    in_range = bars.loc["2021-01-01":"2022-06-30"].index
    assert [p.date for p in points] == [d.strftime("%Y-%m-%d") for d in in_range]
    assert points[0].equity == pytest.approx(executed.initial_capital)


def test_trades_stream_matches_the_metrics(results, executed) -> None:
    trades = list(results.GetTrades(results_pb2.GetTradesRequest(backtest_id=executed.id), timeout=TIMEOUT_S))
    assert len(trades) == executed.structured_metrics.trading.total_trades
    assert all(t.side == "long" and t.status in ("closed", "open") for t in trades)


def test_parquet_download_streams_chunks_named_by_metadata(results, executed) -> None:
    call = results.DownloadEquityCurve(
        results_pb2.DownloadEquityCurveRequest(backtest_id=executed.id), timeout=TIMEOUT_S
    )
    data = b"".join(chunk.data for chunk in call)
    assert dict(call.initial_metadata())["content-disposition"] == f"attachment; filename=equity_{executed.id}.parquet"
    frame = pd.read_parquet(io.BytesIO(data))
    assert frame.index.name == "date" and list(frame.columns) == ["equity"]


def test_list_streams_the_strategys_backtests(catalog, executed) -> None:
    listed = list(
        catalog.ListBacktests(catalog_pb2.ListBacktestsRequest(strategy_id=executed.strategy_id), timeout=TIMEOUT_S)
    )
    assert [b.id for b in listed] == [executed.id]


def test_errors_carry_status_details(catalog, executed) -> None:
    with pytest.raises(grpc.RpcError) as missing:
        catalog.GetBacktest(
            catalog_pb2.GetBacktestRequest(backtest_id="00000000-0000-4000-8000-000000000000"), timeout=TIMEOUT_S
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND

    bad = catalog_pb2.CreateBacktestRequest(strategy_id=executed.strategy_id, engine="zipline", config=executed.config)
    with pytest.raises(grpc.RpcError) as invalid:
        catalog.CreateBacktest(bad, timeout=TIMEOUT_S)
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(invalid.value)
    violations = error_details_pb2.BadRequest()
    assert status is not None and status.details[0].Unpack(violations)
    assert [v.field for v in violations.field_violations] == ["engine"]


def test_request_guard_answers_grpc_clients_like_any_validation_error(catalog) -> None:
    # The guard runs in front of the servicer for gRPC clients too: INVALID_ARGUMENT, BadRequest, x-http-code 422.
    with pytest.raises(grpc.RpcError) as caught:
        catalog.CreateStrategy(catalog_pb2.CreateStrategyRequest(name="nul\x00name"), timeout=TIMEOUT_S)
    err = caught.value
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ("x-http-code", "422") in tuple(err.initial_metadata())
    bad = error_details_pb2.BadRequest()
    (detail,) = rpc_status.from_call(err).details
    assert detail.Unpack(bad)
    assert [(v.field, v.description) for v in bad.field_violations] == [("name", "must not contain NUL characters")]


def test_artifact_uris_read_as_strings_or_null(catalog) -> None:
    strategy = catalog.CreateStrategy(catalog_pb2.CreateStrategyRequest(name="uris"), timeout=TIMEOUT_S)
    listed = catalog.ListBacktests(catalog_pb2.ListBacktestsRequest(strategy_id=strategy.id), timeout=TIMEOUT_S)
    assert list(listed) == []
    request = catalog_pb2.CreateBacktestRequest(strategy_id=strategy.id)
    json_format.ParseDict(
        {"symbol": "NONE", "timeframe": "1d", "start_date": "2020-01-01", "end_date": "2021-01-01",
         "signal_plugin_key": "buy_and_hold"},
        request.config,
    )  # fmt: skip
    created = catalog.CreateBacktest(request, timeout=TIMEOUT_S)
    # A Value: null until completed, read with services.kit.nullable_string.read_nullable.
    assert read_nullable(created.trades_uri) is None and created.trades_uri.WhichOneof("kind") == "null_value"
