"""A 10,000-configuration crossover grid: the service end to end against vectorbt's broadcast in this process.

The service: POST /backtests/grid-search (100 fast x 100 slow periods over
the 10-year daily bars), polled until SUCCESS, then the whole runs table
downloaded as Parquet; every run's metrics stored, its equity curve and
trades written, its DSR and the search's PBO computed. The baseline: the
same 10,000 crossovers in vectorbt, in this process: the moving averages
by vbt.MA.run once per distinct period, then Portfolio.from_signals over
the broadcast entries and exits with value() and the trade records,
CHUNK_COLUMNS columns at a time (all 10,000 at once need several GB: one
float64 array of 2,609 bars x 10,000 runs is 209 MB, and from_signals
holds a dozen). Peak RSS is sampled for every stack process (with its
children) and for this process, every 0.2 s.
"""

from __future__ import annotations

import gc
import threading
import time
from collections import defaultdict

import numpy as np
import psutil

from bench import cpu_usage
from bench.execution import stored_bars
from bench.report import Figure, Target
from bench.session import Session
from bench.workload import DAILY_CONFIG, create_strategy
from services.domain.run_config import resolve_backtest

SECTION = "grid search"
FAST = {"start": 2, "stop": 101, "step": 1}  # 100 periods
SLOW = {"start": 110, "stop": 308, "step": 2}  # 100 periods, all above every fast one
N_RUNS = 10_000
TARGET = Target("<=", 2.0)  # service end to end over vectorbt's chunked broadcast
RSS_LIMIT_MB = 1024
CHUNK_COLUMNS = 1000
WAIT_S = 1800.0


class PeakRss:
    """Samples the resident memory of named process trees in a thread; peak MB per name."""

    def __init__(self, pids: dict[str, int], period_s: float = 0.2, *, children: bool = True) -> None:
        self.pids = pids
        self.children = children
        self.period_s = period_s
        self.peaks: dict[str, float] = defaultdict(float)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.is_set():
            for name, pid in self.pids.items():
                try:
                    root = psutil.Process(pid)
                    members = [root, *(root.children(recursive=True) if self.children else ())]
                except psutil.Error:
                    continue
                for member in members:  # each process on its own: the limit is per process
                    try:
                        rss = member.memory_info().rss / 2**20
                    except psutil.Error:
                        continue
                    label = name if member.pid == pid else f"{name}/{member.name()}"
                    self.peaks[label] = max(self.peaks[label], rss)
            self._stop.wait(self.period_s)


def _stack_pids(session: Session) -> dict[str, int]:
    assert session.stack.supervisor is not None
    return {child.name: child.pid for child in session.stack.supervisor.children}


def through_service(session: Session, strategy_id: str) -> tuple[float, float, dict]:
    """(seconds to SUCCESS, seconds to the table downloaded, the task's result)."""
    base = {**DAILY_CONFIG, "signal_plugin_params": {"fast_period": 2, "slow_period": 110}}
    space = {"signal_plugin_params.fast_period": FAST, "signal_plugin_params.slow_period": SLOW}
    body = {"strategy_id": strategy_id, "base_config": base, "parameter_space": space, "engine": "vectorbt"}
    began = time.perf_counter()
    handle = session.client.call("POST", "/backtests/grid-search", body)
    task_id = handle["task_id"]
    answered = time.perf_counter() - began
    session.say(f"  POST /backtests/grid-search answered in {answered:.2f} s ({handle['n_configs']} runs)")
    while True:
        task = session.client.call("GET", f"/tasks/{task_id}")
        if task["status"] in ("SUCCESS", "FAILURE"):
            break
        if time.perf_counter() - began > WAIT_S:
            raise RuntimeError(f"grid search {task_id} still {task['status']} after {WAIT_S} s")
        time.sleep(0.2)
    done = time.perf_counter() - began
    if task["status"] != "SUCCESS" or task["progress"]["succeeded"] != N_RUNS:
        raise RuntimeError(f"grid search {task_id} ended {task['status']}: {str(task)[:400]}")
    size = sum(len(chunk) for chunk in session.client.stream(f"/tasks/{task_id}/runs/parquet"))
    downloaded = time.perf_counter() - began
    session.say(f"  runs table: {size / 2**20:.1f} MB of Parquet")
    return done, downloaded, task["result"]


