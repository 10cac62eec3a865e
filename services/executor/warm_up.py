"""Everything a first job would otherwise pay for, done before the executor says it is ready.

Engines compile their numba code; the signal plugins, the metrics and the
Parquet writer run once on tiny data; the catalog channel connects and the
object store answers once. The first real job then runs at steady-state speed.
"""

from __future__ import annotations

import asyncio
import logging
import time

import grpc
import numpy as np
import pandas as pd

from services.adapters.object_store import ObjectStore
from services.domain.execution import ExecutionSpec
from services.domain.metrics import compute_metrics
from services.domain.signals import PLUGINS
from services.executor.artifacts import equity_frame, parquet_bytes, trades_frame
from services.executor.engines import get_engine

log = logging.getLogger(__name__)


def _tiny_bars(n: int = 300) -> pd.DataFrame:
    close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, n)))
    index = pd.bdate_range("2020-01-01", periods=n)
    return pd.DataFrame({"open": close, "high": close * 1.01, "low": close * 0.99, "close": close, "volume": 1.0}, index=index)


def warm_pipeline(engines: tuple[str, ...]) -> None:
    """Compiles the engines and runs plugins, metrics and the artifact encoders once (blocking)."""
    bars = _tiny_bars()
    for name in engines:
        engine = get_engine(name)
        engine.warm_up()
        for plugin in PLUGINS.values():
            result = engine.run(bars, plugin.compute(bars, {}), ExecutionSpec())
            compute_metrics(result, bars_per_year=252, risk_free_rate=0.0)
        parquet_bytes(equity_frame(result), index=True)
        parquet_bytes(trades_frame(result), index=False)


async def warm_up(engines: tuple[str, ...], *, channel: grpc.aio.Channel, store: ObjectStore) -> None:
    """Runs the warm-up and opens the catalog and object-store connections; logs what each took."""
    started = time.perf_counter()
    await asyncio.to_thread(warm_pipeline, engines)
    log.info("engines warm", extra={"engines": list(engines), "seconds": round(time.perf_counter() - started, 3)})
    try:
        await asyncio.wait_for(channel.channel_ready(), timeout=10)
    except asyncio.TimeoutError:  # the catalog may start later; jobs wait for it anyway
        log.warning("catalog not reachable yet")
    await asyncio.to_thread(store.ensure_bucket)
