"""The HTML around the charts: one document with its styles inline, tables, and how values print. No I/O."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

# Leaf metric names (flat keys lose their perf_/risk_/trade_ prefix) by how they print.
PERCENT = {
    "total_return",
    "cagr",
    "max_drawdown",
    "var_95",
    "cvar_95",
    "var_99",
    "cvar_99",
    "volatility_annualised",
    "win_rate",
}
COUNT = {"bars_in_market", "max_drawdown_duration", "total_trades"}
MONEY = {"avg_win", "avg_loss", "expectancy"}
_PREFIXES = ("perf_", "risk_", "trade_")

STYLE = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f3f4f6; color: #111827;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1040px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 0 0 8px; }
.subtitle { color: #4b5563; margin: 0 0 16px; }
.subtitle code { font-size: 12px; }
section { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 16px; margin: 0 0 16px; }
.note { color: #6b7280; font-size: 12px; margin: 6px 0 0; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 12px; margin: 0 0 16px; }
.kpi { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 10px 14px; }
.kpi .label { color: #6b7280; font-size: 12px; }
.kpi .value { font-size: 20px; font-weight: 600; }
.pos { color: #15803d; } .neg { color: #b91c1c; }
svg.chart { display: block; width: 100%; height: auto; font-family: inherit; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #f3f4f6; vertical-align: top; }
th { color: #4b5563; font-weight: 600; font-size: 12px; }
td.num, th.num { text-align: right; }
tr.group th { background: #f9fafb; color: #111827; font-size: 13px; padding-top: 8px; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
@media (max-width: 800px) { .grid2 { grid-template-columns: 1fr; } }
.grid2 section { margin: 0; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { margin: 0; white-space: pre-wrap; font-size: 12px; }
a { color: #1d4ed8; }
.scroll { overflow-x: auto; }
.best { font-weight: 600; color: #15803d; }
.failed { color: #b91c1c; }
"""


def document(title: str, body: str) -> str:
    """A whole page: doctype, inline styles, `body` inside <main>."""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # No favicon request: the page fetches nothing.
        '<link rel="icon" href="data:,">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def section(title: str, content: str, *, note: str | None = None, ident: str | None = None) -> str:
    """A titled card; `note` prints small under the content."""
    anchor = f' id="{escape(ident)}"' if ident else ""
    footer = f'<p class="note">{escape(note)}</p>' if note else ""
    return f"<section{anchor}><h2>{escape(title)}</h2>{content}{footer}</section>"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, numeric: Sequence[int] = ()) -> str:
    """A table of cells already rendered as HTML; columns in `numeric` align right."""
    right = set(numeric)
    head = "".join(f"<th{_num(i, right)}>{escape(h)}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f"<td{_num(i, right)}>{c}</td>" for i, c in enumerate(row)) + "</tr>" for row in rows
    )
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def grouped_table(groups: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> str:
    """A two-column name/value table split under group headings."""
    rows = []
    for title, pairs in groups:
        rows.append(f'<tr class="group"><th colspan="2">{escape(title)}</th></tr>')
        rows += [f'<tr><td>{escape(name)}</td><td class="num">{value}</td></tr>' for name, value in pairs]
    return f"<table><tbody>{''.join(rows)}</tbody></table>"


def kpis(cards: Sequence[tuple[str, str, float | None]]) -> str:
    """A row of headline figures: (label, text, value whose sign colours it or None)."""
    items = []
    for label, text, sign in cards:
        tone = "" if sign is None or sign == 0 else (" pos" if sign > 0 else " neg")
        items.append(
            f'<div class="kpi"><div class="label">{escape(label)}</div><div class="value{tone}">{text}</div></div>'
        )
    return f'<div class="kpis">{"".join(items)}</div>'


def metric_label(name: str) -> str:
    """A metric key as a heading, e.g. "perf_sharpe_ratio" -> "Sharpe ratio"."""
    leaf = _leaf(name)
    words = leaf.replace("_", " ")
    words = words.replace("var ", "VaR ").replace("cvar ", "CVaR ").replace("cagr", "CAGR")
    return words[:1].upper() + words[1:]


def metric_value(name: str, value: Any) -> str:
    """A metric as it prints in a table: percent, count, money or ratio by its name; "-" when null."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "-" if not isinstance(value, str) else escape(value)
    leaf = _leaf(name)
    if leaf in PERCENT:
        return percent(value)
    if leaf in COUNT:
        return f"{int(value):,}"
    if leaf in MONEY:
        return f"{value:,.2f}"
    return f"{value:,.3f}"


def percent(value: float, digits: int = 2) -> str:
    """A fraction as a percentage, e.g. 0.1234 -> "12.34%"."""
    return f"{value * 100:.{digits}f}%"


def money(value: float) -> str:
    """An amount with thousands separators; cents only for amounts under 100."""
    return f"{value:,.0f}" if abs(value) >= 100 or value == 0 else f"{value:,.2f}"


def plain(value: Any) -> str:
    """Any JSON value as escaped text: strings bare, the rest as JSON."""
    if isinstance(value, str):
        return escape(value)
    return escape(json.dumps(value, sort_keys=True))


def _leaf(name: str) -> str:
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _num(index: int, numeric: set[int]) -> str:
    return ' class="num"' if index in numeric else ""
