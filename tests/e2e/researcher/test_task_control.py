"""Cancel and live progress from Python and from the `backtest` command: `client.cancel_task`,
`client.watch_task`, `backtest cancel`, `backtest watch`."""

from __future__ import annotations

import json

import pytest

from backtest_client import Client, ConflictError, RunConfig, TaskUpdate
from tests.e2e.conformance import synthetic_bars

BARS = 8_000


@pytest.fixture(scope="module")
def minutes(client: Client) -> RunConfig:
    """Minute bars long enough for seconds-long backtrader runs, and a crossover config over them."""
    symbol = synthetic_bars.unique_symbol("WCH")
    summary = client.market_data.import_frame(synthetic_bars.minutes(BARS), symbol=symbol, timeframe="1m")
    return RunConfig(symbol, summary.start, summary.end, timeframe="1m", params={"fast_period": 5, "slow_period": 30})


def test_watch_then_cancel_a_sweep_from_python(client: Client, minutes: RunConfig):
    handle = client.sweep(minutes, {"signal_plugin_params.fast_period": [2, 3, 4, 5, 6, 7]}, engine="backtrader")
    updates = client.watch_task(handle.task_id)
    first = next(updates)
    assert isinstance(first, TaskUpdate) and not first.done and first.progress.total == 6
    state = client.cancel_task(handle.task_id)
    assert state.status == "REVOKED" and state.done
    assert state.progress.revoked >= 4
    rest = list(updates)  # the iterator ends with the task
    assert rest[-1].status == "REVOKED" and rest[-1].progress == state.progress
    with pytest.raises(ConflictError, match="REVOKED"):
        client.cancel_task(handle.task_id)


def test_backtest_watch_streams_json_lines_and_cancel_of_a_finished_task_fails(cli, client: Client, daily):
    _, config = daily
    handle = client.sweep(config, {"signal_plugin_params.fast_period": [3, 5, 8]}, engine="backtrader")
    watched = cli("watch", handle.task_id, "--json")
    assert watched.returncode == 0, watched.stderr
    lines = [json.loads(line) for line in watched.stdout.splitlines()]
    assert lines[-1]["status"] == "SUCCESS" and lines[-1]["progress"]["succeeded"] == 3
    assert lines[-1]["best"]["metric"] == "perf_sharpe_ratio"
    text = cli("watch", handle.task_id)
    assert text.returncode == 0 and "SUCCESS: 3 succeeded" in text.stdout and "best perf_sharpe_ratio" in text.stdout
    refused = cli("cancel", handle.task_id)
    assert refused.returncode == 1 and "SUCCESS" in refused.stderr


def test_backtest_cancel_revokes_a_running_sweep(cli, client: Client, minutes: RunConfig):
    handle = client.sweep(minutes, {"signal_plugin_params.fast_period": [2, 3, 4, 5, 6]}, engine="backtrader")
    assert next(handle.watch()).progress.total == 5
    done = cli("cancel", handle.task_id, "--json")
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout)
    # Queued runs are dropped; the runs the two executors had started (more when the cancel comes late on
    # a loaded machine) finish. Every run is counted once.
    progress = state["progress"]
    assert state["status"] == "REVOKED" and progress["revoked"] >= 1, progress
    assert progress["revoked"] + progress["succeeded"] + progress["failed"] == progress["total"] == 5, progress
    with pytest.raises(ConflictError, match="REVOKED"):
        handle.cancel()
