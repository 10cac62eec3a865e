"""The tearsheet of one completed backtest, as one HTML page. No I/O: `inputs` loads what it draws.

Equity against buy-and-hold of the same bars, the underwater curve with its
worst point marked, monthly returns, rolling Sharpe, the distribution of
trade P&L, the metrics grouped as structured_metrics, and the run's config.
Long series are reduced for drawing by `downsample` (extremes kept).
"""

from __future__ import annotations

from datetime import datetime
from html import escape

import numpy as np
import pandas as pd

from services.domain.metrics import STRUCTURE
from services.results.report import analytics, page, svg
from services.results.report.downsample import extremes_kept
from services.results.report.inputs import RunInputs

# About the plot's width in pixels: each bucket of bars becomes at most four drawn points.
PLOT_BUCKETS = 860
X_TICKS = 6
STRATEGY, BENCHMARK, UNDERWATER, SHARPE = "#1d4ed8", "#6b7280", "#dc2626", "#7c3aed"
GROUP_TITLES = {"": "Summary", "performance": "Performance", "risk": "Risk", "trading": "Trading"}
CONFIG_ORDER = ("symbol", "timeframe", "start_date", "end_date", "signal_plugin_key", "signal_plugin_params")


def render(inputs: RunInputs, *, generated_at: datetime) -> str:
    """The whole page.

    inputs: the run's record, equity, trades and closes.
    generated_at: when the page was made (printed in its footer).
    """
    run, equity = inputs.run, inputs.equity
    values = equity.to_numpy(dtype=float)
    dates = pd.DatetimeIndex(equity.index)
    bars_per_year = int(run.config.get("bars_per_year") or 252)
    ticks = x_ticks(dates)
    benchmark = None
    if inputs.close is not None:
        benchmark = analytics.buy_and_hold(
            inputs.close.to_numpy(dtype=float),
            initial_capital=run.initial_capital,
            commission=run.commission,
            slippage=run.slippage,
        )
    underwater = analytics.drawdown(values)
    window = analytics.rolling_window(len(values), bars_per_year)
    sharpe = analytics.rolling_sharpe(
        values, window=window, bars_per_year=bars_per_year, risk_free_rate=float(run.config.get("risk_free_rate", 0.0))
    )
    monthly = analytics.monthly_returns(equity, run.initial_capital)
    body = [
        _header(inputs),
        _headline(inputs, benchmark),
        page.section(
            "Equity",
            _equity_chart(values, benchmark, ticks),
            note=_benchmark_note(inputs, benchmark),
            ident="equity",
        ),
        page.section("Drawdown (underwater)", _underwater_chart(underwater, dates, ticks), ident="drawdown"),
        page.section(
            "Monthly returns",
            _monthly_heatmap(monthly),
            note="Each month compounded from the last bar of the month before (the initial capital for the first).",
            ident="monthly",
        ),
        page.section(
            "Rolling Sharpe ratio",
            _sharpe_chart(sharpe, ticks),
            note=f"Annualised over the last {window:,} bars ({_span(dates, window)}); none where equity was flat.",
            ident="rolling-sharpe",
        ),
        page.section(
            "Trade P&L distribution", _pnl_chart(inputs.trades), note=_trades_note(inputs.trades), ident="pnl"
        ),
        '<div class="grid2">',
        page.section("Metrics", _metrics_table(run.structured_metrics, run.metrics), ident="metrics"),
        page.section("Configuration", _config_table(inputs), ident="config"),
        "</div>",
        f'<p class="note">{escape(_footer(len(values), generated_at))}</p>',
    ]
    return page.document(f"Backtest {run.id} tearsheet", "".join(body))


def x_ticks(dates: pd.DatetimeIndex, count: int = X_TICKS) -> list[tuple[int, str]]:
    """(bar number, date text) for about `count` evenly spaced bars, the format fitted to the span."""
    n = len(dates)
    if not n:
        return []
    intraday = bool((dates != dates.normalize()).any())
    span = dates[-1] - dates[0]
    if intraday and span <= pd.Timedelta(days=3):
        pattern = "%m-%d %H:%M"
    elif span > pd.Timedelta(days=3 * 365):
        pattern = "%Y-%m"
    else:
        pattern = "%Y-%m-%d"
    positions = np.unique(np.linspace(0, n - 1, min(count, n)).round().astype(int))
    return [(int(p), dates[p].strftime(pattern)) for p in positions]


