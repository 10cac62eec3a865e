"""An executor without a run's package plugin fails the run naming the plugin, instead of a bare unknown key."""

from __future__ import annotations

import pytest

from services.adapters.bus import Job
from services.executor.worker import RunFailed, resolve_runs


def test_a_run_naming_a_plugin_this_executor_lacks_fails_with_the_reason():
    run = {
        "strategy_id": "00000000-0000-0000-0000-000000000001",
        "engine": "vectorbt",
        "initial_capital": 1000.0,
        "commission": 0.0,
        "slippage": 0.0,
        "config": {
            "symbol": "AAPL",
            "timeframe": "1d",
            "start_date": "2020-01-01",
            "end_date": "2021-01-01",
            "signal_plugin_key": "momentum_signal",
            "signal_plugin_params": {"lookback": 5},
        },
    }
    job = Job(job_id="5f0c2a9e-7b3d-4c1a-9e8f-2b6d4a1c0e7f", engine="vectorbt", backtest_ids=["b"], runs=[run])
    with pytest.raises(RunFailed, match="'momentum_signal' is not installed on this executor"):
        resolve_runs(job)
