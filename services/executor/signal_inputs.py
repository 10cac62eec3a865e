"""What a job's runs need for their signals besides bars: the signal logic version and the model-output series.

The job carries the logic version's tree and the location of each series
its runs read (the catalog looked them up when it queued the job). Each
series is read for the job's symbol, checked to cover the bars, and aligned
to them as of each bar (services.domain.expressions.series). A series that
is not stored, or does not cover the run, fails the run with a reason that
names it and the gap.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from services.adapters.bus import Job
from services.adapters.signal_series_files import read_symbol
from services.domain.errors import ValidationError
from services.domain.expressions.series import align_series, check_coverage
from services.domain.run_config import ResolvedBacktest
from services.domain.signal_logic import LogicVersion, series_read_by
from services.executor.bars import BarCache
from services.executor.pipeline import SignalInputs


class SignalInputFailed(Exception):
    """The runs cannot have their signal (no logic carried, a series missing or short); the reason is for users."""


def signal_inputs(job: Job, runs: Sequence[ResolvedBacktest], bars: pd.DataFrame, cache: BarCache) -> SignalInputs:
    """The job's signal logic and aligned series (blocking: reads the store; call from a worker thread).

    cache: the cache of series files, by (uri, sha256).
    """
    logic = LogicVersion.from_job(job.signal_logic) if job.signal_logic else None
    if logic is None and any(run.config.signal_logic_id is not None for run in runs):
        raise SignalInputFailed("the job carries no signal logic for its runs (queued by an older catalog?)")
    names = sorted({name for run in runs for name in series_read_by(run.config, logic)})
    symbol = runs[0].config.symbol
    aligned = {}
    for name in names:
        location = job.series.get(name)
        if location is None:
            raise SignalInputFailed(f"series {name!r} is not stored: upload it with PUT /api/v1/signal-series/{name}")
        stamps, values = read_symbol(cache.series(location["uri"], location["sha256"]), symbol)
        try:
            check_coverage(name, stamps, bars.index, field=f"series {name}")
        except ValidationError as err:
            raise SignalInputFailed(f"{err.violations[0].description} (symbol {symbol})") from None
        aligned[name] = align_series(stamps, values, bars.index)
    return SignalInputs(logic=logic, series=aligned)
