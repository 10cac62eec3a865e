"""An executor that receives a job of a cancelled task acks it unrun (the revoked set), and reports nothing.

The cancel deletes the task's queued jobs from the stream; this plays the
case it cannot cover, a copy of the job reaching the queue afterwards (a
relay publish racing the cancel, or a redelivery), and checks that an
executor started later still knows the task is revoked.
"""

from __future__ import annotations

import asyncio
import time

import nats

from backtest.v1 import catalog_pb2
from tests.fixtures.service_process import start_service


def test_an_executor_drops_a_job_of_a_cancelled_task_unrun(stub, create_backtest, platform_env, catalog):
    # No backtrader executor is running yet: the job waits in the queue.
    backtest_id = create_backtest(engine="backtrader")
    task_id = stub.ExecuteBacktestAsync(catalog_pb2.ExecuteBacktestAsyncRequest(backtest_id=backtest_id)).task_id
    namespace = platform_env["BUS_NAMESPACE"]
    stream, subject = f"{namespace}BACKTEST_JOBS", f"{namespace}jobs.backtest.backtrader"

    async def last_job() -> bytes:
        nc = await nats.connect(platform_env["NATS_URL"])
        try:
            return (await nc.jetstream().get_last_msg(stream, subject)).data
        finally:
            await nc.close()

    payload = asyncio.run(last_job())
    assert task_id.encode() in payload

    task = stub.CancelTask(catalog_pb2.CancelTaskRequest(task_id=task_id))
    assert (task.status, task.progress.revoked) == ("REVOKED", 1)

    async def publish_again_and_wait_until_consumed() -> int:
        nc = await nats.connect(platform_env["NATS_URL"])
        js = nc.jetstream()
        try:
            await js.publish(subject, payload, headers={"Nats-Msg-Id": f"{task_id}-late-copy"})
            deadline = time.monotonic() + 60
            while (left := (await js.stream_info(stream)).state.messages) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            return left
        finally:
            await nc.close()

    env = {**platform_env, "CATALOG_ADDR": catalog.address, "EXECUTOR_ID": "it-late", "EXECUTOR_ENGINES": "backtrader"}
    late = start_service("services.executor", env, until="ready")
    try:
        assert asyncio.run(publish_again_and_wait_until_consumed()) == 0
    finally:
        late.stop()
    assert any("job of a cancelled task dropped unrun" in line for line in late.log)
    assert not any('"job received"' in line for line in late.log)
    assert stub.GetBacktest(catalog_pb2.GetBacktestRequest(backtest_id=backtest_id)).status == "revoked"
    after = stub.GetTask(catalog_pb2.GetTaskRequest(task_id=task_id))
    assert (after.status, after.progress.revoked, after.progress.succeeded) == ("REVOKED", 1, 0)
