"""A coalesced batch's metrics are measured together, each run's as it would be alone, and a failing run fails alone."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from services.domain.execution import EngineResult, Trade
from services.executor import worker
from services.executor.pipeline import RunOutcome, outcomes


def _run(bars_per_year: int = 252, risk_free_rate: float = 0.04) -> SimpleNamespace:
    """What the metrics read of a resolved run: its config's bars a year and risk-free rate."""
    return SimpleNamespace(config=SimpleNamespace(bars_per_year=bars_per_year, risk_free_rate=risk_free_rate))


def _results(n_runs: int, n_bars: int = 2516) -> list[EngineResult]:
    rng = np.random.default_rng(7)
    index = pd.date_range("2014-01-02", periods=n_bars, freq="B")
    results = []
    for i in range(n_runs):
        held = rng.random(n_bars) < 0.6
        equity = 100_000.0 * np.cumprod(1.0 + np.where(held, rng.normal(0.0004, 0.012, n_bars), 0.0))
        if i == 2:
            equity[:] = 100_000.0  # never in the market: ratios undefined
        position = np.where(held, 10.0, 0.0)
        day = index[0]
        trades = [Trade(day, day, "long", 10.0, 11.0, 1.0, 1.0, 0.1, "closed")] * (i % 3)
        results.append(EngineResult(pd.Series(equity, index=index), pd.Series(position, index=index), trades, 1e5))
    return results


def _delivery(i: int) -> SimpleNamespace:
    return SimpleNamespace(context={"job_id": f"job-{i}"})


def _same_outcome(got: RunOutcome, want: RunOutcome) -> None:
    assert got.result is want.result
    assert list(got.metrics) == list(want.metrics)
    for key, value in want.metrics.items():
        assert type(got.metrics[key]) is type(value)
        assert got.metrics[key] == value or (value != value and got.metrics[key] != got.metrics[key]), key
    assert (got.blocks is None) == (want.blocks is None)
    if want.blocks is not None:
        for mine, theirs in zip(got.blocks, want.blocks, strict=True):
            assert np.array_equal(mine, theirs, equal_nan=True)


def test_a_batch_is_measured_together_with_each_run_s_own_values(monkeypatch):
    results = _results(7)
    kept = [(_delivery(i), _run(), result) for i, result in enumerate(results)]
    calls = []
    monkeypatch.setattr(worker, "outcomes", lambda runs, rs: calls.append(len(runs)) or outcomes(runs, rs))
    measured = worker._outcomes_each(kept)
    assert calls == [7]  # one pass over the whole batch
    for (_, run, result), got in zip(kept, measured, strict=True):
        (alone,) = outcomes([run], [result])
        _same_outcome(got, alone)


def test_a_run_whose_metrics_fail_fails_alone_and_the_others_are_measured():
    results = _results(4)
    broken = EngineResult(pd.Series(["not a number"] * 2516), results[1].position)  # its metrics raise
    kept = [(_delivery(i), _run(), result) for i, result in enumerate([results[0], broken, results[2], results[3]])]
    measured = worker._outcomes_each(kept)
    assert isinstance(measured[1], str) and "error id" in measured[1]
    for index in (0, 2, 3):
        _, run, result = kept[index]
        (alone,) = outcomes([run], [result])
        _same_outcome(measured[index], alone)
