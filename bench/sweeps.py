"""50-configuration sweeps, submit to SUCCESS: vectorbt against sync executes, backtrader on 1 and 2 executors.

Every executor serves both engines. Before timing, a small sweep of each
engine has to reach every executor (its log shows jobs), so each one has
warmed up and cached the bars. The catalog's "sweep dispatched" log line
says how many executors it counted, which decides how vectorbt batches.
"""

from __future__ import annotations

import os
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass

from bench import cpu_usage, parallel_capacity
from bench.execution import resolved_run
from bench.report import Figure, Target
from bench.service_logs import LogReader
from bench.session import Session
from bench.timing import Samples
from bench.workload import (
    DAILY_CONFIG,
    EXPRESSION_CONFIG,
    EXPRESSION_GRID,
    GRID,
    create_backtest,
    create_strategy,
    execute_sync,
    stored_series,
    with_override,
)

SECTION = "sweeps"
VECTORBT_TARGET = Target("<=", 5.0)  # sweep time over one sync execute
SCALING_TARGET = Target(">=", 1.7)  # one executor's time over two executors'
EXPRESSION_TARGET = Target("<=", 1.5)  # expression-strategy sweep over the same sweep of crossover_signal
WARM_UP_GRID = GRID[::10]
CEILING_RUNS = 20


@dataclass(frozen=True)
class SweepRun:
    """One finished sweep, as timed and as its logs tell it.

    Seconds from submit to SUCCESS, the catalog's executor count, jobs per executor,
    and each job's duration in its executor's log ("job received" -> "job done").
    """

    seconds: float
    task_id: str
    workers: int | None
    jobs: dict[str, int]
    job_seconds: list[float]


def run_sweep(
    session: Session, strategy_id: str, engine: str, grid: list[dict], base_config: dict = DAILY_CONFIG
) -> SweepRun:
    """Submits a sweep and polls its task until SUCCESS (RuntimeError on FAILURE or failed runs)."""
    catalog = LogReader(session.stack.log_path("catalog"))
    executors = {name: session.fleet.log(name, from_start_of_run=False) for name in session.fleet.names()}
    body = {
        "strategy_id": strategy_id,
        "engine": engine,
        "base_config": base_config,
        "param_grid": grid,
        "rank_metric": "perf_sharpe_ratio",
    }
    began = time.perf_counter()
    task_id = session.client.call("POST", "/backtests/sweep", body)["task_id"]
    while True:
        task = session.client.call("GET", f"/tasks/{task_id}")
        elapsed = time.perf_counter() - began
        if task["status"] in ("SUCCESS", "FAILURE"):
            break
        # Poll often enough to resolve 2% of the time taken, not so often as to load the catalog.
        time.sleep(min(0.1, max(0.01, elapsed / 50)))
    progress = task.get("progress") or {}
    if task["status"] != "SUCCESS" or progress.get("failed"):
        raise RuntimeError(f"{engine} sweep {task_id} ended {task['status']}: {str(task)[:400]}")
    time.sleep(0.05)  # let the last log lines land
    dispatched = catalog.entries("sweep dispatched", task_id=task_id)
    workers = dispatched[0].get("workers") if dispatched else None
    jobs, job_seconds = {}, []
    for name, log in executors.items():
        received = {e["job_id"]: e["t"] for e in log.entries("job received", task_id=task_id)}
        done = {e["job_id"]: e["t"] for e in log.entries("job done", task_id=task_id)}
        jobs[name] = len(received)
        job_seconds += [done[j] - received[j] for j in received if j in done]
    return SweepRun(elapsed, task_id, workers, jobs, job_seconds)


def timed_sweeps(
    session: Session,
    strategy_id: str,
    engine: str,
    label: str,
    repeats: int,
    *,
    base_config: dict = DAILY_CONFIG,
    grid: list[dict] = GRID,
) -> tuple[Samples, dict[str, float]]:
    """The sweep over `grid` `repeats` times, printing each; (durations, mean CPU seconds per process)."""
    runs, cpu = [], defaultdict(float)
    for _ in range(repeats):
        before = cpu_usage.snapshot(session.stack)
        sweep = run_sweep(session, strategy_id, engine, grid, base_config)
        for name, seconds in cpu_usage.spent(before, cpu_usage.snapshot(session.stack)).items():
            cpu[name] += seconds / repeats
        job = statistics.median(sweep.job_seconds) if sweep.job_seconds else float("nan")
        session.say(
            f"  {label}: {sweep.seconds:.3f} s (catalog counted {sweep.workers} executors; jobs {sweep.jobs},"
            f" median job {job * 1e3:.0f} ms; load average {os.getloadavg()[0]:.1f})"
        )
        runs.append(sweep)
    session.memo.setdefault("sweep_workers", []).extend((engine, label, r.workers) for r in runs)
    busy = ", ".join(
        f"{name} {seconds:.2f}" for name, seconds in sorted(cpu.items(), key=lambda kv: -kv[1]) if seconds >= 0.05
    )
    session.say(f"    CPU seconds per sweep: {busy}")
    return Samples([r.seconds for r in runs]), dict(cpu)


def add_cpu_figures(
    session: Session, title: str, cpu: dict[str, float], base: dict[str, float] | None, base_label: str
) -> None:
    """One row per process that spent at least 0.05 CPU seconds, busiest first."""
    for name in sorted(cpu, key=lambda n: -cpu[n]):
        value, other = cpu[name], (base or {}).get(name)
        if value < 0.05 and (other or 0.0) < 0.05:
            continue
        session.report.add(
            title,
            Figure(
                name,
                value,
                "s",
                baseline=other,
                baseline_label=base_label if base else "",
                ratio=value / other if other else None,
            ),
        )


