"""The sweep planner without servers: batches for an engine that batches, one job per run otherwise."""

from __future__ import annotations

from services.domain.job_planning import plan_jobs
from services.domain.sweep import build_sweep_runs

STRATEGY = "a1b2c3d4-0000-0000-0000-000000000001"
BASE = {
    "symbol": "AAPL",
    "timeframe": "1d",
    "start_date": "2020-01-01",
    "end_date": "2024-01-01",
    "signal_plugin_key": "crossover_signal",
    "signal_plugin_params": {"fast_period": 10, "slow_period": 50},
}


def runs(engine: str, grid: list[dict]) -> tuple[list[str], list]:
    resolved = build_sweep_runs(STRATEGY, engine, BASE, grid)
    return [f"run-{i}" for i in range(len(resolved))], resolved


def test_a_batching_engine_shares_jobs_between_runs_over_the_same_bars_one_share_per_worker():
    ids, resolved = runs("vectorbt", [{"signal_plugin_params.fast_period": f} for f in range(2, 12)])
    assert plan_jobs(ids, resolved, workers=3) == [ids[0:4], ids[4:8], ids[8:10]]
    assert plan_jobs(ids, resolved, workers=0) == [ids]  # nobody live yet: one batch, whoever comes takes it


def test_runs_over_other_bars_or_another_plugin_never_share_a_job():
    grid = [
        {},
        {"symbol": "MSFT"},
        {"end_date": "2023-01-01"},
        {"signal_plugin_key": "buy_and_hold", "signal_plugin_params": {}},
        {"commission": 0.001},
    ]
    ids, resolved = runs("vectorbt", grid)
    assert plan_jobs(ids, resolved, workers=1) == [[ids[0], ids[4]], [ids[1]], [ids[2]], [ids[3]]]


def test_an_engine_that_does_not_batch_gets_one_job_per_run():
    ids, resolved = runs("backtrader", [{"signal_plugin_params.fast_period": f} for f in (5, 6, 7)])
    assert plan_jobs(ids, resolved, workers=1) == [[i] for i in ids]


def test_no_runs_no_jobs():
    assert plan_jobs([], [], workers=2) == []
