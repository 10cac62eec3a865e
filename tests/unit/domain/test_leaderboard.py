"""The sweep leaderboard without servers: direction-aware order, failed runs last, lifted fields in config."""

from __future__ import annotations

from services.domain.leaderboard import SettledRun, leaderboard

LIFTED = {"initial_capital": 1000.0, "commission": 0.001, "slippage": 0.0}


def settled(status: str, **metrics) -> SettledRun:
    return SettledRun(
        config={"symbol": "AAPL"},
        lifted=LIFTED,
        status=status,
        metrics=metrics,
        error="boom" if status == "failed" else None,
    )


RUNS = [{"backtest_id": name, "overrides": {"n": i}} for i, name in enumerate("abcde")]
SETTLED = {
    "a": settled("completed", perf_sharpe_ratio=0.5, risk_max_drawdown=0.3),
    "b": settled("failed"),
    "c": settled("completed", perf_sharpe_ratio=1.5, risk_max_drawdown=0.1),
    "d": settled("completed", perf_sharpe_ratio=None, risk_max_drawdown=0.2),
    # "e" was deleted while the sweep ran
}


def test_higher_is_better_metrics_rank_descending_with_null_values_and_failures_last():
    result = leaderboard(RUNS, SETTLED, "perf_sharpe_ratio")
    assert [e["backtest_id"] for e in result["leaderboard"]] == ["c", "a", "d", "b"]
    assert [e["rank"] for e in result["leaderboard"]] == [1, 2, 3, 4]
    assert (result["direction"], result["n_configs"], result["rank_metric"]) == ("higher", 5, "perf_sharpe_ratio")


def test_lower_is_better_metrics_rank_ascending():
    result = leaderboard(RUNS, SETTLED, "risk_max_drawdown")
    assert [e["backtest_id"] for e in result["leaderboard"]] == ["c", "d", "a", "b"]


def test_entries_show_config_with_the_backtests_own_fields_and_failures_without_metrics():
    board = {e["backtest_id"]: e for e in leaderboard(RUNS, SETTLED, "perf_sharpe_ratio")["leaderboard"]}
    assert board["a"]["config"] == {"symbol": "AAPL", **LIFTED}
    assert board["a"]["overrides"] == {"n": 0}
    assert (board["b"]["metrics"], board["b"]["error"], board["b"]["status"]) == ({}, "boom", "failed")
