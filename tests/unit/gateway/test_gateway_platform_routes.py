"""The platform's own descriptor set: every REST row of docs/api.md reaches the right RPC."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.transcoder.descriptors import DescriptorSet
from gateway.transcoder.route_building import build_route_table
from gateway.transcoder.routes import RouteTable

ROOT = Path(__file__).resolve().parents[3]
DESCRIPTOR = ROOT / "gen/descriptor.binpb"
CATALOG, RESULTS = "backtest.v1.CatalogService", "backtest.v1.ResultsService"

# DESIGN.md, "REST surface": method, path (variables filled in), service, RPC, bound variables.
REST_SURFACE = [
    ("POST", "/api/v1/backtests", CATALOG, "CreateBacktest", {}),
    ("GET", "/api/v1/backtests", CATALOG, "ListBacktests", {}),
    ("GET", "/api/v1/backtests/B1", CATALOG, "GetBacktest", {"backtest_id": "B1"}),
    ("PATCH", "/api/v1/backtests/B1", CATALOG, "UpdateBacktest", {"backtest_id": "B1"}),
    ("DELETE", "/api/v1/backtests/B1", CATALOG, "DeleteBacktest", {"backtest_id": "B1"}),
    ("POST", "/api/v1/backtests/B1/execute", CATALOG, "ExecuteBacktest", {"backtest_id": "B1"}),
    ("POST", "/api/v1/backtests/B1/execute/async", CATALOG, "ExecuteBacktestAsync", {"backtest_id": "B1"}),
    ("GET", "/api/v1/backtests/engines/available", CATALOG, "ListEngines", {}),
    # The curve and the trades as JSON text the results service prints (the typed streams have no REST rule).
    ("GET", "/api/v1/backtests/B1/equity-curve", RESULTS, "GetEquityCurveJson", {"backtest_id": "B1"}),
    ("GET", "/api/v1/backtests/B1/equity-curve/parquet", RESULTS, "DownloadEquityCurve", {"backtest_id": "B1"}),
    ("GET", "/api/v1/backtests/B1/trades", RESULTS, "GetTradesJson", {"backtest_id": "B1"}),
    ("GET", "/api/v1/backtests/B1/trades/parquet", RESULTS, "DownloadTrades", {"backtest_id": "B1"}),
    ("POST", "/api/v1/backtests/compare", RESULTS, "CompareBacktests", {}),
    ("GET", "/api/v1/backtests/B1/report", RESULTS, "GetBacktestReport", {"backtest_id": "B1"}),
    ("GET", "/api/v1/tasks/T1/report", RESULTS, "GetTaskReport", {"task_id": "T1"}),
    ("POST", "/api/v1/backtests/sweep", CATALOG, "SweepBacktests", {}),
    ("POST", "/api/v1/backtests/grid-search", CATALOG, "GridSearchBacktests", {}),
    ("GET", "/api/v1/tasks/T1/runs/parquet", CATALOG, "DownloadTaskRuns", {"task_id": "T1"}),
    ("GET", "/api/v1/tasks/T1", CATALOG, "GetTask", {"task_id": "T1"}),
    ("POST", "/api/v1/tasks/T1/cancel", CATALOG, "CancelTask", {"task_id": "T1"}),
    ("GET", "/api/v1/tasks/T1/events", CATALOG, "WatchTask", {"task_id": "T1"}),
    ("POST", "/api/v1/strategies", CATALOG, "CreateStrategy", {}),
    ("GET", "/api/v1/strategies", CATALOG, "ListStrategies", {}),
    ("GET", "/api/v1/strategies/S1", CATALOG, "GetStrategy", {"strategy_id": "S1"}),
    ("DELETE", "/api/v1/strategies/S1", CATALOG, "DeleteStrategy", {"strategy_id": "S1"}),
    ("PUT", "/api/v1/market-data/AAPL/1d", CATALOG, "ImportBars", {"symbol": "AAPL", "timeframe": "1d"}),
    ("GET", "/api/v1/market-data", CATALOG, "ListSeries", {}),
    ("GET", "/api/v1/market-data/AAPL/1d", CATALOG, "GetSeries", {"symbol": "AAPL", "timeframe": "1d"}),
    # The second round's paths (docs/api.md, "Paths for the second round of features").
    ("POST", "/api/v1/signal-logic", CATALOG, "CreateSignalLogic", {}),
    ("GET", "/api/v1/signal-logic", CATALOG, "ListSignalLogic", {}),
    ("GET", "/api/v1/signal-logic/L1", CATALOG, "GetSignalLogic", {"signal_logic_id": "L1"}),
    ("PATCH", "/api/v1/signal-logic/L1", CATALOG, "UpdateSignalLogic", {"signal_logic_id": "L1"}),
    ("DELETE", "/api/v1/signal-logic/L1", CATALOG, "DeleteSignalLogic", {"signal_logic_id": "L1"}),
    ("PUT", "/api/v1/signal-series/prediction", CATALOG, "ImportSignalSeries", {"name": "prediction"}),
    ("GET", "/api/v1/signal-series", CATALOG, "ListSignalSeries", {}),
    ("GET", "/api/v1/signal-series/prediction", CATALOG, "GetSignalSeries", {"name": "prediction"}),
    ("GET", "/api/v1/signal-plugins", CATALOG, "ListSignalPlugins", {}),
]


@pytest.fixture(scope="module")
def table() -> RouteTable:
    assert DESCRIPTOR.is_file(), f"{DESCRIPTOR} is missing: run `make proto`"
    return build_route_table(DescriptorSet(str(DESCRIPTOR)), [CATALOG, RESULTS])


@pytest.mark.parametrize(("method", "path", "service", "rpc", "variables"), REST_SURFACE)
def test_design_rest_row_resolves(table: RouteTable, method, path, service, rpc, variables) -> None:
    matched = table.match(method, path)
    assert matched is not None, f"{method} {path}"
    route, bindings = matched
    assert route.grpc_path == f"/{service}/{rpc}"
    assert {".".join(f.name for f in fields): value for fields, value in bindings} == variables


def test_every_annotated_rpc_is_in_the_design_table(table: RouteTable) -> None:
    assert {route.grpc_path for route in table.routes} == {f"/{s}/{r}" for _, _, s, r, _ in REST_SURFACE}


def test_stream_kinds_of_the_platform_routes(table: RouteTable) -> None:
    kinds = {route.grpc_path.rsplit("/", 1)[1]: route for route in table.routes}
    assert kinds["ImportBars"].http_body_request
    assert kinds["DownloadTrades"].server_streaming and kinds["DownloadTrades"].http_body_response
    assert kinds["GetEquityCurveJson"].server_streaming and kinds["GetEquityCurveJson"].http_body_response
    assert kinds["GetTradesJson"].server_streaming and kinds["GetTradesJson"].http_body_response
    assert "GetEquityCurve" not in kinds and "GetTrades" not in kinds  # typed streams: gRPC only
    assert kinds["ListBacktests"].server_streaming
    # A report is one unary HttpBody: the gateway passes its bytes and content type through.
    assert kinds["GetBacktestReport"].http_body_response and not kinds["GetBacktestReport"].server_streaming


def test_only_the_progress_watch_is_long_lived(table: RouteTable) -> None:
    # The contract's long_lived option reaches the route: the local gateway puts no deadline on it.
    long_lived = {route.grpc_path.rsplit("/", 1)[1] for route in table.routes if route.long_lived}
    assert long_lived == {"WatchTask"}
