"""Executors SIGKILLed while they compute: the job is redelivered and finished, and the launcher restarts the executor.

The kill comes while a job is being computed, not between jobs: the
executor has logged the job received and not let go of it, and the catalog
has counted the attempt (the task is STARTED).
"""

from __future__ import annotations

import time

import pytest

from tests.chaos import workloads
from tests.chaos.executor_logs import Held
from tests.chaos.scenario import Chaos, Scenario


def assert_killed_mid_job_and_finished_by_a_later_delivery(scenario: Scenario, killed: Held) -> None:
    """The victim took the job and never let go of it; a later delivery of it finished."""
    assert scenario.logs is not None
    taken = scenario.logs.entries("job received", job_id=killed.job_id)
    assert any(entry["executor"] == killed.executor for entry in taken), taken
    done = scenario.logs.entries("job done", job_id=killed.job_id)
    assert done, f"no executor finished job {killed.job_id}"
    assert all(entry["attempt"] >= 2 for entry in done), done


def assert_serves_again(chaos: Chaos, scenario: Scenario, executor: str, *, tries: int = 20) -> None:
    """The restarted `executor` warms up and takes jobs again: runs go in one at a time until it has done one."""
    assert scenario.logs is not None
    chaos.steady()
    strategy = chaos.api.post("/strategies", {"name": f"after {executor} came back"}).json()["id"]
    for _ in range(tries):
        backtest = chaos.api.post("/backtests", workloads.QUICK[0].body(strategy)).json()["id"]
        task = chaos.api.post(f"/backtests/{backtest}/execute/async").json()["task_id"]
        deadline = time.monotonic() + 60
        while not (done := scenario.logs.entries("job done", task_id=task)):
            assert time.monotonic() < deadline, f"nobody finished task {task}"
            time.sleep(0.1)
        if any(entry["executor"] == executor for entry in done):
            return
    pytest.fail(f"the restarted {executor} took none of {tries} jobs")


@pytest.mark.quick
def test_an_executor_killed_while_computing_loses_nothing(chaos: Chaos) -> None:
    runs = workloads.LONG
    chaos.references.ensure(runs)
    supervisor = chaos.stack.supervisor
    assert supervisor is not None
    with chaos.scenario("executor SIGKILL mid-run") as scenario:
        scenario.submit(runs)
        held = scenario.wait_computing()
        victim = next(c for c in supervisor.children if c.name == held.executor)
        with scenario.fault():
            chaos.stack.kill(held.executor)
        restarted = supervisor.wait_running(held.executor, timeout=30)

    assert scenario.verdict is not None
    scenario.verdict.check()
    assert restarted.pid != victim.pid
    assert_killed_mid_job_and_finished_by_a_later_delivery(scenario, held)
    # The launcher's part: the victim is back, warm, and working.
    assert_serves_again(chaos, scenario, held.executor)


def test_a_sweep_with_an_executor_killed_completes_every_run(chaos: Chaos) -> None:
    chaos.references.ensure_sweep(workloads.SWEEP_BASE, workloads.SWEEP_GRID)
    with chaos.scenario(f"sweep of {len(workloads.SWEEP_GRID)}, executor SIGKILL") as scenario:
        sweep = scenario.sweep(workloads.SWEEP_BASE, workloads.SWEEP_GRID)
        held = scenario.wait_computing()
        with scenario.fault():
            chaos.stack.kill(held.executor)

    assert scenario.verdict is not None
    scenario.verdict.check()
    task = chaos.api.get(f"/tasks/{sweep}").json()
    assert task["status"] == "SUCCESS"
    runs = len(workloads.SWEEP_GRID)
    assert task["progress"] == {"succeeded": runs, "failed": 0, "total": runs, "revoked": 0}
    assert_killed_mid_job_and_finished_by_a_later_delivery(scenario, held)
