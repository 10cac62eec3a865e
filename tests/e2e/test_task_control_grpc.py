"""CancelTask and WatchTask over gRPC, and what a cancel leaves in the work queue: nothing of its task.

A backtrader sweep over one-minute bars (one job per run, seconds each) is
watched from the start on a WatchTask stream, cancelled once runs are in
progress, and the stream must end REVOKED; the JetStream work queue is then
read directly: no job of the task may be left in it.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import grpc
import nats
import nats.js.errors
import pytest
from google.api import httpbody_pb2
from google.protobuf import struct_pb2

from backtest.v1 import catalog_pb2, catalog_pb2_grpc
from services.adapters.bus import Topology

from .conformance import synthetic_bars

TIMEOUT_S = 60.0
BARS = 8_000
FINAL = ("SUCCESS", "FAILURE", "REVOKED")


@pytest.fixture(scope="module")
def catalog(stack) -> Iterator[catalog_pb2_grpc.CatalogServiceStub]:
    with grpc.insecure_channel(stack.catalog_addr) as channel:
        yield catalog_pb2_grpc.CatalogServiceStub(channel)


@pytest.fixture(scope="module")
def symbol(catalog) -> str:
    symbol = synthetic_bars.unique_symbol("GCTL")
    body = httpbody_pb2.HttpBody(content_type="text/csv", data=synthetic_bars.to_csv(synthetic_bars.minutes(BARS)))
    catalog.ImportBars(catalog_pb2.ImportBarsRequest(symbol=symbol, timeframe="1m", file=body), timeout=TIMEOUT_S)
    return symbol


def _sweep(catalog, symbol: str, n: int, *, last_bar: str | None = None) -> str:
    strategy = catalog.CreateStrategy(catalog_pb2.CreateStrategyRequest(name="grpc-control"), timeout=TIMEOUT_S)
    frame = synthetic_bars.minutes(BARS)
    stamp = lambda i: frame.index[i].strftime("%Y-%m-%dT%H:%M:%S")  # noqa: E731
    base = struct_pb2.Struct()
    base.update(
        {
            "symbol": symbol,
            "timeframe": "1m",
            "start_date": stamp(0),
            "end_date": last_bar or stamp(-1),
            "signal_plugin_key": "crossover_signal",
            "signal_plugin_params": {"fast_period": 5, "slow_period": 30},
        }
    )
    grid = []
    for i in range(n):
        entry = struct_pb2.Struct()
        entry.update({"signal_plugin_params.fast_period": 2 + i})
        grid.append(entry)
    request = catalog_pb2.SweepBacktestsRequest(
        strategy_id=strategy.id, engine="backtrader", base_config=base, param_grid=grid
    )
    return catalog.SweepBacktests(request, timeout=TIMEOUT_S).task_id


def _queued_jobs_of(stack, task_id: str) -> list[str]:
    """Ids of the jobs still in the work queue that belong to the task, read from the stream itself."""

    async def read() -> list[str]:
        nc = await nats.connect(stack.env["NATS_URL"])
        try:
            js = nc.jetstream()
            stream = Topology(namespace=stack.env.get("BUS_NAMESPACE", "")).stream
            state = (await js.stream_info(stream)).state
            found = []
            for seq in range(state.first_seq, state.last_seq + 1):
                try:
                    message = await js.get_msg(stream, seq)
                except nats.js.errors.NotFoundError:
                    continue  # acked or deleted
                job_id = json.loads(message.data)["job_id"]
                if job_id.split(".")[0] == task_id:
                    found.append(job_id)
            return found
        finally:
            await nc.close()

    return asyncio.run(read())


def test_cancel_while_watching_over_grpc_ends_the_stream_and_empties_the_queue(stack, catalog, symbol):
    task_id = _sweep(catalog, symbol, 8)
    updates: list = []
    started = threading.Event()

    def watch() -> None:
        for update in catalog.WatchTask(catalog_pb2.WatchTaskRequest(task_id=task_id), timeout=120):
            updates.append(update)
            if update.status != "PENDING":
                started.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    assert started.wait(60), [u.status for u in updates]
    assert _queued_jobs_of(stack, task_id), "the sweep's later jobs should still be queued before the cancel"

    task = catalog.CancelTask(catalog_pb2.CancelTaskRequest(task_id=task_id), timeout=TIMEOUT_S)
    assert task.status == "REVOKED"
    assert task.progress.revoked >= 4
    assert task.progress.succeeded + task.progress.failed + task.progress.revoked == task.progress.total == 8
    # Queued jobs were dropped from the stream by the cancel itself, not left for executors to skip.
    assert _queued_jobs_of(stack, task_id) == []

    watcher.join(30)
    assert not watcher.is_alive(), "the watch did not end with the task"
    assert updates[0].status not in FINAL
    assert updates[-1].status == "REVOKED"
    assert updates[-1].progress == task.progress
    assert all(u.status not in FINAL for u in updates[:-1])

    with pytest.raises(grpc.RpcError) as conflict:
        catalog.CancelTask(catalog_pb2.CancelTaskRequest(task_id=task_id), timeout=TIMEOUT_S)
    assert conflict.value.code() == grpc.StatusCode.ABORTED  # 409 through the gateway
    assert "REVOKED" in conflict.value.details()


def test_watch_over_grpc_streams_progress_until_the_sweep_succeeds(catalog, symbol):
    frame = synthetic_bars.minutes(BARS)
    task_id = _sweep(catalog, symbol, 6, last_bar=frame.index[2_999].strftime("%Y-%m-%dT%H:%M:%S"))
    updates = list(catalog.WatchTask(catalog_pb2.WatchTaskRequest(task_id=task_id), timeout=120))
    done = [u.progress.succeeded + u.progress.failed for u in updates]
    assert done == sorted(done) and len(set(done)) >= 2, done
    assert updates[-1].status == "SUCCESS" and updates[-1].progress.succeeded == 6
    assert updates[-1].HasField("best") and updates[-1].best.metric == "perf_sharpe_ratio"
    task = catalog.GetTask(catalog_pb2.GetTaskRequest(task_id=task_id), timeout=TIMEOUT_S)
    assert task.status == "SUCCESS"


def test_watch_and_cancel_of_an_unknown_task_are_not_found(catalog):
    missing = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(grpc.RpcError) as watched:
        list(catalog.WatchTask(catalog_pb2.WatchTaskRequest(task_id=missing), timeout=TIMEOUT_S))
    assert watched.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as cancelled:
        catalog.CancelTask(catalog_pb2.CancelTaskRequest(task_id=missing), timeout=TIMEOUT_S)
    assert cancelled.value.code() == grpc.StatusCode.NOT_FOUND
