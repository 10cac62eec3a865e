"""Everything a first job would otherwise pay for, done before the executor says it is ready.

Engines compile their numba code; the bar decoder, the signal plugins, the
metrics and the Parquet writers run once on tiny data; the catalog channel
connects and each run report is sent once, covering no runs; the object
store answers, with as many pooled connections as a job's concurrent
uploads use; and the smallest stored bar series are prefetched into the bar
cache, so the first job over one of them skips the download and the decode.
The first real job then runs at steady-state speed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent import futures

import grpc
import numpy as np
import pandas as pd

from backtest.v1 import run_report_pb2 as rr
from backtest.v1.run_report_pb2_grpc import RunReportServiceStub
from services.adapters.engines import get_engine
from services.adapters.market_data import bars_to_parquet, read_bars
from services.adapters.object_store import ObjectStore
from services.domain.execution import ExecutionSpec
from services.domain.metrics import compute_metrics
from services.executor.artifacts import equity_parquet, trades_parquet, warm_uploads
from services.executor.bars import BarCache
from services.executor.plugins import all_plugins

log = logging.getLogger(__name__)


def _tiny_bars(n: int = 300) -> pd.DataFrame:
    """Bars as a job gets them: stored as Parquet, then decoded (the process's first decode is the slow one)."""
    close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, n)))
    stamps = pd.bdate_range("2020-01-01", periods=n)
    frame = pd.DataFrame(
        {"timestamp": stamps, "open": close, "high": close * 1.01, "low": close * 0.99, "close": close, "volume": 1.0}
    )
    return read_bars(bars_to_parquet(frame))


def warm_pipeline(engines: tuple[str, ...]) -> None:
    """Compiles the engines and runs the bar decoder, plugins, metrics and the artifact encoders once (blocking)."""
    bars = _tiny_bars()
    for name in engines:
        engine = get_engine(name)
        engine.warm_up()
        for plugin in all_plugins().values():
            # compute_many, as jobs call it: a plugin's compiled loops may be there only.
            result = engine.run(bars, plugin.compute_many(bars, [plugin.example])[0], ExecutionSpec())
            compute_metrics(result, bars_per_year=252, risk_free_rate=0.0)
        equity_parquet(result)
        trades_parquet(result)
    warm_uploads()


def open_connections(store: ObjectStore, count: int = 2) -> None:
    """`count` requests to the store at once (blocking), so its client pools a connection for each.

    A job uploads its two artifacts concurrently; without this its first
    upload pays for opening (and with TLS, negotiating) the second connection.
    """
    start = threading.Barrier(count)

    def request() -> None:
        start.wait(timeout=5)
        store.client.bucket_exists(store.bucket)

    with futures.ThreadPoolExecutor(count - 1, thread_name_prefix="warm-s3") as pool:
        others = [pool.submit(request) for _ in range(count - 1)]
        request()
        for other in others:
            other.result()


def prefetch_bars(bars: BarCache, budget_bytes: int) -> None:
    """Loads the smallest stored series into `bars` (blocking); a failure is only a warning."""
    started = time.perf_counter()
    try:
        loaded = bars.prefetch(budget_bytes)
    except Exception as err:  # noqa: BLE001 - jobs load their bars anyway, only slower
        log.warning("bar prefetch failed", extra={"error": repr(err)})
        return
    log.info(
        "bars prefetched",
        extra={"series": len(loaded), "budget_bytes": budget_bytes, "seconds": round(time.perf_counter() - started, 3)},
    )


async def warm_reports(reporter: RunReportServiceStub) -> None:
    """Sends each report a job sends, covering no runs.

    The first job's reports then find warm client methods, an open HTTP/2
    stream path and the catalog's handlers and statements compiled.
    """
    await reporter.StartRuns(rr.StartRunsRequest(), timeout=10)
    await reporter.CompleteRuns(rr.CompleteRunsRequest(), timeout=10)


async def warm_up(
    engines: tuple[str, ...],
    *,
    channel: grpc.aio.Channel,
    store: ObjectStore,
    reporter: RunReportServiceStub | None = None,
    bars: BarCache | None = None,
    prefetch_bytes: int = 0,
) -> None:
    """Runs the warm-up, opens the catalog and object-store connections and prefetches bars; logs what each took.

    engines: engines to compile.
    channel: the catalog channel, connected here.
    reporter: the worker's RunReportService stub on that channel, warmed here; None skips it.
    store: the object store, whose bucket is created when missing.
    bars: the worker's bar cache, to prefetch into; None skips the prefetch.
    prefetch_bytes: stored bytes of series to prefetch at most; 0 skips the prefetch.
    """
    started = time.perf_counter()
    await asyncio.to_thread(warm_pipeline, engines)
    log.info("engines warm", extra={"engines": list(engines), "seconds": round(time.perf_counter() - started, 3)})
    try:
        await asyncio.wait_for(channel.channel_ready(), timeout=10)
        if reporter is not None:
            await warm_reports(reporter)
    except (TimeoutError, grpc.RpcError):  # the catalog may start later; jobs wait for it anyway
        log.warning("catalog not reachable yet")
    await asyncio.to_thread(store.ensure_bucket)
    if bars is not None and prefetch_bytes > 0:
        await asyncio.to_thread(prefetch_bars, bars, prefetch_bytes)
    try:
        await asyncio.to_thread(open_connections, store)
    except Exception as err:  # noqa: BLE001 - the store answered ensure_bucket; this is only an optimisation
        log.warning("object store connections not opened", extra={"error": repr(err)})
