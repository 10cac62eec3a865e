"""Which queued jobs an executor may compute together (services.executor.coalescing)."""

from __future__ import annotations

import uuid

from services.adapters.bus import Job
from services.domain.run_config import resolve_backtest
from services.executor.coalescing import MAX_BATCH_CELLS, batch_key, chunks, grouped, may_coalesce


def run_fields(engine: str = "vectorbt", **config) -> dict:
    return {
        "strategy_id": str(uuid.uuid4()),
        "engine": engine,
        "config": {
            "symbol": "AAPL",
            "timeframe": "1d",
            "start_date": "2015-01-01",
            "end_date": "2024-12-31",
            "signal_plugin_key": "crossover_signal",
            "signal_plugin_params": {"fast_period": 10, "slow_period": 50},
            **config,
        },
    }


def job(*runs: dict, bars_uri: str = "s3://b/bars/AAPL/1d.parquet", **fields) -> Job:
    return Job(
        job_id=str(uuid.uuid4()),
        engine=runs[0]["engine"],
        backtest_ids=[str(uuid.uuid4()) for _ in runs],
        runs=list(runs),
        bars_uri=bars_uri,
        bars_sha256="abc",
        **fields,
    )


def key(queued: Job):
    (fields,) = queued.runs
    return batch_key(queued, resolve_backtest(fields))


def test_only_single_runs_of_an_engine_that_batches_may_coalesce():
    assert may_coalesce(job(run_fields()))
    assert not may_coalesce(job(run_fields(), run_fields()))  # a sweep's batch is computed on its own
    assert not may_coalesce(job(run_fields(engine="backtrader")))


def test_runs_over_the_same_bars_share_a_key_whatever_their_parameters_or_plugin():
    crossover = job(run_fields(signal_plugin_params={"fast_period": 5, "slow_period": 20}))
    other = job(run_fields(signal_plugin_key="rsi_signal", signal_plugin_params={}))
    assert key(crossover) == key(other)


def test_another_symbol_window_series_file_or_signal_input_is_another_key():
    base = key(job(run_fields()))
    assert key(job(run_fields(symbol="MSFT"), bars_uri="s3://b/bars/MSFT/1d.parquet")) != base
    assert key(job(run_fields(end_date="2023-12-31"))) != base
    assert key(job(run_fields(), bars_uri="s3://b/bars/AAPL/1d-v2.parquet")) != base
    assert key(job(run_fields(), series={"model": {"uri": "s3://b/s", "sha256": "x"}})) != base


def test_grouped_keeps_the_order_of_first_appearance():
    assert grouped(["a1", "b1", "a2", "c1", "b2"], ["a", "b", "a", "c", "b"]) == [["a1", "a2"], ["b1", "b2"], ["c1"]]


def test_chunks_bound_the_cells_of_one_engine_call():
    items = list(range(10))
    assert chunks(items, 2_520) == [items]  # ten-year daily runs: all in one call
    assert chunks(items, MAX_BATCH_CELLS // 3) == [items[0:3], items[3:6], items[6:9], items[9:]]
    assert chunks(items, 1_000_000_000) == [[i] for i in items]  # never less than one run
