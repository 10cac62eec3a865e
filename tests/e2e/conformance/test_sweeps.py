"""POST /backtests/sweep and its task: PENDING, PROGRESS, SUCCESS with a leaderboard ranked best first."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from . import runs
from .contract import HIGHER_IS_BETTER, LOWER_IS_BETTER, assert_not_found, assert_rejected, is_uuid
from .test_results import download, get_json

TOP_LEVEL = ("initial_capital", "commission", "slippage")


def submit(api, strategy_id: str, base_config: dict, param_grid: list[dict], **fields: Any) -> str:
    """POST /backtests/sweep; checks the {task_id, status, n_configs} answer and returns the task id."""
    response = api.post(
        "/backtests/sweep", {"strategy_id": strategy_id, "base_config": base_config, "param_grid": param_grid, **fields}
    )
    assert response.status == 200, response
    handle = response.json()
    assert set(handle) == {"task_id", "status", "n_configs"}, response
    assert handle["status"] == "PENDING" and is_uuid(handle["task_id"])
    assert handle["n_configs"] == len(param_grid)
    return handle["task_id"]


def finished(api, task_id: str, seen: list[dict] | None = None) -> dict:
    """The sweep task once done; it must have succeeded."""
    task = runs.wait_task(api, task_id, seen=seen)
    assert task["status"] == "SUCCESS", task
    assert task["kind"] == "sweep"
    return task


def leaderboard(task: dict) -> list[dict]:
    board = task["result"]["leaderboard"]
    assert all({"config", "metrics"} <= set(entry) for entry in board)
    return board


def assert_ranked(board: list[dict], metric: str) -> None:
    """Completed runs best first by the metric's direction."""
    values = [entry["metrics"][metric] for entry in board if entry.get("status", "completed") == "completed"]
    assert values == sorted(values, reverse=metric in HIGHER_IS_BETTER), values


@pytest.fixture(scope="module")
def seed_sweep(api, strategy, daily) -> tuple[str, dict]:
    """The seed's sweep example over three commission levels, on our data: (task id, finished task)."""
    base = {**daily.config(), "bars_per_year": 252, "risk_free_rate": 0.04, "size_type": "percent"}
    grid = [{"commission": 0.0001}, {"commission": 0.0005}, {"commission": 0.001}]
    task_id = submit(api, strategy["id"], base, grid, engine="vectorbt", rank_metric="perf_sharpe_ratio")
    return task_id, finished(api, task_id)


@pytest.fixture(scope="module")
def grid_sweep(api, strategy, daily, no_data_symbol) -> dict:
    """A vectorbt sweep over periods (plain and dotted keys) with one run failing, ranked by max drawdown."""
    grid = [
        {"signal_plugin_params": {"fast_period": 3, "slow_period": 15}},
        {"signal_plugin_params.fast_period": 8},
        {"signal_plugin_params.slow_period": 40},
        {"symbol": no_data_symbol},
        {"commission": 0.003, "slippage": 0.001},
        {"initial_capital": 50_000.0},
    ]
    return finished(api, submit(api, strategy["id"], daily.config(), grid, rank_metric="risk_max_drawdown"))


def test_seed_sweep_succeeds_with_every_run(seed_sweep) -> None:
    task_id, task = seed_sweep
    assert task["task_id"] == task_id
    assert task["progress"] == {"succeeded": 3, "failed": 0, "total": 3, "revoked": 0}
    board = leaderboard(task)
    assert sorted(entry["config"]["commission"] for entry in board) == [0.0001, 0.0005, 0.001]
    assert_ranked(board, "perf_sharpe_ratio")


def test_higher_is_better_metric_ranks_descending(seed_sweep) -> None:
    board = leaderboard(seed_sweep[1])
    # Same trades, dearer fills: the cheapest commission has the best Sharpe ratio.
    assert [entry["config"]["commission"] for entry in board] == [0.0001, 0.0005, 0.001]
    returns = [entry["metrics"]["total_return"] for entry in board]
    assert returns == sorted(returns, reverse=True)


def test_lower_is_better_metric_ranks_ascending(grid_sweep) -> None:
    assert "risk_max_drawdown" in LOWER_IS_BETTER
    completed = [e for e in leaderboard(grid_sweep) if e.get("status", "completed") == "completed"]
    assert len(completed) == 5
    drawdowns = [e["metrics"]["risk_max_drawdown"] for e in completed]
    assert drawdowns == sorted(drawdowns), drawdowns
    assert len(set(drawdowns)) > 1, "the grid should give different drawdowns"


def test_failed_runs_come_last_with_their_error(grid_sweep, no_data_symbol) -> None:
    board = leaderboard(grid_sweep)
    assert grid_sweep["progress"] == {"succeeded": 5, "failed": 1, "total": 6, "revoked": 0}
    last = board[-1]
    assert last["config"]["symbol"] == no_data_symbol
    assert last["status"] == "failed"
    assert no_data_symbol in last["error"]
    assert all(entry["status"] == "completed" for entry in board[:-1])


def test_overrides_merge_over_the_base_config(grid_sweep, daily) -> None:
    configs = [entry["config"] for entry in leaderboard(grid_sweep)]
    params = [c["signal_plugin_params"] for c in configs]
    # A plain key replaces the whole value; a dotted key changes one nested value.
    assert {"fast_period": 3, "slow_period": 15}.items() <= next(p for p in params if p["fast_period"] == 3).items()
    assert any(p["fast_period"] == 8 and p["slow_period"] == 20 for p in params)
    assert any(p["fast_period"] == 5 and p["slow_period"] == 40 for p in params)
    costly = next(c for c in configs if c["commission"] == 0.003)
    assert costly["slippage"] == 0.001 and costly["symbol"] == daily.symbol
    assert any(c["initial_capital"] == 50_000.0 for c in configs)


