"""A third engine joins through the same path as vectorbt and backtrader: its adapter and nothing else.

The toy engine (tests/fixtures/toy_engine) is a folder that Python sees as an
installed distribution declaring an entry point in `backtest_platform.engines`.
With it on the catalog's and the executor's PYTHONPATH, and no other change,
the catalog accepts it in run configs and sweeps, the bus gives it a
consumer, the executor loads, warms up and runs it, and the registry
advertises it. docs/engines.md lists the steps this test proves.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import json_format

from backtest.v1 import catalog_pb2
from services.kit.nullable_string import read_nullable
from tests.fixtures.service_process import ServiceProcess, start_service

TOY = str(Path(__file__).resolve().parents[2] / "fixtures" / "toy_engine")


@pytest.fixture(scope="module")
def catalog(platform_env) -> Iterator[ServiceProcess]:
    service = start_service("services.catalog", {**platform_env, "GRPC_LISTEN": "127.0.0.1:0", "PYTHONPATH": TOY})
    yield service
    service.stop()


@pytest.fixture(scope="module")
def executor(platform_env, catalog) -> Iterator[ServiceProcess]:
    env = {**platform_env, "CATALOG_ADDR": catalog.address, "EXECUTOR_ID": "toy-executor", "PYTHONPATH": TOY}
    env["EXECUTOR_ENGINES"] = "toy"
    service = start_service("services.executor", env, until="ready")
    yield service
    service.stop()


def test_the_registry_advertises_the_engine_an_executor_offers(stub, executor):
    deadline = time.monotonic() + 30
    while "toy" not in stub.ListEngines(catalog_pb2.ListEnginesRequest()).engines:
        assert time.monotonic() < deadline, "the toy executor never showed up in the registry"
        time.sleep(0.2)


def test_a_toy_backtest_runs_end_to_end(stub, executor, create_backtest, series):
    backtest_id = create_backtest(engine="toy")
    result = stub.ExecuteBacktest(catalog_pb2.ExecuteBacktestRequest(backtest_id=backtest_id), timeout=120)
    assert result.status == "completed", dict(result.metrics)
    assert result.engine == "toy"
    assert result.structured_metrics.trading.total_trades > 0
    equity_uri = read_nullable(result.equity_curve_uri)
    assert f"artifacts/{backtest_id}/" in equity_uri and equity_uri.endswith("/equity.parquet")


def test_a_toy_sweep_runs_one_job_per_configuration(stub, executor, strategy_id, series):
    request = catalog_pb2.SweepBacktestsRequest(strategy_id=strategy_id, engine="toy")
    json_format.ParseDict(
        {
            "symbol": series[0],
            "timeframe": "1d",
            "start_date": "2019-01-01",
            "end_date": "2020-12-31",
            "signal_plugin_key": "crossover_signal",
            "signal_plugin_params": {"fast_period": 5, "slow_period": 20},
        },
        request.base_config,
    )
    for fast in (3, 5, 8):
        request.param_grid.add().update({"signal_plugin_params.fast_period": fast})
    task_id = stub.SweepBacktests(request).task_id
    deadline = time.monotonic() + 120
    while (task := stub.GetTask(catalog_pb2.GetTaskRequest(task_id=task_id))).status not in ("SUCCESS", "FAILURE"):
        assert time.monotonic() < deadline, task
        time.sleep(0.2)
    entries = json_format.MessageToDict(task.result)["leaderboard"]
    assert [entry["status"] for entry in entries] == ["completed"] * 3
    # Not a batching engine: every run stored files of its own, none a part of a batch file.
    for entry in entries:
        uri = read_nullable(
            stub.GetBacktest(catalog_pb2.GetBacktestRequest(backtest_id=entry["backtest_id"])).equity_curve_uri
        )
        assert "#" not in uri and entry["backtest_id"] in uri