def _reduced(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = extremes_kept(values, PLOT_BUCKETS)
    return keep, values[keep]


def _equity_chart(values: np.ndarray, benchmark: np.ndarray | None, ticks: list[tuple[int, str]]) -> str:
    lines = [svg.Line("Strategy", *_reduced(values), color=STRATEGY)]
    if benchmark is not None:
        lines.append(svg.Line("Buy and hold", *_reduced(benchmark), color=BENCHMARK, dashed=True))
    return svg.line_chart(lines, bars=len(values), x_ticks=ticks, y_format=page.money, label="Equity curve")


def _underwater_chart(underwater: np.ndarray, dates: pd.DatetimeIndex, ticks: list[tuple[int, str]]) -> str:
    positions, reduced = _reduced(underwater)
    markers = []
    if underwater.size and underwater.min() < 0:
        worst = int(np.argmin(underwater))
        text = f"worst {page.percent(underwater[worst])} on {dates[worst]:%Y-%m-%d}"
        markers.append(svg.Marker(worst, float(underwater[worst]), text, UNDERWATER))
    return svg.line_chart(
        [svg.Line("Drawdown", positions, reduced, color=UNDERWATER, area=True)],
        bars=len(underwater),
        x_ticks=ticks,
        y_format=lambda v: page.percent(v, 0),
        label="Drawdown",
        markers=markers,
        height=220,
    )


def _sharpe_chart(sharpe: np.ndarray, ticks: list[tuple[int, str]]) -> str:
    if not np.isfinite(sharpe).any():
        return '<p class="note">Too few bars, or no variation in returns, for a rolling Sharpe ratio.</p>'
    return svg.line_chart(
        [svg.Line("Rolling Sharpe", *_reduced(sharpe), color=SHARPE)],
        bars=len(sharpe),
        x_ticks=ticks,
        y_format=lambda v: f"{v:.1f}",
        label="Rolling Sharpe ratio",
        zero_line=True,
        height=240,
    )


def _monthly_heatmap(monthly: pd.DataFrame) -> str:
    if monthly.empty:
        return '<p class="note">No complete month.</p>'
    years = analytics.yearly_returns(monthly)
    grid = np.column_stack([monthly.to_numpy(dtype=float), years.to_numpy(dtype=float)])
    finite = np.abs(grid[np.isfinite(grid)])
    extent = float(np.percentile(finite, 95)) if finite.size else 0.0
    return svg.heatmap(
        grid,
        rows=[str(y) for y in monthly.index],
        columns=[*monthly.columns, "Year"],
        color=lambda v: svg.diverging(v, extent),
        text=lambda v: f"{v * 100:.1f}",
        label="Monthly returns heatmap",
        tooltip=lambda i, j, v: f"{monthly.index[i]} {([*monthly.columns, 'Year'])[j]}: {page.percent(v)}",
    )


def _pnl_chart(trades: pd.DataFrame) -> str:
    pnl = trades["pnl"].to_numpy(dtype=float) if "pnl" in trades else np.zeros(0)
    counts, edges = analytics.pnl_histogram(pnl)
    if not counts.size:
        return '<p class="note">No trades.</p>'
    return svg.histogram(counts, edges, x_format=page.money, label="Trade P&L distribution")


def _trades_note(trades: pd.DataFrame) -> str:
    if "pnl" not in trades or not len(trades):
        return "The run made no trade."
    pnl = trades["pnl"].to_numpy(dtype=float)
    wins, losses = int((pnl > 0).sum()), int((pnl < 0).sum())
    return (
        f"Net P&L per trade after costs: {len(pnl):,} trades, {wins:,} winners, {losses:,} losers. The outermost"
        f" bars also count the {analytics.TAIL_PERCENT:g}% of trades beyond them on each side."
    )


def _headline(inputs: RunInputs, benchmark: np.ndarray | None) -> str:
    metrics = inputs.run.metrics
    cards = []
    for key, label in (
        ("total_return", "Total return"),
        ("perf_cagr", "CAGR"),
        ("perf_sharpe_ratio", "Sharpe ratio"),
        ("risk_max_drawdown", "Max drawdown"),
        ("trade_total_trades", "Trades"),
        ("trade_win_rate", "Win rate"),
    ):
        value = metrics.get(key)
        sign = None if key != "total_return" or not isinstance(value, (int, float)) else value
        cards.append((label, page.metric_value(key, value), sign))
    if benchmark is not None and benchmark.size:
        hold = float(benchmark[-1] / inputs.run.initial_capital - 1.0)
        cards.append(("Buy and hold", page.percent(hold), hold))
    return page.kpis(cards)


def _header(inputs: RunInputs) -> str:
    run, config = inputs.run, inputs.run.config
    params = ", ".join(f"{k}={v}" for k, v in (config.get("signal_plugin_params") or {}).items())
    dates = inputs.equity.index
    span = f"{dates[0]:%Y-%m-%d} to {dates[-1]:%Y-%m-%d}" if len(dates) else "no bars"
    subtitle = (
        f"{config.get('symbol')} {config.get('timeframe')} &middot; {escape(span)} ({len(dates):,} bars) &middot; "
        f"{escape(run.engine)} &middot; {escape(str(config.get('signal_plugin_key')))}({escape(params)})"
    )
    return f'<h1>Backtest tearsheet</h1><p class="subtitle">{subtitle}<br><code>{escape(run.id)}</code></p>'


def _metrics_table(structured: dict, flat: dict) -> str:
    groups: dict[str, list[tuple[str, str]]] = {}
    for path in STRUCTURE.values():
        node = structured
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        group = path[0] if len(path) > 1 else ""
        groups.setdefault(group, []).append((page.metric_label(path[-1]), page.metric_value(path[-1], node)))
    others = [(key, page.metric_value(key, value)) for key, value in sorted(flat.items()) if key not in STRUCTURE]
    ordered = [(GROUP_TITLES.get(name, name.title()), pairs) for name, pairs in groups.items()]
    if others:
        ordered.append(("Other", others))
    return page.grouped_table(ordered)


def _config_table(inputs: RunInputs) -> str:
    run = inputs.run
    rows: list[tuple[str, str]] = [
        ("engine", escape(run.engine)),
        ("initial_capital", page.money(run.initial_capital)),
        ("commission", f"{run.commission:g}"),
        ("slippage", f"{run.slippage:g}"),
    ]
    keys = [*CONFIG_ORDER, *sorted(k for k in run.config if k not in CONFIG_ORDER)]
    rows += [(key, page.plain(run.config[key])) for key in keys if key in run.config]
    rows += [("strategy_id", escape(run.strategy_id)), ("backtest_id", escape(run.id))]
    return page.table(["field", "value"], [(f"<code>{escape(k)}</code>", v) for k, v in rows])


def _benchmark_note(inputs: RunInputs, benchmark: np.ndarray | None) -> str:
    if benchmark is None:
        return inputs.close_note or "buy-and-hold not drawn"
    return (
        "Buy and hold: all the initial capital buys the symbol at the first bar's close, paying the run's slippage and"
        " commission once on entry; no exit cost."
    )


def _span(dates: pd.DatetimeIndex, bars: int) -> str:
    """About how much calendar time `bars` bars of this run cover."""
    if len(dates) < 2:
        return "-"
    days = (dates[-1] - dates[0]) / pd.Timedelta(days=1) * bars / (len(dates) - 1)
    return f"about {days:,.0f} days" if days >= 2 else f"about {days * 24:,.1f} hours"


def _footer(bars: int, generated_at: datetime) -> str:
    reduced = (
        ""
        if bars <= PLOT_BUCKETS * 4
        else (
            f" Lines are drawn from at most {PLOT_BUCKETS * 4:,} of the {bars:,} bars: the first, lowest, highest and"
            " last of each pixel column, so every peak and trough shows."
        )
    )
    return f"Generated {generated_at:%Y-%m-%d %H:%M:%S} UTC by the results service from the stored artifacts.{reduced}"
