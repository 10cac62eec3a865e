"""The HTML tearsheet of a 1,000,350-bar run: its size, the time to build it, the time Chromium takes to render it.

The run is the `downloads` section's crossover over the whole SYNTH1M
minute series, made with the Python client. Building is timed through the gateway (median of REPEATS
GETs, the page read whole) against reading the same run's equity curve
(its Parquet download, into a Series), the least any report must read. Rendering is timed in headless
Chromium (Debian's package; `make bench` installs it) on the saved page
opened from disk, so only layout and paint count: navigation start to the
load event, against an empty page in the same browser. The issue's budgets
are 5 MB and 2 s; each is printed as a ratio to its budget.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from backtest_client import Client, RunConfig
from bench.downloads import SYMBOL, TIMEFRAME
from bench.report import Figure, Target
from bench.session import Session
from tests.fixtures.chromium import Browser, executable

SECTION = "reports"
REPEATS = 3
MAX_MB, MAX_RENDER_S = 5.0, 2.0
T = TypeVar("T")
LOAD_TIME = (
    "(() => { const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime; })()"
)


def _timed(fetch: Callable[[], T]) -> tuple[float, T]:
    began = time.perf_counter()
    value = fetch()
    return time.perf_counter() - began, value


def _render_seconds(browser: Browser, path: Path) -> float:
    """Navigation start to the end of the load event of a page opened from disk, in seconds."""
    page = browser.open(path.as_uri())
    return float(page.evaluate(LOAD_TIME)) / 1000.0


def run(session: Session) -> None:
    """Time building and rendering the tearsheet of a million-bar run."""
    add = session.report.add
    session.say("reports: the tearsheet of a million-bar run")
    if not session.fleet.names():
        session.fleet.ensure(1)
    # Run and read with the Python client, as a researcher would.
    with Client(session.stack.gateway_url) as client:
        series = client.market_data.get(SYMBOL, TIMEFRAME)
        params = {"fast_period": 10, "slow_period": 50}
        config = RunConfig(SYMBOL, series.start, series.end, params=params, timeframe=TIMEFRAME, risk_free_rate=0.04)
        backtest_id = client.run(config).id
        builds = [_timed(lambda: client.reports.backtest(backtest_id).html.encode()) for _ in range(REPEATS)]
        equity_s = statistics.median(_timed(lambda: client.backtests.equity(backtest_id))[0] for _ in range(REPEATS))
    page = builds[-1][1]
    build_s = statistics.median(seconds for seconds, _ in builds)
    mb = len(page) / 1e6
    session.say(f"  report {mb:.3f} MB built in {build_s:.2f} s (equity curve as a Series: {equity_s:.3f} s)")
    add(
        SECTION,
        Figure(f"report size, {series.rows:,} bars", mb, "MB", MAX_MB, "budget", mb / MAX_MB, Target("<=", 1.0)),
    )
    add(
        SECTION,
        Figure(
            f"report built through the gateway (median of {REPEATS})",
            build_s,
            "s",
            equity_s,
            "the equity curve read as a Series",
            build_s / equity_s,
        ),
    )
    if executable() is None:
        session.report.note("reports: chromium is not installed (`make chromium`): render time not measured")
        return
    with tempfile.TemporaryDirectory(prefix="bench-report-") as scratch, Browser() as browser:
        saved, blank = Path(scratch) / "report.html", Path(scratch) / "blank.html"
        saved.write_bytes(page)
        blank.write_text("<!DOCTYPE html><html><head><title>blank</title></head><body></body></html>")
        render_s = statistics.median(_render_seconds(browser, saved) for _ in range(REPEATS))
        blank_s = statistics.median(_render_seconds(browser, blank) for _ in range(REPEATS))
    session.say(f"  rendered by Chromium in {render_s * 1e3:.0f} ms (an empty page: {blank_s * 1e3:.0f} ms)")
    add(
        SECTION,
        Figure(f"report render in headless Chromium (median of {REPEATS})", render_s, "s", blank_s, "empty page"),
    )
    add(
        SECTION,
        Figure(
            "same render against the 2 s budget",
            render_s,
            "s",
            MAX_RENDER_S,
            "budget",
            render_s / MAX_RENDER_S,
            Target("<=", 1.0),
        ),
    )
