"""The two report pages, rendered from synthetic runs: every part present, nothing fetched, small when long."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from services.results.report import sweep_page, tearsheet
from services.results.report.inputs import RunInputs
from services.results.report.records import RunRecord, TaskRecord

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CHARTS = {"Equity curve", "Drawdown", "Monthly returns heatmap", "Rolling Sharpe ratio", "Trade P&L distribution"}


def run_inputs(n: int, *, freq: str = "B", with_close: bool = True) -> RunInputs:
    dates = pd.date_range("2015-01-02", periods=n, freq=freq)
    rng = np.random.default_rng(9)
    equity = 100_000 * np.exp(np.cumsum(rng.normal(0.0002, 0.01, n)))
    close = pd.Series(50 * np.exp(np.cumsum(rng.normal(0.0002, 0.01, n))), index=dates)
    trades = pd.DataFrame({"pnl": rng.normal(20, 500, 200), "side": "long", "status": "closed"})
    run = RunRecord(
        id="0b8e6a8e-3c1e-4a55-9d8e-6a1c2f3e4d5b",
        strategy_id="s",
        engine="vectorbt",
        status="completed",
        initial_capital=100_000.0,
        commission=0.0005,
        slippage=0.0005,
        config={
            "symbol": "AAPL",
            "timeframe": "1d" if freq == "B" else "1m",
            "start_date": "2015-01-01",
            "end_date": "2025-01-01",
            "signal_plugin_key": "crossover_signal",
            "signal_plugin_params": {"fast_period": 10, "slow_period": 50},
            "bars_per_year": 252 if freq == "B" else 98280,
            "risk_free_rate": 0.02,
        },
        metrics={"total_return": float(equity[-1] / 1e5 - 1), "risk_max_drawdown": 0.3, "custom_score": 7},
        structured_metrics={"total_return": float(equity[-1] / 1e5 - 1), "risk": {"max_drawdown": 0.3}},
    )
    return RunInputs(
        run=run,
        equity=pd.Series(equity, index=dates),
        trades=trades,
        close=close if with_close else None,
        close_note=None if with_close else "buy-and-hold not drawn: the stored series no longer holds every bar",
    )


def chart_labels(page: str) -> set[str]:
    return {html.unescape(label) for label in re.findall(r"<svg class=\"chart\"[^>]*aria-label=\"([^\"]+)\"", page)}


def assert_self_contained(page: str) -> None:
    assert "<script" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page), "the page references something on the network"
    assert "@import" not in page and "url(" not in page


def test_a_tearsheet_draws_every_chart_and_prints_metrics_and_config():
    page = tearsheet.render(run_inputs(2_600), generated_at=NOW)
    assert chart_labels(page) == CHARTS
    assert "Buy and hold" in page and "Performance" in page and "custom_score" in page
    assert "crossover_signal" in page and "fast_period" in page
    assert_self_contained(page)


def test_without_the_bars_the_tearsheet_says_why_buy_and_hold_is_missing():
    page = tearsheet.render(run_inputs(300, with_close=False), generated_at=NOW)
    assert "no longer holds every bar" in page and "Buy and hold</text>" not in page
    assert chart_labels(page) == CHARTS


def test_a_million_bar_tearsheet_stays_small_and_marks_the_worst_drawdown():
    inputs = run_inputs(1_000_000, freq="min")
    page = tearsheet.render(inputs, generated_at=NOW)
    assert len(page.encode()) < 5_000_000
    equity = inputs.equity.to_numpy()
    worst = equity / np.maximum.accumulate(equity) - 1
    assert f"worst {worst.min() * 100:.2f}%" in page
    assert_self_contained(page)


def sweep(overrides: list[dict], metrics: list[float | None]) -> TaskRecord:
    board = [
        {
            "rank": i + 1,
            "backtest_id": f"00000000-0000-4000-8000-{i:012d}",
            "overrides": o,
            "metrics": {} if m is None else {"perf_sharpe_ratio": m, "total_return": m / 10},
            "status": "failed" if m is None else "completed",
            "error": "no bars in range" if m is None else None,
        }
        for i, (o, m) in enumerate(zip(overrides, metrics, strict=True))
    ]
    result = {"rank_metric": "perf_sharpe_ratio", "direction": "higher", "n_configs": len(board), "leaderboard": board}
    return TaskRecord(task_id="t", kind="sweep", status="SUCCESS", result=result)


def test_a_sweep_over_two_parameters_gets_a_heatmap_of_the_rank_metric():
    grid = [{"signal_plugin_params": {"fast_period": f, "slow_period": s}} for f in (5, 10) for s in (50, 100, 150)]
    page = sweep_page.render(sweep(grid, [1.0, 0.5, None, 0.2, -0.1, 0.9]), generated_at=NOW)
    assert chart_labels(page) == {"perf_sharpe_ratio heatmap"}
    # Five cells with a value; the failed run's cell stays blank.
    heatmap = page[page.index('aria-label="perf_sharpe_ratio heatmap"') :]
    assert heatmap[: heatmap.index("</svg>")].count("<rect") == 5
    assert "no bars in range" in page and 'href="../../backtests/00000000-0000-4000-8000-000000000000/report"' in page
    assert_self_contained(page)


@pytest.mark.parametrize("grid", [[{"commission": c} for c in (0.0, 0.001, 0.002)], [{"commission": 0.001}]])
def test_a_sweep_over_fewer_than_two_parameters_has_only_its_leaderboard(grid):
    page = sweep_page.render(sweep(grid, [0.3] * len(grid)), generated_at=NOW)
    assert chart_labels(page) == set() and "Leaderboard" in page
