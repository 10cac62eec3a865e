"""The expression language against the built-in plugins computing the same signals (no stack needed).

One run: a crossover + RSI-filter expression on the 1,000,000-bar minute
sample series (SYNTH1M as `make up` generates it), against crossover_signal
and rsi_signal computing their two indicators' signals on the same bars.
A sweep's batch: the 50-point grid of the sweep benchmarks as an
expression strategy exactly equivalent to crossover_signal (the plugin's
compute_many against crossover_signal's), on the 10-year daily series the
sweeps use and on the million bars. Signal computation only; the
end-to-end sweep comparison belongs with the sweeps section.
"""

from __future__ import annotations

import numpy as np

from bench.report import Figure, Target
from bench.timing import repeat
from bench.workload import DAILY_CONFIG, GRID
from services.catalog.sample_data import daily_bars, minute_bars
from services.domain.signals import get_plugin

SECTION = "expressions"
TARGET = Target("<=", 1.5)
FAST, SLOW = "sma(close, $fast)", "sma(close, $slow)"
FILTERED = {
    "entry": f"crossover({FAST}, {SLOW}) and rsi(close, $period) < $upper",
    "exit": f"crossunder({FAST}, {SLOW}) or rsi(close, $period) > $upper",
    "fast": 10,
    "slow": 50,
    "period": 14,
    "upper": 70,
}
# crossover_signal's rule as entries and exits: the same exposure on every bar (tests prove it).
CROSSOVER = {"entry": f"{FAST} > {SLOW}", "exit": f"{FAST} <= {SLOW}"}
CROSSOVER |= {"short_entry": CROSSOVER["exit"], "short_exit": CROSSOVER["entry"]}


def _bars(frame):
    return frame.set_index("timestamp")


def run(session) -> None:
    """Adds this section's figures to session.report (session needs only options, report and say)."""
    runs = session.options.runs
    expression, crossover, rsi = (get_plugin(k) for k in ("expression", "crossover_signal", "rsi_signal"))
    minute = _bars(minute_bars(1_000_000, "2025-12-31", seed=7))
    session.say(f"expressions: {len(minute):,} minute bars generated")

    def builtins():
        crossover.compute(minute, {"fast_period": 10, "slow_period": 50})
        rsi.compute(minute, {"period": 14, "upper": 70})

    ours = repeat(lambda: expression.compute(minute, FILTERED), times=runs, warm_up=1)
    theirs = repeat(builtins, times=runs, warm_up=1)
    session.report.add(
        SECTION,
        Figure(
            f"crossover + RSI filter expression, {len(minute):,} bars (median of {runs})",
            ours.median * 1e3,
            "ms",
            theirs.median * 1e3,
            "crossover_signal + rsi_signal",
            ours.median / theirs.median,
            TARGET,
        ),
    )
    daily = _bars(daily_bars("AAPL", DAILY_CONFIG["start_date"], DAILY_CONFIG["end_date"], seed=7))
    grid = [entry["signal_plugin_params"] for entry in GRID]
    for label, bars, times in (("10-year daily", daily, runs), ("1-minute", minute, max(3, runs // 4))):
        ours_params = [{**CROSSOVER, "fast": p["fast_period"], "slow": p["slow_period"]} for p in grid]
        mine, builtin = expression.compute_many(bars, ours_params), crossover.compute_many(bars, grid)
        if not all(np.array_equal(a, b) for a, b in zip(mine, builtin, strict=True)):
            raise AssertionError("the expression grid no longer reproduces crossover_signal")
        ours = repeat(lambda bars=bars, p=ours_params: expression.compute_many(bars, p), times=times, warm_up=1)
        theirs = repeat(lambda bars=bars: crossover.compute_many(bars, grid), times=times, warm_up=1)
        session.report.add(
            SECTION,
            Figure(
                f"50-set batch, crossover as expressions, {label} bars ({len(bars):,}; median of {times})",
                ours.median * 1e3,
                "ms",
                theirs.median * 1e3,
                "crossover_signal compute_many",
                ours.median / theirs.median,
                TARGET,
            ),
        )
