"""One 10-year daily crossover: the in-process pipeline against a sync execute through the gateway.

In process: the same bars (read from the stack's object store, the Parquet
the executors read) and the same resolved config as the REST backtest;
`run_backtest` (signal + engine + metrics) timed after a warm-up, and the
engine call alone. Through the gateway: POST /execute {"async_mode": false}
on one backtest, on one keep-alive connection, after warm-up calls. Then
the floor under any durable sync execute (bench.durability_floor), against
the same baseline and target.
"""

from __future__ import annotations

import math
import time
import uuid

import pandas as pd

from bench import durability_floor
from bench.report import Figure, Target
from bench.session import Session
from bench.timing import Samples, repeat
from bench.workload import backtest_fields, create_backtest, create_strategy, execute_sync, stored_series
from services.adapters.engines import get_engine
from services.adapters.market_data import read_bars
from services.domain.run_config import ResolvedBacktest, resolve_backtest
from services.executor.pipeline import run_backtest, signal_for

SECTION = "execution"
ENGINES = ("vectorbt", "backtrader")
TARGET = {"vectorbt": Target("<=", 1.5)}  # backtrader is informational


def resolved_run(engine: str) -> ResolvedBacktest:
    """The REST backtest's config, resolved exactly as the executor resolves it."""
    return resolve_backtest(backtest_fields(str(uuid.uuid4()), engine))


def stored_bars(session: Session, run: ResolvedBacktest) -> pd.DataFrame:
    """The run's bars from the stack's object store (cached in the session)."""
    key = (run.config.symbol, run.config.timeframe)
    if key not in session.memo:
        session.memo[key] = stored_series(session.client, session.store, *key)
    return read_bars(session.memo[key], run.config.start, run.config.end)


def in_process(session: Session, engine: str) -> tuple[Samples, Samples, dict]:
    """(run_backtest samples, engine-only samples, metrics) for `engine`."""
    run = resolved_run(engine)
    bars = stored_bars(session, run)
    began = time.perf_counter()
    get_engine(engine).warm_up()
    session.say(f"  {engine}: warm-up in this process took {time.perf_counter() - began:.1f} s; {len(bars)} bars")
    outcome = run_backtest(run, bars)
    full = repeat(lambda: run_backtest(run, bars), times=session.options.runs)
    signal, spec = signal_for(run, bars), run.execution_spec()
    engine_only = repeat(lambda: get_engine(engine).run(bars, signal, spec), times=session.options.runs)
    return full, engine_only, outcome.metrics


def through_gateway(session: Session, engine: str) -> tuple[Samples, dict, str]:
    """(sync execute samples, last response metrics, backtest id) for `engine`."""
    strategy_id = session.memo.get("strategy") or create_strategy(session.client, "execution")
    session.memo["strategy"] = strategy_id
    backtest_id = create_backtest(session.client, strategy_id, engine)
    for _ in range(session.options.warm_up):
        execute_sync(session.client, backtest_id)
    seconds, last = [], {}
    for _ in range(session.options.runs):
        took, last = execute_sync(session.client, backtest_id)
        seconds.append(took)
    return Samples(seconds), last.get("metrics", {}), backtest_id


def _same_metrics(a: dict, b: dict) -> bool:
    keys = ("total_return", "trade_total_trades", "risk_max_drawdown")
    return all(math.isclose(float(a[k]), float(b[k]), rel_tol=1e-9, abs_tol=1e-12) for k in keys)


def run(session: Session) -> None:
    """Time a sync execute through the gateway on each engine against the same run in process, then the floor."""
    n = session.options.runs
    for engine in ENGINES:
        session.say(f"execution: {engine}")
        full, engine_only, metrics = in_process(session, engine)
        session.say(f"  in-process run_backtest: {full.describe()}")
        session.say(f"  in-process engine only:  {engine_only.describe()}")
        sync, rest_metrics, backtest_id = through_gateway(session, engine)
        session.say(f"  sync execute via gateway: {sync.describe()}")
        if not _same_metrics(metrics, rest_metrics):
            session.report.note(
                f"{engine}: REST metrics differ from the in-process run; the baseline may not be the same run"
            )
        session.memo[f"inproc:{engine}"] = full
        session.memo[f"sync:{engine}"] = sync
        session.memo[f"backtest:{engine}"] = backtest_id
        add = session.report.add
        add(
            SECTION,
            Figure(f"{engine} in-process run_backtest, signal+engine+metrics (median of {n})", full.median * 1e3, "ms"),
        )
        add(SECTION, Figure(f"{engine} in-process engine only (median of {n})", engine_only.median * 1e3, "ms"))
        add(
            SECTION,
            Figure(
                f"{engine} sync execute via gateway (median of {n})",
                sync.median * 1e3,
                "ms",
                baseline=full.median * 1e3,
                baseline_label="in-process",
                ratio=sync.median / full.median,
                target=TARGET.get(engine),
            ),
        )
    add_floor(session, session.memo["inproc:vectorbt"])


def add_floor(session: Session, inproc: Samples) -> None:
    """The durable floor under a vectorbt sync execute, against the same in-process baseline and target."""
    put, commit = durability_floor.measure(session)
    floor = inproc.median + put.median + commit.median
    session.say(f"  smallest S3 PUT: {put.describe()}; durable commit: {commit.describe()}")
    add = session.report.add
    add(SECTION, Figure(f"smallest S3 PUT, 1 kB (median of {len(put.seconds)})", put.median * 1e3, "ms"))
    add(SECTION, Figure(f"durable PostgreSQL commit (median of {len(commit.seconds)})", commit.median * 1e3, "ms"))
    add(
        SECTION,
        Figure(
            "floor of any durable sync execute: in-process run + smallest PUT + commit",
            floor * 1e3,
            "ms",
            baseline=inproc.median * 1e3,
            baseline_label="in-process",
            ratio=floor / inproc.median,
            target=TARGET["vectorbt"],
        ),
    )
