"""Many small jobs (issue 17, part 1): 500 distinct 10-year daily runs, one request each, 16 clients at once.

Platform: 500 backtests (five daily symbols x 100 crossover parameter
pairs) are created first; then 16 client threads, each on its own
keep-alive connection, send one POST /execute {"async_mode": false} per
backtest until all are done. A sync execute answers once the run is
completed durably, so each request's duration is its latency from submit to
completed. CPU per job of every stack process is read from /proc
(bench.cpu_usage) over the burst.

Baseline: vectorbt's `Portfolio.from_signals` (+ `value()` +
`pf.trades.records`) on the same 500 runs (same bars; the simple averages'
crossings as entries and exits, computed before the clock), in one process
per core.

Floor: what the gateway, the catalog, PostgreSQL and NATS alone spend per
request (claim, dispatch, report), times 500, spread over the machine's
cores: no design that keeps those per-request costs finishes faster.
"""

from __future__ import annotations

import collections
import concurrent.futures
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench import cpu_usage
from bench.report import Figure, Target
from bench.rest_client import RestClient
from bench.session import Session
from bench.workload import DAILY_CONFIG, create_backtest, create_strategy, execute_sync, stored_series
from services.adapters.market_data import read_bars

SECTION = "many small jobs (500 distinct 10-year daily runs, 16 clients)"
TARGET = Target(">=", 1.0)
SYMBOLS = ("AAPL", "MSFT", "SPY", "QQQ", "GLD")
PAIRS = [(fast, slow) for fast in range(5, 55, 5) for slow in range(60, 260, 20)]  # 100 pairs
CLIENTS = 16
INFRASTRUCTURE = ("gateway", "catalog", "postgres", "nats")

_state: dict = {}


def configs() -> list[dict]:
    """The 500 run configs: every symbol with every (fast, slow) pair."""
    return [
        {**DAILY_CONFIG, "symbol": symbol, "signal_plugin_params": {"fast_period": fast, "slow_period": slow}}
        for symbol in SYMBOLS
        for fast, slow in PAIRS
    ]


def _crossings(close, fast: int, slow: int):
    """(entries, exits): the fast simple average crossing above, and below, the slow one."""
    fast_ma, slow_ma = close.rolling(fast).mean(), close.rolling(slow).mean()
    above, below = fast_ma > slow_ma, fast_ma < slow_ma
    return above & ~above.shift(1, fill_value=False), below & ~below.shift(1, fill_value=False)


def _baseline_init() -> None:
    """Worker start (forked: the runs' inputs are inherited): vectorbt imported and compiled."""
    import vectorbt as vbt

    _state["vbt"] = vbt
    _one(0)


def _one(index: int) -> None:
    """One Portfolio of run `index` (its entries and exits were computed before the clock)."""
    close, entries, exits = _state["inputs"][index]
    pf = _state["vbt"].Portfolio.from_signals(close, entries, exits, init_cash=100_000.0, fees=0.0005, slippage=0.0005)
    pf.value()
    pf.trades.records  # noqa: B018 - reading the records is the work being timed


def baseline(session: Session) -> float:
    """Wall seconds of the 500 Portfolios over one process per core."""
    config = DAILY_CONFIG
    bars = {
        s: read_bars(stored_series(session.client, session.store, s, "1d"), config["start_date"], config["end_date"])
        for s in SYMBOLS
    }
    _state["inputs"] = [
        (bars[symbol]["close"], *_crossings(bars[symbol]["close"], fast, slow))
        for symbol in SYMBOLS
        for fast, slow in PAIRS
    ]
    workers = os.cpu_count() or 1
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(workers, context, initializer=_baseline_init) as pool:
        list(pool.map(_sleep, range(workers)))  # every worker started and warm
        began = time.perf_counter()
        list(pool.map(_one, range(len(_state["inputs"])), chunksize=25))
        return time.perf_counter() - began


def _sleep(_: int) -> None:
    time.sleep(0.5)


