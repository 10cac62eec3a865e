"""Chart primitives drawn as inline SVG strings: lines and areas, heatmaps, histograms. No I/O.

Every chart is an `<svg class="chart">` with a viewBox, so the page scales it
to its column; text is in the page's font. Points arrive already reduced
(see `downsample`); x positions are bar numbers, so nights and weekends take
no room, as on a trading chart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

import numpy as np

WIDTH = 960
LEFT, RIGHT, TOP, BOTTOM = 76, 20, 30, 32
GRID = "#e5e7eb"
AXIS_TEXT = "#4b5563"
UP, DOWN, NEUTRAL = (26, 152, 80), (215, 48, 39), (255, 255, 255)


@dataclass(frozen=True)
class Line:
    """One series of a line chart.

    name: legend text.
    positions: bar number of each point (x), increasing.
    values: value of each point (y); NaN breaks the line.
    color: CSS color.
    dashed: drawn dashed.
    area: filled down (or up) to zero, as an underwater chart.
    """

    name: str
    positions: np.ndarray
    values: np.ndarray
    color: str
    dashed: bool = False
    area: bool = False


@dataclass(frozen=True)
class Marker:
    """A labelled dot on a line chart, e.g. the worst drawdown."""

    position: int
    value: float
    label: str
    color: str


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high], about `count` of them, stepped by 1, 2 or 5 x 10^k."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0]
    if high <= low:
        spread = abs(low) * 0.05 or 1.0
        low, high = low - spread, high + spread
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value < high + step * 0.999:
        ticks.append(0.0 if abs(value) < step * 1e-9 else value)
        value = first + step * len(ticks)
    return ticks


def line_chart(
    lines: Sequence[Line],
    *,
    bars: int,
    x_ticks: Sequence[tuple[int, str]],
    y_format: Callable[[float], str],
    label: str,
    height: int = 280,
    markers: Sequence[Marker] = (),
    zero_line: bool = False,
) -> str:
    """Lines (or areas) over bar numbers 0..bars-1.

    bars: length of the full series, so positions map to the same x in every chart of a page.
    x_ticks: (bar number, text) of each x-axis label.
    y_format: tick value -> text.
    label: accessible name of the chart.
    markers: dots with a label.
    zero_line: draw y = 0 darker (and include it in the range).
    """
    finite = [line.values[np.isfinite(line.values)] for line in lines]
    finite = [values for values in finite if values.size]
    low = min((float(v.min()) for v in finite), default=0.0)
    high = max((float(v.max()) for v in finite), default=1.0)
    if zero_line or any(line.area for line in lines):
        low, high = min(low, 0.0), max(high, 0.0)
    ticks = nice_ticks(low, high)
    scale = _Scale(bars, ticks[0], ticks[-1], height)
    parts = [_open(height, label)]
    for tick in ticks:
        y = scale.y(tick)
        stroke = AXIS_TEXT if zero_line and tick == 0 else GRID
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{stroke}"/>')
        parts.append(_text(LEFT - 8, y + 4, y_format(tick), anchor="end"))
    for index, (position, text) in enumerate(x_ticks):
        # The outermost labels align inwards, so they are not cut at the chart's edges.
        anchor = "start" if index == 0 else "end" if index == len(x_ticks) - 1 else "middle"
        parts.append(_text(scale.x(position), height - BOTTOM + 18, text, anchor=anchor))
    for line in lines:
        parts.append(_line_path(line, scale))
    for marker in markers:
        x, y = scale.x(marker.position), scale.y(marker.value)
        anchor = "end" if x > WIDTH * 0.7 else "start"
        shift = -8 if anchor == "end" else 8
        dot = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{marker.color}">'
        parts.append(f"{dot}<title>{escape(marker.label)}</title></circle>")
        parts.append(
            _text(x + shift, min(y + 16, height - BOTTOM - 4), marker.label, anchor=anchor, color=marker.color)
        )
    parts.append(_legend([(line.name, line.color, line.dashed) for line in lines]))
    parts.append("</svg>")
    return "".join(parts)


def heatmap(
    values: np.ndarray,
    *,
    rows: Sequence[str],
    columns: Sequence[str],
    color: Callable[[float], str],
    text: Callable[[float], str],
    label: str,
    tooltip: Callable[[int, int, float], str] | None = None,
    row_title: str = "",
    column_title: str = "",
) -> str:
    """A grid of coloured cells, each printed with its value; NaN cells stay blank.

    values: rows x columns numbers.
    rows, columns: the labels.
    color: value -> CSS fill. text: value -> the cell's text.
    tooltip: (row, column, value) -> hover text; default "row column: text".
    row_title, column_title: axis names.
    """
    n_rows, n_columns = values.shape
    left = LEFT + (18 if row_title else 0)
    cell_w = (WIDTH - left - RIGHT) / max(n_columns, 1)
    cell_h = 26 if n_rows <= 20 else max(8, 520 // n_rows)
    top = TOP + (16 if column_title else 0)
    height = top + n_rows * cell_h + 8
    font = 11 if cell_w >= 44 else 9
    parts = [_open(height, label)]
    if column_title:
        parts.append(_text(left + (WIDTH - left - RIGHT) / 2, 14, column_title, anchor="middle", bold=True))
    if row_title:
        y_mid = top + n_rows * cell_h / 2
        parts.append(
            f'<text x="14" y="{y_mid:.1f}" transform="rotate(-90 14 {y_mid:.1f})" text-anchor="middle" '
            f'font-size="12" font-weight="600" fill="{AXIS_TEXT}">{escape(row_title)}</text>'
        )
    for j, name in enumerate(columns):
        parts.append(_text(left + (j + 0.5) * cell_w, top - 8, name, anchor="middle"))
    for i, name in enumerate(rows):
        y = top + i * cell_h
        parts.append(_text(left - 8, y + cell_h / 2 + 4, name, anchor="end"))
        for j in range(n_columns):
            value = float(values[i, j])
            if not math.isfinite(value):
                continue
            x = left + j * cell_w
            hover = tooltip(i, j, value) if tooltip else f"{name} {columns[j]}: {text(value)}"
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{cell_w - 1:.1f}" height="{cell_h - 1:.1f}" '
                f'fill="{color(value)}"><title>{escape(hover)}</title></rect>'
            )
            if cell_h >= 14:
                parts.append(_text(x + cell_w / 2, y + cell_h / 2 + 4, text(value), anchor="middle", size=font))
    parts.append("</svg>")
    return "".join(parts)


def histogram(
    counts: np.ndarray,
    edges: np.ndarray,
    *,
    x_format: Callable[[float], str],
    label: str,
    height: int = 240,
) -> str:
    """Bars of `counts` between consecutive `edges`: red below zero, green above.

    x_format: edge value -> axis text.
    label: accessible name of the chart.
    """
    ticks = nice_ticks(0.0, float(max(counts.max(initial=0), 1)), count=4)
    low, high = float(edges[0]), float(edges[-1])
    plot_w = WIDTH - LEFT - RIGHT
    y_scale = _Scale(2, ticks[0], ticks[-1], height)

    def x_of(value: float) -> float:
        return LEFT + (value - low) / (high - low) * plot_w

    parts = [_open(height, label)]
    for tick in ticks:
        y = y_scale.y(tick)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        parts.append(_text(LEFT - 8, y + 4, f"{tick:g}", anchor="end"))
    for count, left, right in zip(counts, edges[:-1], edges[1:], strict=True):
        if count <= 0:
            continue
        x0, x1 = x_of(float(left)), x_of(float(right))
        y = y_scale.y(float(count))
        fill = _rgb(DOWN if right <= 0 else UP)
        hover = f"{x_format(float(left))} to {x_format(float(right))}: {count} trades"
        parts.append(
            f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0 - 1, 1):.1f}" height="{y_scale.y(0) - y:.1f}" '
            f'fill="{fill}" fill-opacity="0.85"><title>{escape(hover)}</title></rect>'
        )
    for tick in nice_ticks(low, high, count=6):
        if low <= tick <= high:
            parts.append(_text(x_of(tick), height - BOTTOM + 18, x_format(tick), anchor="middle"))
    if low < 0 < high:
        parts.append(
            f'<line x1="{x_of(0):.1f}" x2="{x_of(0):.1f}" y1="{TOP}" y2="{height - BOTTOM}" stroke="{AXIS_TEXT}"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def diverging(value: float, extent: float) -> str:
    """Fill for `value` on a red-white-green scale saturating at +-`extent`."""
    if not extent or not math.isfinite(value):
        return _rgb(NEUTRAL)
    share = max(-1.0, min(1.0, value / extent))
    end = UP if share > 0 else DOWN
    return _rgb(tuple(round(n + (e - n) * abs(share) * 0.85) for n, e in zip(NEUTRAL, end, strict=True)))


class _Scale:
    """Bar number and value -> SVG coordinates for a chart `height` tall."""

    def __init__(self, bars: int, low: float, high: float, height: int) -> None:
        self.span = max(bars - 1, 1)
        self.low, self.high = low, high if high > low else low + 1.0
        self.plot_w = WIDTH - LEFT - RIGHT
        self.plot_h = height - TOP - BOTTOM

    def x(self, position: float) -> float:
        return LEFT + position / self.span * self.plot_w

    def y(self, value: float) -> float:
        return TOP + (self.high - value) / (self.high - self.low) * self.plot_h

    def xs(self, positions: np.ndarray) -> np.ndarray:
        return LEFT + np.asarray(positions, dtype=float) / self.span * self.plot_w

    def ys(self, values: np.ndarray) -> np.ndarray:
        return TOP + (self.high - np.asarray(values, dtype=float)) / (self.high - self.low) * self.plot_h


def _line_path(line: Line, scale: _Scale) -> str:
    """The `<path>` of one line; NaN values split it into pieces."""
    xs, ys = scale.xs(line.positions), scale.ys(line.values)
    finite = np.isfinite(ys)
    pieces = []
    # Runs of finite points: starts where finite begins, ends where it stops.
    edges = np.flatnonzero(np.diff(np.concatenate(([0], finite.astype(np.int8), [0]))))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        coords = " ".join(f"{x:.1f} {y:.1f}" for x, y in zip(xs[start:stop], ys[start:stop], strict=True))
        if line.area:
            base = scale.y(0.0)
            pieces.append(f"M{xs[start]:.1f} {base:.1f}L{coords}L{xs[stop - 1]:.1f} {base:.1f}Z")
        else:
            pieces.append(f"M{coords}")
    d = "".join(pieces)
    if line.area:
        return f'<path d="{d}" fill="{line.color}" fill-opacity="0.35" stroke="{line.color}" stroke-width="1"/>'
    dash = ' stroke-dasharray="6 4"' if line.dashed else ""
    return f'<path d="{d}" fill="none" stroke="{line.color}" stroke-width="1.5"{dash}/>'


def _legend(entries: Sequence[tuple[str, str, bool]]) -> str:
    parts, x = [], LEFT
    for name, color, dashed in entries:
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        parts.append(f'<line x1="{x}" x2="{x + 22}" y1="14" y2="14" stroke="{color}" stroke-width="2.5"{dash}/>')
        parts.append(_text(x + 28, 18, name))
        x += 40 + 7 * len(name)
    return "".join(parts)


def _open(height: int, label: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'role="img" aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
    )


def _text(
    x: float, y: float, text: str, *, anchor: str = "start", size: int = 12, color: str = AXIS_TEXT, bold: bool = False
) -> str:
    weight = ' font-weight="600"' if bold else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{color}"{weight}>'
        f"{escape(text)}</text>"
    )


def _rgb(channels: tuple[int, ...]) -> str:
    return "#" + "".join(f"{c:02x}" for c in channels)
