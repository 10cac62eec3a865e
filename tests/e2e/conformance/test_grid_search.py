"""POST /backtests/grid-search end to end: 1,000 runs, the Parquet runs table against single runs, DSR and PBO.

The sampled configurations are run again as single backtests through the
ordinary create + execute path, and their metrics must equal the table's
row: the grid's batched broadcast and a run alone are one computation.
The deflated Sharpe ratios are recomputed here from the table's moments by
the paper's formula, written out independently of the service's code.
"""

from __future__ import annotations

import io
import math
import random
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
import pytest

from . import runs
from .contract import assert_rejected, is_uuid

FAST = {"start": 2, "stop": 41, "step": 1}  # 40 values
SLOW = list(range(45, 170, 5))  # 25 values, every one above every fast period
N_RUNS = 40 * 25
COMPARED = (
    "total_return",
    "perf_sharpe_ratio",
    "perf_cagr",
    "risk_max_drawdown",
    "trade_total_trades",
    "trade_win_rate",
    "returns_count",
    "returns_skewness",
    "returns_kurtosis",
)
GRID_WAIT_S = 600.0


def submit(api, strategy_id: str, base_config: dict, space: dict, **fields: Any) -> dict:
    response = api.post(
        "/backtests/grid-search",
        {"strategy_id": strategy_id, "base_config": base_config, "parameter_space": space, **fields},
    )
    assert response.status == 200, response
    handle = response.json()
    assert handle["status"] == "PENDING" and is_uuid(handle["task_id"]), handle
    return handle


def runs_table(api, task_id: str) -> pd.DataFrame:
    response = api.get(f"/tasks/{task_id}/runs/parquet")
    assert response.status == 200, response
    assert response.headers["content-type"].startswith("application/vnd.apache.parquet")
    assert response.headers["content-disposition"] == f"attachment; filename=runs_{task_id}.parquet"
    return pd.read_parquet(io.BytesIO(response.body))


def reference_dsr(table: pd.DataFrame) -> np.ndarray:
    """Bailey and Lopez de Prado (2014), eq. for DSR, from the table's columns alone."""
    sharpe = table["returns_sharpe_per_bar"].to_numpy(dtype=float)
    trials = sharpe[np.isfinite(sharpe)]
    n, variance = trials.size, trials.var(ddof=1)
    gamma, z = 0.5772156649015329, NormalDist()
    benchmark = math.sqrt(variance) * ((1 - gamma) * z.inv_cdf(1 - 1 / n) + gamma * z.inv_cdf(1 - 1 / (n * math.e)))
    out = []
    for sr, t, skew, kurt in table[
        ["returns_sharpe_per_bar", "returns_count", "returns_skewness", "returns_kurtosis"]
    ].itertuples(index=False):
        if not all(math.isfinite(v) for v in (sr, t, skew, kurt)):
            out.append(math.nan)
            continue
        denominator = math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr * sr)
        out.append(z.cdf((sr - benchmark) * math.sqrt(t - 1) / denominator))
    return np.array(out)


@pytest.fixture(scope="module")
def grid(api, strategy, daily) -> dict[str, Any]:
    """A finished 1,000-run crossover grid over the daily series: handle, task and runs table."""
    base = {**daily.config(), "bars_per_year": 252, "risk_free_rate": 0.02}
    space = {"signal_plugin_params.fast_period": FAST, "signal_plugin_params.slow_period": SLOW}
    handle = submit(api, strategy["id"], base, space, top_n=25)
    task = runs.wait_task(api, handle["task_id"], timeout_s=GRID_WAIT_S)
    return {"handle": handle, "task": task, "table": runs_table(api, handle["task_id"]), "base": base}


def test_grid_search_runs_every_combination(grid) -> None:
    handle, task, table = grid["handle"], grid["task"], grid["table"]
    assert (handle["n_configs"], handle["n_combinations"], handle["n_skipped"]) == (N_RUNS, N_RUNS, 0)
    assert task["status"] == "SUCCESS", task
    progress = task["progress"]
    assert (progress["succeeded"], progress["failed"], progress["total"]) == (N_RUNS, 0, N_RUNS)
    assert len(table) == N_RUNS
    assert table["rank"].tolist() == list(range(1, N_RUNS + 1))
    assert (table["status"] == "completed").all()
    pairs = set(zip(table["signal_plugin_params.fast_period"], table["signal_plugin_params.slow_period"], strict=True))
    assert pairs == {(f, s) for f in range(2, 42) for s in SLOW}
    assert table["signal_plugin_params.fast_period"].dtype == np.int64
    assert table["backtest_id"].is_unique


def test_table_ranks_like_the_leaderboard(grid) -> None:
    result, table = grid["task"]["result"], grid["table"]
    board = result["leaderboard"]
    assert result["rank_metric"] == "perf_sharpe_ratio" and len(board) == 25
    assert [entry["backtest_id"] for entry in board] == table["backtest_id"].head(25).tolist()
    sharpe = table["perf_sharpe_ratio"].to_numpy()
    assert np.all(np.diff(sharpe[np.isfinite(sharpe)]) <= 0)
    assert result["runs_table"] == f"/api/v1/tasks/{grid['handle']['task_id']}/runs/parquet"
    top = board[0]
    assert top["overrides"] == {
        "signal_plugin_params.fast_period": int(table["signal_plugin_params.fast_period"].iloc[0]),
        "signal_plugin_params.slow_period": int(table["signal_plugin_params.slow_period"].iloc[0]),
    }


