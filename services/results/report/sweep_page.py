"""The report of a finished sweep: its leaderboard, and a heatmap when the grid varies two parameters. No I/O."""

from __future__ import annotations

import math
from datetime import datetime
from html import escape
from typing import Any

import numpy as np

from services.domain.metric_table import LOWER, NEUTRAL
from services.results.report import page, svg
from services.results.report.records import TaskRecord

SHOWN = ("total_return", "perf_sharpe_ratio", "risk_max_drawdown", "trade_total_trades")


def render(task: TaskRecord, *, generated_at: datetime) -> str:
    """The whole page of a sweep task whose leaderboard is stored.

    task: the catalog's task, `result` holding rank_metric, direction and the leaderboard.
    generated_at: when the page was made (printed in its footer).
    """
    result = task.result
    entries: list[dict[str, Any]] = list(result.get("leaderboard") or [])
    metric = str(result.get("rank_metric", ""))
    direction = str(result.get("direction", NEUTRAL))
    overrides = [flatten(entry.get("overrides") or {}) for entry in entries]
    varying = sorted(varying_keys(overrides))
    completed = sum(1 for entry in entries if entry.get("status") == "completed")
    body = [
        "<h1>Sweep report</h1>",
        f'<p class="subtitle">{len(entries)} configurations, {completed} completed &middot; ranked by '
        f"<code>{escape(metric)}</code> ({escape(_sense(direction))})<br><code>{escape(task.task_id)}</code></p>",
    ]
    if len(varying) == 2:
        body.append(
            page.section(
                f"{page.metric_label(metric)} over {_short(varying[0])} and {_short(varying[1])}",
                _heatmap(entries, overrides, varying, metric, direction),
                note="Greener is better by the rank metric's direction; blank cells had no run or no value.",
                ident="heatmap",
            )
        )
    body.append(page.section("Leaderboard", _leaderboard(entries, overrides, varying, metric), ident="leaderboard"))
    body.append(f'<p class="note">Generated {generated_at:%Y-%m-%d %H:%M:%S} UTC by the results service.</p>')
    return page.document(f"Sweep {task.task_id} report", "".join(body))


def flatten(overrides: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Override dicts with nested objects as dotted keys: {"a": {"b": 1}} -> {"a.b": 1}."""
    flat: dict[str, Any] = {}
    for key, value in overrides.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def varying_keys(overrides: list[dict[str, Any]]) -> list[str]:
    """The override keys that take more than one value across the grid, in first-seen order."""
    seen: dict[str, set[str]] = {}
    for entry in overrides:
        for key, value in entry.items():
            seen.setdefault(key, set()).add(repr(value))
    return [key for key, values in seen.items() if len(values) > 1]


def _heatmap(
    entries: list[dict[str, Any]], overrides: list[dict[str, Any]], keys: list[str], metric: str, direction: str
) -> str:
    across, down = keys
    columns = sorted({o.get(across) for o in overrides if across in o}, key=_order)
    rows = sorted({o.get(down) for o in overrides if down in o}, key=_order)
    grid = np.full((len(rows), len(columns)), np.nan)
    ranks: dict[tuple[int, int], Any] = {}
    for entry, flat in zip(entries, overrides, strict=True):
        value = (entry.get("metrics") or {}).get(metric)
        if across in flat and down in flat and _finite(value):
            cell = (rows.index(flat[down]), columns.index(flat[across]))
            grid[cell] = float(value)
            ranks[cell] = entry.get("rank")
    finite = grid[np.isfinite(grid)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)

    def goodness(value: float) -> float:
        share = 0.5 if high == low else (value - low) / (high - low)
        return 1.0 - share if direction == LOWER else share

    def color(value: float) -> str:
        return svg.diverging(2.0 * goodness(value) - 1.0, 1.0) if direction != NEUTRAL else svg.diverging(0.0, 1.0)

    return svg.heatmap(
        grid,
        rows=[_text(v) for v in rows],
        columns=[_text(v) for v in columns],
        color=color,
        text=lambda v: page.metric_value(metric, v),
        label=f"{metric} heatmap",
        tooltip=lambda i, j, v: (
            f"{down}={_text(rows[i])}, {across}={_text(columns[j])}: {page.metric_value(metric, v)}"
            f" (rank {ranks.get((i, j), '-')})"
        ),
        row_title=_short(down),
        column_title=_short(across),
    )


def _leaderboard(entries: list[dict[str, Any]], overrides: list[dict[str, Any]], keys: list[str], metric: str) -> str:
    shown = [metric, *(key for key in SHOWN if key != metric)]
    parameters = keys or sorted({k for o in overrides for k in o})
    headers = ["rank", *map(_short, parameters), "status", *(page.metric_label(k) for k in shown), "backtest"]
    rows = []
    for entry, flat in zip(entries, overrides, strict=True):
        metrics = entry.get("metrics") or {}
        status = str(entry.get("status", ""))
        status_cell = escape(status) if status == "completed" else f'<span class="failed">{escape(status)}</span>'
        if entry.get("error"):
            status_cell += f'<br><span class="note">{escape(str(entry["error"]))}</span>'
        values = [page.metric_value(k, metrics.get(k)) for k in shown]
        values[0] = f'<span class="best">{values[0]}</span>' if entry.get("rank") == 1 else values[0]
        ident = str(entry.get("backtest_id", ""))
        # The page is served at /api/v1/tasks/{id}/report: a backtest's report is two levels up.
        link = f'<a href="../../backtests/{escape(ident)}/report"><code>{escape(ident[:8])}</code></a>'
        rows.append(
            [str(entry.get("rank", "")), *(page.plain(flat.get(k, "")) for k in parameters), status_cell, *values, link]
        )
    numeric = [0, *range(len(parameters) + 2, len(parameters) + 2 + len(shown))]
    return page.table(headers, rows, numeric=numeric)


def _short(key: str) -> str:
    """An override key's last part: `signal_plugin_params.fast_period` -> `fast_period`."""
    return key.rsplit(".", 1)[-1]


def _sense(direction: str) -> str:
    return {"higher": "higher is better", "lower": "lower is better"}.get(direction, "neutral: descending")


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _order(value: Any) -> tuple[int, Any]:
    """Numbers in numeric order before anything else in text order."""
    if _finite(value):
        return (0, float(value))
    return (1, str(value))


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
