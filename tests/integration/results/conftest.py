"""A real results service (subprocess) over the real S3 fixture and a dict-backed catalog.

The catalog here is a real gRPC server implementing CatalogService.GetBacktest
from a dict, so the results service is exercised over the wire exactly as in
production while the catalog service is built elsewhere.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import pytest

from backtest.v1 import backtest_pb2, catalog_pb2_grpc, results_pb2_grpc
from services.adapters.object_store import ObjectStore, S3Location
from services.domain.errors import NotFoundError
from services.kit.nullable_string import write_nullable
from services.kit.status import grpc_status_of

REPO = Path(__file__).resolve().parents[3]
START_TIMEOUT_S = 60


class DictCatalog(catalog_pb2_grpc.CatalogServiceServicer):
    """CatalogService.GetBacktest answered from `records`, errors shaped as the real catalog's."""

    def __init__(self) -> None:
        self.records: dict[str, backtest_pb2.Backtest] = {}

    def GetBacktest(self, request, context):
        record = self.records.get(request.backtest_id)
        if record is None:
            context.abort_with_status(grpc_status_of(NotFoundError("backtest", request.backtest_id)))
        return record


@pytest.fixture(scope="session")
def catalog() -> Iterator[tuple[DictCatalog, str]]:
    """The dict-backed catalog and its address."""
    servicer = DictCatalog()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    catalog_pb2_grpc.add_CatalogServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, f"127.0.0.1:{port}"
    server.stop(grace=None)


@pytest.fixture(scope="session")
def store(s3_server) -> Iterator[ObjectStore]:
    """An artifact store on the session's S3 server, in a bucket of these tests' own.

    One bucket for the session (not the per-test `s3` bucket), because one
    results process serves every test and a process has one bucket.
    """
    bucket = f"results-{uuid.uuid4().hex[:12]}"
    store = ObjectStore(S3Location(s3_server.endpoint, s3_server.access_key, s3_server.secret_key, bucket))
    store.ensure_bucket()
    yield store
    for item in store.client.list_objects(bucket, recursive=True):
        store.remove(item.object_name)
    store.client.remove_bucket(bucket)


@contextlib.contextmanager
def results_process(store: ObjectStore, catalog_addr: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """Runs `python -m services.results` on a free port; yields its address and process."""
    loc = store.location
    env = {
        **os.environ,
        "GRPC_LISTEN": "127.0.0.1:0",
        "CATALOG_ADDR": catalog_addr,
        "S3_ENDPOINT": loc.endpoint,
        "S3_ACCESS_KEY": loc.access_key,
        "S3_SECRET_KEY": loc.secret_key,
        "S3_BUCKET": loc.bucket,
        "S3_SECURE": str(loc.secure).lower(),
        "LOG_LEVEL": "INFO",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.results"], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True
    )
    lines: queue.Queue[str] = queue.Queue()
    # Drained for the process's whole life, so a full pipe can never block its logging.
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr], daemon=True).start()
    try:
        port = None
        while port is None:
            line = lines.get(timeout=START_TIMEOUT_S)
            entry = json.loads(line) if line.startswith("{") else {}
            port = entry.get("port") if entry.get("msg") == "serving" else None
        yield f"127.0.0.1:{port}", proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def results(store, catalog) -> Iterator[results_pb2_grpc.ResultsServiceStub]:
    """A client of one results service shared by the session's tests."""
    with results_process(store, catalog[1]) as (address, _):
        with grpc.insecure_channel(address) as channel:
            yield results_pb2_grpc.ResultsServiceStub(channel)


@pytest.fixture(scope="session")
def publish(store, catalog) -> Callable[..., str]:
    """Registers a backtest in the catalog, writing its artifacts to S3 first; returns its id."""
    records = catalog[0].records

    def publish(
        *,
        equity: pd.DataFrame | None = None,
        trades: pd.DataFrame | None = None,
        status: str = "completed",
        metrics: dict | None = None,
        engine: str = "vectorbt",
    ) -> str:
        backtest_id = str(uuid.uuid4())
        record = backtest_pb2.Backtest(id=backtest_id, engine=engine, status=status)
        record.metrics.update(metrics or {})
        if equity is not None:
            write_nullable(
                record.equity_curve_uri,
                put_parquet(store, f"artifacts/results-tests/{backtest_id}/equity.parquet", equity),
            )
        if trades is not None:
            write_nullable(
                record.trades_uri,
                put_parquet(store, f"artifacts/results-tests/{backtest_id}/trades.parquet", trades, index=False),
            )
        records[backtest_id] = record
        return backtest_id

    return publish


def synthetic_trades(rng, entry_dates, exit_dates: pd.Series, is_open) -> pd.DataFrame:
    """A trade list of the stored schema: random prices, sizes and P&L; `is_open` trades have no exit."""
    n = len(entry_dates)
    return pd.DataFrame(
        {
            "entry_date": entry_dates,
            "exit_date": exit_dates.where(~is_open),
            "side": np.where(rng.random(n) < 0.5, "long", "short"),
            "entry_price": rng.uniform(10, 500, n),
            "exit_price": rng.uniform(10, 500, n),
            "size": rng.integers(1, 1000, n).astype(float),
            "pnl": rng.normal(0, 100, n),
            "return_pct": rng.normal(0, 0.02, n),
            "status": np.where(is_open, "open", "closed"),
        }
    )


def put_parquet(store: ObjectStore, key: str, frame: pd.DataFrame, *, index: bool | None = None) -> str:
    """Writes `frame` as the executor does (pandas to_parquet) and returns the object's URI."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=index)
    return store.put_bytes(key, buffer.getvalue())


@pytest.fixture(scope="session")
def launch_results(store, catalog) -> Callable[..., contextlib.AbstractContextManager]:
    """Starts a fresh results process, on the test store unless given another."""
    return lambda other=None: results_process(other or store, catalog[1])
