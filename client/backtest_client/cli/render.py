"""How commands print: rich tables for people, JSON (`--json`) for scripts."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from collections.abc import Sequence
from typing import Any

import pandas as pd
from rich import box
from rich.markup import escape as _escape
from rich.table import Table

from backtest_client.errors import FieldViolation
from backtest_client.models import Backtest, SeriesSummary, TaskState

# How metric values print, by their name without the perf_/risk_/trade_ prefix.
_FRACTIONS = "total_return cagr max_drawdown var_95 cvar_95 var_99 cvar_99 volatility_annualised win_rate".split()
_COUNTS = ("bars_in_market", "max_drawdown_duration", "total_trades")
_GROUPS = (("performance", "Performance"), ("risk", "Risk"), ("trading", "Trading"))
_HEADLINE = ("total_return", "perf_sharpe_ratio", "risk_max_drawdown", "trade_total_trades")
# Short headings, so a leaderboard fits an 80-column terminal.
_SHORT = {
    "total_return": "return",
    "perf_sharpe_ratio": "sharpe",
    "risk_max_drawdown": "max dd",
    "trade_total_trades": "trades",
}


def escape(text: str) -> str:
    """Text with rich markup characters neutralised."""
    return _escape(text)


def emit_json(value: Any) -> None:
    """Prints `value` as one JSON document on stdout: dataclasses, frames, series and timestamps included."""
    sys.stdout.write(json.dumps(value, default=_jsonable, indent=2, allow_nan=False) + "\n")
    sys.stdout.flush()


def jsonable(value: Any) -> Any:
    """`value` with every dataclass, frame, series and timestamp turned into plain JSON values."""
    return json.loads(json.dumps(value, default=_jsonable, allow_nan=False))


def metric(name: str, value: Any) -> str:
    """A metric value for a table: a percentage, a count or a number; "-" when null."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "-" if value is None or isinstance(value, (int, float)) else str(value)
    leaf = name.split("_", 1)[1] if name.startswith(("perf_", "risk_", "trade_")) else name
    if leaf in _FRACTIONS:
        return f"{value * 100:.2f}%"
    if leaf in _COUNTS:
        return f"{int(value):,}"
    return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.2f}"


def metrics_table(backtest: Backtest) -> Table:
    """The run's metrics grouped as structured_metrics (summary, performance, risk, trading)."""
    table = Table(title=f"metrics of {backtest.id}", show_header=False, title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    structured = backtest.structured_metrics or {}
    for name in ("total_return", "bars_in_market"):
        table.add_row(name, metric(name, structured.get(name, backtest.metrics.get(name))))
    for group, title in _GROUPS:
        values = structured.get(group) or {}
        table.add_section()
        table.add_row(f"[bold]{title}[/]", "")
        prefix = {"performance": "perf_", "risk": "risk_", "trading": "trade_"}[group]
        names = [key.removeprefix(prefix) for key in backtest.metrics if key.startswith(prefix)]
        for name in names or list(values):
            table.add_row(f"  {name}", metric(name, values.get(name, backtest.metrics.get(prefix + name))))
    return table


def backtest_table(backtest: Backtest) -> Table:
    """One backtest's record: status, engine, series, dates, plugin, costs."""
    config = backtest.config
    table = Table(show_header=False, title=f"backtest {backtest.id}", title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    params = ", ".join(f"{k}={v}" for k, v in config.params.items())
    signal = f"{config.plugin}({params})"
    if config.logic is not None:
        version = f" version {config.logic_version}" if config.logic_version is not None else ""
        signal = f"{config.signal}{version} with {params or 'no $params'}"
    rows = [
        ("status", backtest.status + (f": {backtest.error}" if backtest.error else "")),
        ("engine", backtest.engine),
        ("series", f"{config.symbol} {config.timeframe}"),
        ("dates", f"{config.start} to {config.end}"),
        ("signal", signal),
        ("capital", f"{backtest.initial_capital:,.2f}"),
        ("costs", f"commission {backtest.commission:g}, slippage {backtest.slippage:g}"),
        ("strategy", backtest.strategy_id),
    ]
    if backtest.sweep_id:
        rows.append(("sweep", backtest.sweep_id))
    for name, value in rows:
        table.add_row(name, escape(str(value)))
    return table


def series_table(series: Sequence[SeriesSummary]) -> Table:
    """Stored market-data series."""
    table = Table("symbol", "timeframe", "start", "end", "rows", "sha256")
    for s in series:
        table.add_row(s.symbol, s.timeframe, moment(s.start), moment(s.end), f"{s.rows:,}", s.sha256[:12])
    return table


def frame_table(frame: pd.DataFrame, *, title: str | None = None, limit: int | None = None) -> Table:
    """A DataFrame as a table (index included), numbers formatted, at most `limit` rows."""
    table = Table(title=title, title_justify="left")
    names = [str(frame.index.name or ""), *map(str, frame.columns)]
    numeric = {c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])}
    for index, name in enumerate(names):
        justify = "right" if index == 0 or (index > 0 and frame.columns[index - 1] in numeric) else "left"
        table.add_column(name, justify=justify)
    shown = frame if limit is None else frame.head(limit)
    for label, row in shown.iterrows():
        table.add_row(str(label), *(_cell(column, row[column]) for column in frame.columns))
    return table


