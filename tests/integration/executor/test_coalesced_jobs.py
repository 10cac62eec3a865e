"""Coalesced jobs: queued single-run jobs one executor computes, stores and reports together.

Jobs are queued while no executor of this module runs; the one started next
fetches them in one pull and coalesces them (its log says so). A plugin of
tests/fixtures/fragile_plugin breaks one run of the batch, or holds the
batch in the executor while a test cancels. The backtests on that plugin are
created while a first executor advertises it (the catalog accepts a package
plugin's key only then), and that executor is stopped before anything is
queued.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pandas as pd
import pytest

from backtest.v1 import catalog_pb2, signals_pb2
from services.adapters.object_store import ObjectStore
from services.kit.nullable_string import read_nullable
from services.results.artifacts import EQUITY, TRADES, Artifacts
from services.results.records import COMPLETED, BacktestRecord
from tests.fixtures.service_process import ServiceProcess, start_service

FRAGILE = str(Path(__file__).resolve().parents[2] / "fixtures" / "fragile_plugin")
CROSSOVERS = [(5, 20), (7, 30), (10, 40), (12, 50), (15, 60), (20, 80)]


def start_executor(platform_env: dict, catalog: ServiceProcess, name: str) -> ServiceProcess:
    env = {**platform_env, "CATALOG_ADDR": catalog.address, "EXECUTOR_ID": name, "EXECUTOR_ENGINES": "vectorbt"}
    return start_service("services.executor", {**env, "PYTHONPATH": FRAGILE}, until="ready")


def create(stub, strategy_id: str, symbol: str, plugin: str, params: dict) -> str:
    request = catalog_pb2.CreateBacktestRequest(strategy_id=strategy_id, engine="vectorbt")
    request.config.symbol, request.config.timeframe = symbol, "1d"
    request.config.start_date, request.config.end_date = "2019-01-01", "2020-12-31"
    request.config.signal_plugin_key = plugin
    request.config.signal_plugin_params.update(params)
    return stub.CreateBacktest(request).id


@pytest.fixture(scope="module")
def backtests(stub, strategy_id, series, platform_env, catalog) -> dict[str, list[str]]:
    """The module's backtests by purpose, created while an executor advertised fragile_signal (then stopped)."""
    first = start_executor(platform_env, catalog, "coalesce-first")
    try:
        deadline = time.monotonic() + 30
        while "fragile_signal" not in {p.key for p in stub.ListSignalPlugins(signals_pb2.ListSignalPluginsRequest())}:
            assert time.monotonic() < deadline, "fragile_signal was never advertised"
            time.sleep(0.2)
        symbol = series[0]
        made = {
            "crossovers": [
                create(stub, strategy_id, symbol, "crossover_signal", {"fast_period": f, "slow_period": s})
                for f, s in CROSSOVERS
            ],
            "bad": [create(stub, strategy_id, symbol, "fragile_signal", {"fail": True})],
            "fragile": [create(stub, strategy_id, symbol, "fragile_signal", {"window": 15})],
            "slow": [
                create(stub, strategy_id, symbol, "fragile_signal", {"window": w, "delay_s": 2.0}) for w in (5, 6, 7, 8)
            ],
        }
    finally:
        first.stop()
    return made


def queue(stub, backtest_ids: list[str]) -> list[str]:
    """Executes each asynchronously; their task ids."""
    request = catalog_pb2.ExecuteBacktestAsyncRequest
    return [stub.ExecuteBacktestAsync(request(backtest_id=backtest_id)).task_id for backtest_id in backtest_ids]


def wait_for_tasks(stub, task_ids: list[str], executor: ServiceProcess, timeout: float = 120) -> list:
    deadline = time.monotonic() + timeout
    while True:
        tasks = [stub.GetTask(catalog_pb2.GetTaskRequest(task_id=task_id)) for task_id in task_ids]
        if all(task.status not in ("PENDING", "STARTED", "PROGRESS") for task in tasks):
            return tasks
        assert executor.process.poll() is None, "".join(list(executor.log)[-20:])
        assert time.monotonic() < deadline, ([t.status for t in tasks], "".join(list(executor.log)[-20:]))
        time.sleep(0.2)


def coalesced(service: ServiceProcess) -> list[dict]:
    """The executor's "jobs coalesced" log entries."""
    entries = []
    for line in list(service.log):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("msg") == "jobs coalesced":
            entries.append(entry)
    return entries


def get(stub, backtest_id: str):
    return stub.GetBacktest(catalog_pb2.GetBacktestRequest(backtest_id=backtest_id))


