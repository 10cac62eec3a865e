"""The report endpoints over REST: self-contained HTML, the result endpoints' 404/409/422, a light million-bar page."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from backtest_client import BacktestSpec
from tests.e2e.researcher.conftest import SWEEP_GRID

MAX_BYTES = 5_000_000


def get(gateway_url: str, path: str) -> httpx.Response:
    return httpx.get(f"{gateway_url}/api/v1{path}", timeout=120)


def charts(page: str) -> list[str]:
    return re.findall(r'<svg class="chart"[^>]*aria-label="([^"]+)"', page)


def assert_self_contained(page: str) -> None:
    assert "<script" not in page and "url(" not in page and "@import" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_a_completed_runs_report_is_one_html_page_with_every_chart(gateway_url, completed):
    response = get(gateway_url, f"/backtests/{completed.id}/report")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert len(charts(page)) == 5 and "Buy and hold" in page
    assert completed.backtest.config.symbol in page and "Performance" in page and "Trading" in page
    assert_self_contained(page)


def test_report_errors_are_those_of_the_other_result_endpoints(gateway_url, client, completed, daily):
    missing = str(uuid.uuid4())
    assert get(gateway_url, f"/backtests/{missing}/report").status_code == 404
    assert get(gateway_url, "/backtests/not-a-uuid/report").json()["details"][0]["field_violations"][0]["field"] == (
        "backtest_id"
    )
    pending = client.backtests.create(BacktestSpec(completed.backtest.strategy_id, daily[1]))
    conflict = get(gateway_url, f"/backtests/{pending.id}/report")
    assert conflict.status_code == 409 and "pending" in conflict.json()["message"]
    assert get(gateway_url, f"/tasks/{missing}/report").status_code == 404


def test_a_sweeps_report_has_its_leaderboard_and_a_heatmap_of_two_parameters(gateway_url, swept):
    handle, board, _ = swept
    response = get(gateway_url, f"/tasks/{handle.task_id}/report")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert charts(page) == ["perf_sharpe_ratio heatmap"]
    heatmap = page[page.index('aria-label="perf_sharpe_ratio heatmap"') :]
    assert heatmap[: heatmap.index("</svg>")].count("<rect") == len(board)
    for backtest_id in board["backtest_id"]:
        assert f'href="../../backtests/{backtest_id}/report"' in page
    assert_self_contained(page)


def test_an_execute_tasks_report_is_its_runs_tearsheet(gateway_url, client, daily, completed):
    task = client.submit(daily[1], strategy_id=completed.backtest.strategy_id)
    task.wait()
    page = get(gateway_url, f"/tasks/{task.task_id}/report").text
    assert task.backtest_id in page and len(charts(page)) == 5


def test_a_sweep_still_running_has_no_report_yet(gateway_url, client, daily):
    # A sweep's first seconds: its report is a 409 until the task is done. A status read after the
    # report's answer that still says "not done" proves the report saw the task unfinished.
    for _ in range(3):
        handle = client.sweep(daily[1], SWEEP_GRID, engine="backtrader")
        response = get(gateway_url, f"/tasks/{handle.task_id}/report")
        if not handle.state().done:
            assert response.status_code == 409 and "done" in response.json()["message"]
            return
    pytest.fail("three sweeps all finished before their report was asked for; cannot observe the 409")


def test_a_million_bar_report_stays_under_5_mb_and_draws_the_worst_drawdown(gateway_url, million):
    assert len(million.equity) == 1_000_350
    page = get(gateway_url, f"/backtests/{million.id}/report").text
    assert len(page.encode()) < MAX_BYTES
    assert len(charts(page)) == 5
    # The underwater chart marks its lowest point: the run's own max drawdown, never dropped by downsampling.
    worst = million.metrics["risk_max_drawdown"]
    assert f"worst -{worst * 100:.2f}%" in page
    assert "of the 1,000,350 bars" in page
