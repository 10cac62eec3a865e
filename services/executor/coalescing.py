"""Which queued jobs an executor computes together: one engine call, one pair of artifact files, one report.

An executor fetches up to EXECUTOR_COALESCE_JOBS queued jobs at once
(services.executor.worker). Single-run jobs of an engine that batches
(services.domain.engines) whose runs share bars (the same stored series,
symbol, timeframe and dates) and signal inputs (logic version, model-output
series) are exactly what `simulate_batch` takes: they are computed as one
batch, as a sweep's runs are. Anything else (a sweep's job, a job of an
engine that does not batch, a job on its last delivery) runs on its own, as
before. No job waits for others to arrive: a fetch returns what is queued
at that moment, so coalescing happens only when jobs are queued behind busy
executors, which is when it pays.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

from services.adapters import json_codec
from services.adapters.bus import Job
from services.domain.engines import descriptor
from services.domain.run_config import ResolvedBacktest

T = TypeVar("T")

# A coalesced batch computes at most this many run x bar cells per engine call: ten-year
# daily runs (2,520 bars) coalesce by the dozen, million-bar runs go one at a time, as a
# sweep's broadcast of them would be cut into jobs.
MAX_BATCH_CELLS = 2_000_000


def may_coalesce(job: Job) -> bool:
    """Whether `job` may be computed with others: one run, on an engine that batches."""
    return len(job.backtest_ids) == 1 and len(job.runs) == 1 and descriptor(job.engine).batching


def batch_key(job: Job, run: ResolvedBacktest) -> Hashable:
    """Jobs with equal keys can share bars, signal inputs and one `simulate_batch` call."""
    c = run.config
    inputs = json_codec.dumps([job.signal_logic, job.series]) if job.signal_logic or job.series else b""
    return (run.engine, job.bars_uri, job.bars_sha256, c.symbol, c.timeframe, c.start, c.end, inputs)


def grouped(items: Sequence[T], keys: Sequence[Hashable]) -> list[list[T]]:
    """`items` grouped by equal key, in order of first appearance, each group in order."""
    groups: dict[Hashable, list[T]] = {}
    for item, key in zip(items, keys, strict=True):
        groups.setdefault(key, []).append(item)
    return list(groups.values())


def chunks(items: Sequence[T], n_bars: int) -> list[Sequence[T]]:
    """`items` cut so that no chunk computes more than MAX_BATCH_CELLS cells over `n_bars` bars."""
    size = max(1, MAX_BATCH_CELLS // max(1, n_bars))
    return [items[i : i + size] for i in range(0, len(items), size)]