def warm_fleet(session: Session, strategy_id: str) -> None:
    """Small sweeps of each engine until every executor has run jobs of both."""
    for engine in ("vectorbt", "backtrader"):
        for _ in range(5):
            sweep = run_sweep(session, strategy_id, engine, WARM_UP_GRID if engine == "backtrader" else GRID[:4])
            if all(sweep.jobs.values()):
                break
        else:
            session.report.note(f"warm-up: not every executor ran a {engine} job ({sweep.jobs})")


def machine_ceiling(session: Session) -> tuple[float, float]:
    """(seconds of CEILING_RUNS backtrader runs in 1 worker process, in 2): the best two executors could do."""
    run = resolved_run("backtrader")
    parquet = stored_series(session.client, session.store, run.config.symbol, run.config.timeframe)
    one, two = parallel_capacity.speedup(parquet, run, runs=CEILING_RUNS)
    session.say(
        f"  {CEILING_RUNS} plain backtrader runs: 1 process {one:.2f} s, 2 processes {two:.2f} s"
        f" ({one / two:.2f}x; load average {os.getloadavg()[0]:.1f})"
    )
    return one, two


def sequential_executes(session: Session, strategy_id: str) -> Samples:
    """Each grid configuration as its own backtest, executed sync one after another."""
    ids = [create_backtest(session.client, strategy_id, "vectorbt", with_override(DAILY_CONFIG, o)) for o in GRID]
    return Samples([execute_sync(session.client, backtest_id)[0] for backtest_id in ids])


def run(session: Session) -> None:
    """Time 50-configuration sweeps, submit to SUCCESS, against the baselines in the module docstring."""
    add, repeats = session.report.add, session.options.sweep_repeats
    session.say("sweeps: 2 executors")
    session.fleet.ensure(2)
    strategy_id = create_strategy(session.client, "sweeps")
    warm_fleet(session, strategy_id)

    sequential = sequential_executes(session, strategy_id)
    session.say(
        f"  50 vectorbt sync executes one after another: {sequential.total:.3f} s; each {sequential.describe()}"
    )
    # A vectorbt sweep takes a tenth of a second, where one background hiccup
    # (autovacuum, a checkpoint) moves a median of three: it gets as many
    # repeats as the single-run medians.
    sweep_runs = session.options.runs
    vectorbt, vectorbt_cpu = timed_sweeps(session, strategy_id, "vectorbt", "vectorbt sweep, 2 executors", sweep_runs)
    one = sequential.median
    add(SECTION, Figure("vectorbt one sync execute (median of the 50 below)", one * 1e3, "ms"))
    add(SECTION, Figure("vectorbt 50 sync executes one after another", sequential.total, "s"))
    add(
        SECTION,
        Figure(
            f"vectorbt 50-config sweep, 2 executors (median of {sweep_runs})",
            vectorbt.median,
            "s",
            baseline=one,
            baseline_label="one sync execute",
            ratio=vectorbt.median / one,
            target=VECTORBT_TARGET,
        ),
    )
    add(
        SECTION,
        Figure(
            "vectorbt 50-config sweep vs 50 sync executes",
            vectorbt.median,
            "s",
            baseline=sequential.total,
            baseline_label="50 sync executes",
            ratio=vectorbt.median / sequential.total,
        ),
    )

    expression, _ = timed_sweeps(
        session,
        strategy_id,
        "vectorbt",
        "vectorbt expression-strategy sweep, 2 executors",
        sweep_runs,
        base_config=EXPRESSION_CONFIG,
        grid=EXPRESSION_GRID,
    )
    add(
        SECTION,
        Figure(
            f"vectorbt 50-config sweep of the crossover as an expression strategy (median of {sweep_runs})",
            expression.median,
            "s",
            baseline=vectorbt.median,
            baseline_label="crossover_signal sweep",
            ratio=expression.median / vectorbt.median,
            target=EXPRESSION_TARGET,
        ),
    )

    two, two_cpu = timed_sweeps(session, strategy_id, "backtrader", "backtrader sweep, 2 executors", repeats)
    ceiling = machine_ceiling(session)
    session.say("sweeps: 1 executor")
    session.fleet.ensure(1)
    single, single_cpu = timed_sweeps(session, strategy_id, "backtrader", "backtrader sweep, 1 executor", repeats)
    add(SECTION, Figure(f"backtrader 50-config sweep, 1 executor (median of {repeats})", single.median, "s"))
    add(
        SECTION,
        Figure(
            f"backtrader 50-config sweep, 2 executors (median of {repeats}); ratio = speed-up",
            two.median,
            "s",
            baseline=single.median,
            baseline_label="1 executor",
            ratio=single.median / two.median,
            target=SCALING_TARGET,
        ),
    )
    one_proc, two_procs = ceiling
    add(
        SECTION,
        Figure(
            f"for scale: {CEILING_RUNS} in-process backtrader runs, 2 worker processes vs 1",
            two_procs,
            "s",
            baseline=one_proc,
            baseline_label="1 process",
            ratio=one_proc / two_procs,
        ),
    )
    add_cpu_figures(
        session, f"CPU seconds per vectorbt sweep, 2 executors (mean of {sweep_runs})", vectorbt_cpu, None, ""
    )
    add_cpu_figures(
        session,
        f"CPU seconds per backtrader sweep: 2 executors vs 1 (mean of {repeats})",
        two_cpu,
        single_cpu,
        "1 executor",
    )
    counted = {w for _, _, w in session.memo["sweep_workers"]}
    if None in counted or 0 in counted:
        session.report.note(
            f"the catalog counted 0 (or unknown) executors for some sweeps: {session.memo['sweep_workers']}"
        )