def _profilers(session: Session) -> list[subprocess.Popen]:
    """py-spy recorders on the stack processes named in $BENCH_PROFILE (comma-separated), when py-spy is installed.

    Each writes collapsed stacks to <name>.pyspy.txt in $BENCH_PROFILE_DIR (default the working directory).
    """
    names = [name.strip() for name in os.environ.get("BENCH_PROFILE", "").split(",") if name.strip()]
    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if not names or spy is None:
        return []
    out = Path(os.environ.get("BENCH_PROFILE_DIR", "."))
    assert session.stack.supervisor is not None
    pids = {child.name: child.pid for child in session.stack.supervisor.children}
    return [
        subprocess.Popen(
            [spy, "record", "--pid", str(pids[name]), "--format", "raw", "--rate", "250", "--nonblocking", "-o"]
            + [str(out / f"{name}.pyspy.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in names
        if name in pids
    ]


def batch_sizes(readers: list) -> collections.Counter:
    """How many jobs each executor batch held, counted from the executors' logs: size -> batches.

    A coalesced batch logs "jobs coalesced" with its size; a job run on its own (a fetch of one,
    or the only one of its bars in a fetch) logs "job received".
    """
    sizes: collections.Counter = collections.Counter()
    for reader in readers:
        for entry in reader.entries("jobs coalesced"):
            sizes[entry["jobs"]] += 1
        sizes[1] += len(reader.entries("job received"))
    return sizes


def burst(session: Session, backtest_ids: list[str]) -> tuple[float, list[float], dict[str, float]]:
    """(wall seconds, each request's seconds, CPU seconds per process) of the 500 sync executes from 16 clients."""
    queue = list(reversed(backtest_ids))
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[str] = []

    def client() -> None:
        rest = RestClient(session.stack.gateway_url)
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    backtest_id = queue.pop()
                try:
                    took, _ = execute_sync(rest, backtest_id)
                except Exception as err:  # noqa: BLE001 - counted and reported, the burst goes on
                    failures.append(f"{backtest_id}: {err}")
                    continue
                with lock:
                    latencies.append(took)
        finally:
            rest.close()

    profilers = _profilers(session)
    logs = [session.fleet.log(name, from_start_of_run=False) for name in session.fleet.names()]
    before = cpu_usage.snapshot(session.stack)
    began = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    used = cpu_usage.spent(before, cpu_usage.snapshot(session.stack))
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        profiler.wait(timeout=60)
    if failures:
        session.report.note(f"many jobs: {len(failures)} runs did not complete, first: {failures[0][:200]}")
    sizes = batch_sizes(logs)
    batches, jobs = sum(sizes.values()), sum(size * count for size, count in sizes.items())
    session.say(
        f"  executor batches: {batches} for {jobs} jobs, {jobs / max(1, batches):.2f} a batch;"
        f" size: batches {dict(sorted(sizes.items()))}"
    )
    return wall, latencies, used


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run(session: Session) -> None:
    """The burst against the baseline, with latency, CPU per job by process and the floor."""
    add = session.report.add
    session.say(f"many jobs: {len(SYMBOLS) * len(PAIRS)} runs, vectorbt Portfolio baseline, one process per core")
    base_wall = baseline(session)
    n = len(SYMBOLS) * len(PAIRS)
    session.say(f"  baseline: {n / base_wall:.0f} runs/s ({base_wall:.2f} s)")

    if len(session.fleet.names()) < 2:
        session.fleet.ensure(2)
    strategy_id = create_strategy(session.client, "many jobs")
    ids = [create_backtest(session.client, strategy_id, "vectorbt", config) for config in configs()]
    execute_sync(session.client, ids[0])  # warm-up outside the burst (its run executes again in the burst)
    wall, latencies, used = burst(session, ids)
    done = len(latencies)
    rate = done / wall
    per_job = {name: seconds / done for name, seconds in used.items() if name not in ("machine",)}
    floor_cpu = sum(per_job.get(name, 0.0) for name in INFRASTRUCTURE)
    floor_rate = (os.cpu_count() or 1) / floor_cpu if floor_cpu else float("nan")
    session.say(
        f"  platform: {done} completed in {wall:.2f} s = {rate:.1f} runs/s; p50 {statistics.median(latencies):.3f} s,"
        f" p99 {_percentile(latencies, 0.99):.3f} s"
    )
    session.say("  CPU per job (ms): " + ", ".join(f"{k} {v * 1e3:.2f}" for k, v in sorted(per_job.items())))
    add(SECTION, Figure(f"vectorbt Portfolio, {n} runs, one process per core", n / base_wall, "runs/s"))
    add(
        SECTION,
        Figure(
            f"platform: {done} sync executes from {CLIENTS} clients, submit -> completed",
            rate,
            "runs/s",
            baseline=n / base_wall,
            baseline_label="Portfolio runs/s",
            ratio=rate / (n / base_wall),
            target=TARGET,
        ),
    )
    add(
        SECTION,
        Figure(
            "floor: cores / (gateway + catalog + PostgreSQL + NATS CPU per job)",
            floor_rate,
            "runs/s",
            baseline=n / base_wall,
            baseline_label="Portfolio runs/s",
            ratio=floor_rate / (n / base_wall),
            target=TARGET,
        ),
    )
    # Context, not a target: the same cores also run the executors, S3 and the bench's own clients.
    everything = sum(seconds for name, seconds in per_job.items() if name != "other")
    session.say(
        f"  every stack process and the bench clients: {everything * 1e3:.2f} ms a job, at most"
        f" {(os.cpu_count() or 1) / everything:.1f} runs/s on {os.cpu_count()} cores"
    )
    add(
        SECTION,
        Figure(
            "  cores / (every stack process + bench clients CPU per job), for context",
            (os.cpu_count() or 1) / everything,
            "runs/s",
        ),
    )
    add(SECTION, Figure("  latency submit -> completed, p50", statistics.median(latencies) * 1e3, "ms"))
    add(SECTION, Figure("  latency submit -> completed, p99", _percentile(latencies, 0.99) * 1e3, "ms"))
    for name, seconds in sorted(per_job.items()):
        add(SECTION, Figure(f"  CPU per job: {name}", seconds * 1e3, "ms"))