def leaderboard_table(frame: pd.DataFrame, *, limit: int | None = None) -> Table:
    """A sweep's leaderboard: rank, run, the overrides, status, the rank metric and a few headline metrics."""
    metric_name = str(frame.attrs.get("rank_metric", ""))
    overrides = [c for c in frame.columns if c in frame.attrs.get("overrides", ())]
    shown = [metric_name, *(m for m in _HEADLINE if m != metric_name and m in frame.columns)]
    title = f"leaderboard by {metric_name} ({frame.attrs.get('direction')} is better), {len(frame)} runs"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("#", justify="right", no_wrap=True, min_width=2)
    table.add_column("backtest", no_wrap=True)
    for name in overrides:
        table.add_column(name.rsplit(".", 1)[-1], justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for name in shown:
        heading = _SHORT.get(name) or name.split("_", 1)[-1]
        table.add_column(heading, justify="right", no_wrap=True, style="bold" if name == metric_name else None)
    for rank, row in (frame if limit is None else frame.head(limit)).iterrows():
        status = "done" if row["status"] == "completed" else f"[red]{escape(str(row['status']))}[/]"
        table.add_row(
            str(rank),
            str(row["backtest_id"])[:8],
            *(escape(str(row[name])) for name in overrides),
            status,
            *(metric(name, row.get(name)) for name in shown),
        )
    return table


def compare_table(frame: pd.DataFrame) -> Table:
    """Metrics by run, the best run's value of each metric in bold green with a check mark."""
    runs = [c for c in frame.columns if c not in ("direction", "best")]
    table = Table(title="comparison (best per metric marked)", title_justify="left")
    table.add_column("metric")
    for run in runs:
        table.add_column(f"{run[:8]}\n{frame.attrs.get('engines', {}).get(run, '')}", justify="right")
    table.add_column("better")
    for name, row in frame.iterrows():
        cells = []
        for run in runs:
            text = metric(str(name), row[run])
            cells.append(f"[bold green]{text} ✓[/]" if row["best"] == run else text)
        table.add_row(str(name), *cells, str(row["direction"]))
    return table


def violations_table(violations: Sequence[FieldViolation]) -> Table:
    """Each bad field and what is wrong with it."""
    table = Table("field", "problem", title="invalid input", title_justify="left")
    for violation in violations:
        table.add_row(f"[bold]{escape(violation.field or '(request)')}[/]", escape(violation.description))
    return table


def task_table(state: TaskState) -> Table:
    """A task's state and progress."""
    table = Table(show_header=False, title=f"task {state.task_id}", title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    progress = state.progress
    table.add_row("kind", state.kind)
    table.add_row("status", state.status + (f": {state.error}" if state.error else ""))
    revoked = f", {progress.revoked} revoked" if progress.revoked else ""
    table.add_row("progress", f"{progress.settled}/{progress.total} done, {progress.failed} failed{revoked}")
    if state.backtest_id:
        table.add_row("backtest", state.backtest_id)
    return table


def moment(stamp: pd.Timestamp) -> str:
    """A bar time: the date alone at midnight."""
    return stamp.strftime("%Y-%m-%d") if stamp == stamp.normalize() else stamp.strftime("%Y-%m-%d %H:%M")


def _cell(column: Any, value: Any) -> str:
    if isinstance(value, float):
        return metric(str(column), value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return escape(str(value))


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, pd.DataFrame):
        frame = value.reset_index() if value.index.name else value
        return json.loads(frame.to_json(orient="records", date_format="iso"))
    if isinstance(value, pd.Series):
        return json.loads(value.to_json(orient="split", date_format="iso"))
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot print {type(value).__name__} as JSON")
