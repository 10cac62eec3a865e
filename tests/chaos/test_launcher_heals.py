"""The launcher restarts crashed servers on their data and port, and the platform serves again without help.

(Executors: tests/chaos/test_executor_faults.py kills one mid-run and sees
it come back and take jobs.)
"""

from __future__ import annotations

import time

import pytest

from tests.chaos import workloads
from tests.chaos.scenario import Chaos

CRASHED = ("postgres", "nats")


@pytest.mark.quick
def test_crashed_postgres_and_nats_come_back_on_their_own_data_and_ports_and_serve(chaos: Chaos) -> None:
    stack, api = chaos.stack, chaos.api
    supervisor = stack.supervisor
    assert supervisor is not None and stack.postgres is not None and stack.nats is not None
    run = workloads.QUICK[1]
    chaos.references.ensure([run])
    chaos.steady()
    strategy = api.post("/strategies", {"name": "written before the crash"}).json()["id"]
    urls = (stack.postgres.url, stack.nats.url)
    before = {c.name: c.pid for c in supervisor.children if c.name in CRASHED}

    for name in CRASHED:
        stack.kill(name)  # a crash: nobody asks the launcher to restart anything

    for name in CRASHED:
        assert supervisor.wait_running(name, timeout=60).pid != before[name], name
    assert (stack.postgres.url, stack.nats.url) == urls
    said = (stack.log_dir / "supervisor.log").read_text()
    for name in CRASHED:
        assert f"{name} was killed by SIGKILL" in said and f"restarting {name} in" in said, said

    # What was written before the crash is served again, the executors' registry too...
    deadline = time.monotonic() + 30
    for path in (f"/strategies/{strategy}", "/backtests/engines/available"):
        while (answer := api.get(path)).status != 200:
            assert time.monotonic() < deadline, f"GET {path} does not answer 200 again after the restarts: {answer}"
            time.sleep(0.2)
    assert answer.json()["engines"], answer
    # ... and a run goes through the queue and the database as before.
    backtest = api.post("/backtests", run.body(strategy)).json()["id"]
    done = api.post(f"/backtests/{backtest}/execute", {"async_mode": False})
    assert done.status == 200 and done.json()["status"] == "completed", done
    assert chaos.references.differences(done.json()) is None
    assert supervisor.gave_up is None
