"""One backtest run in process: signal, engine, metrics. No I/O.

This is the whole computation an executor performs for a job; the benchmark
times it directly as the in-process baseline.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from services.adapters.engines import get_engine
from services.domain.backtest_overfitting import return_blocks, return_blocks_many
from services.domain.engines import descriptor
from services.domain.execution import EngineResult
from services.domain.metrics import metrics_and_excess, metrics_and_excess_many
from services.domain.run_config import ResolvedBacktest
from services.domain.signal_logic import LogicVersion
from services.domain.signals import SignalContext
from services.executor.plugins import all_plugins


@dataclass
class RunOutcome:
    """An engine result with its flat metrics.

    blocks: per-block (sums, sums of squares) of its per-bar excess returns,
    for the probability of backtest overfitting of a search; None when it
    has fewer returns than blocks.
    """

    result: EngineResult
    metrics: dict
    blocks: tuple[list[float], list[float]] | None = None


@dataclass(frozen=True)
class SignalInputs:
    """What a job gives its runs' signals besides bars and parameters.

    logic: the signal logic version its runs use (the job carries the tree); None for plugin runs.
    series: the model-output series its runs read, each aligned to the bars, by name.
    """

    logic: LogicVersion | None = None
    series: Mapping[str, np.ndarray] = field(default_factory=dict)


NO_INPUTS = SignalInputs()


def signal_for(run: ResolvedBacktest, bars: pd.DataFrame, inputs: SignalInputs = NO_INPUTS) -> np.ndarray:
    """The target-exposure series of one run over `bars`."""
    return signals_for([run], bars, inputs)[0]


def signals_for(runs: list[ResolvedBacktest], bars: pd.DataFrame, inputs: SignalInputs = NO_INPUTS) -> list[np.ndarray]:
    """Each run's signal over `bars`.

    Runs of one plugin (or one signal logic) and one shorting rule are computed together,
    sharing their indicators and intermediate series.
    """
    groups: dict[tuple, list[int]] = defaultdict(list)
    for index, run in enumerate(runs):
        groups[(run.config.signal_source, run.config.allow_short)].append(index)
    signals: list[np.ndarray] = [np.empty(0)] * len(runs)
    for ((kind, key), allow_short), indices in groups.items():
        params = [runs[i].config.signal_plugin_params for i in indices]
        if kind == "logic":
            computed = inputs.logic.parse().exposure_many(bars, params, series=inputs.series)
        else:
            context = SignalContext(allow_short=allow_short, series=inputs.series)
            computed = all_plugins()[key].compute_many(bars, params, context=context)
        for index, signal in zip(indices, computed, strict=True):
            signals[index] = signal
    return signals


def _outcome(run: ResolvedBacktest, result: EngineResult) -> RunOutcome:
    config = run.config
    metrics, excess = metrics_and_excess(
        result, bars_per_year=config.bars_per_year, risk_free_rate=config.risk_free_rate
    )
    return RunOutcome(result, metrics, return_blocks(excess))


def run_backtest(run: ResolvedBacktest, bars: pd.DataFrame, inputs: SignalInputs = NO_INPUTS) -> RunOutcome:
    """Runs one resolved backtest over `bars` on its engine.

    run: the validated backtest with its resolved config.
    bars: OHLCV bars of the run's symbol, timeframe and date range.
    inputs: its signal logic and series, when it uses them.
    """
    result = get_engine(run.engine).run(bars, signal_for(run, bars, inputs), run.execution_spec())
    return _outcome(run, result)


def simulate_batch(
    runs: list[ResolvedBacktest], bars: pd.DataFrame, inputs: SignalInputs = NO_INPUTS
) -> list[EngineResult]:
    """Runs backtests that share bars and engine; an engine that batches does them in one call.

    runs: resolved backtests with the same engine, symbol, timeframe and dates.
    bars: their common bars.
    inputs: their signal logic and series, when they use them.
    Returns each run's engine result, in order; `outcomes` adds the metrics
    (the executor computes them while the artifacts upload).
    """
    engine = get_engine(runs[0].engine)
    if len(runs) > 1 and descriptor(runs[0].engine).batching:
        return engine.run_many(bars, signals_for(runs, bars, inputs), [r.execution_spec() for r in runs])
    return [engine.run(bars, signal_for(r, bars, inputs), r.execution_spec()) for r in runs]


def outcomes(runs: list[ResolvedBacktest], results: list[EngineResult]) -> list[RunOutcome]:
    """Each run's result with its metrics.

    Runs that share their bars' count and the metrics' settings (a broadcast
    batch: a grid search's job) are measured together (metrics_and_excess_many,
    the same values as one at a time).
    """
    groups: dict[tuple, list[int]] = defaultdict(list)
    for index, (run, result) in enumerate(zip(runs, results, strict=True)):
        config = run.config
        groups[(config.bars_per_year, config.risk_free_rate, len(result.equity))].append(index)
    measured: list[RunOutcome | None] = [None] * len(runs)
    for (bars_per_year, risk_free_rate, n_bars), indices in groups.items():
        if len(indices) < 2 or n_bars < 3:
            for i in indices:
                measured[i] = _outcome(runs[i], results[i])
            continue
        group = [results[i] for i in indices]
        metrics, excess = metrics_and_excess_many(group, bars_per_year=bars_per_year, risk_free_rate=risk_free_rate)
        blocks = return_blocks_many(excess) or [None] * len(indices)
        for i, flat, block in zip(indices, metrics, blocks, strict=True):
            measured[i] = RunOutcome(results[i], flat, block)
    return measured
