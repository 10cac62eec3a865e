"""An executor SIGKILLed in the middle of a run: the job finishes on another executor.

The job is never acked by the dead executor, so JetStream redelivers it after
the ack wait (5 s in the e2e stack); the surviving executor runs it and the
catalog records one outcome. Nothing may stay `running`.
"""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

LONG_RUN = {  # backtrader over ~2 years of minute bars: several seconds of work
    "engine": "backtrader",
    "config": {
        "symbol": "SYNTH1M",
        "timeframe": "1m",
        "start_date": "2024-01-01",
        "end_date": "2025-12-31",
        "signal_plugin_key": "crossover_signal",
        "signal_plugin_params": {"fast_period": 30, "slow_period": 120},
    },
}


def call(base: str, method: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base + path, data=data, method=method, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def wait_for(predicate, *, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}")


def executor_running(stack, job_id: str) -> str | None:
    """Name of the executor whose log shows it received `job_id` and has not finished it."""
    for child in stack.supervisor.children:
        if not child.name.startswith("executor-"):
            continue
        received = done = False
        for line in stack.log_path(child.name).read_text().splitlines():
            if job_id in line:
                received |= '"job received"' in line
                done |= '"job done"' in line
        if received and not done:
            return child.name
    return None


def test_killed_executor_job_finishes_on_the_other_one(stack):
    api = stack.gateway_url + "/api/v1"
    strategy = call(api, "POST", "/strategies", {"name": "failover"})
    backtest = call(api, "POST", "/backtests", {"strategy_id": strategy["id"], **LONG_RUN})
    task_id = call(api, "POST", f"/backtests/{backtest['id']}/execute/async", {})["task_id"]

    victim = wait_for(lambda: executor_running(stack, task_id), timeout=60, what="an executor to take the job")
    wait_for(lambda: call(api, "GET", f"/tasks/{task_id}")["status"] == "STARTED", timeout=30, what="task STARTED")
    stack.kill_executor(victim)
    try:
        final = wait_for(
            lambda: (b := call(api, "GET", f"/backtests/{backtest['id']}"))["status"] != "running" and b,
            timeout=240,
            what="the run to settle on the surviving executor",
            interval=0.5,
        )
        assert final["status"] == "completed", final["metrics"]
        assert final["structured_metrics"]["trading"]["total_trades"] > 0
        task = call(api, "GET", f"/tasks/{task_id}")
        assert task["status"] == "SUCCESS"
        survivors = [c.name for c in stack.supervisor.children if c.name.startswith("executor-")]
        finished_by = [
            name
            for name in survivors
            if any(task_id in line and '"job done"' in line for line in stack.log_path(name).read_text().splitlines())
        ]
        assert finished_by, "no surviving executor logged the job as done"
        stuck = [b["id"] for b in call(api, "GET", "/backtests?limit=1000") if b["status"] == "running"]
        for backtest_id in stuck:  # runs of other tests may still be finishing: they must settle too
            wait_for(
                lambda backtest_id=backtest_id: call(api, "GET", f"/backtests/{backtest_id}")["status"] != "running",
                timeout=240,
                what=f"backtest {backtest_id} to leave running",
                interval=0.5,
            )
    finally:
        stack.start_executor()  # later tests get their two executors back
