"""Where the first job of a fresh executor process loses its time, step by step.

A traced executor in a fresh process (`python -m bench.traced_executor`,
warmed up exactly as an executor warms up) takes a job queued before it
started, then the jobs of sync executes; each step of the first job is
compared with the median of the later ones.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

from bench.report import Figure
from bench.session import Session
from bench.workload import execute_sync

SECTION = "startup: first job of a fresh traced process vs its later jobs (medians)"
STEPS = ("bars", "run", "artifacts", "CompleteRuns")
QUEUED_S = 1.0  # time for the job to reach JetStream before the traced process starts


def _step_seconds(trace: dict) -> dict[str, float]:
    """Seconds per step of one job trace (see bench.traced_executor)."""
    spans: dict[str, float] = {}
    for step, began, ended in trace["spans"]:
        spans[step] = spans.get(step, 0.0) + ended - began
    steps = {step: spans.get(step, 0.0) for step in STEPS}
    steps["total, received -> acked"] = trace["done"] - trace["received"]
    steps["other (resolve, hand-offs, ack)"] = steps["total, received -> acked"] - sum(steps[s] for s in STEPS)
    steps["StartRuns (in parallel with bars + run)"] = spans.get("StartRuns", 0.0)
    return steps


def measure(session: Session, backtest_id: str) -> None:
    """A fresh traced process takes a queued job, then later ones; reports the first job's steps vs the rest."""
    session.fleet.ensure(0)
    task_id = session.client.call("POST", f"/backtests/{backtest_id}/execute/async")["task_id"]
    time.sleep(QUEUED_S)
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.traced_executor"],
        env={**os.environ, **session.stack.env},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        json.loads(child.stdout.readline())  # {"ready": true} once warmed up and pulling
        while session.client.call("GET", f"/tasks/{task_id}")["status"] != "SUCCESS":
            time.sleep(0.02)
        for _ in range(session.options.runs):
            execute_sync(session.client, backtest_id)
        child.stdin.close()
        traces = [json.loads(line) for line in child.stdout]
    finally:
        if child.poll() is None:
            child.terminate()
        child.wait(timeout=60)
    first, later = _step_seconds(traces[0]), [_step_seconds(t) for t in traces[1:]]
    labels = {"artifacts": "artifacts: encode + 2 overlapped S3 PUTs", "run": "run: signal+engine+metrics"}
    for step, value in first.items():
        usual = statistics.median(t[step] for t in later)
        session.report.add(
            SECTION,
            Figure(
                labels.get(step, step),
                value * 1e3,
                "ms",
                baseline=usual * 1e3,
                baseline_label="later jobs",
                ratio=value / usual if usual else None,
            ),
        )
    session.say(
        f"  fresh traced process: first job {first['total, received -> acked'] * 1e3:.0f} ms, later"
        f" {statistics.median(t['total, received -> acked'] for t in later) * 1e3:.0f} ms"
    )
