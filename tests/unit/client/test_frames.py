"""Leaderboards and comparisons as DataFrames, from the API's JSON."""

from __future__ import annotations

from backtest_client.frames import compare_frame, flatten, leaderboard_frame
from backtest_client.resources.sweeps import expand_grid


def test_a_leaderboard_is_indexed_by_rank_with_the_overrides_and_the_rank_metric_first():
    result = {
        "rank_metric": "perf_sharpe_ratio",
        "direction": "higher",
        "leaderboard": [
            {
                "rank": 1,
                "backtest_id": "a",
                "overrides": {"signal_plugin_params": {"fast_period": 5}},
                "metrics": {"perf_sharpe_ratio": 1.2, "total_return": 0.3},
                "status": "completed",
                "error": None,
            },
            {
                "rank": 2,
                "backtest_id": "b",
                "overrides": {"signal_plugin_params": {"fast_period": 60}},
                "metrics": {},
                "status": "failed",
                "error": "fast_period must be below slow_period",
            },
        ],
    }
    frame = leaderboard_frame(result)
    assert list(frame.index) == [1, 2]
    assert list(frame.columns[:4]) == ["backtest_id", "status", "signal_plugin_params.fast_period", "perf_sharpe_ratio"]
    assert frame.loc[2, "error"].startswith("fast_period")
    assert frame.attrs["rank_metric"] == "perf_sharpe_ratio"


def test_compare_marks_the_best_run_per_metric():
    wire = {
        "runs": [{"id": "a", "engine": "vectorbt"}, {"id": "b", "engine": "backtrader"}],
        "metric_diff": {
            "risk_max_drawdown": {"values": {"a": 0.2, "b": 0.1}, "best_id": "b", "direction": "lower"},
            "trade_total_trades": {"values": {"a": 3, "b": 4}, "best_id": None, "direction": "neutral"},
        },
    }
    frame = compare_frame(wire)
    assert list(frame.columns) == ["a", "b", "direction", "best"]
    assert frame.loc["risk_max_drawdown", "best"] == "b"
    assert frame.loc["trade_total_trades", "best"] is None


def test_a_grid_of_values_is_their_cartesian_product():
    grid = expand_grid({"signal_plugin_params.fast_period": [5, 10], "commission": [0.0, 0.001]})
    assert len(grid) == 4 and {"signal_plugin_params.fast_period": 10, "commission": 0.001} in grid
    assert flatten({"a": {"b": 1, "c": {"d": 2}}}) == {"a.b": 1, "a.c.d": 2}
