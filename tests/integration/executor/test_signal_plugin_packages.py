"""A signal plugin from an installed package: the executor that has it runs and advertises it; the catalog,
which never imports it, accepts its key and checks its parameters by the advertised schema."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from backtest.v1 import catalog_pb2, signals_pb2
from tests.fixtures.service_process import ServiceProcess, start_service

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "signal-plugin-momentum"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> str:
    """The example package installed with pip, as a user would, into a folder of its own."""
    target = tmp_path_factory.mktemp("plugin-packages")
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
    subprocess.run([*command, "--target", str(target), str(EXAMPLE)], check=True, timeout=300)
    return str(target)


@pytest.fixture(scope="module")
def executor(platform_env, catalog, installed) -> Iterator[ServiceProcess]:
    env = {**platform_env, "CATALOG_ADDR": catalog.address, "EXECUTOR_ID": "plugin-executor", "PYTHONPATH": installed}
    env["EXECUTOR_ENGINES"] = "vectorbt"
    service = start_service("services.executor", env, until="ready")
    yield service
    service.stop()


@pytest.fixture(scope="module")
def plugins(stub, executor) -> dict[str, signals_pb2.SignalPlugin]:
    """Discovery once the executor's registry entry is visible."""
    deadline = time.monotonic() + 30
    while True:
        found = {p.key: p for p in stub.ListSignalPlugins(signals_pb2.ListSignalPluginsRequest())}
        if "momentum_signal" in found:
            return found
        assert time.monotonic() < deadline, f"momentum_signal never advertised: {sorted(found)}"
        time.sleep(0.2)


def create(stub, strategy_id: str, symbol: str, params: dict) -> str:
    request = catalog_pb2.CreateBacktestRequest(strategy_id=strategy_id, engine="vectorbt")
    request.config.symbol, request.config.timeframe = symbol, "1d"
    request.config.start_date, request.config.end_date = "2019-01-01", "2020-12-31"
    request.config.signal_plugin_key = "momentum_signal"
    request.config.signal_plugin_params.update(params)
    return stub.CreateBacktest(request).id


def test_the_package_plugin_is_listed_with_its_source_and_schema(plugins):
    plugin = plugins["momentum_signal"]
    assert plugin.source == "backtest-momentum-plugin"
    assert plugin.parameters["properties"]["lookback"]["type"] == "integer"
    assert "momentum" in plugin.description.lower()
    assert plugins["crossover_signal"].source == "built-in"


def test_a_run_on_the_package_plugin_completes(stub, plugins, strategy_id, series):
    backtest_id = create(stub, strategy_id, series[0], {"lookback": 15})
    result = stub.ExecuteBacktest(catalog_pb2.ExecuteBacktestRequest(backtest_id=backtest_id), timeout=120)
    assert result.status == "completed", dict(result.metrics)
    assert result.config.signal_plugin_key == "momentum_signal"
    assert result.structured_metrics.trading.total_trades > 0


def test_its_parameters_are_checked_by_the_advertised_schema(stub, plugins, strategy_id, series):
    with pytest.raises(grpc.RpcError) as caught:
        create(stub, strategy_id, series[0], {"lookback": 0})
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "config.signal_plugin_params.lookback" in caught.value.details()
