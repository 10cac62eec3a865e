"""How much faster two processes run backtrader than one, on this machine, right now.

The ceiling for a two-executor sweep: the same 10-year backtrader run, in
plain worker processes with no platform around them, once with one worker
and once with two. On a 2-core machine that also hosts the stack (and
perhaps other work) this is well below 2.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import time

from services.adapters.engines import get_engine
from services.adapters.market_data import read_bars
from services.domain.run_config import ResolvedBacktest
from services.executor.pipeline import run_backtest

_state: dict = {}


def _init(parquet: bytes, run: ResolvedBacktest) -> None:
    """Worker start: decode the bars once and warm the engine, as an executor does."""
    _state["bars"] = read_bars(parquet, run.config.start, run.config.end)
    _state["run"] = run
    get_engine(run.engine).warm_up()


def _one_run(_: int) -> float:
    began = time.perf_counter()
    run_backtest(_state["run"], _state["bars"])
    return time.perf_counter() - began


def _meet(barrier) -> None:
    barrier.wait(timeout=120)


def _timed(parquet: bytes, run: ResolvedBacktest, *, workers: int, runs: int) -> float:
    context = multiprocessing.get_context("spawn")  # no fork of a process holding gRPC and NATS threads
    with (
        context.Manager() as manager,
        concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=context, initializer=_init, initargs=(parquet, run)
        ) as pool,
    ):
        # Tasks that wait for each other occupy every worker at once: all have started and warmed up.
        barrier = manager.Barrier(workers)
        list(pool.map(_meet, [barrier] * workers))
        list(pool.map(_one_run, range(workers)))
        began = time.perf_counter()
        list(pool.map(_one_run, range(runs)))
        return time.perf_counter() - began


def speedup(parquet: bytes, run: ResolvedBacktest, *, runs: int) -> tuple[float, float]:
    """(seconds for `runs` runs on one worker process, on two), bars decoded from `parquet`."""
    return _timed(parquet, run, workers=1, runs=runs), _timed(parquet, run, workers=2, runs=runs)
