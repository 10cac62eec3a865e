"""A real catalog and a real executor process over real PostgreSQL, NATS and S3.

The executor offers vectorbt only: backtrader jobs then reach nobody but the
tests' own consumer, which is how a test plays an executor that crashes on
every delivery. Short ack wait and two deliveries keep that test quick.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import grpc
import numpy as np
import pandas as pd
import pytest
from google.api import httpbody_pb2

from backtest.v1 import catalog_pb2, catalog_pb2_grpc
from services.adapters.object_store import ObjectStore, S3Location
from services.catalog import migrate
from tests.fixtures.service_process import ServiceProcess, start_service


@pytest.fixture(scope="module")
def platform_env(database_url, nats_url, s3_server) -> dict[str, str]:
    """Settings shared by the catalog and the executor of this module."""
    migrate.upgrade(database_url)
    bucket = f"executor-{uuid.uuid4().hex[:12]}"
    ObjectStore(S3Location(s3_server.endpoint, s3_server.access_key, s3_server.secret_key, bucket)).ensure_bucket()
    return {
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        "BUS_NAMESPACE": f"exec{uuid.uuid4().hex[:8]}_",
        "JOB_ACK_WAIT_S": "2",
        "JOB_MAX_DELIVER": "2",
        "EXECUTOR_HEARTBEAT_S": "0.5",
        "S3_ENDPOINT": s3_server.endpoint,
        "S3_ACCESS_KEY": s3_server.access_key,
        "S3_SECRET_KEY": s3_server.secret_key,
        "S3_BUCKET": bucket,
        "SYNC_EXECUTE_TIMEOUT_S": "60",
    }


@pytest.fixture(scope="module")
def store(platform_env) -> ObjectStore:
    """The object store the services use, to look behind their backs."""
    e = platform_env
    return ObjectStore(S3Location(e["S3_ENDPOINT"], e["S3_ACCESS_KEY"], e["S3_SECRET_KEY"], e["S3_BUCKET"]))


@pytest.fixture(scope="module")
def catalog(platform_env) -> Iterator[ServiceProcess]:
    service = start_service("services.catalog", {**platform_env, "GRPC_LISTEN": "127.0.0.1:0"})
    yield service
    service.stop()


@pytest.fixture(scope="module")
def executor(platform_env, catalog) -> Iterator[ServiceProcess]:
    env = {
        **platform_env,
        "CATALOG_ADDR": catalog.address,
        "EXECUTOR_ID": "it-executor",
        "EXECUTOR_ENGINES": "vectorbt",
    }
    service = start_service("services.executor", env, until="ready")
    yield service
    service.stop()


@pytest.fixture(scope="module")
def stub(catalog) -> Iterator[catalog_pb2_grpc.CatalogServiceStub]:
    with grpc.insecure_channel(catalog.address) as channel:
        yield catalog_pb2_grpc.CatalogServiceStub(channel)


@pytest.fixture(scope="module")
def series(stub) -> tuple[str, int]:
    """A synthetic daily series imported through the catalog: (symbol, bars)."""
    rng = np.random.default_rng(11)
    dates = pd.bdate_range("2019-01-01", periods=500)
    close = 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.012, len(dates))))
    open_ = close * np.exp(rng.normal(0, 0.003, len(dates)))
    frame = pd.DataFrame(
        {
            "date": dates.strftime("%Y-%m-%d"),
            "open": open_,
            "high": np.maximum(open_, close) * 1.004,
            "low": np.minimum(open_, close) * 0.996,
            "close": close,
            "volume": 1e6,
        }
    )
    symbol = f"EX{uuid.uuid4().hex[:6].upper()}"
    body = httpbody_pb2.HttpBody(content_type="text/csv", data=frame.to_csv(index=False).encode())
    stub.ImportBars(catalog_pb2.ImportBarsRequest(symbol=symbol, timeframe="1d", file=body))
    return symbol, len(frame)


@pytest.fixture(scope="module")
def strategy_id(stub) -> str:
    return stub.CreateStrategy(catalog_pb2.CreateStrategyRequest(name="executor-it")).id


@pytest.fixture
def create_backtest(stub, strategy_id, series):
    """Creates a crossover backtest on the module's series; keyword arguments override."""

    def create(*, engine: str = "vectorbt", symbol: str | None = None, **config) -> str:
        request = catalog_pb2.CreateBacktestRequest(strategy_id=strategy_id, engine=engine)
        request.config.symbol = symbol or series[0]
        request.config.timeframe = "1d"
        request.config.start_date = "2019-01-01"
        request.config.end_date = "2020-12-31"
        request.config.signal_plugin_key = "crossover_signal"
        request.config.signal_plugin_params.update({"fast_period": 5, "slow_period": 20, **config})
        return stub.CreateBacktest(request).id

    return create