def test_sampled_configs_rerun_alone_give_the_same_metrics(api, strategy, daily, grid) -> None:
    table = grid["table"]
    picks = [0, N_RUNS // 2, N_RUNS - 1, *random.Random(17).sample(range(1, N_RUNS - 1), 3)]
    for position in picks:
        row = table.iloc[position]
        params = {
            "fast_period": int(row["signal_plugin_params.fast_period"]),
            "slow_period": int(row["signal_plugin_params.slow_period"]),
        }
        config = {**grid["base"], "signal_plugin_params": params}
        alone = runs.run_to_completion(api, strategy["id"], config)
        for key in COMPARED:
            expected, got = alone["metrics"][key], row[key]
            if expected is None:
                assert pd.isna(got), (position, key)
            else:
                assert got == pytest.approx(expected, rel=1e-9, abs=1e-12), (position, key, params)


def test_the_task_report_renders_a_grid_search(api, grid) -> None:
    response = api.get(f"/tasks/{grid['handle']['task_id']}/report")
    assert response.status == 200, response
    assert response.headers["content-type"].startswith("text/html")
    assert grid["task"]["result"]["leaderboard"][0]["backtest_id"] in response.body.decode()


def test_any_grid_run_keeps_its_equity_curve_and_trades(api, grid) -> None:
    row = grid["table"].iloc[N_RUNS // 3]
    curve = api.get(f"/backtests/{row['backtest_id']}/equity-curve")
    assert curve.status == 200, curve
    points = curve.json()
    assert len(points) == row["returns_count"] + 1
    assert points[-1]["equity"] / points[0]["equity"] - 1 == pytest.approx(row["total_return"], rel=1e-9)
    trades = api.get(f"/backtests/{row['backtest_id']}/trades")
    assert trades.status == 200 and len(trades.json()) == row["trade_total_trades"]


def test_deflated_sharpe_and_pbo_are_on_the_result_and_the_table(grid) -> None:
    result, table = grid["task"]["result"], grid["table"]
    expected = reference_dsr(table)
    got = table["perf_deflated_sharpe_ratio"].to_numpy(dtype=float)
    assert np.isfinite(got).sum() > N_RUNS * 0.9
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    for entry in result["leaderboard"]:
        position = table.index[table["backtest_id"] == entry["backtest_id"]][0]
        assert entry["perf_deflated_sharpe_ratio"] == pytest.approx(got[position], rel=1e-12)
    figures = result["overfitting"]
    assert figures["n_trials"] == int(np.isfinite(table["returns_sharpe_per_bar"]).sum())
    assert 0.0 <= figures["pbo"] <= 1.0, figures
    detail = figures["pbo_detail"]
    assert detail["partitions"] == 16 and detail["n_combinations"] == 12870 and detail["n_configs"] == N_RUNS


def test_a_grid_ranked_by_deflated_sharpe(api, strategy, daily) -> None:
    base = daily.config()
    space = {
        "signal_plugin_params.fast_period": [3, 5, 8],
        "signal_plugin_params.slow_period": {"start": 20, "stop": 60, "step": 20},
    }
    handle = submit(api, strategy["id"], base, space, rank_metric="perf_deflated_sharpe_ratio")
    task = runs.wait_task(api, handle["task_id"])
    assert task["status"] == "SUCCESS", task
    values = [entry["perf_deflated_sharpe_ratio"] for entry in task["result"]["leaderboard"]]
    assert len(values) == 9 and all(v is not None for v in values)
    assert values == sorted(values, reverse=True)


def test_seed_sweep_leaderboard_carries_dsr_and_pbo(api, strategy, daily) -> None:
    grid = [{"signal_plugin_params.fast_period": f} for f in (3, 5, 8, 12)]
    response = api.post(
        "/backtests/sweep", {"strategy_id": strategy["id"], "base_config": daily.config(), "param_grid": grid}
    )
    assert response.status == 200, response
    assert set(response.json()) == {"task_id", "status", "n_configs"}
    task = runs.wait_task(api, response.json()["task_id"])
    result = task["result"]
    assert all(isinstance(e["perf_deflated_sharpe_ratio"], float) for e in result["leaderboard"])
    assert result["overfitting"]["n_trials"] == 4
    assert 0.0 <= result["overfitting"]["pbo"] <= 1.0
    table = runs_table(api, task["task_id"])
    assert table["backtest_id"].tolist() == [e["backtest_id"] for e in result["leaderboard"]]


def test_more_than_10000_combinations_is_422_naming_the_count(api, strategy, daily) -> None:
    space = {
        "signal_plugin_params.fast_period": {"start": 1, "stop": 101, "step": 1},
        "signal_plugin_params.slow_period": {"start": 200, "stop": 299, "step": 1},
    }
    response = api.post(
        "/backtests/grid-search",
        {"strategy_id": strategy["id"], "base_config": daily.config(), "parameter_space": space},
    )
    body = assert_rejected(response, "parameter_space")
    assert "10,100" in str(body) and "10,000" in str(body)


def test_sweep_above_50_is_still_422(api, strategy, daily) -> None:
    grid = [{"commission": i / 1e5} for i in range(51)]
    response = api.post(
        "/backtests/sweep", {"strategy_id": strategy["id"], "base_config": daily.config(), "param_grid": grid}
    )
    assert_rejected(response, "param_grid")


def test_runs_table_of_a_running_or_unknown_task(api) -> None:
    assert api.get("/tasks/00000000-0000-4000-8000-000000000000/runs/parquet").status == 404