def downloads(store: ObjectStore, backtest) -> tuple[bytes, bytes]:
    """(equity, trades) Parquet downloads of a run, as the results service streams them."""
    record = BacktestRecord(
        backtest.id,
        "vectorbt",
        COMPLETED,
        equity_curve_uri=read_nullable(backtest.equity_curve_uri),
        trades_uri=read_nullable(backtest.trades_uri),
    )
    reader = Artifacts(store)
    return b"".join(reader.file_chunks(record, EQUITY)), b"".join(reader.file_chunks(record, TRADES))


@pytest.fixture
def executor_after_queueing(platform_env, catalog) -> Iterator:
    """Starts an executor once the test queued its jobs; stops it afterwards."""
    started: list[ServiceProcess] = []

    def start(name: str) -> ServiceProcess:
        started.append(start_executor(platform_env, catalog, name))
        return started[-1]

    yield start
    for service in started:
        service.stop()


def test_a_bad_run_fails_alone_and_its_neighbours_read_as_runs_alone(
    stub, backtests, store, strategy_id, series, executor_after_queueing
):
    ids = [*backtests["crossovers"], *backtests["bad"], *backtests["fragile"]]
    task_ids = queue(stub, ids)
    executor = executor_after_queueing("coalesce-second")
    tasks = wait_for_tasks(stub, task_ids, executor)

    (entry,) = coalesced(executor)
    assert entry["jobs"] == len(ids)
    assert any("a coalesced batch failed; computing its runs one by one" in line for line in executor.log)
    bad = ids.index(backtests["bad"][0])
    assert [task.status for task in tasks] == ["FAILURE" if i == bad else "SUCCESS" for i in range(len(ids))]
    failed = get(stub, ids[bad])
    assert failed.status == "failed"
    assert "the executor failed while running the job (error id" in failed.metrics["error"]
    completed = [get(stub, backtest_id) for i, backtest_id in enumerate(ids) if i != bad]
    assert all(b.status == "completed" and b.structured_metrics.trading.total_trades > 0 for b in completed)
    # One pair of batch files for the whole batch, each run its own part.
    files = {read_nullable(b.equity_curve_uri).partition("#")[0] for b in completed}
    assert len(files) == 1 and "/artifacts/jobs/" in files.pop()
    assert all(read_nullable(b.equity_curve_uri).endswith(f"#{b.id}") for b in completed)

    # The same config run alone (a lone job: files of its own) downloads the same bytes and has the same metrics.
    fast, slow = CROSSOVERS[2]
    alone_id = create(stub, strategy_id, series[0], "crossover_signal", {"fast_period": fast, "slow_period": slow})
    alone = stub.ExecuteBacktest(catalog_pb2.ExecuteBacktestRequest(backtest_id=alone_id), timeout=120)
    assert alone.status == "completed" and "#" not in read_nullable(alone.equity_curve_uri)
    batched = completed[2]
    assert batched.id == backtests["crossovers"][2]
    assert dict(alone.metrics) == dict(batched.metrics)
    alone_files, batched_files = downloads(store, alone), downloads(store, batched)
    for alone_file, batched_file in zip(alone_files, batched_files, strict=True):
        pd.testing.assert_frame_equal(
            pd.read_parquet(io.BytesIO(alone_file)), pd.read_parquet(io.BytesIO(batched_file)), check_exact=True
        )
    assert alone_files == batched_files


def test_a_cancel_while_jobs_are_coalesced_leaves_nothing_running_or_queued(
    stub, backtests, platform_env, executor_after_queueing
):
    ids = backtests["slow"]  # each run sleeps 2 s in its signal: the batch is in the executor for about 8 s
    task_ids = queue(stub, ids)
    executor = executor_after_queueing("coalesce-third")
    deadline = time.monotonic() + 30
    while not coalesced(executor):
        assert time.monotonic() < deadline, "the jobs were never coalesced"
        time.sleep(0.05)
    cancelled = task_ids[:2]
    for task_id in cancelled:
        assert stub.CancelTask(catalog_pb2.CancelTaskRequest(task_id=task_id)).status == "REVOKED"
    tasks = wait_for_tasks(stub, task_ids, executor)
    assert [task.status for task in tasks] == ["REVOKED", "REVOKED", "SUCCESS", "SUCCESS"]
    assert [get(stub, backtest_id).status for backtest_id in ids] == ["revoked", "revoked", "completed", "completed"]
    assert coalesced(executor)[0]["jobs"] == len(ids)

    async def queued() -> int:
        nc = await nats.connect(platform_env["NATS_URL"])
        try:
            stream = f"{platform_env['BUS_NAMESPACE']}BACKTEST_JOBS"
            left_by = time.monotonic() + 10
            while (left := (await nc.jetstream().stream_info(stream)).state.messages) and time.monotonic() < left_by:
                await asyncio.sleep(0.1)
            return left
        finally:
            await nc.close()

    assert asyncio.run(queued()) == 0  # every coalesced message acked once its outcome (or revocation) was settled
