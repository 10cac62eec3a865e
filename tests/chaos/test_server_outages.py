"""PostgreSQL, NATS and S3 down while runs are queued and computing: the runs are delayed, never failed.

A server is SIGKILLed (what the OOM killer or a crash does) and kept down for
the given time, then started again by the launcher on its data directory and
port. An S3 outage is the same kill of the one `weed` process that serves
S3, so connections are refused rather than left hanging. Throughout, the API
probe records every answer: an outage must read as 503 with Retry-After,
never as a 500.
"""

from __future__ import annotations

import time

import pytest

from tests.chaos import workloads
from tests.chaos.scenario import Chaos

SERVER_NAMES = {"postgres": "PostgreSQL", "nats": "NATS", "s3": "S3"}
OUTAGES = [("nats", 10), ("postgres", 10), ("postgres", 30), ("s3", 10), ("s3", 60)]


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("server", "down_s"), OUTAGES, ids=[f"{server}-{s}s" for server, s in OUTAGES])
def test_a_server_outage_delays_runs_but_fails_none(chaos: Chaos, server: str, down_s: int) -> None:
    # Each engine's queue holds work when the fault comes: vectorbt the
    # sweep's two broadcast batches with quick runs behind them, backtrader
    # runs of about a second each.
    chaos.references.ensure_sweep(workloads.SWEEP_BASE, workloads.SWEEP_GRID)
    chaos.references.ensure(workloads.MEDIUM + workloads.QUICK)
    with chaos.scenario(f"{SERVER_NAMES[server]} down {down_s} s") as scenario:
        scenario.sweep(workloads.SWEEP_BASE, workloads.SWEEP_GRID)
        scenario.submit(workloads.MEDIUM * 5 + workloads.QUICK * 5)
        scenario.wait_computing()
        with scenario.fault():
            chaos.stack.kill(server, hold=True)
            time.sleep(down_s)
            chaos.stack.revive(server)

    assert scenario.verdict is not None
    scenario.verdict.check()
