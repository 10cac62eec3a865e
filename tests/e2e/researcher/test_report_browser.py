"""The report pages in a real browser: headless Chromium loads them from the stack, draws every chart, logs no error.

Screenshots go to $TEST_OUTPUT_DIR/browser (default test-output/browser) for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.researcher.conftest import output_dir
from tests.fixtures.chromium import Browser, Page

# Each chart's size on screen, and how many of its shapes have a real geometry (a path with points, a rect with area).
CHART_STATE = """
Array.from(document.querySelectorAll('svg.chart')).map(svg => {
  const box = svg.getBoundingClientRect();
  const drawn = Array.from(svg.querySelectorAll('path, rect, circle')).filter(shape => {
    const b = shape.getBBox();
    return (shape.tagName === 'path' ? (shape.getAttribute('d') || '').length > 10 : true) && b.width + b.height > 0;
  });
  return {label: svg.getAttribute('aria-label'), width: box.width, height: box.height, drawn: drawn.length};
})
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser() as running:
        yield running


def check_page(page: Page, url: str, expected_charts: int, screenshot: str) -> list[dict]:
    """Fails on any console error or request beyond the page itself; every chart must have drawn."""
    page.screenshot(output_dir("browser") / screenshot)
    record = page.record()
    assert record.errors == [], record.errors
    assert record.requests == [url], f"the page fetched more than itself: {record.requests}"
    state = page.evaluate(CHART_STATE)
    assert len(state) == expected_charts, state
    for chart in state:
        assert chart["width"] > 300 and chart["height"] > 40 and chart["drawn"] > 0, chart
    return state


def test_a_runs_tearsheet_draws_in_chromium(browser, gateway_url, completed):
    url = f"{gateway_url}/api/v1/backtests/{completed.id}/report"
    state = check_page(browser.open(url), url, 5, "tearsheet.png")
    assert {c["label"] for c in state} == {
        "Equity curve",
        "Drawdown",
        "Monthly returns heatmap",
        "Rolling Sharpe ratio",
        "Trade P&L distribution",
    }


def test_a_sweep_report_draws_and_links_to_its_runs(browser, gateway_url, swept):
    url = f"{gateway_url}/api/v1/tasks/{swept[0].task_id}/report"
    page = browser.open(url)
    check_page(page, url, 1, "sweep.png")
    best = page.evaluate("document.querySelector('table a').href")
    assert best == f"{gateway_url}/api/v1/backtests/{swept[1]['backtest_id'].iloc[0]}/report"
    check_page(browser.open(best), best, 5, "sweep-best-run.png")


def test_a_million_bar_tearsheet_draws_in_chromium(browser, gateway_url, million):
    url = f"{gateway_url}/api/v1/backtests/{million.id}/report"
    check_page(browser.open(url), url, 5, "tearsheet-1m-bars.png")
