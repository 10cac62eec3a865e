"""From an executor's start to its first finished job, and whether that job runs at steady-state speed.

With no executor running, one async execute is queued (the job waits in
JetStream); then a fresh executor is spawned. Its log gives spawn -> "ready"
(warm-up done, pulling), spawn -> first "job done", and the first job's
duration ("job received" -> "job done"), compared with the jobs of sync
executes it runs afterwards. Log timestamps have millisecond resolution.

Then bench.first_job shows, step by step, where a fresh process's first job
loses its time.
"""

from __future__ import annotations

import statistics
import time

from bench import first_job
from bench.report import Figure, Target
from bench.session import Session
from bench.workload import create_backtest, create_strategy, execute_sync

SECTION = "startup"
# "The first job after an executor says it is ready runs at steady-state speed", read as: within 1.5x.
FIRST_JOB_TARGET = Target("<=", 1.5)
QUEUED_S = 1.0  # time for the outbox relay to put the job into JetStream


def _durations(log, jobs: list[str]) -> list[float]:
    """Seconds from "job received" to "job done" of each job id, in order."""
    received = {e["job_id"]: e["t"] for e in log.entries("job received")}
    done = {e["job_id"]: e["t"] for e in log.entries("job done")}
    return [done[j] - received[j] for j in jobs if j in received and j in done]


def run(session: Session) -> None:
    """Time a fresh executor from spawn to its first finished job, with one job queued."""
    add = session.report.add
    session.say("startup: no executor running; one job queued")
    session.fleet.ensure(0)
    strategy_id = session.memo.get("strategy") or create_strategy(session.client, "startup")
    session.memo["strategy"] = strategy_id
    backtest_id = create_backtest(session.client, strategy_id, "vectorbt")
    task_id = session.client.call("POST", f"/backtests/{backtest_id}/execute/async")["task_id"]
    time.sleep(QUEUED_S)

    spawned = time.time()
    name = session.fleet.start()
    log = session.fleet.log(name)
    ready = session.fleet.wait_ready(name)
    first_done = log.wait_for("job done", timeout=120, task_id=task_id)
    first_received = log.entries("job received", task_id=task_id)[0]
    while session.client.call("GET", f"/tasks/{task_id}")["status"] != "SUCCESS":
        time.sleep(0.02)
    seen = time.time()
    warm = {e["engine"]: e["seconds"] for e in log.entries("engine warm")}
    session.say(
        f"  {name}: ready after {ready['t'] - spawned:.2f} s (in-process startup {ready['startup_seconds']:.2f} s,"
        f" warm-up {warm}); first job done after {first_done['t'] - spawned:.2f} s; client saw SUCCESS after"
        f" {seen - spawned:.2f} s"
    )

    jobs_before = {e["job_id"] for e in log.entries("job done")}
    for _ in range(session.options.runs):
        execute_sync(session.client, backtest_id)
    time.sleep(0.05)
    later = [e["job_id"] for e in log.entries("job done") if e["job_id"] not in jobs_before]
    steady = statistics.median(_durations(log, later))
    first = first_done["t"] - first_received["t"]
    session.say(
        f"  first job {first * 1e3:.0f} ms (received {first_received['t'] - ready['t']:.3f} s after ready);"
        f" later jobs median {steady * 1e3:.1f} ms (n={len(later)})"
    )

    add(SECTION, Figure("executor spawn -> 'ready' (warm-up done)", ready["t"] - spawned, "s"))
    add(SECTION, Figure("executor spawn -> first job done (job queued before spawn)", first_done["t"] - spawned, "s"))
    add(
        SECTION,
        Figure(
            f"first job after ready, received -> done (later jobs: median of {len(later)})",
            first * 1e3,
            "ms",
            baseline=steady * 1e3,
            baseline_label="later jobs",
            ratio=first / steady,
            target=FIRST_JOB_TARGET,
        ),
    )
    first_job.measure(session, backtest_id)
