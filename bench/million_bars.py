"""Million-bar runs: a sync execute against vectorbt's own Portfolio, where the time goes, and a 10,000,000-bar run.

Baseline (in this process, on the bars the executors read from the store):
`vectorbt.Portfolio.from_signals` on the 10/50 moving-average crossover's
entries and exits, then `value()` and the trade records
(`pf.trades.records`), the seed's capital, fees and slippage. The entries and
exits are computed before the clock starts, so the baseline holds no signal
work while the platform's figure does.

Platform: POST /execute {"async_mode": false} through the gateway on one
backtest over every SYNTH1M bar, after one warm-up call, median of `runs`.
Its parts are timed in this process on the same bars (signal, engine,
metrics, artifact encoding), and the floor under any durable sync execute
of this run is printed beside the target: the executor's critical path,
signal, engine, then the equity file encoded and PUT (the metrics compute
alongside), then one durable commit.

The 10,000,000-bar run goes through POST /execute/async and polls the
backtest; the executor's peak RSS is VmHWM of /proc/<pid>/status of the
single executor that ran it (the fleet has one executor when this section
runs). Its series (about 250 MB of Parquet) goes in as a user's would: a
streamed PUT /api/v1/market-data/{symbol}/1m through the gateway.
"""

from __future__ import annotations

import os
import statistics
import time
import uuid

import httpx
import pandas as pd

from bench import commit_latency, cpu_usage
from bench.downloads import SYMBOL, TIMEFRAME, minute_config
from bench.report import Figure, Target
from bench.session import Session
from bench.timing import Samples, repeat
from bench.workload import backtest_fields, create_backtest, create_strategy, execute_sync, stored_series
from services.adapters.engines import get_engine
from services.adapters.market_data import PARQUET_TYPE, bars_to_parquet, read_bars
from services.domain.run_config import ResolvedBacktest, resolve_backtest
from services.executor.artifacts import equity_parquet, trades_parquet
from services.executor.pipeline import _outcome, signal_for

SECTION = "million-bar runs (vectorbt crossover, 1,000,350 one-minute bars)"
TARGET = Target("<=", 0.6)
BIG_SYMBOL, BIG_BARS = "SYNTH10M", 10_000_000
POLL_S = 0.25
UPLOAD_PIECE = 1 << 20


def vectorbt_portfolio(bars: pd.DataFrame, run: ResolvedBacktest):
    """A callable doing what a vectorbt user does for this run: from_signals, value(), trade records."""
    import vectorbt as vbt

    params = run.config.signal_plugin_params
    close = bars["close"]
    fast = vbt.MA.run(close, params["fast_period"])
    slow = vbt.MA.run(close, params["slow_period"])
    entries, exits = fast.ma_crossed_above(slow), fast.ma_crossed_below(slow)
    spec = run.execution_spec()

    def portfolio():
        pf = vbt.Portfolio.from_signals(
            close, entries, exits, init_cash=spec.initial_capital, fees=spec.commission, slippage=spec.slippage
        )
        return pf.value(), pf.trades.records

    return portfolio


def _parts(session: Session, run: ResolvedBacktest, bars: pd.DataFrame) -> dict[str, Samples]:
    """The executor's computation on these bars, part by part, in this process."""
    engine = get_engine(run.engine)
    engine.warm_up()
    n = session.options.runs
    spec = run.execution_spec()
    signal = signal_for(run, bars)
    result = engine.run(bars, signal, spec)
    return {
        "signal (crossover_signal)": repeat(lambda: signal_for(run, bars), times=n, warm_up=1),
        "engine (vectorbt simulation + trade columns)": repeat(lambda: engine.run(bars, signal, spec), times=n),
        "metrics": repeat(lambda: _outcome(run, result), times=n),
        "equity Parquet encode": repeat(lambda: equity_parquet(result), times=n),
        "trades Parquet encode": repeat(lambda: trades_parquet(result), times=n),
    }


