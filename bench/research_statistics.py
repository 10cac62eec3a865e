"""Issue 17's research statistics at full scale, in process (the stack plays no part).

- PBO by CSCV over T = 2520 bars (10 years daily) x N = 10,000
  configurations, S = 16 (12,870 combinations): seconds and peak memory
  traced beyond the input matrix. Baseline: the same statistic one
  combination at a time (the IS and OOS rows copied out, numpy Sharpe
  ratios of every configuration, scipy midranks), timed on a few
  combinations and scaled to all of them.
- The deflated Sharpe ratio of a 10,000-run leaderboard.
- A 10,000-combination crossover grid expanded and validated
  (build_grid_search). Baseline: the floor of validating each combination
  exactly, resolve_backtest on the 10,000 merged requests prepared beforehand.

`python -m bench.research_statistics` prints these figures alone.
"""

from __future__ import annotations

import itertools
import math
import statistics
import sys
import time
import tracemalloc
import uuid

import numpy as np
from scipy import stats

from bench.report import Figure, Report
from bench.workload import DAILY_CONFIG
from services.domain.backtest_overfitting import probability_of_backtest_overfitting
from services.domain.deflated_sharpe import deflated_sharpe_column
from services.domain.grid_search import build_grid_search
from services.domain.run_config import resolve_backtest
from services.domain.sweep import merge_override

SECTION = "research statistics"
BARS, CONFIGS, PARTITIONS = 2520, 10_000, 16
SAMPLED_COMBINATIONS = 6
GRID_REPEATS = 5
SPACE = {
    "signal_plugin_params.fast_period": {"start": 1, "stop": 100, "step": 1},
    "signal_plugin_params.slow_period": {"start": 101, "stop": 200, "step": 1},
}


def run(session) -> None:
    """The bench section: figures into the session's report."""
    measure(session.report, session.say)


def measure(report: Report, say) -> None:
    """Measures every figure of the module docstring into `report`; `say` prints progress."""
    rng = np.random.default_rng(17)
    returns = rng.normal(0.0003, 0.01, (BARS, CONFIGS))
    say(f"{SECTION}: PBO of {BARS} x {CONFIGS:,} returns, S = {PARTITIONS}")
    tracemalloc.start()
    began, cpu = time.perf_counter(), time.process_time()
    result = probability_of_backtest_overfitting(returns, partitions=PARTITIONS)
    took, cpu = time.perf_counter() - began, time.process_time() - cpu
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    naive = _one_at_a_time(returns) * result.n_combinations
    say(
        f"  {took:.2f} s ({cpu:.2f} s CPU), peak {peak:.0f} MB beyond the {returns.nbytes / 1e6:.0f} MB input;"
        f" PBO {result.pbo:.3f}"
    )
    label = f"PBO, T = {BARS}, N = {CONFIGS:,}, S = {PARTITIONS} ({result.n_combinations:,} combinations)"
    report.add(
        SECTION,
        Figure(label, took, "s", naive, "one combination at a time (scaled)", took / naive),
    )
    # CPU time as well: wall time on a loaded machine is mostly waiting (and OpenBLAS threads spin while they wait).
    report.add(SECTION, Figure("  its CPU time, all threads", cpu, "s"))
    report.add(SECTION, Figure("  its peak memory beyond the input matrix (tracemalloc)", peak, "MB"))

    moments = [rng.normal(0.02, 0.03, CONFIGS), np.full(CONFIGS, BARS - 1.0), rng.normal(0, 0.5, CONFIGS)]
    moments.append(1 + moments[2] ** 2 + rng.exponential(2, CONFIGS))
    began = time.perf_counter()
    deflated_sharpe_column(*moments)
    report.add(
        SECTION, Figure(f"deflated Sharpe ratio of a {CONFIGS:,}-run leaderboard", time.perf_counter() - began, "s")
    )

    strategy = str(uuid.uuid4())
    say(f"{SECTION}: a {CONFIGS:,}-combination grid search, validated {GRID_REPEATS} times")
    grid_times, floor_times = [], []
    for _ in range(GRID_REPEATS):
        began = time.perf_counter()
        search = build_grid_search(strategy, "vectorbt", DAILY_CONFIG, SPACE)
        grid_times.append(time.perf_counter() - began)
        requests = [
            {"strategy_id": strategy, "engine": "vectorbt", **merge_override(DAILY_CONFIG, r.overrides)}
            for r in search.runs
        ]
        began = time.perf_counter()
        for request in requests:
            resolve_backtest(request)
        floor_times.append(time.perf_counter() - began)
    grid, floor = statistics.median(grid_times), statistics.median(floor_times)
    report.add(
        SECTION,
        Figure(
            f"{CONFIGS:,}-combination grid expanded and validated (median of {GRID_REPEATS})",
            grid,
            "s",
            floor,
            "resolve_backtest alone",
            grid / floor,
        ),
    )


def _one_at_a_time(returns: np.ndarray) -> float:
    """Seconds per combination of the plain computation (the first SAMPLED_COMBINATIONS, median)."""
    blocks = np.array_split(np.arange(returns.shape[0]), PARTITIONS)
    times = []
    for chosen in itertools.islice(itertools.combinations(range(PARTITIONS), PARTITIONS // 2), SAMPLED_COMBINATIONS):
        began = time.perf_counter()
        in_sample = returns[np.concatenate([blocks[b] for b in chosen])]
        out_of_sample = returns[np.concatenate([blocks[b] for b in range(PARTITIONS) if b not in chosen])]
        winner = np.argmax(in_sample.mean(axis=0) / in_sample.std(axis=0, ddof=1))
        ranks = stats.rankdata(out_of_sample.mean(axis=0) / out_of_sample.std(axis=0, ddof=1))
        w = ranks[winner] / (returns.shape[1] + 1)
        math.log(w / (1 - w))
        times.append(time.perf_counter() - began)
    return statistics.median(times)


if __name__ == "__main__":
    alone = Report()
    measure(alone, print)
    alone.print(sys.stdout)
