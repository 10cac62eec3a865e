"""How a sweep's runs are cut into jobs: the planner's one decision, without I/O.

Runs whose engine batches (services.domain.engines) and that share symbol,
timeframe, dates and signal plugin can share bars and one engine call, so
they travel together; batches are cut so that every live executor offering
the engine gets a share. Runs of an engine that does not batch go one job
each, and the fleet spreads them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

from services.domain.engines import descriptor
from services.domain.run_config import ResolvedBacktest


def batch_key(run: ResolvedBacktest) -> tuple:
    """Runs with equal keys can share bars, signal work and one broadcast engine call."""
    c = run.config
    return (c.symbol, c.timeframe, c.start_date, c.end_date, c.signal_source)


# A grid search's batches stop here: a job message of this many run configs
# stays well under NATS's 1 MB payload, its CompleteRuns under gRPC's 4 MB,
# and its broadcast (a few bars x runs float arrays) in tens of MB.
MAX_BATCH_RUNS = 500


def plan_jobs(
    ids: Sequence[str], runs: Sequence[ResolvedBacktest], *, workers: int, max_batch: int | None = None
) -> list[list[str]]:
    """Groups backtest ids into jobs, in grid order within each job.

    ids: backtest ids, parallel to `runs`.
    runs: the resolved runs, all of one engine.
    workers: live executors offering that engine; fewer than 1 counts as 1.
    max_batch: most runs in one job (a grid search's MAX_BATCH_RUNS); None for no bound.
    """
    if not runs:
        return []
    if not descriptor(runs[0].engine).batching:
        return [[backtest_id] for backtest_id in ids]
    groups: dict[tuple, list[str]] = defaultdict(list)
    for backtest_id, run in zip(ids, runs, strict=True):
        groups[batch_key(run)].append(backtest_id)
    jobs = []
    for members in groups.values():
        size = math.ceil(len(members) / max(1, workers))
        if max_batch is not None:
            size = min(size, max_batch)
        jobs += [members[i : i + size] for i in range(0, len(members), size)]
    return jobs