def cpu_median(fn, times: int) -> float:
    """Median CPU seconds of this process over `times` calls of `fn` (after one untimed call)."""
    fn()
    spent = []
    for _ in range(times):
        began = time.process_time()
        fn()
        spent.append(time.process_time() - began)
    return statistics.median(spent)


def _put(session: Session, size: int) -> Samples:
    """PUTs of `size` bytes to the artifact bucket (one key, removed afterwards)."""
    key, data = f"bench/million-{uuid.uuid4().hex}", os.urandom(size)
    try:
        return repeat(lambda: session.store.put_bytes(key, data), times=session.options.runs, warm_up=1)
    finally:
        session.store.remove(key)


def million(session: Session) -> None:
    """The 1,000,350-bar sync execute against vectorbt's Portfolio, its parts and its floor."""
    add, n = session.report.add, session.options.runs
    series = session.client.call("GET", f"/market-data/{SYMBOL}/{TIMEFRAME}")
    config = minute_config(series)
    run = resolve_backtest(backtest_fields(str(uuid.uuid4()), "vectorbt", config))
    bars = read_bars(stored_series(session.client, session.store, SYMBOL, TIMEFRAME))
    session.say(f"million bars: {len(bars):,} bars; vectorbt Portfolio baseline in process")
    portfolio = vectorbt_portfolio(bars, run)
    baseline = repeat(portfolio, times=n, warm_up=1)
    baseline_cpu = cpu_median(portfolio, n)
    session.say(f"  Portfolio.from_signals + value() + trades.records: {baseline.describe()}")
    parts = _parts(session, run, bars)
    for name, samples in parts.items():
        session.say(f"  in process, {name}: {samples.describe()}")

    if not session.fleet.names():
        session.fleet.ensure(1)
    strategy_id = create_strategy(session.client, "million bars")
    backtest_id = create_backtest(session.client, strategy_id, "vectorbt", config)
    execute_sync(session.client, backtest_id)  # warm-up: the executor caches the bars
    before = cpu_usage.snapshot(session.stack)
    sync = Samples([execute_sync(session.client, backtest_id)[0] for _ in range(n)])
    used = cpu_usage.spent(before, cpu_usage.snapshot(session.stack))
    stack_cpu = {name: seconds / n for name, seconds in used.items() if name not in ("bench", "machine", "other")}
    platform_cpu = sum(stack_cpu.values())
    shares = ", ".join(f"{name} {seconds * 1e3:.0f}" for name, seconds in sorted(stack_cpu.items()) if seconds >= 5e-4)
    session.say(f"  sync execute via gateway: {sync.describe()}")

    equity_bytes = len(equity_parquet(get_engine("vectorbt").run(bars, signal_for(run, bars), run.execution_spec())))
    put = _put(session, equity_bytes)
    _, commit = commit_latency.of_session(session)
    median = {name: samples.median for name, samples in parts.items()}
    # The executor's critical path: signal -> engine -> (equity encode -> PUT, the trades
    # file and the metrics alongside) -> commit. The trades file is far the smaller.
    encode_put = median["equity Parquet encode"] + put.median
    floor = median["signal (crossover_signal)"] + median["engine (vectorbt simulation + trade columns)"]
    floor += max(encode_put, median["metrics"]) + commit.median

    add(
        SECTION,
        Figure(
            f"vectorbt Portfolio.from_signals + value() + trades.records in process (median of {n})",
            baseline.median * 1e3,
            "ms",
        ),
    )
    add(
        SECTION,
        Figure(
            f"CPU of the stack per sync execute (every process summed; {shares} ms)",
            platform_cpu * 1e3,
            "ms",
            baseline=baseline_cpu * 1e3,
            baseline_label="Portfolio CPU",
            ratio=platform_cpu / baseline_cpu,
        ),
    )
    for name, samples in parts.items():
        add(
            SECTION,
            Figure(
                f"  in process: {name} (median of {n})",
                samples.median * 1e3,
                "ms",
                baseline=baseline.median * 1e3,
                baseline_label="Portfolio",
                ratio=samples.median / baseline.median,
            ),
        )
    add(
        SECTION,
        Figure(f"  PUT of {equity_bytes / 1e6:.1f} MB (the equity file's size; median of {n})", put.median * 1e3, "ms"),
    )
    add(SECTION, Figure("  durable PostgreSQL commit", commit.median * 1e3, "ms"))
    add(
        SECTION,
        Figure(
            "floor of a durable sync execute: signal + engine + max(metrics, equity encode + PUT) + commit",
            floor * 1e3,
            "ms",
            baseline=baseline.median * 1e3,
            baseline_label="Portfolio",
            ratio=floor / baseline.median,
            target=TARGET,
        ),
    )
    add(
        SECTION,
        Figure(
            f"sync execute via gateway over {series['rows']:,} bars (median of {n})",
            sync.median * 1e3,
            "ms",
            baseline=baseline.median * 1e3,
            baseline_label="Portfolio",
            ratio=sync.median / baseline.median,
            target=TARGET,
        ),
    )