def vectorbt_broadcast(session: Session) -> float:
    """Seconds for the grid in vectorbt in this process, CHUNK_COLUMNS columns per from_signals call."""
    import vectorbt as vbt

    run = resolve_backtest({"strategy_id": "00000000-0000-4000-8000-000000000000", "config": DAILY_CONFIG})
    bars = stored_bars(session, run)
    close = bars["close"].astype(float)
    fast = np.arange(FAST["start"], FAST["stop"] + 1, FAST["step"])
    slow = np.arange(SLOW["start"], SLOW["stop"] + 1, SLOW["step"])
    pairs = np.array([(f, s) for f in fast for s in slow])
    # Warm vectorbt's numba code on a small call first, as the executors are warm.
    warm = vbt.MA.run(close, window=[5, 10]).ma.to_numpy()
    vbt.Portfolio.from_signals(close, warm > 0, warm < 0, init_cash=10_000.0, fees=0.001).value()
    began, cpu = time.perf_counter(), time.process_time()
    windows = np.unique(pairs)
    averages = vbt.MA.run(close, window=list(windows)).ma.to_numpy()
    column = {int(w): i for i, w in enumerate(windows)}
    trades = 0
    for lo in range(0, len(pairs), CHUNK_COLUMNS):
        chunk = pairs[lo : lo + CHUNK_COLUMNS]
        above = averages[:, [column[int(f)] for f in chunk[:, 0]]] > averages[:, [column[int(s)] for s in chunk[:, 1]]]
        portfolio = vbt.Portfolio.from_signals(
            close.to_numpy()[:, None], entries=above, exits=~above, init_cash=10_000.0, fees=0.001, freq="1D"
        )
        portfolio.value()
        trades += len(portfolio.trades.records)
        del portfolio, above
        gc.collect()
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    session.say(
        f"  vectorbt: {len(pairs):,} runs in {seconds:.2f} s, {cpu:.1f} CPU s ({trades:,} trades),"
        f" {CHUNK_COLUMNS} per call"
    )
    return seconds


def run(session: Session) -> None:
    """Times both, prints the peak RSS of every process, and adds the figures."""
    session.fleet.ensure(2)
    strategy_id = create_strategy(session.client, "grid search")
    me = psutil.Process()
    # Not its children: this process started the stack.
    with PeakRss({"bench (vectorbt in process)": me.pid}, children=False) as local:
        baseline = vectorbt_broadcast(session)
    before = cpu_usage.snapshot(session.stack)
    with PeakRss(_stack_pids(session)) as stack:
        done, downloaded, result = through_service(session, strategy_id)
    spent = cpu_usage.spent(before, cpu_usage.snapshot(session.stack))
    busy = ", ".join(f"{name} {seconds:.1f}" for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1]))
    session.say(f"  CPU seconds during the search (submit to table downloaded): {busy}")
    figures = result["overfitting"]
    session.say(
        f"  service: SUCCESS after {done:.2f} s, table downloaded at {downloaded:.2f} s;"
        f" PBO {figures['pbo']}, {figures['n_trials']} trials"
    )
    session.report.add(
        SECTION,
        Figure(
            f"{N_RUNS:,}-run grid, submit to SUCCESS",
            done,
            "s",
            baseline=baseline,
            baseline_label=f"vectorbt from_signals in process, {CHUNK_COLUMNS} columns a call",
            ratio=done / baseline,
            target=TARGET,
        ),
    )
    session.report.add(SECTION, Figure("... and the Parquet runs table downloaded", downloaded, "s"))
    peaks = {**stack.peaks, **local.peaks}
    for name in sorted(peaks, key=lambda n: -peaks[n]):
        if peaks[name] >= 20:
            session.report.add(
                SECTION,
                Figure(
                    f"peak RSS {name}",
                    peaks[name],
                    "MB",
                    baseline=float(RSS_LIMIT_MB),
                    baseline_label="the 1 GB limit",
                    ratio=peaks[name] / RSS_LIMIT_MB,
                    target=Target("<=", 1.0),
                ),
            )
