"""The executor against the real catalog, bus and store: runs, artifacts, failures, registry."""

from __future__ import annotations

import asyncio
import io
import time

import nats
import pandas as pd

from backtest.v1 import catalog_pb2
from services.kit.nullable_string import read_nullable
from tests.fixtures.service_process import start_service


def test_sync_execute_runs_on_the_executor_and_stores_artifacts(stub, executor, create_backtest, store, series):
    backtest_id = create_backtest()
    result = stub.ExecuteBacktest(catalog_pb2.ExecuteBacktestRequest(backtest_id=backtest_id), timeout=120)
    assert result.status == "completed", dict(result.metrics)
    assert result.structured_metrics.trading.total_trades > 0
    equity = pd.read_parquet(io.BytesIO(store.get_bytes(store.key_of(read_nullable(result.equity_curve_uri)))))
    assert equity.index.name == "date" and list(equity.columns) == ["equity"]
    in_range = pd.bdate_range("2019-01-01", periods=series[1])
    assert len(equity) == ((in_range >= "2019-01-01") & (in_range <= "2020-12-31")).sum()
    trades = pd.read_parquet(io.BytesIO(store.get_bytes(store.key_of(read_nullable(result.trades_uri)))))
    assert list(trades.columns) == [
        "entry_date",
        "exit_date",
        "side",
        "entry_price",
        "exit_price",
        "size",
        "pnl",
        "return_pct",
        "status",
    ]
    assert len(trades) == result.structured_metrics.trading.total_trades


def test_a_run_without_market_data_fails_with_the_reason(stub, executor, create_backtest):
    backtest_id = create_backtest(symbol="NODATA")
    result = stub.ExecuteBacktest(catalog_pb2.ExecuteBacktestRequest(backtest_id=backtest_id), timeout=120)
    assert result.status == "failed"
    assert "no market data stored for NODATA 1d" in result.metrics["error"]
    assert not result.HasField("structured_metrics")


def test_async_execute_moves_the_task_to_success_with_a_summary(stub, executor, create_backtest):
    backtest_id = create_backtest(fast_period=7)
    task_id = stub.ExecuteBacktestAsync(catalog_pb2.ExecuteBacktestAsyncRequest(backtest_id=backtest_id)).task_id
    deadline = time.monotonic() + 60
    while (task := stub.GetTask(catalog_pb2.GetTaskRequest(task_id=task_id))).status in ("PENDING", "STARTED"):
        assert time.monotonic() < deadline, task
        time.sleep(0.1)
    assert task.status == "SUCCESS"
    assert task.result["backtest_id"] == backtest_id and task.result["status"] == "completed"
    assert (task.progress.succeeded, task.progress.failed, task.progress.total) == (1, 0, 1)


def test_engines_available_is_the_union_of_live_executors(stub, executor):
    assert list(stub.ListEngines(catalog_pb2.ListEnginesRequest()).engines) == ["vectorbt"]


def test_a_job_whose_executors_keep_dying_is_failed_unrun_by_the_next_one(
    stub, executor, create_backtest, platform_env, catalog
):
    """Plays an executor that takes the backtrader job and dies each time (never acks, no heartbeat).

    JetStream redelivers without limit; after JOB_MAX_DELIVER (2) deliveries
    without an outcome, the executor that receives the job next fails it
    without running it (it may be what kills executors) and acks it only
    once the failure is committed.
    """
    backtest_id = create_backtest(engine="backtrader")
    stub.ExecuteBacktestAsync(catalog_pb2.ExecuteBacktestAsyncRequest(backtest_id=backtest_id))

    async def crash_on_two_deliveries() -> int:
        nc = await nats.connect(platform_env["NATS_URL"])
        namespace = platform_env["BUS_NAMESPACE"]
        sub = await nc.jetstream().pull_subscribe_bind(
            durable=f"{namespace}executor-backtrader", stream=f"{namespace}BACKTEST_JOBS"
        )
        deliveries = 0
        deadline = time.monotonic() + 30
        while deliveries < 2 and time.monotonic() < deadline:
            try:
                deliveries += len(await sub.fetch(1, timeout=1))
            except nats.errors.TimeoutError:
                pass
        await nc.close()
        return deliveries

    assert asyncio.run(crash_on_two_deliveries()) == 2
    assert stub.GetBacktest(catalog_pb2.GetBacktestRequest(backtest_id=backtest_id)).status == "running"
    env = {**platform_env, "CATALOG_ADDR": catalog.address, "EXECUTOR_ID": "it-next", "EXECUTOR_ENGINES": "backtrader"}
    survivor = start_service("services.executor", env, until="ready")
    try:
        deadline = time.monotonic() + 30
        while (
            backtest := stub.GetBacktest(catalog_pb2.GetBacktestRequest(backtest_id=backtest_id))
        ).status == "running":
            assert time.monotonic() < deadline, "the run stayed running after its last delivery"
            time.sleep(0.2)
    finally:
        survivor.stop()
    assert backtest.status == "failed"
    assert "gave up after 2 deliveries" in backtest.metrics["error"]
    assert any("failing it unrun" in line for line in survivor.log)