def test_each_sweep_run_equals_the_same_config_run_alone(api, strategy, seed_sweep, grid_sweep) -> None:
    """Runs batched into one broadcast engine call give exactly the metrics of a single run."""
    for entry in leaderboard(seed_sweep[1]) + leaderboard(grid_sweep):
        if entry.get("status", "completed") != "completed":
            continue
        config = dict(entry["config"])
        top = {key: config.pop(key) for key in TOP_LEVEL}
        alone = runs.run_to_completion(api, strategy["id"], config, engine="vectorbt", **top)
        assert alone["metrics"] == entry["metrics"], entry["config"]


def test_sweep_runs_results_read_like_the_same_run_alone(api, strategy, seed_sweep) -> None:
    """A batched run's equity curve and trades, as JSON and as Parquet downloads, equal those of a run alone.

    The executor stores a batch's artifacts together; each run must still read
    back, and download, as its own.
    """
    for entry in leaderboard(seed_sweep[1]):
        config = dict(entry["config"])
        top = {key: config.pop(key) for key in TOP_LEVEL}
        alone = runs.run_to_completion(api, strategy["id"], config, engine="vectorbt", **top)
        swept_id = entry["backtest_id"]
        for what in ("equity-curve", "trades"):
            assert get_json(api, swept_id, what) == get_json(api, alone["id"], what), what
        for what, name in (("equity-curve", "equity"), ("trades", "trades")):
            pd.testing.assert_frame_equal(
                download(api, swept_id, what, f"{name}_{swept_id}.parquet"),
                download(api, alone["id"], what, f"{name}_{alone['id']}.parquet"),
            )


def test_fifty_overrides_are_accepted(api, strategy, daily) -> None:
    grid = [{"commission": round((i + 1) * 0.0001, 4)} for i in range(50)]
    board = leaderboard(finished(api, submit(api, strategy["id"], daily.config(), grid, rank_metric="total_return")))
    assert len(board) == 50
    assert_ranked(board, "total_return")
    assert board[0]["config"]["commission"] == 0.0001


def test_task_reports_progress_while_running(api, strategy, minute) -> None:
    """Backtrader runs one job per configuration: the task shows PROGRESS between the first and the last.

    Eight runs of about a second each, so that even a fleet of several executors finishes them in rounds.
    """
    grid = [{"signal_plugin_params.fast_period": period} for period in (2, 3, 4, 5, 6, 8, 10, 12)]
    seen: list[dict] = []
    task_id = submit(api, strategy["id"], minute.config(last=9_999), grid, engine="backtrader")
    task = finished(api, task_id, seen)
    assert task["progress"] == {"succeeded": 8, "failed": 0, "total": 8, "revoked": 0}
    assert {t["status"] for t in seen} <= {"PENDING", "STARTED", "PROGRESS", "SUCCESS"}
    progressing = [t["progress"] for t in seen if t["status"] == "PROGRESS"]
    assert progressing, [t["status"] for t in seen]
    for progress in progressing:
        assert progress["total"] == 8 and 0 < progress["succeeded"] < 8 and progress["failed"] == 0
    done = [t["progress"]["succeeded"] for t in seen]
    assert done == sorted(done)
    assert len(leaderboard(task)) == 8


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"param_grid": []}, "param_grid"),
        ({"param_grid": [{"commission": 0.001}] * 51}, "param_grid"),
        ({"rank_metric": "perf_happiness"}, "rank_metric"),
        ({"engine": "zipline"}, "engine"),
        (
            {"param_grid": [{}, {"signal_plugin_params.fast_period": 100}]},
            "param_grid[1].signal_plugin_params.fast_period",
        ),
        ({"param_grid": [{"commission": 0.5}]}, "param_grid[0].commission"),
        ({"param_grid": [{}, {}, {"start_date": "2030-01-01"}]}, "param_grid[2]"),
        ({"param_grid": [{"size_type": "lots"}]}, "param_grid[0].size_type"),
        ({"param_grid": [{"model_id": "m"}]}, "param_grid[0].model_id"),
        ({"base_config": {"symbol": "X"}}, "base_config"),
    ],
    ids=[
        "no-overrides",
        "51-overrides",
        "unknown-rank-metric",
        "unknown-engine",
        "fast-not-below-slow",
        "commission-out-of-range",
        "start-after-end",
        "bad-size-type",
        "model-id",
        "incomplete-base",
    ],
)
def test_bad_sweep_is_422_naming_the_field_and_creates_nothing(api, fresh_strategy, daily, changes, field) -> None:
    body = {"strategy_id": fresh_strategy["id"], "base_config": daily.config(), "param_grid": [{}], **changes}
    assert_rejected(api.post("/backtests/sweep", body), field)
    assert runs.list_backtests(api, fresh_strategy["id"]) == []


def test_sweep_of_an_unknown_strategy_is_404(api, daily) -> None:
    missing = runs.missing_id()
    body = {"strategy_id": missing, "base_config": daily.config(), "param_grid": [{}]}
    assert_not_found(api.post("/backtests/sweep", body), missing)