def _import_big(session: Session) -> dict:
    """Uploads a BIG_BARS-bar minute series through the API, streamed; returns its summary."""
    from services.catalog.sample_data import minute_bars

    began = time.perf_counter()
    data = bars_to_parquet(minute_bars(BIG_BARS, "2025-12-31", seed=11))
    pieces = (data[i : i + UPLOAD_PIECE] for i in range(0, len(data), UPLOAD_PIECE))
    url = f"{session.stack.gateway_url}/api/v1/market-data/{BIG_SYMBOL}/1m"
    with httpx.Client(timeout=None) as http:
        response = http.put(url, content=pieces, headers={"content-type": PARQUET_TYPE})
    response.raise_for_status()
    session.say(f"  imported {BIG_SYMBOL} ({len(data) / 1e6:.0f} MB Parquet) in {time.perf_counter() - began:.1f} s")
    return response.json()


def _peak_rss_mb(pid: int) -> float:
    """VmHWM of process `pid`, in MB (10^6 bytes)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6
    return float("nan")


def ten_million(session: Session) -> None:
    """One vectorbt crossover over BIG_BARS bars, submitted async; its time and the executor's peak RSS."""
    session.say(f"million bars: a {BIG_BARS:,}-bar run")
    session.fleet.ensure(1)
    (name,) = session.fleet.names()
    pid = next(c.pid for c in session.stack.supervisor.children if c.name == name)
    series = _import_big(session)
    config = {**minute_config(series), "symbol": BIG_SYMBOL}
    backtest_id = create_backtest(
        session.client, create_strategy(session.client, "ten million bars"), "vectorbt", config
    )
    before = _peak_rss_mb(pid)
    began = time.perf_counter()
    session.client.call("POST", f"/backtests/{backtest_id}/execute/async", {}, expect=(200, 201, 202))
    status = "pending"
    while status in ("pending", "running"):
        time.sleep(POLL_S)
        status = session.client.call("GET", f"/backtests/{backtest_id}")["status"]
    took = time.perf_counter() - began
    peak = _peak_rss_mb(pid)
    session.say(f"  {series['rows']:,} bars: {status} after {took:.1f} s; executor peak RSS {peak:.0f} MB")
    if status != "completed":
        session.report.note(f"the {BIG_BARS:,}-bar run ended {status}")
    add = session.report.add
    add(SECTION, Figure(f"{series['rows']:,}-bar run, execute/async -> completed seen (poll {POLL_S} s)", took, "s"))
    add(SECTION, Figure(f"  executor peak RSS (VmHWM; {before:.0f} MB before the run)", peak, "MB"))


def run(session: Session) -> None:
    """The million-bar figures, then the ten-million-bar run."""
    million(session)
    ten_million(session)
