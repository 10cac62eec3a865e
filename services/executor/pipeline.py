"""One backtest run in process: signal, engine, metrics. No I/O.

This is the whole computation an executor performs for a job; the benchmark
times it directly as the in-process baseline.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from services.adapters.engines import get_engine
from services.domain.engines import descriptor
from services.domain.execution import EngineResult
from services.domain.metrics import compute_metrics
from services.domain.run_config import ResolvedBacktest
from services.domain.signals import get_plugin


@dataclass
class RunOutcome:
    """An engine result with its flat metrics."""

    result: EngineResult
    metrics: dict


def signal_for(run: ResolvedBacktest, bars: pd.DataFrame) -> np.ndarray:
    """The plugin's target-exposure series for `run` over `bars`."""
    config = run.config
    return get_plugin(config.signal_plugin_key).compute(bars, config.signal_plugin_params)


def signals_for(runs: list[ResolvedBacktest], bars: pd.DataFrame) -> list[np.ndarray]:
    """Each run's signal over `bars`; runs of one plugin are computed together, sharing its intermediate series."""
    by_plugin: dict[str, list[int]] = defaultdict(list)
    for index, run in enumerate(runs):
        by_plugin[run.config.signal_plugin_key].append(index)
    signals: list[np.ndarray] = [np.empty(0)] * len(runs)
    for key, indices in by_plugin.items():
        computed = get_plugin(key).compute_many(bars, [runs[i].config.signal_plugin_params for i in indices])
        for index, signal in zip(indices, computed, strict=True):
            signals[index] = signal
    return signals


def _outcome(run: ResolvedBacktest, result: EngineResult) -> RunOutcome:
    config = run.config
    metrics = compute_metrics(result, bars_per_year=config.bars_per_year, risk_free_rate=config.risk_free_rate)
    return RunOutcome(result, metrics)


def run_backtest(run: ResolvedBacktest, bars: pd.DataFrame) -> RunOutcome:
    """Runs one resolved backtest over `bars` on its engine.

    run: the validated backtest with its resolved config.
    bars: OHLCV bars of the run's symbol, timeframe and date range.
    """
    result = get_engine(run.engine).run(bars, signal_for(run, bars), run.execution_spec())
    return _outcome(run, result)


def run_batch(runs: list[ResolvedBacktest], bars: pd.DataFrame) -> list[RunOutcome]:
    """Runs backtests that share bars and engine; vectorbt does them in one broadcast call.

    runs: resolved backtests with the same engine, symbol, timeframe and dates.
    bars: their common bars.
    """
    engine = get_engine(runs[0].engine)
    if len(runs) > 1 and descriptor(runs[0].engine).batching:
        results = engine.run_many(bars, signals_for(runs, bars), [r.execution_spec() for r in runs])
        return [_outcome(r, res) for r, res in zip(runs, results, strict=True)]
    return [run_backtest(r, bars) for r in runs]
