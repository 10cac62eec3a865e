"""Figures measured in one run, and the table that prints them.

A figure may name a baseline measured in the same run and a target on its
ratio. A missed target prints MISS; it never fails the run: these are
benchmarks, not tests.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import TextIO

_OPS = {"<=": operator.le, ">=": operator.ge}


@dataclass(frozen=True)
class Target:
    """A bound on a figure's ratio, e.g. Target("<=", 1.5)."""

    op: str
    limit: float

    def met(self, ratio: float) -> bool:
        """Whether `ratio` meets this target."""
        return _OPS[self.op](ratio, self.limit)

    def __str__(self) -> str:
        return f"{self.op} {self.limit:g}x"


@dataclass(frozen=True)
class Figure:
    """One measured number.

    label: what was measured, with how (e.g. "median of 20").
    value: the number, in `unit`.
    unit: "ms", "s", "MB/s", "points/s", "x", ...
    baseline: a number of the same run it is compared with, or None.
    baseline_label: what the baseline is.
    ratio: value relative to the baseline, oriented so that the target reads naturally; None if not compared.
    target: bound on the ratio, or None when informational.
    """

    label: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    ratio: float | None = None
    target: Target | None = None

    @property
    def verdict(self) -> str:
        """PASS, MISS, or empty when there is no target or no ratio."""
        if self.target is None or self.ratio is None:
            return ""
        return "PASS" if self.target.met(self.ratio) else "MISS"


def amount(value: float | None, unit: str) -> str:
    """`value` with its unit, with as many digits as its size deserves."""
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f} {unit}"
    digits = 1 if abs(value) >= 10 else 2 if abs(value) >= 1 else 3
    return f"{value:.{digits}f} {unit}"


@dataclass
class Report:
    """Figures in the order measured, grouped by section, plus free-form notes."""

    figures: dict[str, list[Figure]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, section: str, figure: Figure) -> Figure:
        """Add `figure` to `section`'s rows; the figure itself."""
        self.figures.setdefault(section, []).append(figure)
        return figure

    def note(self, text: str) -> None:
        """Add a line printed under the table."""
        self.notes.append(text)

    def print(self, out: TextIO) -> None:
        """Writes the final table: figure, value, baseline, ratio, target, PASS/MISS."""
        header = ("figure", "value", "baseline", "ratio", "target", "")
        rows = []
        for section, figures in self.figures.items():
            rows.append((f"[{section}]", "", "", "", "", ""))
            for f in figures:
                base = f"{amount(f.baseline, f.unit)} {f.baseline_label}".strip() if f.baseline is not None else ""
                ratio = "" if f.ratio is None else f"{f.ratio:.2f}x" if abs(f.ratio) >= 0.1 else f"{f.ratio:.2g}x"
                rows.append((f"  {f.label}", amount(f.value, f.unit), base, ratio, str(f.target or ""), f.verdict))
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        line = "  ".join("-" * w for w in widths)
        print(line, file=out)
        for row in [header, *rows]:
            cells = [
                row[0].ljust(widths[0]),
                row[1].rjust(widths[1]),
                row[2].ljust(widths[2]),
                row[3].rjust(widths[3]),
                row[4].ljust(widths[4]),
                row[5],
            ]
            print("  ".join(cells).rstrip(), file=out)
        print(line, file=out)
        verdicts = [f.verdict for figures in self.figures.values() for f in figures if f.verdict]
        if verdicts:
            print(f"targets: {verdicts.count('PASS')} PASS, {verdicts.count('MISS')} MISS", file=out)
        for text in self.notes:
            print(f"note: {text}", file=out)
        out.flush()
