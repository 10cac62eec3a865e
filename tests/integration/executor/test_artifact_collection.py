"""Artifact collection against the real store and database: left-behind objects go, referenced ones and
deleted runs' stay; a delete with delete_artifacts removes the run's own objects."""

from __future__ import annotations

import asyncio
import time
import uuid

from google.protobuf import json_format

from backtest.v1 import catalog_pb2
from services.adapters.object_store import LazyObjectStore, S3Location
from services.catalog.artifact_collection import collect
from services.catalog.db.engine import create_engine, session_factory
from services.domain.object_uris import parse_artifact_uri
from services.kit.nullable_string import read_nullable


def run_collection(platform_env, **kwargs):
    async def go():
        engine = create_engine(platform_env["DATABASE_URL"], pool_size=1)
        try:
            store = LazyObjectStore(
                S3Location(
                    platform_env["S3_ENDPOINT"],
                    platform_env["S3_ACCESS_KEY"],
                    platform_env["S3_SECRET_KEY"],
                    platform_env["S3_BUCKET"],
                )
            )
            return await collect(session_factory(engine), store, **kwargs)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def sweep(stub, strategy_id: str, symbol: str) -> list[str]:
    request = catalog_pb2.SweepBacktestsRequest(strategy_id=strategy_id, engine="vectorbt")
    json_format.ParseDict(
        {
            "symbol": symbol,
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
        assert time.monotonic() < deadline
        time.sleep(0.2)
    return task_id, [e["backtest_id"] for e in json_format.MessageToDict(task.result)["leaderboard"]]


def test_left_behind_objects_are_collected_and_the_rest_kept(stub, executor, store, strategy_id, series, platform_env):
    _, ids = sweep(stub, strategy_id, series[0])
    runs = [stub.GetBacktest(catalog_pb2.GetBacktestRequest(backtest_id=i)) for i in ids]
    batch_key = parse_artifact_uri(read_nullable(runs[0].equity_curve_uri), store.bucket).key
    assert "/jobs/" in batch_key  # a broadcast batch's shared file
    # An attempt whose outcome was never recorded (its executor died after the upload).
    stray = batch_key.replace("/1/equity.parquet", "/7/equity.parquet")
    store.put_bytes(stray, b"left behind")
    # A deleted run's own objects stay, as the seed says.
    deleted_run = str(uuid.uuid4())
    store.put_bytes(f"artifacts/{deleted_run}/equity.parquet", b"of a deleted run")

    dry = run_collection(platform_env, grace_s=0, dry_run=True)
    assert stray in dry.deleted and store.size(stray) is not None
    done = run_collection(platform_env, grace_s=0)
    assert stray in done.deleted and store.size(stray) is None
    assert store.size(batch_key) is not None and store.size(f"artifacts/{deleted_run}/equity.parquet") is not None
    # In its grace period nothing is touched.
    store.put_bytes(stray, b"left behind again")
    assert stray not in run_collection(platform_env, grace_s=3600).deleted


def test_deleting_with_delete_artifacts_removes_the_runs_own_objects(stub, executor, store, create_backtest):
    backtest_id = create_backtest()
    done = stub.ExecuteBacktest(catalog_pb2.ExecuteBacktestRequest(backtest_id=backtest_id), timeout=120)
    keys = [parse_artifact_uri(read_nullable(u), store.bucket).key for u in (done.equity_curve_uri, done.trades_uri)]
    assert all(store.size(key) is not None for key in keys)
    stub.DeleteBacktest(catalog_pb2.DeleteBacktestRequest(backtest_id=backtest_id, delete_artifacts=True))
    assert all(store.size(key) is None for key in keys)


def test_each_execute_writes_files_of_its_own_and_the_left_behind_ones_are_collected(
    stub, executor, store, create_backtest, platform_env
):
    # A job still computing when its run was revoked and executed again must not overwrite the
    # new job's files: every job attempt writes under keys of its own.
    backtest_id = create_backtest()
    first = stub.ExecuteBacktest(catalog_pb2.ExecuteBacktestRequest(backtest_id=backtest_id), timeout=120)
    second = stub.ExecuteBacktest(catalog_pb2.ExecuteBacktestRequest(backtest_id=backtest_id), timeout=120)
    old, new = (
        [parse_artifact_uri(read_nullable(u), store.bucket).key for u in (done.equity_curve_uri, done.trades_uri)]
        for done in (first, second)
    )
    assert set(old).isdisjoint(new)
    assert all(key.startswith(f"artifacts/{backtest_id}/") for key in old + new)
    assert all(store.size(key) is not None for key in old + new)
    # The first execute's files are left behind by the run, which moved on: garbage.
    collected = run_collection(platform_env, grace_s=0)
    assert set(old) <= set(collected.deleted) and not set(new) & set(collected.deleted)
    # Deleting with its artifacts removes every file under the run, whichever job wrote it.
    store.put_bytes(f"artifacts/{backtest_id}/an-older-job/1/equity.parquet", b"left by a job since re-executed")
    stub.DeleteBacktest(catalog_pb2.DeleteBacktestRequest(backtest_id=backtest_id, delete_artifacts=True))
    assert store.list_objects(f"artifacts/{backtest_id}/") == []


def test_a_plain_delete_leaves_the_artifacts(stub, executor, store, create_backtest):
    backtest_id = create_backtest()
    done = stub.ExecuteBacktest(catalog_pb2.ExecuteBacktestRequest(backtest_id=backtest_id), timeout=120)
    key = parse_artifact_uri(read_nullable(done.equity_curve_uri), store.bucket).key
    stub.DeleteBacktest(catalog_pb2.DeleteBacktestRequest(backtest_id=backtest_id))
    assert store.size(key) is not None
